//! The transfer service (files.md, docs/transfer.md): a sibling of the chat
//! service with per-session state. The session driver hands it every
//! `file-*` message and every bulk record, asks it for the next bulk record
//! to send (round-robin over its streams, after any application message),
//! and takes the messages its blocking workers produce.
//!
//! - [`serve`]: the share's side: listings, offers for `file-get`, encoders.
//! - [`fetch`]: the receiving side: `file-get`, `.part` files, decoders.
//! - [`local`]: a send's files, opened and hashed where the person named them.
//! - [`pipe`]: the bounded byte pipes between the driver and the workers.
//!
//! A push (`send`) is an offer without a `ref`: the receiver accepts it
//! unasked when the person set auto-accept for the sender, asks the person
//! through [`AgentOptions::offers`](crate::AgentOptions) otherwise, and
//! declines when nobody is there to ask.

pub mod fetch;
mod local;
pub mod offers;
pub mod pipe;
mod plan;
mod prepare;
mod receive;
pub mod serve;

use std::path::PathBuf;

use sixchat_proto::files::{FileErrorCode, FileMessage, ListEntry, WirePath};
use sixchat_proto::{AppMessage, TrustLevel, UserId};
use tokio::sync::{mpsc, oneshot};

use crate::agent::driver::Wire;
use crate::agent::{Agent, SessionEnd};

/// Most file streams one session sends at once (files.md: 16 transfers).
pub const MAX_STREAMS: usize = 16;

/// What a received file does when its name is taken by other content (the
/// same content is recognised and counted done whatever the choice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// `name (2).ext`, `name (3).ext`, …: nothing is lost (the default).
    #[default]
    Rename,
    /// The verified new file replaces the old one, at its final rename.
    Overwrite,
    /// The file there stays; the offered one is not fetched (counted done).
    Skip,
}

impl OnConflict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rename => "rename",
            Self::Overwrite => "overwrite",
            Self::Skip => "skip",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Rename, Self::Overwrite, Self::Skip]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

/// What a front end asks of a live session's transfer service.
#[derive(Debug)]
pub enum TransferCommand {
    /// A page of a folder of the peer's share.
    List {
        path: WirePath,
        start: u64,
        reply: oneshot::Sender<Result<Listing, TransferError>>,
    },
    /// Fetch a file or folder of the peer's share into the folder `into`.
    Get {
        path: WirePath,
        into: PathBuf,
        /// What to do with a name already taken by other content there.
        on_conflict: OnConflict,
        updates: mpsc::Sender<TransferUpdate>,
    },
    /// Offer local files and folders (whole, recursively) to the peer, into
    /// `to_folder` beneath its incoming folder.
    Send {
        paths: Vec<PathBuf>,
        to_folder: Option<WirePath>,
        updates: mpsc::Sender<TransferUpdate>,
    },
}

/// A push offer waiting for the person's answer: `true` accepts it into
/// the incoming folder. No answer within [`OFFER_ANSWER_TIMEOUT`] declines.
#[derive(Debug)]
pub struct OfferRequest {
    pub from: UserId,
    pub transfer: String,
    pub files: u64,
    pub bytes: u64,
    /// The first few paths of the offer, for the person to see.
    pub names: Vec<WirePath>,
    pub answer: oneshot::Sender<bool>,
}

/// How long a push offer waits for the person's answer.
pub const OFFER_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub path: WirePath,
    pub entries: Vec<ListEntry>,
    /// Where the next page starts, if there is one.
    pub next: Option<u64>,
}

/// How a transfer goes, for a progress line or a queue panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferUpdate {
    /// The peer offered what was asked: so many files and bytes; `resumed`
    /// bytes of them were already verified here (a resumed transfer).
    Offered {
        transfer: String,
        files: u64,
        bytes: u64,
        resumed: u64,
    },
    /// Bytes verified so far (resumed ones included).
    Progress {
        verified: u64,
        bytes: u64,
    },
    /// One file verified against its hash and given its final name.
    FileDone {
        path: WirePath,
    },
    /// The receiver accepted a push (sending side).
    Accepted,
    /// Every file is complete and verified.
    Finished {
        files: u64,
        bytes: u64,
    },
    Failed(TransferError),
}

/// Why a transfer or a listing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// The peer refused (its code and reason).
    #[error("{code}: {reason}")]
    Refused { code: String, reason: String },
    /// The peer sent data that is not the file it offered.
    #[error("{peer} sent data that does not match the offered file {path} (at byte {at})")]
    BadData {
        peer: String,
        path: String,
        index: u32,
        at: u64,
    },
    /// The peer sent something that does not fit the transfer.
    #[error("{0}")]
    Protocol(String),
    /// Writing here failed (the reason names the file).
    #[error("{0}")]
    Local(String),
    /// The disk here has no room for the offer (checked before the first byte).
    #[error("{0}")]
    NoSpace(String),
    /// The session ended first; what was verified stays for a resume.
    #[error("the session ended before the transfer finished")]
    SessionEnded,
}

/// What the service's workers hand back to the driver.
#[derive(Debug)]
pub(crate) enum Internal {
    /// A message to send as it is.
    Send(AppMessage),
    /// An offer prepared for a `file-get` (files opened and hashed).
    Prepared(serve::Prepared),
    /// An offer's whole list of files checked.
    Checked(fetch::Checked),
    /// The receiving side's files are opened and their missing ranges known.
    Planned(fetch::Planned),
    /// A decoder ended.
    Received(receive::Received),
    /// Time to look for streams the peer stopped feeding.
    Tick,
    /// The person answered a push offer.
    Answered { transfer: String, accept: bool },
}

/// What the driver does next for the transfer service.
#[derive(Debug)]
pub(crate) enum Work {
    Internal(Internal),
    Bulk {
        stream: u32,
        offset: u64,
        bytes: Vec<u8>,
    },
}

/// The transfer service's state for one session.
pub(crate) struct TransferService {
    pub(crate) serve: serve::Serving,
    pub(crate) fetch: fetch::Fetching,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
}

impl Default for TransferService {
    fn default() -> Self {
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        Self {
            serve: serve::Serving::default(),
            fetch: fetch::Fetching::default(),
            internal_tx,
            internal_rx,
        }
    }
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Longest `<reason>` the peer's parser takes, in bytes.
const MAX_REASON_BYTES: usize = 1024;

/// `text` cut to what a `<reason>` may hold, on a character boundary.
pub(crate) fn reason(text: &str) -> String {
    let mut end = text.len().min(MAX_REASON_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// A `file-error` about `reference`.
pub(crate) fn file_error(
    reference: &str,
    index: Option<u32>,
    code: FileErrorCode,
    why: impl AsRef<str>,
) -> AppMessage {
    AppMessage::File {
        id: new_id(),
        message: FileMessage::Error {
            reference: reference.to_owned(),
            index,
            code,
            reason: reason(why.as_ref()),
        },
    }
}

impl TransferService {
    /// The next thing to do: something a worker produced, or (when `bulk`)
    /// the next bulk record to send, round-robin over the streams. Pending
    /// while there is neither.
    pub(crate) async fn next_work(&mut self, bulk: bool) -> Work {
        let Self {
            serve, internal_rx, ..
        } = self;
        tokio::select! {
            Some(internal) = internal_rx.recv() => Work::Internal(internal),
            (stream, offset, bytes) = serve.next_bulk(), if bulk => Work::Bulk { stream, offset, bytes },
            else => std::future::pending().await,
        }
    }

    /// A command from a front end.
    pub(crate) async fn on_command(
        &mut self,
        wire: &mut Wire,
        command: TransferCommand,
    ) -> Result<(), SessionEnd> {
        match command {
            TransferCommand::Send {
                paths,
                to_folder,
                updates,
            } => {
                self.serve
                    .on_send(&self.internal_tx, paths, to_folder, updates)
                    .await;
                Ok(())
            }
            TransferCommand::List { path, start, reply } => {
                self.fetch.list(wire, path, start, reply).await
            }
            TransferCommand::Get {
                path,
                into,
                on_conflict,
                updates,
            } => {
                self.fetch
                    .get(wire, path, (into, on_conflict), updates)
                    .await
            }
        }
    }

    /// A `file-*` message from the peer.
    pub(crate) async fn on_message(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        id: String,
        message: FileMessage,
    ) -> Result<(), SessionEnd> {
        self.dispatch(agent, wire, id, message).await?;
        // A transfer that ended frees streams for the others.
        self.fetch.refill(wire, &self.internal_tx).await
    }

    async fn dispatch(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        id: String,
        message: FileMessage,
    ) -> Result<(), SessionEnd> {
        match message {
            FileMessage::List { path, start } => {
                self.serve
                    .on_list(agent, wire, &self.internal_tx, id, path, start)
                    .await
            }
            FileMessage::Get { path } => {
                self.serve
                    .on_get(agent, wire, &self.internal_tx, id, path)
                    .await
            }
            FileMessage::Request { transfer, wants } => {
                self.serve
                    .on_request(wire, &self.internal_tx, &transfer, wants)
                    .await
            }
            FileMessage::Done { transfer, index } => {
                self.serve.on_done(&transfer, index);
                Ok(())
            }
            FileMessage::Listing {
                reference,
                path,
                entries,
                next,
            } => {
                self.fetch.on_listing(&reference, path, entries, next);
                Ok(())
            }
            FileMessage::Offer(offer) => {
                self.fetch
                    .on_offer(agent, wire, &self.internal_tx, offer)
                    .await
            }
            FileMessage::Progress { transfer, verified } => {
                self.serve.on_progress(&transfer, verified);
                Ok(())
            }
            FileMessage::Accept { transfer } => {
                self.serve.on_accept(&transfer);
                Ok(())
            }
            FileMessage::Pause { transfer } => {
                self.serve.stop(&transfer);
                Ok(())
            }
            FileMessage::Decline { transfer, reason } => {
                self.serve
                    .close(&transfer, Some(refused("declined", &reason)));
                self.fetch.on_peer_ended(&transfer, &reason);
                Ok(())
            }
            FileMessage::Cancel { transfer, reason } => {
                self.serve
                    .close(&transfer, Some(refused("cancelled", &reason)));
                self.fetch.on_peer_ended(&transfer, &reason);
                Ok(())
            }
            FileMessage::Error {
                reference,
                index,
                code,
                reason,
            } => {
                self.serve
                    .close(&reference, Some(refused(code.as_str(), &reason)));
                self.fetch.on_error(&reference, index, code, &reason);
                Ok(())
            }
        }
    }

    /// A bulk record from the peer.
    pub(crate) async fn on_bulk(
        &mut self,
        wire: &mut Wire,
        stream: u32,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<(), SessionEnd> {
        self.fetch.on_bulk(wire, stream, offset, bytes).await
    }

    /// Something a worker produced.
    pub(crate) async fn on_internal(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        internal: Internal,
    ) -> Result<(), SessionEnd> {
        self.on_worker(agent, wire, internal).await?;
        self.fetch.refill(wire, &self.internal_tx).await
    }

    async fn on_worker(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        internal: Internal,
    ) -> Result<(), SessionEnd> {
        match internal {
            Internal::Checked(checked) => {
                self.fetch
                    .on_checked(agent, wire, &self.internal_tx, checked)
                    .await
            }
            Internal::Send(message) => wire.send(&message).await,
            Internal::Tick => self.fetch.check_stalls(wire).await,
            Internal::Prepared(prepared) => self.serve.on_prepared(wire, prepared).await,
            Internal::Planned(planned) => {
                self.fetch
                    .on_planned(wire, &self.internal_tx, planned)
                    .await
            }
            Internal::Received(received) => self.fetch.on_received(wire, received).await,
            Internal::Answered { transfer, accept } => {
                self.fetch
                    .on_answered(wire, &self.internal_tx, &transfer, accept)
                    .await
            }
        }
    }
}

/// The peer's refusal, as a transfer's end.
fn refused(code: &str, reason: &str) -> TransferError {
    TransferError::Refused {
        code: code.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Whether this session's peer may see the share: verified or known (a new
/// peer once its code was confirmed), never anonymous.
pub(crate) fn may_browse(wire: &Wire) -> bool {
    let peer = &wire.established.peer;
    wire.established.session.is_confirmed()
        && matches!(
            peer.level,
            TrustLevel::Verified | TrustLevel::Known | TrustLevel::New
        )
}
