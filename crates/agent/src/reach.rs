//! Reaching a peer: the address the person gave; else the last address that
//! worked; else `lookup` at the DIR (irp.md), the looked-up chain checked
//! with the profile's certificate policy, the signed address record
//! verified against that certificate, and every address dialled IPv6 first
//! (Happy Eyeballs).

use sixchat_proto::UserId;
use sixchat_proto::irp::{AddressRecord, CertState, LookupResult};

use crate::agent::{Agent, ConnectError, SessionHandle};
use crate::irp::directory::{DirError, verify_record};
use crate::store::now_unix;

/// How far ahead of our clock (in ms) an address record's sequence may be.
const MAX_SEQUENCE_AHEAD_MS: u64 = 86_400_000;

/// Why a peer could not be reached directly.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    /// The peer (or we) refused the handshake: do not fall back to the store.
    #[error(transparent)]
    Refused(ConnectError),
    /// No address was given, none is remembered, and there is no DIR to ask.
    #[error("no address for {0}")]
    NoAddress(UserId),
    /// Nobody answered. `peer_cert` is the peer's certificate if the DIR
    /// gave one, so the messages can be sealed to it.
    #[error("{reason}")]
    Unreachable {
        reason: String,
        peer_cert: Option<Vec<u8>>,
    },
}

/// Why a lookup gave nothing to use.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("this profile has no DIR")]
    NoDir,
    #[error(transparent)]
    Dir(#[from] DirError),
    #[error("the DIR says {peer}'s certificate is {state}")]
    NotValid { peer: UserId, state: &'static str },
    #[error("the DIR gave no certificate")]
    NoCertificate,
    #[error("{peer}'s certificate is refused: {why}")]
    Refused {
        peer: UserId,
        why: sixchat_proto::CertRejection,
    },
    #[error("the DIR's address record for {peer} is refused: {why}")]
    BadRecord { peer: UserId, why: String },
}

/// A lookup whose answer checked out.
#[derive(Debug)]
pub struct Found {
    pub result: LookupResult,
    /// The peer's leaf certificate, DER.
    pub leaf: Vec<u8>,
}

impl Agent {
    /// Looks `peer` up at the profile's DIR and checks the answer: the chain
    /// with the profile's policy, the address record against the certificate.
    pub async fn lookup(&self, peer: &UserId) -> Result<Found, LookupError> {
        let dir = self.dir().ok_or(LookupError::NoDir)?;
        let found = dir.directory().lookup(peer).await?;
        if found.state != CertState::Valid {
            return Err(LookupError::NotValid {
                peer: peer.clone(),
                state: found.state.as_str(),
            });
        }
        let leaf = found
            .chain
            .first()
            .cloned()
            .ok_or(LookupError::NoCertificate)?;
        let checked = dir
            .policy()
            .check_peer(peer, &found.name, &found.chain, now_unix())
            .map_err(|why| LookupError::Refused {
                peer: peer.clone(),
                why,
            })?;
        let mut result = found;
        if let Some(signed) = &result.record {
            let record = verify_record(signed, peer, &checked.public_key_spki_der, now_unix())
                .map_err(|why| LookupError::BadRecord {
                    peer: peer.clone(),
                    why,
                })?;
            if let Err(why) = self.check_sequence(peer, &checked.fingerprint.to_hex(), &record) {
                // The certificate still counts (messages can be sealed to
                // it); only the addresses are not believed.
                tracing::warn!(%peer, "address record ignored: {why}");
                result.record = None;
            }
        }
        Ok(Found { result, leaf })
    }

    /// irp.md: an address record older than one seen before is a replay.
    /// One dated more than a day ahead of our clock is not taken either (it
    /// would shut out every later record).
    fn check_sequence(
        &self,
        peer: &UserId,
        cert: &str,
        record: &AddressRecord,
    ) -> Result<(), String> {
        let now_ms = u64::try_from(now_unix()).unwrap_or(0).saturating_mul(1000);
        if record.sequence > now_ms.saturating_add(MAX_SEQUENCE_AHEAD_MS) {
            return Err(format!(
                "its sequence {} is more than a day ahead of this clock",
                record.sequence
            ));
        }
        let replay = self
            .with_store(|s| s.check_record_sequence(peer.as_str(), cert, record.sequence))
            .map_err(|e| e.to_string())?;
        match replay {
            Some(highest) => Err(format!(
                "sequence {} after {highest}: a replayed, older record",
                record.sequence
            )),
            None => Ok(()),
        }
    }

    /// Dials `peer`: at `address` only, if given; else the last address that
    /// worked, then the addresses its DIR record lists. `looking_up` is
    /// called when the DIR is asked.
    pub async fn reach(
        &self,
        peer: &UserId,
        address: Option<&str>,
        looking_up: impl FnOnce(),
    ) -> Result<SessionHandle, ReachError> {
        let unreachable = |e: ConnectError, earlier: &str, peer_cert: Option<Vec<u8>>| match e {
            ConnectError::Unreachable { addr, source } => ReachError::Unreachable {
                reason: if earlier.is_empty() {
                    format!("cannot reach {addr}: {source}")
                } else {
                    format!("{earlier}; {addr}: {source}")
                },
                peer_cert,
            },
            refused @ ConnectError::Failed(_) => ReachError::Refused(refused),
        };
        if let Some(addr) = address {
            return self
                .connect(peer, addr)
                .await
                .map_err(|e| unreachable(e, "", None));
        }
        let last = self.with_store(|s| s.last_address(peer.as_str()).ok().flatten());
        let mut earlier = String::new();
        if let Some(addr) = &last {
            match self.connect(peer, addr).await {
                Ok(handle) => return Ok(handle),
                Err(ConnectError::Unreachable { addr, source }) if self.dir().is_some() => {
                    earlier = format!("{addr}: {source}");
                }
                Err(e) => return Err(unreachable(e, "", None)),
            }
        }
        if self.dir().is_none() {
            return Err(ReachError::NoAddress(peer.clone()));
        }
        looking_up();
        let Found { result, leaf } =
            self.lookup(peer)
                .await
                .map_err(|why| ReachError::Unreachable {
                    reason: if earlier.is_empty() {
                        why.to_string()
                    } else {
                        format!("{earlier}; {why}")
                    },
                    peer_cert: None,
                })?;
        let Some(record) = result.record.as_ref().and_then(|r| r.record().ok()) else {
            return Err(ReachError::Unreachable {
                reason: format!("{peer} has no current address at its DIR"),
                peer_cert: Some(leaf),
            });
        };
        self.connect_any(peer, &record.addresses)
            .await
            .map_err(|e| unreachable(e, &earlier, Some(leaf)))
    }
}
