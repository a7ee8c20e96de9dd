//! Mail over one live session (docs/mail.md, "Directly, over a live session"): the
//! per-session half of the mail service.
//!
//! Sending: [`MailSession::offer`] sends `mail-offer` (the mail inline when
//! it is small); on `mail-accept` the mail goes as a bulk stream, one record
//! at a time between everything else ([`MailSession::next_bulk`]); the
//! caller's [`DirectOutcome`] is `Stored` only on `mail-stored`. Anything
//! else (a refusal, an `error`, the session ending) lets the caller leave the
//! mail at the recipient's DIR instead.
//!
//! A mail stream is made of bulk records, which a session carries only
//! once `file-transfer` was agreed: without it, only inline mail goes
//! directly.
//!
//! Receiving: an offer is taken inline or given a stream (at most
//! [`MAX_RECEIVING`] at once per session, and [`MAIL_BUDGET`] bytes reserved
//! across the agent); the bytes must come in order, no more than offered,
//! and hash to the offered SHA-256; a stream with no data for [`STALL`], or
//! not complete [`STREAM_TIME`] after it was accepted, is dropped. The mail is stored (before anything reads it) and only then
//! answered `mail-stored`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sixchat_proto::mail::{MAIL_STREAM_BIT, MAX_INLINE_BYTES, MailMessage};
use sixchat_proto::{AppMessage, Fingerprint};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::agent::driver::Wire;
use crate::agent::{Agent, SessionEnd};

/// Most mails one session receives at once.
pub const MAX_RECEIVING: usize = 4;
/// Most offers one session has outstanding (sent, not yet answered).
pub const MAX_SENDING: usize = 16;
/// Most bytes of mail all sessions together receive at once.
pub const MAIL_BUDGET: u64 = 128 << 20;
/// Most bytes of mail one session receives at once (one largest mail and
/// some), so one peer cannot take the whole budget.
pub const MAX_SESSION_BYTES: u64 = 48 << 20;
/// A mail stream with no data this long is dropped.
pub const STALL: Duration = Duration::from_secs(60);
/// A mail stream not complete this long after it was accepted is dropped
/// (40 MiB in 10 minutes is 70 kB/s: a peer that trickles cannot hold the
/// budget for longer).
pub const STREAM_TIME: Duration = Duration::from_secs(600);
/// Bytes of a mail per bulk record.
const CHUNK: usize = 32 << 10;
/// Bulk records are allowed only once this capability was agreed
/// (protocol.md: "file data"), so a mail stream needs it beside `mail`.
const BULK: &str = "file-transfer";

/// How an offer over a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectOutcome {
    /// The recipient's agent stored the whole mail.
    Stored,
    /// Not taken, with the reason (the peer's words, or ours).
    NotTaken(String),
}

/// A mail handed to a session to offer.
#[derive(Debug)]
pub struct OutgoingMail {
    pub raw: Arc<Vec<u8>>,
    pub done: oneshot::Sender<DirectOutcome>,
    /// Counts each step (the accept, each record sent), so the caller
    /// waits as long as the mail is moving.
    pub progress: Arc<AtomicU64>,
}

struct Sending {
    raw: Arc<Vec<u8>>,
    done: oneshot::Sender<DirectOutcome>,
    progress: Arc<AtomicU64>,
    /// The stream the receiver gave it and how far it was sent.
    stream: Option<u32>,
    sent: usize,
}

struct Receiving {
    offer: String,
    size: usize,
    sha256: [u8; 32],
    bytes: Vec<u8>,
    last_data: Instant,
    accepted: Instant,
    _budget: Reserved,
}

impl Receiving {
    /// When it is dropped unless more (or the rest) comes.
    fn deadline(&self) -> Instant {
        (self.last_data + STALL).min(self.accepted + STREAM_TIME)
    }
}

/// Bytes reserved against [`MAIL_BUDGET`], given back on drop.
struct Reserved {
    pool: Arc<AtomicU64>,
    bytes: u64,
}

impl Reserved {
    fn take(pool: &Arc<AtomicU64>, bytes: u64) -> Option<Self> {
        pool.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(bytes)
                .filter(|total| *total <= MAIL_BUDGET)
        })
        .ok()?;
        Some(Self {
            pool: Arc::clone(pool),
            bytes,
        })
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.pool.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// One session's mail state.
#[derive(Default)]
pub(crate) struct MailSession {
    /// Our offers by their id.
    sending: HashMap<String, Sending>,
    /// Offers accepted and not yet sent whole, taken in turn.
    streaming: VecDeque<String>,
    /// The peer's mails coming in, by the stream id we gave.
    receiving: HashMap<u32, Receiving>,
    next_stream: u32,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Fingerprint::of_der(bytes).0
}

impl MailSession {
    /// Offers one mail to the peer.
    pub(crate) async fn offer(
        &mut self,
        wire: &mut Wire,
        mail: OutgoingMail,
    ) -> Result<(), SessionEnd> {
        // Callers who gave up take no place.
        self.sending.retain(|_, s| !s.done.is_closed());
        let id = new_id();
        let message = AppMessage::Mail {
            id: id.clone(),
            message: MailMessage::Offer {
                size: mail.raw.len() as u64,
                sha256: sha256(&mail.raw),
                data: (mail.raw.len() <= MAX_INLINE_BYTES).then(|| mail.raw.to_vec()),
            },
        };
        if !wire.may_send(&message) {
            let _ = mail.done.send(DirectOutcome::NotTaken(
                "the session did not agree mail".to_owned(),
            ));
            return Ok(());
        }
        if mail.raw.len() > MAX_INLINE_BYTES && !wire.established.session.has_capability(BULK) {
            let _ = mail.done.send(DirectOutcome::NotTaken(
                "the session did not agree file-transfer, which a mail stream needs".to_owned(),
            ));
            return Ok(());
        }
        if self.sending.len() >= MAX_SENDING {
            let _ = mail.done.send(DirectOutcome::NotTaken(
                "too many mails under way".to_owned(),
            ));
            return Ok(());
        }
        wire.send(&message).await?;
        self.sending.insert(
            id,
            Sending {
                raw: mail.raw,
                done: mail.done,
                progress: mail.progress,
                stream: None,
                sent: 0,
            },
        );
        Ok(())
    }

    /// Whether a bulk record of ours waits to be sent.
    pub(crate) fn has_bulk(&self) -> bool {
        !self.streaming.is_empty()
    }

    /// The next record of the next accepted mail in turn.
    pub(crate) fn next_bulk(&mut self) -> Option<(u32, u64, Vec<u8>)> {
        while let Some(offer) = self.streaming.pop_front() {
            let Some(sending) = self.sending.get_mut(&offer) else {
                continue;
            };
            if sending.done.is_closed() {
                // The caller gave up (and left the mail at the DIR).
                self.sending.remove(&offer);
                continue;
            }
            let Some(stream) = sending.stream else {
                continue;
            };
            let start = sending.sent;
            let end = (start + CHUNK).min(sending.raw.len());
            let bytes = sending.raw[start..end].to_vec();
            sending.sent = end;
            sending.progress.fetch_add(1, Ordering::Relaxed);
            if end < sending.raw.len() {
                self.streaming.push_back(offer);
            }
            return Some((stream, start as u64, bytes));
        }
        None
    }

    /// When the oldest incoming stream stalls, if one is open.
    pub(crate) fn stall_deadline(&self) -> Option<Instant> {
        self.receiving.values().map(Receiving::deadline).min()
    }

    /// Drops every incoming stream that stalled, telling the peer.
    pub(crate) async fn drop_stalled(&mut self, wire: &mut Wire) -> Result<(), SessionEnd> {
        let now = Instant::now();
        let stalled: Vec<u32> = self
            .receiving
            .iter()
            .filter(|(_, r)| r.deadline() <= now)
            .map(|(stream, _)| *stream)
            .collect();
        for stream in stalled {
            if let Some(receiving) = self.receiving.remove(&stream) {
                refuse(wire, receiving.offer, "the mail stream stalled").await?;
            }
        }
        Ok(())
    }

    /// An `error` from the peer: ends our offer it names, if any.
    pub(crate) fn on_peer_error(&mut self, reference: &str, reason: &str) -> bool {
        match self.sending.remove(reference) {
            Some(sending) => {
                let _ = sending
                    .done
                    .send(DirectOutcome::NotTaken(reason.to_owned()));
                true
            }
            None => false,
        }
    }

    /// One mail message from the peer.
    pub(crate) async fn on_message(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        id: String,
        message: MailMessage,
    ) -> Result<(), SessionEnd> {
        match message {
            MailMessage::Offer { size, sha256, data } => {
                self.on_offer(agent, wire, id, size, sha256, data).await
            }
            MailMessage::Accept { reference, stream } => {
                if let Some(sending) = self.sending.get_mut(&reference) {
                    // Inline mail needs no stream; a second accept changes nothing.
                    if sending.raw.len() > MAX_INLINE_BYTES && sending.stream.is_none() {
                        sending.stream = Some(stream);
                        sending.progress.fetch_add(1, Ordering::Relaxed);
                        self.streaming.push_back(reference);
                    }
                }
                Ok(())
            }
            MailMessage::Refuse { reference, reason } => {
                self.on_peer_error(&reference, &reason);
                Ok(())
            }
            MailMessage::Stored { reference } => {
                if let Some(sending) = self.sending.remove(&reference) {
                    let _ = sending.done.send(DirectOutcome::Stored);
                }
                Ok(())
            }
        }
    }

    async fn on_offer(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        offer: String,
        size: u64,
        sha256: [u8; 32],
        data: Option<Vec<u8>>,
    ) -> Result<(), SessionEnd> {
        if let Some(why) = over_quota(agent, wire, size).await {
            return refuse(wire, offer, &why).await;
        }
        if let Some(data) = data {
            return store(agent, wire, offer, &sha256, data).await;
        }
        let Ok(size) = usize::try_from(size) else {
            return refuse(wire, offer, "too large").await;
        };
        if size <= MAX_INLINE_BYTES {
            return refuse(wire, offer, "a mail this small comes inline").await;
        }
        if !wire.established.session.has_capability(BULK) {
            return refuse(wire, offer, "a mail stream needs file-transfer").await;
        }
        let coming: usize = self.receiving.values().map(|r| r.size).sum();
        if self.receiving.len() >= MAX_RECEIVING || (coming + size) as u64 > MAX_SESSION_BYTES {
            return refuse(wire, offer, "busy: too many mails coming in").await;
        }
        let Some(budget) = Reserved::take(&agent.mail_budget(), size as u64) else {
            return refuse(wire, offer, "busy: too much mail coming in").await;
        };
        let stream = self.free_stream();
        wire.send(&AppMessage::Mail {
            id: new_id(),
            message: MailMessage::Accept {
                reference: offer.clone(),
                stream,
            },
        })
        .await?;
        self.receiving.insert(
            stream,
            Receiving {
                offer,
                size,
                sha256,
                bytes: Vec::new(),
                last_data: Instant::now(),
                accepted: Instant::now(),
                _budget: budget,
            },
        );
        Ok(())
    }

    /// A stream id with [`MAIL_STREAM_BIT`] set that no open mail stream uses.
    fn free_stream(&mut self) -> u32 {
        loop {
            self.next_stream = self.next_stream.wrapping_add(1) & !MAIL_STREAM_BIT;
            let stream = self.next_stream | MAIL_STREAM_BIT;
            if !self.receiving.contains_key(&stream) {
                return stream;
            }
        }
    }

    /// A bulk record of a mail stream (one with [`MAIL_STREAM_BIT`]).
    pub(crate) async fn on_bulk(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        stream: u32,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<(), SessionEnd> {
        // Records of a stream already dropped may still be on their way.
        let Some(receiving) = self.receiving.get_mut(&stream) else {
            return Ok(());
        };
        let fits = receiving.bytes.len() + bytes.len() <= receiving.size;
        if offset != receiving.bytes.len() as u64 || !fits {
            let offer = receiving.offer.clone();
            self.receiving.remove(&stream);
            return refuse(
                wire,
                offer,
                "the mail stream is not the offered bytes in order",
            )
            .await;
        }
        if receiving.bytes.capacity() == 0 {
            // Reserved against the budget at the offer.
            receiving.bytes.reserve_exact(receiving.size);
        }
        if bytes.is_empty() {
            // Empty records keep nothing alive.
            return Ok(());
        }
        receiving.bytes.extend_from_slice(&bytes);
        receiving.last_data = Instant::now();
        if receiving.bytes.len() < receiving.size {
            return Ok(());
        }
        let Some(done) = self.receiving.remove(&stream) else {
            return Ok(());
        };
        store(agent, wire, done.offer, &done.sha256, done.bytes).await
    }
}

/// Checks a whole mail against its offer, stores it, then says so.
async fn store(
    agent: &Agent,
    wire: &mut Wire,
    offer: String,
    expected: &[u8; 32],
    raw: Vec<u8>,
) -> Result<(), SessionEnd> {
    let (raw, digest) = tokio::task::spawn_blocking(move || {
        let digest = sha256(&raw);
        (raw, digest)
    })
    .await
    .map_err(|e| SessionEnd::LocalFault(e.to_string()))?;
    if &digest != expected {
        return refuse(wire, offer, "the mail is not the one offered (SHA-256)").await;
    }
    let peer = wire.peer().to_string();
    // Stored as it is, synced; nothing parses it before the answer.
    if let Err(e) = agent.store_mail(Arc::new(raw), Some(peer)).await {
        tracing::warn!("a mail that came directly could not be stored: {e}");
        return refuse(wire, offer, "the mail could not be stored here").await;
    }
    wire.send(&AppMessage::Mail {
        id: new_id(),
        message: MailMessage::Stored { reference: offer },
    })
    .await
}

/// Why the peer may not hand over `size` more bytes directly today, if so.
async fn over_quota(agent: &Agent, wire: &Wire, size: u64) -> Option<String> {
    let limits = &agent.options().limits;
    let (most, most_bytes) = (
        limits.mail_per_peer_per_day,
        limits.mail_bytes_per_peer_per_day,
    );
    let peer = wire.peer().to_string();
    let since = crate::store::now_unix() - 24 * 3600;
    let taken = agent
        .write_store(move |s| s.mail_from_since(&peer, since))
        .await;
    match taken {
        Ok((count, bytes)) if count < most && bytes.saturating_add(size) <= most_bytes => None,
        Ok(_) => Some("quota: enough mail from you for today; leave it at my DIR".to_owned()),
        Err(e) => {
            tracing::warn!("the mail quota could not be read: {e}");
            Some("the mail could not be stored here".to_owned())
        }
    }
}

async fn refuse(wire: &mut Wire, offer: String, reason: &str) -> Result<(), SessionEnd> {
    wire.send(&AppMessage::Mail {
        id: new_id(),
        message: MailMessage::Refuse {
            reference: offer,
            reason: reason.to_owned(),
        },
    })
    .await
}

/// Longest a delivery waits for the first answer to an offer before it
/// leaves the mail at the recipient's DIR instead.
pub const FIRST_ANSWER_WAIT: Duration = Duration::from_secs(15);
/// Longest a delivery waits while nothing moves (no record sent, no
/// answer) once the offer was accepted.
pub const PROGRESS_WAIT: Duration = Duration::from_secs(60);

/// A session to deliver mail over: the live one, or one dialled for it.
pub(crate) struct DirectRoute {
    commands: tokio::sync::mpsc::Sender<crate::agent::SessionCommand>,
    dialled: Option<crate::agent::SessionHandle>,
}

impl DirectRoute {
    /// Closes the session if it was dialled for the mail.
    pub(crate) async fn finish(self) {
        if let Some(handle) = self.dialled {
            handle.close().await;
        }
    }
}

impl Agent {
    /// The live session with `peer`, else a session dialled now (not if
    /// another dial is under way, nor one whose code the person would have
    /// to compare first).
    pub(crate) async fn direct_route(&self, peer: &sixchat_proto::UserId) -> Option<DirectRoute> {
        if let Some(commands) = self.live_session(peer) {
            return Some(DirectRoute {
                commands,
                dialled: None,
            });
        }
        let dialing = self.claim_dial(peer)?;
        let reached = self.reach(peer, None, || {}).await;
        drop(dialing);
        match reached {
            Ok(handle) if !handle.level.needs_sas_confirmation() => Some(DirectRoute {
                commands: handle.commands(),
                dialled: Some(handle),
            }),
            Ok(handle) => {
                handle.close().await;
                None
            }
            Err(e) => {
                tracing::debug!(%peer, "mail goes by the DIR: {e}");
                None
            }
        }
    }

    /// Offers sent mail `id` to `recipient` over `route`; true once their
    /// agent stored it (the delivery is then marked delivered).
    pub(crate) async fn offer_direct(&self, route: &DirectRoute, id: i64, recipient: &str) -> bool {
        let raw = match self.write_store(move |s| s.sent_raw(id)).await {
            Ok(Some(raw)) => Arc::new(raw),
            _ => return false,
        };
        let (done, mut outcome) = oneshot::channel();
        let progress = Arc::new(AtomicU64::new(0));
        let command = crate::agent::SessionCommand::Mail(OutgoingMail {
            raw,
            done,
            progress: Arc::clone(&progress),
        });
        if !crate::agent::hand_over(&route.commands, command).await {
            return false;
        }
        let mut seen = 0;
        let mut deadline = Instant::now() + FIRST_ANSWER_WAIT;
        loop {
            match tokio::time::timeout(Duration::from_secs(1), &mut outcome).await {
                Ok(Ok(DirectOutcome::Stored)) => break,
                Ok(Ok(DirectOutcome::NotTaken(why))) => {
                    tracing::info!(%recipient, "mail not taken over the session: {}", sixchat_proto::escape_controls(&why));
                    return false;
                }
                // The session ended.
                Ok(Err(_)) => return false,
                Err(_) => {
                    let now = progress.load(Ordering::Relaxed);
                    if now != seen {
                        seen = now;
                        deadline = Instant::now() + PROGRESS_WAIT;
                    } else if Instant::now() >= deadline {
                        // Dropping `outcome` stops the stream at its next record.
                        return false;
                    }
                }
            }
        }
        let who = recipient.to_owned();
        let stored = self.write_store(move |s| {
            s.advance_delivery(id, &who, crate::store::MailDelivery::Delivered)
        });
        if let Err(e) = stored.await {
            tracing::warn!("a delivered mail's state could not be stored: {e}");
        }
        true
    }
}
