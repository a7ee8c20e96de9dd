//! The mail service (docs/mail.md; the decisions in docs/design/mail.md): S/MIME mail
//! written with [`sixchat_pki::smime`], kept in the mailbox
//! ([`crate::store`], verbatim), delivered into the recipient's DIR store,
//! and read (decrypted, verified, judged by the trust policy) only after
//! it is stored and acknowledged.
//!
//! No decryption oracle: what comes in is stored byte for byte and its
//! receipt (`delivered`, naming the outer Message-ID) is sent before
//! anything is decrypted; the receipt is the same whatever the content;
//! reading happens later, on the blocking pool, and nothing is sent
//! because of what it found.

use std::sync::Arc;

use sixchat_pki::cert::CertInfo;
use sixchat_pki::smime::{
    self, Attachment, Cipher, DecryptWith, Draft, EncryptTo, Encryption, Party, Reading, SignWith,
    Signature,
};
use sixchat_proto::{AppMessage, TrustLevel, UserId};

use crate::agent::Agent;
use crate::irp::directory::DirError;
use crate::reach::LookupError;
use crate::store::{MailDelivery, MailIndex, StoreError, now_unix};

/// Most bytes of attachments one mail carries (files go by transfer): with
/// base64 twice (inside the signed entity, then around the CMS) a mail
/// stays under [`MAX_MAIL_BYTES`].
pub const MAX_ATTACHMENT_BYTES: usize = 20 << 20;
/// Longest a stored mail may take to read before it is shown as unreadable.
pub const READ_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);
/// Most bytes of one mail as written or accepted (attachments, base64, CMS).
pub const MAX_MAIL_BYTES: usize = 40 << 20;
/// Most recipients (To and Cc) of one mail.
pub const MAX_RECIPIENTS: usize = 64;

/// A mail the person wrote.
#[derive(Debug, Clone, Default)]
pub struct MailRequest {
    pub to: Vec<UserId>,
    pub cc: Vec<UserId>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<Attachment>,
    /// The Message-ID this answers.
    pub in_reply_to: Option<String>,
    /// Sent without a signature (the person turned it off).
    pub unsigned: bool,
    /// Sent in the clear (the person turned encryption off).
    pub unencrypted: bool,
}

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("a mail needs at least one recipient")]
    NoRecipient,
    #[error("at most {MAX_RECIPIENTS} recipients")]
    TooManyRecipients,
    #[error(
        "the attachments are {size} bytes; at most {max} go by mail (send large files with `send`)"
    )]
    TooLarge { size: usize, max: usize },
    #[error("{0} has no mail encryption certificate yet, so the mail cannot be encrypted to them")]
    NoEncryptionCertificate(UserId),
    #[error("{peer}'s mail encryption certificate does not count: {why}")]
    RecipientRefused { peer: UserId, why: String },
    #[error("looking up {peer}: {why}")]
    Lookup { peer: UserId, why: String },
    #[error("this profile has no mail encryption key yet (`id renew` with the DIR gives one)")]
    NoOwnKey,
    #[error(transparent)]
    Compose(#[from] smime::SmimeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Worker(String),
}

/// A mail as read now: what the layers gave, and the status in words.
#[derive(Debug, Clone)]
pub struct MailView {
    pub reading: Reading,
    /// "valid signature, verified sender", "unsigned", "cannot decrypt: ...".
    pub status: String,
    /// The signer's trust level, when the signature verified and counts.
    pub trust: Option<TrustLevel>,
}

fn lookup_error(peer: &UserId, e: &LookupError) -> MailError {
    MailError::Lookup {
        peer: peer.clone(),
        why: e.to_string(),
    }
}

fn party(user_id: &UserId) -> Party {
    Party {
        address: user_id.to_string(),
        name: None,
    }
}

/// The status words of a mail (docs/mail.md, the Mail screen).
fn status_words(reading: &Reading, signer: Option<Result<(UserId, TrustLevel), String>>) -> String {
    let encrypted = match &reading.encryption {
        Encryption::NotForUs => return "not for us: encrypted to someone else".to_owned(),
        Encryption::CannotDecrypt(why) => return format!("cannot decrypt: {why}"),
        Encryption::Decrypted { .. } => true,
        Encryption::None => false,
    };
    if let Some(problem) = &reading.problem {
        return format!("unreadable: {problem}");
    }
    let from = reading
        .headers
        .from
        .as_ref()
        .map(|p| p.address.to_ascii_lowercase());
    let signed = match (&reading.signature, signer) {
        (Signature::None, _) => "unsigned".to_owned(),
        (Signature::Invalid(why), _) => format!("invalid signature: {why}"),
        (Signature::Valid(_), Some(Err(why))) => {
            format!("invalid signature: the signer's certificate: {why}")
        }
        (Signature::Valid(_), Some(Ok((user_id, level)))) => {
            if from.as_deref() == Some(user_id.as_str()) {
                match level {
                    TrustLevel::Verified => "valid signature, verified sender".to_owned(),
                    TrustLevel::Known => "valid signature, known sender".to_owned(),
                    TrustLevel::New | TrustLevel::Anonymous => {
                        "valid signature, new sender".to_owned()
                    }
                }
            } else {
                format!("invalid signature: signed by {user_id}, who is not the sender")
            }
        }
        (Signature::Valid(_), None) => "invalid signature: no signer".to_owned(),
    };
    let mut status = if encrypted {
        format!("{signed}; encrypted")
    } else {
        format!("{signed}; not encrypted")
    };
    if matches!(reading.signature, Signature::Valid(_)) && !reading.protected_headers {
        status.push_str("; its subject and addresses are not signed");
    }
    status
}

/// The index kept for a mail read as `view`.
pub fn index_of(view: &MailView) -> MailIndex {
    let headers = &view.reading.headers;
    let list = |parties: &[Party]| {
        parties
            .iter()
            .map(|p| p.address.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut recipients = list(&headers.to);
    if !headers.cc.is_empty() {
        recipients.push_str(", ");
        recipients.push_str(&list(&headers.cc));
    }
    MailIndex {
        status: view.status.clone(),
        sender: headers
            .from
            .as_ref()
            .map(|p| p.address.clone())
            .unwrap_or_default(),
        recipients,
        subject: headers.subject.clone().unwrap_or_default(),
        sent_at: headers.date_unix,
        message_id: headers.message_id.clone(),
        body: view.reading.text.clone(),
        attachments: view.reading.attachments.len(),
    }
}

/// A name for an attachment inside `folder`: its last path part, no
/// controls, never hidden or empty, and never one already taken.
pub fn attachment_path(folder: &std::path::Path, name: &str) -> std::path::PathBuf {
    let base: String = std::path::Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
        .collect();
    let base = base.trim_start_matches('.').to_owned();
    let base = if base.is_empty() {
        "attachment".to_owned()
    } else {
        base
    };
    let mut candidate = folder.join(&base);
    let mut n = 2;
    while candidate.exists() {
        candidate = folder.join(format!("{base} ({n})"));
        n += 1;
    }
    candidate
}

/// The index of a mail we wrote (sent or a draft): what the draft says.
fn draft_index(draft: &Draft, status: &str, message_id: Option<String>) -> MailIndex {
    MailIndex {
        status: status.to_owned(),
        sender: draft.from.address.clone(),
        recipients: draft
            .to
            .iter()
            .chain(&draft.cc)
            .map(|p| p.address.clone())
            .collect::<Vec<_>>()
            .join(", "),
        subject: draft.subject.clone(),
        sent_at: Some(draft.date_unix),
        message_id,
        body: draft.body.clone(),
        attachments: draft.attachments.len(),
    }
}

/// A file a person attaches: its bytes (at most [`MAX_ATTACHMENT_BYTES`],
/// a device or FIFO refused), its name, sent as application/octet-stream.
pub fn attachment_from_file(path: &std::path::Path) -> std::io::Result<Attachment> {
    let data = crate::profile::read_limited(path, MAX_ATTACHMENT_BYTES)?;
    let name = path.file_name().map_or_else(
        || "attachment".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(Attachment {
        name,
        content_type: "application/octet-stream".to_owned(),
        data,
    })
}

/// A mail over [`MAX_MAIL_BYTES`]: kept as it came, not read.
fn too_large(size: usize) -> MailView {
    MailView {
        reading: Reading {
            encryption: Encryption::None,
            signature: Signature::None,
            headers: smime::Headers::default(),
            protected_headers: false,
            text: String::new(),
            attachments: Vec::new(),
            problem: None,
        },
        status: format!(
            "too large to read: {size} bytes (at most {} MiB are read)",
            MAX_MAIL_BYTES >> 20
        ),
        trust: None,
    }
}

/// The outer Message-ID of a mail, read without decrypting anything.
fn outer_message_id(raw: &[u8]) -> Option<String> {
    smime::outer_message_id(raw).filter(|id| sixchat_proto::app::valid_message_id(id))
}

/// The recipients (To, then Cc) of a request within the limits.
fn checked_recipients(request: &MailRequest) -> Result<Vec<UserId>, MailError> {
    let recipients: Vec<UserId> = request.to.iter().chain(&request.cc).cloned().collect();
    if recipients.is_empty() {
        return Err(MailError::NoRecipient);
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(MailError::TooManyRecipients);
    }
    let size: usize = request.attachments.iter().map(|a| a.data.len()).sum();
    if size > MAX_ATTACHMENT_BYTES {
        return Err(MailError::TooLarge {
            size,
            max: MAX_ATTACHMENT_BYTES,
        });
    }
    Ok(recipients)
}

impl Agent {
    /// The newest mail encryption certificate that may be encrypted to.
    fn own_mail_certificate(&self) -> Option<Vec<u8>> {
        self.mail_keys()
            .iter()
            .rev()
            .map(|held| held.certificate.clone())
            .next()
            .or_else(|| {
                // An imported identity whose certificate allows encryption.
                self.chain()
                    .first()
                    .filter(|leaf| sixchat_pki::cert::may_encrypt_to(leaf))
                    .cloned()
            })
    }

    /// A recipient's encryption certificate, from the DIR, checked.
    async fn recipient_certificate(&self, peer: &UserId) -> Result<Vec<u8>, MailError> {
        let found = self
            .lookup(peer)
            .await
            .map_err(|e| lookup_error(peer, &e))?;
        let certificate = found
            .result
            .encryption_certificate
            .clone()
            .or_else(|| {
                Some(found.leaf.clone()).filter(|leaf| sixchat_pki::cert::may_encrypt_to(leaf))
            })
            .ok_or_else(|| MailError::NoEncryptionCertificate(peer.clone()))?;
        let mut chain = vec![certificate.clone()];
        chain.extend(found.result.chain.iter().skip(1).cloned());
        let checked = self
            .policy()
            .check_mail(peer, &chain, true, now_unix())
            .map_err(|why| MailError::RecipientRefused {
                peer: peer.clone(),
                why: why.to_string(),
            })?;
        // An encryption certificate is never pinned: only one the peer's
        // DIR root anchors is encrypted to.
        if checked.level != TrustLevel::Verified {
            return Err(MailError::RecipientRefused {
                peer: peer.clone(),
                why: "it is not issued by a directory this profile trusts".to_owned(),
            });
        }
        Ok(certificate)
    }

    /// Writes, signs and encrypts a mail (to every recipient and to us) and
    /// stores it in Sent with a queued delivery per recipient
    /// ([`Agent::deliver_mail`] then takes it on). Returns its id.
    pub async fn send_mail(&self, request: MailRequest) -> Result<i64, MailError> {
        let recipients = checked_recipients(&request)?;
        let own = self.own_mail_certificate();
        let mut certificates = Vec::new();
        if !request.unencrypted {
            certificates.push(own.clone().ok_or(MailError::NoOwnKey)?);
            for peer in &recipients {
                certificates.push(self.recipient_certificate(peer).await?);
            }
        }
        let (sign, encrypt) = (!request.unsigned, !request.unencrypted);
        let draft = self.draft_of(&request, "");
        let (key, chain) = (self.key(), self.chain());
        let raw = tokio::task::spawn_blocking(move || {
            let signer = SignWith {
                key: &key,
                chain: &chain,
                encryption_certificate: own.as_deref(),
            };
            // Every recipient found at a DIR is a SixChat peer: AES-GCM.
            let to = EncryptTo {
                certificates: &certificates,
                cipher: Cipher::Gcm,
            };
            smime::compose(&draft, sign.then_some(&signer), encrypt.then_some(&to))
                .map(|raw| (raw, draft))
        })
        .await
        .map_err(|e| MailError::Worker(e.to_string()))?;
        let (raw, draft) = raw?;
        if raw.len() > MAX_MAIL_BYTES {
            return Err(MailError::TooLarge {
                size: raw.len(),
                max: MAX_MAIL_BYTES,
            });
        }
        let status = match (sign, encrypt) {
            (true, true) => "signed; encrypted",
            (true, false) => "signed; not encrypted",
            (false, true) => "unsigned; encrypted",
            (false, false) => "unsigned; not encrypted",
        };
        let index = draft_index(&draft, status, Some(draft.message_id.clone()));
        let names: Vec<String> = recipients.iter().map(ToString::to_string).collect();
        let id = self
            .store_blocking(move |s| s.store_sent_mail(&raw, &index, &names))
            .await?;
        Ok(id)
    }

    /// Keeps what the person wrote, unsent, in Drafts (a plain MIME
    /// entity, neither signed nor encrypted: it never leaves the profile),
    /// in place of the draft `replacing`. Returns its id.
    pub async fn save_draft(
        &self,
        request: &MailRequest,
        replacing: Option<i64>,
    ) -> Result<i64, MailError> {
        let draft = self.draft_of(request, "draft.");
        let index = draft_index(&draft, "draft", None);
        // Attachments make this a few MiB of base64: off the async workers.
        let raw = tokio::task::spawn_blocking(move || smime::compose(&draft, None, None))
            .await
            .map_err(|e| MailError::Worker(e.to_string()))??;
        Ok(self
            .store_blocking(move |s| s.save_draft(&raw, &index, replacing))
            .await?)
    }

    /// What the person wrote as a [`Draft`] from us, dated now, with a new
    /// Message-ID (`prefix` before its UUID).
    fn draft_of(&self, request: &MailRequest, prefix: &str) -> Draft {
        let me = self.user_id();
        Draft {
            from: Party {
                address: me.to_string(),
                name: Some(self.display_name()),
            },
            to: request.to.iter().map(party).collect(),
            cc: request.cc.iter().map(party).collect(),
            subject: request.subject.clone(),
            body: request.body.clone(),
            attachments: request.attachments.clone(),
            message_id: format!("{prefix}{}@{}", uuid::Uuid::new_v4(), me.domain()),
            in_reply_to: request.in_reply_to.clone(),
            date_unix: now_unix(),
        }
    }

    fn display_name(&self) -> String {
        self.chain()
            .first()
            .and_then(|leaf| CertInfo::parse(leaf).ok())
            .map(|info| info.name)
            .unwrap_or_default()
    }

    /// Runs a store call on the blocking pool.
    async fn store_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&crate::Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let agent = self.clone();
        tokio::task::spawn_blocking(move || agent.with_store(f))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    /// Delivers every queued mail: over a live session with its recipient
    /// (or one dialled for it) when there is one, stored by their agent;
    /// else left in the recipient's DIR store (encrypted end to end as it
    /// is). Returns (recipient, outcome) per delivery tried.
    pub async fn deliver_mail(&self) -> Vec<(String, Result<MailDelivery, String>)> {
        let waiting = match self.store_blocking(crate::Store::mail_waiting).await {
            Ok(waiting) => waiting,
            Err(e) => return vec![(String::new(), Err(e.to_string()))],
        };
        let mailbox = self.mailbox();
        // Each recipient's mails together, in the order they were queued.
        let mut by_recipient: Vec<(String, Vec<i64>)> = Vec::new();
        for (id, recipient, _) in waiting {
            match by_recipient.iter_mut().find(|(r, _)| *r == recipient) {
                Some((_, ids)) => ids.push(id),
                None => by_recipient.push((recipient, vec![id])),
            }
        }
        let mut outcomes = Vec::new();
        for (recipient, ids) in by_recipient {
            let Ok(peer) = UserId::parse(&recipient) else {
                outcomes.push((recipient, Err("not a UserID".to_owned())));
                continue;
            };
            let mut route = self.direct_route(&peer).await;
            for id in ids {
                if let Some(direct) = &route {
                    if self.offer_direct(direct, id, &recipient).await {
                        outcomes.push((recipient.clone(), Ok(MailDelivery::Delivered)));
                        continue;
                    }
                    // One failure sends the rest by the DIR: a peer that does
                    // not answer holds up nothing more.
                    if let Some(direct) = route.take() {
                        direct.finish().await;
                    }
                }
                let outcome = match &mailbox {
                    Some(mailbox) => self.relay_mail(mailbox, id, &recipient).await,
                    None => Err(DirError::Local(
                        "not reachable, and this profile has no DIR to leave it at".to_owned(),
                    )),
                };
                outcomes.push((recipient.clone(), outcome.map_err(|e| e.to_string())));
            }
            if let Some(route) = route {
                route.finish().await;
            }
        }
        outcomes
    }

    async fn relay_mail(
        &self,
        mailbox: &crate::mailbox::Mailbox,
        id: i64,
        recipient: &str,
    ) -> Result<MailDelivery, DirError> {
        let local = |e: StoreError| DirError::Local(e.to_string());
        let peer = UserId::parse(recipient).map_err(|e| DirError::Local(e.to_string()))?;
        let raw = self
            .store_blocking(move |s| s.sent_raw(id))
            .await
            .map_err(local)?
            .ok_or_else(|| DirError::Local("the mail is gone".to_owned()))?;
        mailbox.put_mail(&peer, raw).await?;
        let who = recipient.to_owned();
        self.store_blocking(move |s| s.advance_delivery(id, &who, MailDelivery::Relayed))
            .await
            .map_err(local)?;
        Ok(MailDelivery::Relayed)
    }

    /// Takes a mail that came in: stores it verbatim (before anything reads
    /// it) and returns the receipt to send, naming its outer Message-ID.
    /// The same whatever the mail holds (no decryption oracle).
    pub async fn receive_mail(
        &self,
        raw: Vec<u8>,
        came_from: Option<String>,
    ) -> Result<Option<AppMessage>, StoreError> {
        let raw = Arc::new(raw);
        self.store_mail(Arc::clone(&raw), came_from).await?;
        // The outer Message-ID, parsed off the async workers and bounded:
        // a parser fault or a slow parse costs the receipt, nothing else.
        let parse = tokio::task::spawn_blocking(move || outer_message_id(&raw));
        let message_id = match tokio::time::timeout(READ_DEADLINE, parse).await {
            Ok(Ok(id)) => id,
            _ => None,
        };
        Ok(message_id.map(|message_id| AppMessage::MailReceipt {
            id: uuid::Uuid::new_v4().to_string(),
            message_id,
            read: false,
        }))
    }

    /// Stores a mail that came in, verbatim, before anything parses it (a
    /// second copy, by SHA-256, is kept once). Any size the DIR's frames
    /// allow is stored; one over [`MAX_MAIL_BYTES`] is shown as too large,
    /// not read.
    pub(crate) async fn store_mail(
        &self,
        raw: Arc<Vec<u8>>,
        came_from: Option<String>,
    ) -> Result<(), StoreError> {
        self.store_blocking(move |s| s.store_incoming_mail(&raw, came_from.as_deref()))
            .await
            .map(|_| ())
    }

    /// A receipt for mail we sent: its delivery to `from` moves forward.
    pub async fn mail_receipt(&self, from: &UserId, message_id: String, read: bool) {
        let state = if read {
            MailDelivery::Read
        } else {
            MailDelivery::Delivered
        };
        let from = from.to_string();
        if let Err(e) = self
            .store_blocking(move |s| s.advance_delivery_of(&message_id, &from, state))
            .await
        {
            tracing::warn!("a mail receipt could not be stored: {e}");
        }
    }

    /// Reads a mail now (decrypt, verify, judge the signer by the trust
    /// policy as it is today). Blocking: run it off the async workers.
    pub fn read_mail(&self, raw: &[u8]) -> MailView {
        if raw.len() > MAX_MAIL_BYTES {
            return too_large(raw.len());
        }
        let keys = self.mail_keys();
        let leaf = self.chain().first().cloned().unwrap_or_default();
        let mut decrypt: Vec<DecryptWith<'_>> = keys
            .iter()
            .map(|held| DecryptWith {
                key: &held.key,
                certificate: &held.certificate,
            })
            .collect();
        let identity = self.key();
        if sixchat_pki::cert::may_encrypt_to(&leaf) {
            decrypt.push(DecryptWith {
                key: &identity,
                certificate: &leaf,
            });
        }
        let reading = smime::read(raw, &decrypt);
        let signer = match &reading.signature {
            Signature::Valid(signer) => Some(self.judge_signer(&signer.chain)),
            _ => None,
        };
        let trust = signer
            .as_ref()
            .and_then(|s| s.as_ref().ok())
            .map(|(_, level)| *level);
        let status = status_words(&reading, signer);
        MailView {
            reading,
            status,
            trust,
        }
    }

    fn judge_signer(&self, chain: &[Vec<u8>]) -> Result<(UserId, TrustLevel), String> {
        let leaf = chain.first().ok_or_else(|| "no certificate".to_owned())?;
        let info = CertInfo::parse(leaf).map_err(|e| e.to_string())?;
        self.policy()
            .check_mail(&info.user_id, chain, false, now_unix())
            .map(|checked| (info.user_id, checked.level))
            .map_err(|why| why.to_string())
    }

    /// What `run`'s mailbox loops do, at once: deliver queued mail (to each
    /// recipient's running agent, else their DIR), fetch what waits at the
    /// DIR, read what is stored.
    /// Returns (envelopes fetched, each delivery tried, mails read).
    pub async fn check_mail(
        &self,
    ) -> Result<(usize, Vec<(String, Result<MailDelivery, String>)>, usize), MailError> {
        let mailbox = self.mailbox().ok_or_else(|| {
            MailError::Worker(
                "this profile has no DIR: mail travels through the DIR store (enroll first)"
                    .to_owned(),
            )
        })?;
        // Delivered first: a DIR that cannot be reached holds up no mail
        // that can go straight to a recipient's agent.
        let outcomes = self.deliver_mail().await;
        let taken = mailbox
            .fetch()
            .await
            .map_err(|e| MailError::Worker(e.to_string()))?;
        let mut read = 0;
        loop {
            let n = self.index_mail().await?;
            read += n;
            if n == 0 {
                break;
            }
        }
        Ok((taken, outcomes, read))
    }

    /// Marks a mail read and, for one that came from a peer, tells the
    /// sender (a `read` receipt, sealed at its DIR, naming the outer
    /// Message-ID). The same whatever the mail held.
    pub async fn mark_mail_read(&self, id: i64) -> Result<(), MailError> {
        let found = self.store_blocking(move |s| s.mail(id)).await?;
        let Some((row, raw)) = found else {
            return Ok(());
        };
        if !row.unread {
            return Ok(());
        }
        self.store_blocking(move |s| s.set_mail_unread(id, false))
            .await?;
        let sender = row.came_from.as_deref().and_then(|c| UserId::parse(c).ok());
        if let (Some(sender), Some(message_id), Some(mailbox)) =
            (sender, outer_message_id(&raw), self.mailbox())
        {
            let receipt = AppMessage::MailReceipt {
                id: uuid::Uuid::new_v4().to_string(),
                message_id,
                read: true,
            };
            if let Err(e) = mailbox.relay_receipt(&sender, &receipt).await {
                self.dir_problem("read receipt", &e.to_string()).await;
            }
        }
        Ok(())
    }

    /// Reads every stored mail not read yet and records what it found.
    /// Returns how many were read.
    pub async fn index_mail(&self) -> Result<usize, StoreError> {
        let pending = self.store_blocking(|s| s.unindexed_mail(16)).await?;
        let count = pending.len();
        for (id, raw) in pending {
            let agent = self.clone();
            let reading = tokio::task::spawn_blocking(move || agent.read_mail(&raw));
            // A mail that cannot be read in time (or whose reading failed)
            // is kept and shown as such; it never holds up the ones behind.
            let index = match tokio::time::timeout(READ_DEADLINE, reading).await {
                Ok(Ok(view)) => index_of(&view),
                Ok(Err(_)) => MailIndex {
                    status: "unreadable: the message could not be parsed".to_owned(),
                    ..MailIndex::default()
                },
                Err(_) => MailIndex {
                    status: format!("unreadable: not read within {} s", READ_DEADLINE.as_secs()),
                    ..MailIndex::default()
                },
            };
            self.store_blocking(move |s| s.index_mail(id, &index))
                .await?;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sixchat_pki::smime::{Headers, Signer};

    fn reading(encryption: Encryption, signature: Signature, from: &str) -> Reading {
        Reading {
            encryption,
            signature,
            headers: Headers {
                from: Some(Party {
                    address: from.into(),
                    name: None,
                }),
                ..Headers::default()
            },
            protected_headers: true,
            text: String::new(),
            attachments: Vec::new(),
            problem: None,
        }
    }

    #[test]
    fn the_status_says_what_a_person_needs_to_know() {
        let valid = Signature::Valid(Signer {
            chain: vec![],
            signing_time_unix: None,
            encryption_certificate: None,
            offers_gcm: true,
            hash: "SHA-256",
        });
        let alice = UserId::parse("alice@a.example").unwrap();
        let decrypted = Encryption::Decrypted { cipher: "AES-GCM" };
        let r = reading(decrypted.clone(), valid.clone(), "alice@a.example");
        assert_eq!(
            status_words(&r, Some(Ok((alice.clone(), TrustLevel::Verified)))),
            "valid signature, verified sender; encrypted"
        );
        let r = reading(decrypted.clone(), valid.clone(), "mallory@a.example");
        assert!(
            status_words(&r, Some(Ok((alice, TrustLevel::Known))))
                .starts_with("invalid signature: signed by alice")
        );
        let r = reading(decrypted, valid, "alice@a.example");
        assert_eq!(
            status_words(&r, Some(Err("certificate revoked".into()))),
            "invalid signature: the signer's certificate: certificate revoked; encrypted"
        );
        let r = reading(Encryption::NotForUs, Signature::None, "x@a.example");
        assert_eq!(
            status_words(&r, None),
            "not for us: encrypted to someone else"
        );
        let r = reading(Encryption::None, Signature::None, "x@a.example");
        assert_eq!(status_words(&r, None), "unsigned; not encrypted");
    }
}
