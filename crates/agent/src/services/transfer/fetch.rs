//! The receiving side: asks for listings and files, checks an offer, opens
//! each file's `.part` beneath the target folder (finding what a dropped
//! transfer already verified), asks for what is missing, and runs one
//! decoder per stream that verifies every chunk group before writing it.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use sixchat_proto::AppMessage;
use sixchat_proto::files::messages::Want;
use sixchat_proto::files::{FileErrorCode, FileMessage, ListEntry, Offer, OfferedFile, WirePath};
use tokio::sync::mpsc;

use super::pipe::{ChunkReader, WINDOW_RECORDS};
use super::plan::{self, Plan, PlannedFile};
use super::serve::MAX_OFFER_FILES;
use super::{
    Internal, Listing, MAX_STREAMS, OFFER_ANSWER_TIMEOUT, OfferRequest, TransferError,
    TransferUpdate, new_id,
};
use crate::agent::driver::Wire;
use crate::agent::{Agent, AgentEvent, SessionEnd};
use crate::files::confine::Root;
use crate::files::verified::{self, Partial, ReceiveError};

/// The files of a transfer opened on the blocking pool.
#[derive(Debug)]
pub(crate) struct Planned {
    transfer: String,
    result: Result<Plan, plan::PlanError>,
}

/// A decoder's end.
#[derive(Debug)]
pub(crate) struct Received {
    stream: u32,
    transfer: String,
    path: WirePath,
    index: u32,
    result: Result<bool, ReceiveError>,
}

struct PendingGet {
    into: PathBuf,
    updates: mpsc::Sender<TransferUpdate>,
}

/// A transfer being received.
struct Incoming {
    updates: mpsc::Sender<TransferUpdate>,
    into: PathBuf,
    files: Vec<OfferedFile>,
    /// Bytes of paths taken so far.
    path_bytes: usize,
    /// Its last part came (and it is being, or was, planned).
    planned: bool,
    total_files: u64,
    total_bytes: u64,
    root: Option<Arc<Root>>,
    queue: VecDeque<PlannedFile>,
    verified: u64,
    done: u64,
    /// A push: auto-accepted or asking the person.
    push: Option<Push>,
}

struct InStream {
    transfer: String,
    expected: u64,
    /// Bytes still to verify (the file's size less what was already).
    wanted: u64,
    /// Data bytes counted so far (at most `wanted`).
    received: u64,
    tx: mpsc::Sender<Vec<u8>>,
}

/// The receiving side of one session.
#[derive(Default)]
pub(crate) struct Fetching {
    lists: HashMap<String, tokio::sync::oneshot::Sender<Result<Listing, TransferError>>>,
    gets: HashMap<String, PendingGet>,
    transfers: HashMap<String, Incoming>,
    streams: HashMap<u32, InStream>,
    next_stream: u32,
}

fn send_file(message: FileMessage) -> AppMessage {
    AppMessage::File {
        id: new_id(),
        message,
    }
}

impl Fetching {
    /// Asks the peer for a page of a listing.
    pub(crate) async fn list(
        &mut self,
        wire: &mut Wire,
        path: WirePath,
        start: u64,
        reply: tokio::sync::oneshot::Sender<Result<Listing, TransferError>>,
    ) -> Result<(), SessionEnd> {
        let id = new_id();
        self.lists.insert(id.clone(), reply);
        let message = FileMessage::List { path, start };
        wire.send(&AppMessage::File { id, message }).await
    }

    /// Asks the peer for a file or folder of its share.
    pub(crate) async fn get(
        &mut self,
        wire: &mut Wire,
        path: WirePath,
        into: PathBuf,
        updates: mpsc::Sender<TransferUpdate>,
    ) -> Result<(), SessionEnd> {
        let id = new_id();
        self.gets.insert(id.clone(), PendingGet { into, updates });
        let message = FileMessage::Get { path };
        wire.send(&AppMessage::File { id, message }).await
    }

    pub(crate) fn on_listing(
        &mut self,
        reference: &str,
        path: WirePath,
        entries: Vec<ListEntry>,
        next: Option<u64>,
    ) {
        if let Some(reply) = self.lists.remove(reference) {
            let _ = reply.send(Ok(Listing {
                path,
                entries,
                next,
            }));
        }
    }

    pub(crate) async fn on_offer(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        mut offer: Offer,
    ) -> Result<(), SessionEnd> {
        if !self.transfers.contains_key(&offer.transfer) {
            let admitted = match &offer.reference {
                Some(reference) => self
                    .gets
                    .remove(reference)
                    .map(|get| (get.into, get.updates, None))
                    .ok_or_else(|| "an offer for nothing asked".to_owned()),
                None => self.admit_push(agent, wire, &offer),
            };
            let (into, updates, push) = match admitted {
                Ok(admitted) => admitted,
                Err(reason) => {
                    let answer = decline(&offer.transfer, &reason);
                    if offer.reference.is_none() {
                        agent
                            .emit(offered(wire, &offer, format!("declined: {reason}")))
                            .await;
                    }
                    return wire.send(&answer).await;
                }
            };
            self.transfers.insert(
                offer.transfer.clone(),
                Incoming {
                    updates,
                    into,
                    files: Vec::new(),
                    path_bytes: 0,
                    planned: false,
                    total_files: offer.files,
                    total_bytes: offer.bytes,
                    root: None,
                    queue: VecDeque::new(),
                    verified: 0,
                    done: 0,
                    push,
                },
            );
        }
        let problem = {
            let Some(incoming) = self.transfers.get_mut(&offer.transfer) else {
                return Ok(());
            };
            if incoming.planned {
                Some("a part after the offer's last".to_owned())
            } else {
                incoming.planned = offer.last;
                add_part(incoming, std::mem::take(&mut offer.entries)).err()
            }
        };
        if let Some(problem) = problem {
            return self
                .fail(
                    wire,
                    &offer.transfer,
                    TransferError::Protocol(problem),
                    true,
                )
                .await;
        }
        if !offer.last {
            return Ok(());
        }
        match self.transfers.get(&offer.transfer).and_then(|i| i.push) {
            None => {
                self.plan(internal, &offer.transfer);
                Ok(())
            }
            Some(Push { auto: true }) => {
                agent
                    .emit(offered(wire, &offer, "accepted (auto-accept)".into()))
                    .await;
                self.on_answered(wire, internal, &offer.transfer, true)
                    .await
            }
            Some(Push { auto: false }) => self.ask(agent, wire, internal, &offer).await,
        }
    }

    /// Whether a push may come in, and where it goes; else why not.
    fn admit_push(&self, agent: &Agent, wire: &Wire, offer: &Offer) -> Result<Admitted, String> {
        if !super::may_browse(wire) {
            return Err("files are taken only from known contacts".to_owned());
        }
        if self.transfers.len() >= super::MAX_STREAMS {
            return Err("too many transfers at once; offer again later".to_owned());
        }
        let peer = wire.peer().to_string();
        let (folder, auto) = agent.with_store(|s| {
            (
                s.setting("incoming")
                    .ok()
                    .flatten()
                    .filter(|f| !f.is_empty()),
                s.auto_accepts(&peer).unwrap_or(false),
            )
        });
        let Some(folder) = folder else {
            return Err("no incoming folder is set here".to_owned());
        };
        if !auto && agent.offers_gate().is_none() {
            return Err(
                "not accepted: files are taken here only from contacts set to auto-accept"
                    .to_owned(),
            );
        }
        let updates = forward_to_events(agent.clone(), wire.peer().to_string(), &offer.transfer);
        Ok((PathBuf::from(folder), updates, Some(Push { auto })))
    }

    /// Asks the person about a push (declined if no answer comes in time).
    async fn ask(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        offer: &Offer,
    ) -> Result<(), SessionEnd> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let names = self
            .transfers
            .get(&offer.transfer)
            .map(|i| i.files.iter().take(5).map(|f| f.path.clone()).collect())
            .unwrap_or_default();
        let request = OfferRequest {
            from: wire.peer().clone(),
            transfer: offer.transfer.clone(),
            files: offer.files,
            bytes: offer.bytes,
            names,
            answer,
        };
        let asked = agent
            .offers_gate()
            .is_some_and(|gate| gate.try_send(request).is_ok());
        if !asked {
            return self
                .on_answered(wire, internal, &offer.transfer, false)
                .await;
        }
        agent.emit(offered(wire, offer, "asking".into())).await;
        let (internal, transfer) = (internal.clone(), offer.transfer.clone());
        tokio::spawn(async move {
            let accept = matches!(
                tokio::time::timeout(OFFER_ANSWER_TIMEOUT, answered).await,
                Ok(Ok(true))
            );
            let _ = internal.send(Internal::Answered { transfer, accept });
        });
        Ok(())
    }

    /// The person's answer to a push (or auto-accept's).
    pub(crate) async fn on_answered(
        &mut self,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        transfer: &str,
        accept: bool,
    ) -> Result<(), SessionEnd> {
        if !self.transfers.contains_key(transfer) {
            return Ok(());
        }
        if accept {
            wire.send(&send_file(FileMessage::Accept {
                transfer: transfer.to_owned(),
            }))
            .await?;
            self.plan(internal, transfer);
            return Ok(());
        }
        if let Some(incoming) = self.transfers.remove(transfer) {
            let _ = incoming
                .updates
                .send(TransferUpdate::Failed(TransferError::Refused {
                    code: "declined".to_owned(),
                    reason: "declined here".to_owned(),
                }))
                .await;
        }
        wire.send(&decline(transfer, "declined")).await
    }

    /// Opens every file's `.part` on the blocking pool.
    fn plan(&mut self, internal: &mpsc::UnboundedSender<Internal>, transfer: &str) {
        let Some(incoming) = self.transfers.get(transfer) else {
            return;
        };
        let (into, files) = (incoming.into.clone(), incoming.files.clone());
        let totals = (incoming.total_files, incoming.total_bytes);
        let (internal, transfer) = (internal.clone(), transfer.to_owned());
        tokio::task::spawn_blocking(move || {
            let result = plan::check_whole_offer(&files, totals)
                .map_err(plan::PlanError::from)
                .and_then(|()| plan::plan_files(&into, files));
            let _ = internal.send(Internal::Planned(Planned { transfer, result }));
        });
    }

    pub(crate) async fn on_planned(
        &mut self,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        planned: Planned,
    ) -> Result<(), SessionEnd> {
        let transfer = planned.transfer;
        let plan = match planned.result {
            Ok(plan) => plan,
            Err(plan::PlanError::NoSpace(reason)) => {
                return self
                    .fail(wire, &transfer, TransferError::NoSpace(reason), true)
                    .await;
            }
            Err(plan::PlanError::Refused(reason)) => {
                return self
                    .fail(wire, &transfer, TransferError::Local(reason), true)
                    .await;
            }
        };
        let Some(incoming) = self.transfers.get_mut(&transfer) else {
            return Ok(());
        };
        incoming.root = Some(plan.root);
        incoming.verified = plan.resumed;
        let _ = incoming
            .updates
            .send(TransferUpdate::Offered {
                transfer: transfer.clone(),
                files: incoming.total_files,
                bytes: incoming.total_bytes,
                resumed: plan.resumed,
            })
            .await;
        // Files already complete here are done for the sender too (else a
        // resumed push never hears that every file arrived).
        let mut done = Vec::with_capacity(plan.complete.len());
        for (index, path) in plan.complete {
            incoming.done += 1;
            let _ = incoming
                .updates
                .send(TransferUpdate::FileDone { path })
                .await;
            done.push(index);
        }
        for index in done {
            wire.send(&send_file(FileMessage::Done {
                transfer: transfer.clone(),
                index,
            }))
            .await?;
        }
        let Some(incoming) = self.transfers.get_mut(&transfer) else {
            return Ok(());
        };
        incoming.queue.extend(plan.files);
        self.start_streams(wire, internal, &transfer).await
    }

    /// Starts streams for queued files while fewer than [`MAX_STREAMS`] run.
    async fn start_streams(
        &mut self,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        transfer: &str,
    ) -> Result<(), SessionEnd> {
        let mut wants = Vec::new();
        while self.streams.len() < MAX_STREAMS {
            let Some(incoming) = self.transfers.get_mut(transfer) else {
                break;
            };
            let Some(root) = incoming.root.clone() else {
                break;
            };
            let Some(file) = incoming.queue.pop_front() else {
                break;
            };
            let Some(ranges) = verified::from_chunk_ranges(&file.missing) else {
                let reason = format!("{}: too many missing pieces to ask for", file.path);
                return self
                    .fail(wire, transfer, TransferError::Local(reason), true)
                    .await;
            };
            self.next_stream = self.next_stream.wrapping_add(1);
            let stream = self.next_stream;
            let (tx, rx) = mpsc::channel(WINDOW_RECORDS);
            self.streams.insert(
                stream,
                InStream {
                    transfer: transfer.to_owned(),
                    expected: 0,
                    wanted: file.size.saturating_sub(file.already),
                    received: 0,
                    tx,
                },
            );
            wants.push(Want {
                stream,
                index: file.index,
                ranges,
            });
            let internal = internal.clone();
            let transfer = transfer.to_owned();
            tokio::task::spawn_blocking(move || {
                let PlannedFile {
                    index,
                    path,
                    hash,
                    missing,
                    size,
                    ..
                } = file;
                let local = |e: crate::files::confine::ConfineError| {
                    ReceiveError::Write(std::io::Error::other(e.to_string()))
                };
                let result = Partial::open(&root, &path, size, hash)
                    .map_err(local)
                    .and_then(|mut partial| {
                        partial.receive(&missing, ChunkReader::new(rx))?;
                        // Hashed again before the rename: another transfer may share
                        // this `.part` (a review finding; the cheap finish waits
                        // for a lock held from plan to rename).
                        partial.finish(&root).map_err(local)
                    });
                let _ = internal.send(Internal::Received(Received {
                    stream,
                    transfer,
                    path,
                    index,
                    result,
                }));
            });
        }
        if wants.is_empty() {
            return self.finish_if_done(transfer).await;
        }
        // One request per stream: a want with many ranges is up to 11 KiB,
        // and every message must fit one record.
        for want in wants {
            wire.send(&send_file(FileMessage::Request {
                transfer: transfer.to_owned(),
                wants: vec![want],
            }))
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn on_bulk(
        &mut self,
        wire: &mut Wire,
        stream: u32,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<(), SessionEnd> {
        // A stream no one opened (or one already ended) is dropped.
        let Some(open) = self.streams.get_mut(&stream) else {
            return Ok(());
        };
        if offset != open.expected {
            let transfer = open.transfer.clone();
            let problem = format!(
                "stream {stream}: data at {offset}, expected {}",
                open.expected
            );
            return self
                .fail(wire, &transfer, TransferError::Protocol(problem), true)
                .await;
        }
        let len = bytes.len() as u64;
        open.expected += len;
        let counted = len.min(open.wanted.saturating_sub(open.received));
        open.received += counted;
        let transfer = open.transfer.clone();
        // Waits while the decoder's window is full: the socket is not read
        // faster than the disk takes it. A decoder that already ended
        // (bad data) takes nothing more.
        let _ = open.tx.send(bytes).await;
        if let Some(incoming) = self.transfers.get_mut(&transfer) {
            let before = incoming.verified;
            incoming.verified += counted;
            if before >> 22 != incoming.verified >> 22 {
                let verified = incoming.verified;
                let _ = incoming.updates.try_send(TransferUpdate::Progress {
                    verified,
                    bytes: incoming.total_bytes,
                });
                // Every 4 MiB the sender learns how far this side got.
                return wire
                    .send(&send_file(FileMessage::Progress { transfer, verified }))
                    .await;
            }
        }
        Ok(())
    }

    pub(crate) async fn on_received(
        &mut self,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        received: Received,
    ) -> Result<(), SessionEnd> {
        let stream = self.streams.remove(&received.stream);
        let Some(incoming) = self.transfers.get_mut(&received.transfer) else {
            return Ok(());
        };
        match received.result {
            Ok(true) => {
                // What was counted as it arrived is now exact.
                if let Some(stream) = stream {
                    incoming.verified += stream.wanted - stream.received;
                }
                incoming.done += 1;
                let _ = incoming
                    .updates
                    .send(TransferUpdate::FileDone {
                        path: received.path,
                    })
                    .await;
                wire.send(&send_file(FileMessage::Done {
                    transfer: received.transfer.clone(),
                    index: received.index,
                }))
                .await?;
                self.start_streams(wire, internal, &received.transfer).await
            }
            Ok(false) | Err(ReceiveError::Truncated) => {
                let problem = format!("{}: the stream ended early", received.path);
                self.fail(
                    wire,
                    &received.transfer,
                    TransferError::Protocol(problem),
                    true,
                )
                .await
            }
            Err(ReceiveError::BadData { at }) => {
                let error = TransferError::BadData {
                    peer: wire.peer().to_string(),
                    path: received.path.to_string(),
                    index: received.index,
                    at,
                };
                self.fail(wire, &received.transfer, error, true).await
            }
            Err(ReceiveError::Write(e)) => {
                let error = TransferError::Local(format!("{}: {e}", received.path));
                self.fail(wire, &received.transfer, error, true).await
            }
        }
    }

    async fn finish_if_done(&mut self, transfer: &str) -> Result<(), SessionEnd> {
        let running = self.streams.values().any(|s| s.transfer == transfer);
        let Some(incoming) = self.transfers.get(transfer) else {
            return Ok(());
        };
        if running || !incoming.queue.is_empty() || incoming.root.is_none() {
            return Ok(());
        }
        if let Some(incoming) = self.transfers.remove(transfer) {
            let _ = incoming
                .updates
                .send(TransferUpdate::Finished {
                    files: incoming.done,
                    bytes: incoming.total_bytes,
                })
                .await;
        }
        Ok(())
    }

    /// Ends a transfer with `error`: its streams stop (their decoders end),
    /// what was verified stays on disk for a later resume, and the peer is
    /// told when `tell`.
    async fn fail(
        &mut self,
        wire: &mut Wire,
        transfer: &str,
        error: TransferError,
        tell: bool,
    ) -> Result<(), SessionEnd> {
        self.streams.retain(|_, s| s.transfer != transfer);
        if let Some(incoming) = self.transfers.remove(transfer) {
            let _ = incoming
                .updates
                .send(TransferUpdate::Failed(error.clone()))
                .await;
        }
        if !tell {
            return Ok(());
        }
        let message = match &error {
            TransferError::BadData { index, .. } => super::file_error(
                transfer,
                Some(*index),
                FileErrorCode::BadData,
                "data does not match the offered file",
            ),
            TransferError::NoSpace(reason) => {
                super::file_error(transfer, None, FileErrorCode::NoSpace, reason)
            }
            _ => send_file(FileMessage::Cancel {
                transfer: transfer.to_owned(),
                reason: super::reason(&error.to_string()),
            }),
        };
        wire.send(&message).await
    }

    /// The peer declined or cancelled `transfer`.
    pub(crate) fn on_peer_ended(&mut self, transfer: &str, reason: &str) {
        self.streams.retain(|_, s| s.transfer != transfer);
        if let Some(incoming) = self.transfers.remove(transfer) {
            let _ = incoming
                .updates
                .try_send(TransferUpdate::Failed(TransferError::Refused {
                    code: "cancelled".to_owned(),
                    reason: reason.to_owned(),
                }));
        }
    }

    /// The peer's `file-error` about a listing, a get or a transfer.
    pub(crate) fn on_error(
        &mut self,
        reference: &str,
        index: Option<u32>,
        code: FileErrorCode,
        reason: &str,
    ) {
        let error = TransferError::Refused {
            code: code.as_str().to_owned(),
            reason: match index {
                Some(index) => format!("file {index}: {reason}"),
                None => reason.to_owned(),
            },
        };
        if let Some(reply) = self.lists.remove(reference) {
            let _ = reply.send(Err(error));
            return;
        }
        if let Some(get) = self.gets.remove(reference) {
            let _ = get.updates.try_send(TransferUpdate::Failed(error));
            return;
        }
        self.streams.retain(|_, s| s.transfer != reference);
        if let Some(incoming) = self.transfers.remove(reference) {
            let _ = incoming.updates.try_send(TransferUpdate::Failed(error));
        }
    }
}

/// What a push is: accepted unasked (auto-accept) or asking the person.
#[derive(Debug, Clone, Copy)]
struct Push {
    auto: bool,
}

/// Where an admitted offer goes, who hears of it, and whether it is a push.
type Admitted = (PathBuf, mpsc::Sender<TransferUpdate>, Option<Push>);

fn decline(transfer: &str, reason: &str) -> AppMessage {
    send_file(FileMessage::Decline {
        transfer: transfer.to_owned(),
        reason: super::reason(reason),
    })
}

fn offered(wire: &Wire, offer: &Offer, answer: String) -> AgentEvent {
    AgentEvent::FileOffered {
        from: wire.peer().to_string(),
        transfer: offer.transfer.clone(),
        files: offer.files,
        bytes: offer.bytes,
        answer,
    }
}

/// A channel whose updates become the agent's events (a push has no
/// command waiting on it: the person follows it in `run` or the app).
fn forward_to_events(agent: Agent, peer: String, transfer: &str) -> mpsc::Sender<TransferUpdate> {
    let (tx, mut rx) = mpsc::channel(64);
    let transfer = transfer.to_owned();
    tokio::spawn(async move {
        let (mut files, mut bytes) = (0, 0);
        let ended = |complete, files, bytes, reason: String| AgentEvent::TransferEnded {
            peer: peer.clone(),
            transfer: transfer.clone(),
            complete,
            files,
            bytes,
            reason,
        };
        while let Some(update) = rx.recv().await {
            let event = match update {
                TransferUpdate::Offered {
                    files: f,
                    bytes: b,
                    resumed,
                    ..
                } => {
                    (files, bytes) = (f, b);
                    AgentEvent::TransferStarted {
                        peer: peer.clone(),
                        transfer: transfer.clone(),
                        files,
                        bytes,
                        resumed,
                    }
                }
                TransferUpdate::Progress { verified, bytes } => AgentEvent::TransferProgress {
                    peer: peer.clone(),
                    transfer: transfer.clone(),
                    verified,
                    bytes,
                },
                TransferUpdate::FileDone { path } => AgentEvent::FileReceived {
                    from: peer.clone(),
                    transfer: transfer.clone(),
                    path: path.to_string(),
                },
                TransferUpdate::Finished { files, bytes } => {
                    ended(true, files, bytes, "every file verified".into())
                }
                TransferUpdate::Failed(why) => ended(false, files, bytes, why.to_string()),
                TransferUpdate::Accepted => continue,
            };
            let last = matches!(event, AgentEvent::TransferEnded { .. });
            agent.emit(event).await;
            if last {
                return;
            }
        }
        let why = TransferError::SessionEnded.to_string();
        agent.emit(ended(false, files, bytes, why)).await;
    });
    tx
}

/// Most bytes of paths one offer may hold (so a hostile offer cannot make
/// this side keep gigabytes of names).
const MAX_OFFER_PATH_BYTES: usize = 64 << 20;

/// Takes one part of an offer: the indices go on in order, the files stay
/// within what the offer announced and the limits.
fn add_part(incoming: &mut Incoming, entries: Vec<OfferedFile>) -> Result<(), String> {
    let first = incoming.files.len();
    if (first + entries.len()) as u64 > incoming.total_files
        || first + entries.len() > MAX_OFFER_FILES
    {
        return Err("the offer holds more files than it announced".into());
    }
    for (n, file) in entries.iter().enumerate() {
        if u64::from(file.index) != (first + n) as u64 {
            return Err(format!(
                "file {} is numbered {} in the offer",
                first + n,
                file.index
            ));
        }
        incoming.path_bytes += file.path.as_str().len();
    }
    if incoming.path_bytes > MAX_OFFER_PATH_BYTES {
        return Err("the offer's names are too long in all".into());
    }
    incoming.files.extend(entries);
    Ok(())
}
