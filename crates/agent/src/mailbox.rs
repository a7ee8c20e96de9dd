//! The offline store at the DIR (irp.md, `store_*`): each queued chat is
//! sealed ([`sixchat_pki::sealed`]) to the peer's certificate, signed by us,
//! and left in the DIR's store. When the peer's agent next runs it fetches
//! the envelopes, checks the sender's chain (verified or known only) and
//! signature, and hands each content to its service by type (chats and
//! receipts now; mail and file notices next); a chat is stored (a duplicate
//! is recognised by its id) and answered with a sealed receipt the same
//! way; only then are the envelopes acknowledged (deleted).

use std::sync::Arc;

use sixchat_pki::cert::CertInfo;
use sixchat_pki::sealed;
use sixchat_proto::irp::StoredEnvelope;
use sixchat_proto::{AppMessage, TrustLevel, UserId};

use crate::agent::{Agent, AgentEvent};
use crate::dirlink::DirLink;
use crate::irp::directory::{DirError, Directory};
use crate::reach::LookupError;
use crate::store::now_unix;

/// Envelopes asked for per `store_fetch`.
pub const FETCH_PAGE: u32 = 64;
/// Longest time one stored envelope may take to open.
pub const OPEN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// A sealed envelope (chats, receipts) starts with its XML root; anything
/// else in the store is a mail (an RFC 5322 message).
fn is_sealed(data: &[u8]) -> bool {
    data.trim_ascii_start().starts_with(b"<sealed")
}

/// Why a stored envelope was dropped (and acknowledged, so it blocks
/// nothing behind it).
#[derive(Debug, thiserror::Error)]
pub enum Dropped {
    #[error("it cannot be opened: {0}")]
    Unsealable(#[from] sealed::SealError),
    #[error("no sender certificate")]
    NoSender,
    #[error("the sender's certificate: {0}")]
    SenderCertificate(#[from] sixchat_pki::cert::CertError),
    #[error("sender {sender}: {why}")]
    SenderRefused {
        sender: UserId,
        why: sixchat_proto::CertRejection,
    },
    #[error("sender {0} is neither verified nor pinned")]
    SenderNotTrusted(UserId),
    #[error("the signature of {0} does not verify")]
    BadSignature(UserId),
    #[error("its content: {0}")]
    Malformed(#[from] sixchat_proto::app::AppError),
    #[error("a stored {0} is not accepted")]
    NotAccepted(&'static str),
    #[error("opening it failed: {0}")]
    Worker(String),
    #[error("it could not be opened within {} s", OPEN_DEADLINE.as_secs())]
    TooSlow,
}

/// An opened envelope whose sender checked out.
struct Opened {
    sender: UserId,
    sender_cert: Vec<u8>,
    message: AppMessage,
}

/// The agent's mailbox at its own DIR. Cheap to clone.
#[derive(Clone)]
pub struct Mailbox {
    agent: Agent,
    link: Arc<DirLink>,
}

impl Agent {
    /// The mailbox at the profile's own DIR, if it has one.
    pub fn mailbox(&self) -> Option<Mailbox> {
        self.dir().map(|link| Mailbox {
            agent: self.clone(),
            link: link.clone(),
        })
    }
}

fn local(e: impl std::fmt::Display) -> DirError {
    DirError::Local(e.to_string())
}

impl Mailbox {
    fn seal_for(
        &self,
        peer: &UserId,
        peer_cert: &[u8],
        message: &AppMessage,
    ) -> Result<Vec<u8>, DirError> {
        let (key, chain) = (self.agent.key(), self.agent.chain());
        sealed::seal(&key, &chain, peer, peer_cert, &message.to_xml()).map_err(local)
    }

    fn check_domain(&self, peer: &UserId) -> Result<Directory, DirError> {
        let directory = self.link.directory();
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
            .map_err(local)?;
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
                .map_err(local)?;
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

    /// `peer`'s certificate as a fresh lookup gives it.
    async fn looked_up(&self, peer: &UserId) -> Result<Vec<u8>, DirError> {
        Ok(self
            .agent
            .lookup(peer)
            .await
            .map_err(|e| match e {
                LookupError::Dir(e) => e,
                other => DirError::BadAnswer(other.to_string()),
            })?
            .leaf)
    }

    /// Leaves what waits for `peer` at its DIR, sealed to `peer_cert`, or if
    /// that is not known, to the certificate a fresh lookup gives.
    pub async fn relay_undelivered(
        &self,
        peer: &UserId,
        peer_cert: Option<Vec<u8>>,
    ) -> Result<usize, DirError> {
        let cert = match peer_cert {
            Some(cert) => cert,
            None => self.looked_up(peer).await?,
        };
        self.relay_outbox(peer, &cert).await
    }

    /// Leaves a mail (an S/MIME message, encrypted end to end) in `peer`'s
    /// DIR store, as it is.
    pub async fn put_mail(&self, peer: &UserId, raw: Vec<u8>) -> Result<(), DirError> {
        let directory = self.check_domain(peer)?;
        directory.store_put(peer, raw).await?;
        Ok(())
    }

    /// Takes a mail envelope: stored first, then its `delivered` receipt
    /// goes to the sender (the DIR-authenticated `from`), sealed like a
    /// chat receipt. The receipt never depends on what the mail holds.
    async fn take_mail(&self, envelope: StoredEnvelope) -> Result<(), DirError> {
        let receipt = self
            .agent
            .receive_mail(envelope.data, Some(envelope.from.clone()))
            .await
            .map_err(local)?;
        if let (Some(receipt), Ok(sender)) = (receipt, UserId::parse(&envelope.from)) {
            if let Err(e) = self.relay_receipt(&sender, &receipt).await {
                self.agent.dir_problem("mail receipt", &e.to_string()).await;
            }
        }
        Ok(())
    }

    /// Seals a receipt to `peer` (its certificate looked up) at its DIR.
    pub(crate) async fn relay_receipt(
        &self,
        peer: &UserId,
        receipt: &AppMessage,
    ) -> Result<(), DirError> {
        let cert = self.looked_up(peer).await?;
        self.send_receipt(peer, &cert, receipt).await
    }

    /// Opens one envelope off the async workers, within [`OPEN_DEADLINE`]:
    /// anything a stranger stored is parsed on the blocking pool, so a hostile
    /// envelope can neither stall the agent nor keep it from stopping.
    async fn open_bounded(&self, envelope: StoredEnvelope) -> Result<Opened, Dropped> {
        let mailbox = self.clone();
        let opening = tokio::task::spawn_blocking(move || mailbox.open(&envelope));
        match tokio::time::timeout(OPEN_DEADLINE, opening).await {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => Err(Dropped::Worker(e.to_string())),
            Err(_) => Err(Dropped::TooSlow),
        }
    }

    /// Opens one envelope: decrypts it, checks the sender's chain and
    /// signature, parses the content.
    fn open(&self, envelope: &StoredEnvelope) -> Result<Opened, Dropped> {
        let me = self.agent.user_id();
        let opened = sealed::open(&self.agent.key(), &me, &envelope.data)?;
        let leaf = opened
            .sender_chain
            .first()
            .cloned()
            .ok_or(Dropped::NoSender)?;
        let info = CertInfo::parse(&leaf)?;
        let checked = self
            .link
            .policy()
            .check_peer(&info.user_id, &info.name, &opened.sender_chain, now_unix())
            .map_err(|why| Dropped::SenderRefused {
                sender: info.user_id.clone(),
                why,
            })?;
        if !matches!(checked.level, TrustLevel::Verified | TrustLevel::Known) {
            return Err(Dropped::SenderNotTrusted(info.user_id));
        }
        if !opened.signature_valid(&checked.public_key_spki_der) {
            return Err(Dropped::BadSignature(info.user_id));
        }
        let message = AppMessage::parse(&opened.content)?;
        Ok(Opened {
            sender: info.user_id,
            sender_cert: leaf,
            message,
        })
    }

    /// Hands an opened envelope's content to its service, by type. The
    /// inner error drops the envelope (reported); the outer one (the store
    /// failed) stops the fetch before anything is acknowledged, so nothing
    /// is lost.
    async fn dispatch(&self, opened: Opened) -> Result<Result<(), Dropped>, DirError> {
        let Opened {
            sender,
            sender_cert,
            message,
        } = opened;
        match message {
            AppMessage::Chat { .. } | AppMessage::Ack { .. } | AppMessage::Read { .. } => {
                let receipt = self
                    .agent
                    .receive(sender.as_str(), message)
                    .await
                    .map_err(local)?;
                if let Some(receipt) = receipt {
                    if let Err(e) = self.send_receipt(&sender, &sender_cert, &receipt).await {
                        self.agent.dir_problem("receipt", &e.to_string()).await;
                    }
                }
                Ok(Ok(()))
            }
            AppMessage::MailReceipt {
                message_id, read, ..
            } => {
                self.agent.mail_receipt(&sender, message_id, read).await;
                Ok(Ok(()))
            }
            // Live-session messages have no meaning in a mailbox.
            other => Ok(Err(Dropped::NotAccepted(other.type_name()))),
        }
    }

    /// Fetches, checks and dispatches every waiting envelope, sends receipts,
    /// then acknowledges. Returns how many envelopes were taken. An envelope
    /// that cannot be opened (malformed, not for us, from an untrusted
    /// sender, or too slow to open) or that holds nothing a service takes is
    /// reported and acknowledged too, so it never blocks the ones behind it.
    pub async fn fetch(&self) -> Result<usize, DirError> {
        let directory = self.link.directory();
        let mut client = directory.connect().await?;
        let mut taken = 0;
        loop {
            let (envelopes, more) = directory.store_fetch(&mut client, FETCH_PAGE).await?;
            let fetched = envelopes.len();
            let mut done = Vec::with_capacity(fetched);
            for envelope in envelopes {
                let (id, from) = (envelope.id.clone(), envelope.from.clone());
                if !is_sealed(&envelope.data) {
                    // A mail: stored verbatim before anything reads it.
                    self.take_mail(envelope).await?;
                    done.push(id);
                    continue;
                }
                let handled = match self.open_bounded(envelope).await {
                    Ok(opened) => self.dispatch(opened).await?,
                    Err(reason) => Err(reason),
                };
                if let Err(reason) = handled {
                    self.agent
                        .dir_problem(
                            "stored message",
                            &format!("dropped one from {from}: {reason}"),
                        )
                        .await;
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
}
