//! Reaching a peer, and store-and-forward through the DIR when it cannot be
//! reached (irp.md, `lookup` and `store_*`).
//!
//! Reaching: the last address that worked; else `lookup` at the DIR, the
//! looked-up chain checked with the profile's certificate policy, the signed
//! address record verified against that certificate, and every address
//! dialled IPv6 first (Happy Eyeballs).
//!
//! Store-and-forward: each queued chat is sealed ([`sixchat_pki::sealed`]) to
//! the peer's certificate, signed by us, and left in the DIR's store. When the
//! peer's agent next runs it fetches the envelopes, checks the sender's chain
//! (verified or known only) and signature, stores each chat (a duplicate is
//! recognised by its id), and answers with a sealed receipt the same way; only
//! then does it acknowledge (delete) the envelopes.

use std::sync::{Arc, Mutex};

use sixchat_pki::cert::CertInfo;
use sixchat_pki::sealed;
use sixchat_proto::irp::{CertState, LookupResult, StoredEnvelope};
use sixchat_proto::{AppMessage, CertificatePolicy, TrustLevel, UserId};

use crate::agent::{Agent, AgentEvent, ConnectError, SessionHandle};
use crate::irp::directory::{DirError, Directory, verify_record};
use crate::store::now_unix;

/// Envelopes asked for per `store_fetch`.
pub const FETCH_PAGE: u32 = 64;
/// How far ahead of our clock (in ms) an address record's sequence may be.
const MAX_SEQUENCE_AHEAD_MS: u64 = 86_400_000;
/// Longest time one stored envelope may take to open.
pub const OPEN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// Why a peer could not be reached directly.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    /// The peer (or we) refused the handshake: do not fall back to the store.
    #[error(transparent)]
    Refused(ConnectError),
    /// Nobody answered. `peer_cert` is the peer's certificate if the DIR
    /// gave one, so the messages can be sealed to it.
    #[error("{reason}")]
    Unreachable {
        reason: String,
        peer_cert: Option<Vec<u8>>,
    },
}

/// The DIR side of an agent.
pub struct Relay {
    agent: Agent,
    directory: Mutex<Directory>,
    policy: Arc<dyn CertificatePolicy>,
}

impl Relay {
    pub fn new(agent: Agent, directory: Directory, policy: Arc<dyn CertificatePolicy>) -> Self {
        Self {
            agent,
            directory: Mutex::new(directory),
            policy,
        }
    }

    /// The DIR connection settings (with the current certificate).
    pub fn directory(&self) -> Directory {
        self.directory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Presents `chain` to the DIR from now on (after a renewal).
    pub fn replace_chain(&self, chain: Vec<Vec<u8>>) {
        self.directory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .auth
            .chain = chain;
    }

    /// Looks `peer` up and checks the answer: the chain with the profile's
    /// policy, the address record against the certificate.
    pub async fn lookup(&self, peer: &UserId) -> Result<(LookupResult, Vec<u8>), String> {
        let found = self
            .directory()
            .lookup(peer)
            .await
            .map_err(|e| e.to_string())?;
        if found.state != CertState::Valid {
            return Err(format!(
                "the DIR says {peer}'s certificate is {}",
                found.state.as_str()
            ));
        }
        let leaf = found
            .chain
            .first()
            .cloned()
            .ok_or("the DIR gave no certificate")?;
        let checked = self
            .policy
            .check_peer(peer, &found.name, &found.chain, now_unix())
            .map_err(|e| format!("{peer}'s certificate is refused: {e}"))?;
        let mut found = found;
        if let Some(signed) = &found.record {
            let record = verify_record(signed, peer, &checked.public_key_spki_der, now_unix())?;
            if let Err(why) = self.check_sequence(peer, &checked.fingerprint.to_hex(), &record) {
                // The certificate still counts (messages can be sealed to
                // it); only the addresses are not believed.
                tracing::warn!(%peer, "address record ignored: {why}");
                found.record = None;
            }
        }
        Ok((found, leaf))
    }

    /// irp.md: an address record older than one seen before is a replay.
    /// One dated more than a day ahead of our clock is not taken either (it
    /// would shut out every later record).
    fn check_sequence(
        &self,
        peer: &UserId,
        cert: &str,
        record: &sixchat_proto::irp::AddressRecord,
    ) -> Result<(), String> {
        let now_ms = u64::try_from(now_unix()).unwrap_or(0).saturating_mul(1000);
        if record.sequence > now_ms.saturating_add(MAX_SEQUENCE_AHEAD_MS) {
            return Err(format!(
                "its sequence {} is more than a day ahead of this clock",
                record.sequence
            ));
        }
        let replay = self
            .agent
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

    /// Dials `peer`: the last address that worked, else the addresses its
    /// DIR record lists.
    pub async fn reach(&self, peer: &UserId) -> Result<SessionHandle, ReachError> {
        let last = self
            .agent
            .with_store(|s| s.last_address(peer.as_str()).ok().flatten());
        let mut reason = String::new();
        if let Some(addr) = last {
            match self.agent.connect(peer, &addr).await {
                Ok(handle) => return Ok(handle),
                Err(ConnectError::Unreachable { source, .. }) => {
                    reason = format!("{addr}: {source}");
                }
                Err(refused) => return Err(ReachError::Refused(refused)),
            }
        }
        let (found, leaf) = self
            .lookup(peer)
            .await
            .map_err(|reason| ReachError::Unreachable {
                reason,
                peer_cert: None,
            })?;
        let Some(record) = found.record.as_ref().and_then(|r| r.record().ok()) else {
            return Err(ReachError::Unreachable {
                reason: format!("{peer} has no current address at its DIR"),
                peer_cert: Some(leaf),
            });
        };
        match self.agent.connect_any(peer, &record.addresses).await {
            Ok(handle) => Ok(handle),
            Err(ConnectError::Unreachable { addr, source }) => Err(ReachError::Unreachable {
                reason: if reason.is_empty() {
                    format!("{addr}: {source}")
                } else {
                    format!("{reason}; {addr}: {source}")
                },
                peer_cert: Some(leaf),
            }),
            Err(refused) => Err(ReachError::Refused(refused)),
        }
    }

    fn seal_for(
        &self,
        peer: &UserId,
        peer_cert: &[u8],
        message: &AppMessage,
    ) -> Result<Vec<u8>, DirError> {
        sealed::seal(
            &self.agent.key(),
            &self.agent.chain(),
            peer,
            peer_cert,
            &message.to_xml(),
        )
        .map_err(|e| DirError::Local(e.to_string()))
    }

    fn check_domain(&self, peer: &UserId) -> Result<Directory, DirError> {
        let directory = self.directory();
        if peer.domain() == directory.dir.domain {
            Ok(directory)
        } else {
            Err(DirError::Local(format!(
                "{peer} belongs to another domain; only this profile's own DIR ({}) can hold messages for now",
                directory.dir.domain
            )))
        }
    }

    /// Leaves every queued, not yet relayed chat for `peer` in its DIR's
    /// store, sealed to `peer_cert`. Returns how many went.
    pub async fn relay_outbox(&self, peer: &UserId, peer_cert: &[u8]) -> Result<usize, DirError> {
        let directory = self.check_domain(peer)?;
        let waiting = self
            .agent
            .with_store(|s| s.unrelayed(peer.as_str()))
            .map_err(|e| DirError::Local(e.to_string()))?;
        let mut count = 0;
        for message in waiting {
            let chat = AppMessage::Chat {
                id: message.id.clone(),
                sent: message.sent.clone(),
                body: message.body.clone(),
            };
            let envelope = self.seal_for(peer, peer_cert, &chat)?;
            directory.store_put(peer, envelope).await?;
            self.agent
                .with_store(|s| s.mark_relayed(peer.as_str(), &message.id))
                .map_err(|e| DirError::Local(e.to_string()))?;
            count += 1;
        }
        if count > 0 {
            self.agent
                .emit(AgentEvent::Relayed {
                    to: peer.to_string(),
                    count,
                })
                .await;
        }
        Ok(count)
    }

    /// Opens one envelope off the async workers, within [`OPEN_DEADLINE`]:
    /// anything a stranger stored is parsed on the blocking pool, so a hostile
    /// envelope can neither stall the agent nor keep it from stopping.
    async fn open_bounded(
        self: &Arc<Self>,
        envelope: StoredEnvelope,
    ) -> Result<(UserId, Vec<u8>, AppMessage), String> {
        let relay = self.clone();
        let opening = tokio::task::spawn_blocking(move || relay.open(&envelope));
        match tokio::time::timeout(OPEN_DEADLINE, opening).await {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => Err(format!("opening it failed: {e}")),
            Err(_) => Err(format!(
                "it could not be opened within {} s",
                OPEN_DEADLINE.as_secs()
            )),
        }
    }

    /// Opens one envelope: decrypts it, checks the sender's chain and
    /// signature. Returns the sender, its certificate and the message.
    fn open(&self, envelope: &StoredEnvelope) -> Result<(UserId, Vec<u8>, AppMessage), String> {
        let me = self.agent.user_id();
        let opened =
            sealed::open(&self.agent.key(), &me, &envelope.data).map_err(|e| e.to_string())?;
        let leaf = opened
            .sender_chain
            .first()
            .cloned()
            .ok_or("no sender certificate")?;
        let info = CertInfo::parse(&leaf).map_err(|e| e.to_string())?;
        let checked = self
            .policy
            .check_peer(&info.user_id, &info.name, &opened.sender_chain, now_unix())
            .map_err(|e| format!("sender {}: {e}", info.user_id))?;
        if !matches!(checked.level, TrustLevel::Verified | TrustLevel::Known) {
            return Err(format!(
                "sender {} is neither verified nor pinned",
                info.user_id
            ));
        }
        if !opened.signature_valid(&checked.public_key_spki_der) {
            return Err(format!("the signature of {} does not verify", info.user_id));
        }
        let message = AppMessage::parse(&opened.content).map_err(|e| e.to_string())?;
        match message {
            AppMessage::Chat { .. } | AppMessage::Ack { .. } => Ok((info.user_id, leaf, message)),
            other => Err(format!("a stored {} is not accepted", other.type_name())),
        }
    }

    /// Fetches, checks and stores every waiting envelope, sends receipts,
    /// then acknowledges. Returns how many envelopes were taken. An envelope
    /// that cannot be opened (malformed, not for us, from an untrusted
    /// sender, or too slow to open) is reported and acknowledged too, so it
    /// never blocks the ones behind it.
    pub async fn fetch(self: &Arc<Self>) -> Result<usize, DirError> {
        let directory = self.directory();
        let mut client = directory.connect().await?;
        let mut taken = 0;
        loop {
            let (envelopes, more) = directory.store_fetch(&mut client, FETCH_PAGE).await?;
            let fetched = envelopes.len();
            let mut done = Vec::with_capacity(fetched);
            for envelope in envelopes {
                let (id, from) = (envelope.id.clone(), envelope.from.clone());
                match self.open_bounded(envelope).await {
                    Ok((sender, sender_cert, message)) => {
                        let receipt = self
                            .agent
                            .receive(sender.as_str(), message)
                            .await
                            .map_err(DirError::Local)?;
                        if let Some(receipt) = receipt {
                            if let Err(e) = self.send_receipt(&sender, &sender_cert, &receipt).await
                            {
                                self.problem("receipt", &e.to_string()).await;
                            }
                        }
                    }
                    Err(reason) => {
                        self.problem(
                            "stored message",
                            &format!("dropped one from {from}: {reason}"),
                        )
                        .await;
                    }
                }
                done.push(id);
            }
            taken += done.len();
            if !done.is_empty() {
                directory.store_ack(&mut client, done).await?;
            }
            if !more || fetched == 0 {
                break;
            }
        }
        client.close().await;
        Ok(taken)
    }

    async fn send_receipt(
        &self,
        sender: &UserId,
        sender_cert: &[u8],
        receipt: &AppMessage,
    ) -> Result<(), DirError> {
        let directory = self.check_domain(sender)?;
        let envelope = self.seal_for(sender, sender_cert, receipt)?;
        directory.store_put(sender, envelope).await?;
        Ok(())
    }

    pub(crate) async fn problem(&self, what: &str, reason: &str) {
        self.agent
            .emit(AgentEvent::DirProblem {
                what: what.to_owned(),
                reason: reason.to_owned(),
            })
            .await;
    }

    pub fn agent(&self) -> &Agent {
        &self.agent
    }
}
