//! The trust store: directory roots, each trusted for one domain; fingerprints
//! pinned per UserID; CRLs from the roots. In memory only: the agent
//! persists what [`TrustStore::roots`], [`TrustStore::pins`] and
//! [`TrustStore::crls`] list, and loads it back through the `add`/`set` calls.
//!
//! [`TrustStore`] implements [`sixchat_proto::CertificatePolicy`]; the rules
//! are in the `policy` submodule and in the crate documentation.

mod policy;

pub use policy::{MAX_CHAIN_LEN, Purpose};

use std::collections::BTreeMap;

use sixchat_proto::{
    CertRejection, CertificatePolicy, Fingerprint, PeerCertificate, UserId, identity::is_dns_name,
};
use x509_parser::prelude::FromDer as _;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::x509::{self, KeyKind};

/// Why a root or a CRL was not taken into the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("{0:?} is not a domain name (lowercase ASCII, A-label form)")]
    BadDomain(String),
    #[error("not a readable X.509 certificate")]
    BadCertificate,
    #[error("the certificate is not a CA (basicConstraints CA:true is missing)")]
    NotCa,
    #[error("the CA certificate may not sign certificates (its keyUsage lacks keyCertSign)")]
    NotCertSigner,
    #[error("the CA's key is not acceptable: {0}")]
    BadKey(String),
    #[error(
        "not a root: the CA certificate is not self-signed, or its self-signature does not verify"
    )]
    BadSelfSignature,
    #[error("not a readable CRL")]
    BadCrl,
    #[error("the CRL was not issued by any trusted root")]
    CrlIssuerUnknown,
    #[error("the CRL's issuer may not sign CRLs (its keyUsage lacks cRLSign)")]
    NotCrlSigner,
    #[error("the CRL has no nextUpdate, so its staleness cannot be judged")]
    CrlWithoutNextUpdate,
    #[error("the CRL is older than the one already held for this root")]
    OlderCrl,
}

/// A root certificate and the one domain it is trusted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedRoot {
    pub domain: String,
    pub cert_der: Vec<u8>,
    pub fingerprint: Fingerprint,
    /// The root's subject, for display.
    pub subject: String,
}

/// A CRL whose signature verified with a trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCrl {
    /// Fingerprint of the root that signed it.
    pub root_fingerprint: Fingerprint,
    pub issuer: String,
    pub this_update_unix: i64,
    pub next_update_unix: i64,
    /// Revoked serial numbers, big-endian without leading zero bytes.
    pub revoked_serials: Vec<Vec<u8>>,
    pub crl_der: Vec<u8>,
}

/// Roots per domain, pins per UserID, CRLs per root.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    roots: Vec<TrustedRoot>,
    pins: BTreeMap<UserId, Fingerprint>,
    crls: Vec<TrustedCrl>,
}

impl TrustStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the CA certificate `cert_der` for `domain` only. The same root
    /// may be added for several domains, one call each. Adding it twice for
    /// the same domain changes nothing.
    pub fn add_root(&mut self, domain: &str, cert_der: &[u8]) -> Result<(), TrustError> {
        if !is_dns_name(domain) {
            return Err(TrustError::BadDomain(domain.chars().take(80).collect()));
        }
        let cert = x509::parse_certificate(cert_der).ok_or(TrustError::BadCertificate)?;
        match cert.basic_constraints() {
            Ok(Some(bc)) if bc.value.ca => {}
            _ => return Err(TrustError::NotCa),
        }
        match cert.key_usage() {
            Ok(None) => {}
            Ok(Some(ku)) if ku.value.key_cert_sign() => {}
            _ => return Err(TrustError::NotCertSigner),
        }
        match x509::key_kind(cert.public_key()) {
            KeyKind::Rsa(bits) if (2048..=8192).contains(&bits) => {}
            KeyKind::Rsa(bits) => {
                return Err(TrustError::BadKey(format!("an RSA key of {bits} bits")));
            }
            KeyKind::Other(what) => return Err(TrustError::BadKey(what)),
        }
        // Only a self-signed certificate is a root: a certificate copying
        // another root's subject and key, signed by someone else, could
        // otherwise claim that root's CRLs and chains for another domain.
        if cert.issuer().as_raw() != cert.subject().as_raw() || !x509::is_self_signed(&cert) {
            return Err(TrustError::BadSelfSignature);
        }
        let fingerprint = Fingerprint::of_der(cert_der);
        if self
            .roots
            .iter()
            .any(|r| r.domain == domain && r.fingerprint == fingerprint)
        {
            return Ok(());
        }
        self.roots.push(TrustedRoot {
            domain: domain.to_owned(),
            cert_der: cert_der.to_vec(),
            fingerprint,
            subject: cert.subject().to_string(),
        });
        Ok(())
    }

    /// Stops trusting a root for one domain. Returns whether it was there.
    /// CRLs of a root no longer trusted for any domain are dropped.
    pub fn remove_root(&mut self, domain: &str, fingerprint: &Fingerprint) -> bool {
        let before = self.roots.len();
        self.roots
            .retain(|r| !(r.domain == domain && r.fingerprint == *fingerprint));
        let roots = &self.roots;
        self.crls
            .retain(|crl| roots.iter().any(|r| r.fingerprint == crl.root_fingerprint));
        self.roots.len() != before
    }

    /// Every (domain, root) pair, in the order added.
    pub fn roots(&self) -> &[TrustedRoot] {
        &self.roots
    }

    /// Pins `fingerprint` (SHA-256 of the DER certificate) for `user_id`,
    /// replacing any earlier pin.
    pub fn pin(&mut self, user_id: UserId, fingerprint: Fingerprint) {
        self.pins.insert(user_id, fingerprint);
    }

    /// Removes the pin for `user_id`, returning it.
    pub fn unpin(&mut self, user_id: &UserId) -> Option<Fingerprint> {
        self.pins.remove(user_id)
    }

    /// The pin for one UserID.
    pub fn pinned(&self, user_id: &UserId) -> Option<Fingerprint> {
        self.pins.get(user_id).copied()
    }

    /// Every pin, ordered by UserID.
    pub fn pins(&self) -> impl Iterator<Item = (&UserId, &Fingerprint)> {
        self.pins.iter()
    }

    /// Accepts a CRL (DER) whose signature verifies with a trusted root's
    /// key. It replaces that root's earlier CRL unless it is older.
    pub fn set_crl(&mut self, crl_der: &[u8]) -> Result<(), TrustError> {
        let Ok(([], crl)) = CertificateRevocationList::from_der(crl_der) else {
            return Err(TrustError::BadCrl);
        };
        if crl.signature_algorithm != crl.tbs_cert_list.signature {
            return Err(TrustError::BadCrl);
        }
        let next_update = crl.next_update().ok_or(TrustError::CrlWithoutNextUpdate)?;
        let mut issuer_found = false;
        let mut signer = None;
        for root in &self.roots {
            let Some(cert) = x509::parse_certificate(&root.cert_der) else {
                continue;
            };
            if cert.subject().as_raw() != crl.issuer().as_raw() {
                continue;
            }
            issuer_found = true;
            let signed = crl.tbs_cert_list.as_ref();
            if x509::verify_signature(
                cert.public_key(),
                &crl.signature_algorithm,
                &crl.signature_value.data,
                signed,
            )
            .is_ok()
            {
                if let Ok(Some(ku)) = cert.key_usage() {
                    if !ku.value.crl_sign() {
                        return Err(TrustError::NotCrlSigner);
                    }
                }
                signer = Some(root.fingerprint);
                break;
            }
        }
        let Some(root_fingerprint) = signer else {
            return Err(if issuer_found {
                TrustError::BadCrl
            } else {
                TrustError::CrlIssuerUnknown
            });
        };
        let entry = TrustedCrl {
            root_fingerprint,
            issuer: crl.issuer().to_string(),
            this_update_unix: x509::unix(crl.last_update()),
            next_update_unix: x509::unix(next_update),
            revoked_serials: crl
                .iter_revoked_certificates()
                .map(|revoked| x509::normalized_serial(revoked.raw_serial()).to_vec())
                .collect(),
            crl_der: crl_der.to_vec(),
        };
        match self
            .crls
            .iter_mut()
            .find(|held| held.root_fingerprint == root_fingerprint)
        {
            Some(held) if held.this_update_unix > entry.this_update_unix => {
                return Err(TrustError::OlderCrl);
            }
            Some(held) => *held = entry,
            None => self.crls.push(entry),
        }
        Ok(())
    }

    /// Every CRL held, one per root.
    pub fn crls(&self) -> &[TrustedCrl] {
        &self.crls
    }

    fn crl_for(&self, root_fingerprint: &Fingerprint) -> Option<&TrustedCrl> {
        self.crls
            .iter()
            .find(|crl| crl.root_fingerprint == *root_fingerprint)
    }
}

impl CertificatePolicy for TrustStore {
    fn check_peer(
        &self,
        user_id: &UserId,
        name: &str,
        chain: &[Vec<u8>],
        now_unix: i64,
    ) -> Result<PeerCertificate, CertRejection> {
        policy::check_peer(
            self,
            Purpose::Handshake,
            user_id,
            Some(name),
            chain,
            now_unix,
        )
    }

    fn check_mail(
        &self,
        user_id: &UserId,
        chain: &[Vec<u8>],
        for_encryption: bool,
        now_unix: i64,
    ) -> Result<PeerCertificate, CertRejection> {
        let purpose = if for_encryption {
            Purpose::MailEncryption
        } else {
            Purpose::MailSignature
        };
        policy::check_peer(self, purpose, user_id, None, chain, now_unix)
    }
}

impl TrustStore {
    /// The certificate policy for another purpose than a handshake: a mail
    /// signer or a mail recipient's key. `name`, when given, must be the
    /// leaf's CN; the UserID must always be its one rfc822Name.
    pub fn check_for(
        &self,
        purpose: Purpose,
        user_id: &UserId,
        name: Option<&str>,
        chain: &[Vec<u8>],
        now_unix: i64,
    ) -> Result<PeerCertificate, CertRejection> {
        policy::check_peer(self, purpose, user_id, name, chain, now_unix)
    }
}
