//! Builds the PKI trust store from the roots and pins the profile stored.

use sixchat_pki::trust::{TrustError, TrustStore};
use sixchat_proto::{Fingerprint, UserId};

use crate::store::{Store, StoreError};

/// A stored trust entry could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustLoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored root for {domain} is unusable: {reason}")]
    Root { domain: String, reason: String },
    #[error("stored pin for {0} is unusable")]
    Pin(String),
    #[error("stored CRL for {domain} is unusable: {reason}")]
    Crl { domain: String, reason: String },
}

/// The trust store the profile describes.
pub fn load(store: &Store) -> Result<TrustStore, TrustLoadError> {
    let mut trust = TrustStore::new();
    for root in store.roots()? {
        let domain = root.domain;
        trust
            .add_root(&domain, &root.der)
            .map_err(|e| TrustLoadError::Root {
                domain: domain.clone(),
                reason: e.to_string(),
            })?;
    }
    for pin in store.pins()? {
        let user = pin.user_id;
        let user_id = UserId::parse(&user).map_err(|_| TrustLoadError::Pin(user.clone()))?;
        let fp = Fingerprint::parse_hex(&pin.fingerprint)
            .ok_or_else(|| TrustLoadError::Pin(user.clone()))?;
        trust.pin(user_id, fp);
    }
    for crl in store.crls()? {
        let domain = crl.domain;
        match trust.set_crl(&crl.der) {
            // One root trusted for two domains has a CRL stored for each; the
            // newest counts. A CRL of a root no longer trusted is ignored.
            Ok(()) | Err(TrustError::OlderCrl | TrustError::CrlIssuerUnknown) => {}
            Err(e) => {
                return Err(TrustLoadError::Crl {
                    domain,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(trust)
}

/// A certificate policy that follows the profile's store: a pin or root added
/// while the agent runs (by `sixchat-cli trust …` or the desktop app) counts
/// from the next handshake on.
pub struct LiveTrust {
    store: std::sync::Mutex<Store>,
    cached: std::sync::Mutex<Option<(i64, std::sync::Arc<TrustStore>)>>,
}

impl LiveTrust {
    /// Takes its own connection to the profile's store.
    pub fn new(store: Store) -> Result<Self, TrustLoadError> {
        let live = Self {
            store: std::sync::Mutex::new(store),
            cached: std::sync::Mutex::new(None),
        };
        live.current()?;
        Ok(live)
    }

    fn current(&self) -> Result<std::sync::Arc<TrustStore>, TrustLoadError> {
        let store = self
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let version = store.data_version()?;
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((seen, trust)) = cached.as_ref() {
            if *seen == version {
                return Ok(trust.clone());
            }
        }
        let trust = std::sync::Arc::new(load(&store)?);
        *cached = Some((version, trust.clone()));
        Ok(trust)
    }
}

impl sixchat_proto::CertificatePolicy for LiveTrust {
    fn check_peer(
        &self,
        user_id: &UserId,
        name: &str,
        chain: &[Vec<u8>],
        now_unix: i64,
    ) -> Result<sixchat_proto::PeerCertificate, sixchat_proto::CertRejection> {
        let trust = self.current().map_err(|e| {
            sixchat_proto::CertRejection::BadCertificate(format!("local trust store: {e}"))
        })?;
        trust.check_peer(user_id, name, chain, now_unix)
    }

    fn check_mail(
        &self,
        user_id: &UserId,
        chain: &[Vec<u8>],
        for_encryption: bool,
        now_unix: i64,
    ) -> Result<sixchat_proto::PeerCertificate, sixchat_proto::CertRejection> {
        let trust = self.current().map_err(|e| {
            sixchat_proto::CertRejection::BadCertificate(format!("local trust store: {e}"))
        })?;
        trust.check_mail(user_id, chain, for_encryption, now_unix)
    }
}
