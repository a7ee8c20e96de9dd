//! What the agent tells whoever drives it: [`AgentEvent`]s, the peer's
//! [`PeerCard`], and the [`IncomingRequest`] the person answers with an
//! [`Answer`]. Typed values; text only in `Display` (and in the JSON the
//! command line prints, which keeps the wire's spellings).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serializer;
use sixchat_proto::{AlertCode, Established, Fingerprint, TrustLevel, UserId};

/// Something that happened, for the person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AgentEvent {
    Listening {
        addr: String,
    },
    SessionStarted {
        #[serde(flatten)]
        card: PeerCard,
        addr: String,
        inbound: bool,
    },
    SessionEnded {
        peer: String,
        #[serde(serialize_with = "as_text")]
        reason: SessionEnd,
    },
    /// The person compared the code of a `new` or `anonymous` peer and
    /// accepted: data flows now (`pinned`: its key is pinned, it is `known`).
    SessionConfirmed {
        peer: String,
        pinned: bool,
    },
    /// The first message from the peer on a session this agent dialled: its
    /// person accepted (until then the peer may still be deciding).
    PeerAccepted {
        peer: String,
    },
    HandshakeFailed {
        addr: String,
        inbound: bool,
        reason: String,
    },
    Chat {
        from: String,
        id: String,
        sent: String,
        text: String,
    },
    /// An outbox message was written to a live session.
    Sent {
        to: String,
        id: String,
    },
    Delivered {
        to: String,
        id: String,
    },
    Read {
        to: String,
        id: String,
    },
    Typing {
        from: String,
        active: bool,
    },
    PeerError {
        from: String,
        reference: String,
        reason: String,
    },
    /// The agent's addresses were registered with its DIR.
    Registered {
        #[serde(serialize_with = "joined")]
        addresses: Vec<SocketAddr>,
        expires: i64,
    },
    /// The certificate was renewed by the DIR.
    Renewed {
        not_after: i64,
    },
    /// Messages for an unreachable peer were left in its DIR's store.
    Relayed {
        to: String,
        count: usize,
    },
    /// Something done with the DIR failed (it is retried later).
    DirProblem {
        what: String,
        reason: String,
    },
    /// A contact offered files (`answer`: `accepted` by auto-accept,
    /// `asking` the person, or `declined` with the reason).
    FileOffered {
        from: String,
        transfer: String,
        files: u64,
        bytes: u64,
        answer: String,
    },
    /// An accepted offer started; `resumed` bytes were already verified here.
    TransferStarted {
        peer: String,
        transfer: String,
        files: u64,
        bytes: u64,
        resumed: u64,
    },
    TransferProgress {
        peer: String,
        transfer: String,
        verified: u64,
        bytes: u64,
    },
    /// One file of an offer was verified against its hash and given its name.
    FileReceived {
        from: String,
        transfer: String,
        path: String,
    },
    /// A queued send or get that `run` (or the app) started ended:
    /// `done`, `failed` (with the reason), `paused` or `cancelled`.
    QueuedTransferEnded {
        peer: String,
        transfer: String,
        state: String,
        reason: String,
    },
    /// A received transfer ended: `complete` (every file verified) or not,
    /// and why.
    TransferEnded {
        peer: String,
        transfer: String,
        complete: bool,
        files: u64,
        bytes: u64,
        reason: String,
    },
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// This side closed it (a `bye`).
    Closed,
    /// The peer said `bye` or `close_notify`.
    ClosedByPeer,
    /// The connection ended without a word.
    ConnectionLost(String),
    /// Nothing came for the idle limit.
    Idle,
    /// The person declined (or did not answer in time).
    Declined { in_time: bool },
    /// The peer ended it with an alert.
    PeerAlert(AlertCode),
    /// The peer broke the protocol: it was sent this alert.
    Misbehaved { alert: AlertCode, reason: String },
    /// Something failed here (the store, a write).
    LocalFault(String),
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("closed"),
            Self::ClosedByPeer => f.write_str("the peer closed the session"),
            Self::ConnectionLost(why) => f.write_str(why),
            Self::Idle => f.write_str("idle"),
            Self::Declined { in_time: true } => f.write_str("declined"),
            Self::Declined { in_time: false } => f.write_str("the code was not compared in time"),
            Self::PeerAlert(alert) => write!(f, "the peer ended the session: {}", alert.describe()),
            Self::Misbehaved { reason, .. } | Self::LocalFault(reason) => f.write_str(reason),
        }
    }
}

fn as_text<S: Serializer, T: fmt::Display>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn joined<S: Serializer>(addresses: &[SocketAddr], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&addresses_text(addresses))
}

/// Addresses as one line, space-separated (as the command line prints them).
pub fn addresses_text(addresses: &[SocketAddr]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

#[allow(clippy::ref_option)] // serde's serialize_with hands over `&Option<T>`
fn fingerprint_hex<S: Serializer>(
    fingerprint: &Option<Fingerprint>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&fingerprint.map(|f| f.to_hex()).unwrap_or_default())
}

/// Who a session is with, as the person should see it before trusting it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerCard {
    #[serde(serialize_with = "as_text")]
    pub peer: UserId,
    pub name: String,
    #[serde(serialize_with = "as_text")]
    pub level: TrustLevel,
    /// The short authentication string, `012 345`.
    pub sas: String,
    /// SHA-256 of the peer's leaf certificate (none when anonymous).
    #[serde(serialize_with = "fingerprint_hex")]
    pub fingerprint: Option<Fingerprint>,
    pub issuer: String,
    /// Validity of the peer's certificate, Unix seconds (0 when anonymous).
    pub not_before: i64,
    pub not_after: i64,
    /// Whether data may flow: always for `verified` and `known`; for `new`
    /// and `anonymous` once the person compared the code and accepted.
    pub confirmed: bool,
}

impl PeerCard {
    /// `new` or `anonymous`: only the code the two people compare says who
    /// this is.
    pub fn needs_code_comparison(&self) -> bool {
        self.level.needs_sas_confirmation()
    }

    /// Whether the person must still compare the code before data flows.
    pub fn awaits_code(&self) -> bool {
        !self.confirmed && self.needs_code_comparison()
    }

    /// Verified by a trusted DIR, or pinned: a person may let it in unasked.
    pub fn is_trusted(&self) -> bool {
        matches!(self.level, TrustLevel::Verified | TrustLevel::Known)
    }

    pub(crate) fn of(established: &Established) -> Self {
        let peer = &established.peer;
        let certificate = peer.certificate.as_ref();
        Self {
            peer: peer.user_id.clone(),
            // The name and issuer are the peer's words, shown where the
            // person decides: no line breaks or bidi controls to forge lines.
            name: sixchat_proto::escape_controls(&peer.name).into_owned(),
            level: peer.level,
            sas: established.sas.clone(),
            fingerprint: certificate.map(|c| c.fingerprint),
            issuer: certificate
                .map(|c| sixchat_proto::escape_controls(&c.issuer).into_owned())
                .unwrap_or_default(),
            not_before: certificate.map_or(0, |c| c.not_before_unix),
            not_after: certificate.map_or(0, |c| c.not_after_unix),
            confirmed: established.session.is_confirmed(),
        }
    }
}

/// A peer that completed the handshake as initiator and waits for the
/// person to accept the session ([`crate::AgentOptions::incoming`]).
#[derive(Debug)]
pub struct IncomingRequest {
    pub card: PeerCard,
    pub addr: String,
    /// The person's answer; dropping it (or no answer within
    /// [`INCOMING_ANSWER_TIMEOUT`]) declines.
    pub decision: tokio::sync::oneshot::Sender<Answer>,
}

/// What the person said about a session: at an incoming request, or (for a
/// dialled `new` or `anonymous` peer) once they compared the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// End the session with `user_declined`.
    Decline,
    /// Take the session. For a `new` or `anonymous` peer this is "Accept
    /// once": the codes were compared, nothing is remembered.
    Accept,
    /// "The codes match": take the session and pin the peer's certificate
    /// for its UserID (a `new` peer becomes `known`). For other levels it is
    /// [`Answer::Accept`].
    AcceptAndPin,
}

/// How long an incoming session waits for the person's answer.
pub const INCOMING_ANSWER_TIMEOUT: Duration = Duration::from_secs(120);
