//! The receiving side: asks for listings and files, checks an offer, opens
//! each file's `.part` beneath the target folder (finding what a dropped
//! transfer already verified), asks for what is missing, and runs one
//! decoder per stream that verifies every chunk group before writing it.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use sixchat_proto::AppMessage;
use sixchat_proto::files::{FileErrorCode, FileMessage, ListEntry, Offer, OfferedFile, WirePath};
use tokio::sync::mpsc;

use super::offers::{Push, decline, offered_event};
use super::plan::{self, Plan, PlannedFile};
use super::serve::MAX_OFFER_FILES;
use super::{Internal, Listing, OnConflict, TransferError, TransferUpdate, new_id};
use crate::agent::driver::Wire;
use crate::agent::{Agent, SessionEnd};
use crate::files::confine::Root;

/// The files of a transfer opened on the blocking pool.
#[derive(Debug)]
pub(crate) struct Planned {
    transfer: String,
    /// The transfer it was made for (a peer may reuse an ended one's id).
    generation: u64,
    result: Result<Plan, plan::PlanError>,
}

/// A whole offer checked on the blocking pool, with its files given back.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(super) transfer: String,
    pub(super) generation: u64,
    pub(super) files: Vec<OfferedFile>,
    pub(super) result: Result<(), String>,
}

struct PendingGet {
    pub(super) into: PathBuf,
    on_conflict: OnConflict,
    pub(super) updates: mpsc::Sender<TransferUpdate>,
}

/// A transfer being received.
pub(super) struct Incoming {
    pub(super) updates: mpsc::Sender<TransferUpdate>,
    into: PathBuf,
    on_conflict: OnConflict,
    pub(super) files: Vec<OfferedFile>,
    /// Bytes of paths taken so far.
    pub(super) path_bytes: usize,
    /// Its last part came (and it is being, or was, planned).
    pub(super) planned: bool,
    pub(super) total_files: u64,
    pub(super) total_bytes: u64,
    pub(super) root: Option<Arc<Root>>,
    pub(super) queue: VecDeque<PlannedFile>,
    pub(super) verified: u64,
    pub(super) done: u64,
    /// A push: auto-accepted or asking the person.
    pub(super) push: Option<Push>,
    /// Which transfer of this id it is (a peer may reuse an ended one's
    /// id: a worker's result for the old one is then not taken for it).
    pub(super) generation: u64,
    /// The wait for the person's answer (stopped if the transfer ends first,
    /// so the question leaves the screen).
    pub(super) asking: Option<tokio::task::AbortHandle>,
}

pub(super) struct InStream {
    pub(super) transfer: String,
    pub(super) expected: u64,
    /// Bytes still to verify (the file's size less what was already).
    pub(super) wanted: u64,
    /// Data bytes counted so far (at most `wanted`).
    pub(super) received: u64,
    pub(super) tx: mpsc::Sender<Vec<u8>>,
}

/// The receiving side of one session.
#[derive(Default)]
pub(crate) struct Fetching {
    lists: HashMap<String, tokio::sync::oneshot::Sender<Result<Listing, TransferError>>>,
    gets: HashMap<String, PendingGet>,
    pub(super) transfers: HashMap<String, Incoming>,
    pub(super) streams: HashMap<u32, InStream>,
    pub(super) next_stream: u32,
    /// The task that sends [`Internal::Tick`] runs (from the first stream,
    /// until a tick finds no stream).
    pub(super) ticking: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// When a bulk record last came, or was last taken by its decoder.
    pub(super) last_data: Option<std::time::Instant>,
    /// Counts the transfers taken in (each gets its own generation).
    generation: u64,
}

impl Drop for Fetching {
    /// The session ended: transfers still here give back the `.part`
    /// files they made and never wrote to.
    fn drop(&mut self) {
        for (_, incoming) in self.transfers.drain() {
            discard(incoming);
        }
        if let Some(ticking) = &self.ticking {
            ticking.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

pub(super) fn send_file(message: FileMessage) -> AppMessage {
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
        (into, on_conflict): (PathBuf, OnConflict),
        updates: mpsc::Sender<TransferUpdate>,
    ) -> Result<(), SessionEnd> {
        let id = new_id();
        self.gets.insert(
            id.clone(),
            PendingGet {
                into,
                on_conflict,
                updates,
            },
        );
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
                    .map(|get| (get.into, get.on_conflict, get.updates, None))
                    .ok_or_else(|| "an offer for nothing asked".to_owned()),
                None => self.admit_push(agent, wire, &offer.transfer),
            };
            let (into, on_conflict, updates, push) = match admitted {
                Ok(admitted) => admitted,
                Err(reason) => {
                    let answer = decline(&offer.transfer, &reason);
                    if offer.reference.is_none() {
                        let answer = format!("declined: {reason}");
                        let event =
                            offered_event(wire, &offer.transfer, offer.files, offer.bytes, answer);
                        agent.emit(event).await;
                    }
                    return wire.send(&answer).await;
                }
            };
            self.generation += 1;
            self.transfers.insert(
                offer.transfer.clone(),
                Incoming {
                    updates,
                    into,
                    on_conflict,
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
                    generation: self.generation,
                    asking: None,
                },
            );
        }
        let problem = self.take_part(&mut offer);
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
        if offer.last {
            self.check(internal, &offer.transfer);
        }
        Ok(())
    }

    /// Takes one part of an offer into its transfer: what is wrong with it,
    /// if anything.
    fn take_part(&mut self, offer: &mut Offer) -> Option<String> {
        // Names held for every offer of this session together stay bounded.
        let held: usize = self.transfers.values().map(held_bytes).sum();
        let incoming = self.transfers.get_mut(&offer.transfer)?;
        if incoming.planned {
            return Some("a part after the offer's last".to_owned());
        }
        if (offer.files, offer.bytes) != (incoming.total_files, incoming.total_bytes) {
            return Some("the offer's parts announce different totals".to_owned());
        }
        incoming.planned = offer.last;
        let before = held_bytes(incoming);
        if let Err(problem) = add_part(incoming, std::mem::take(&mut offer.entries)) {
            return Some(problem);
        }
        (held - before + held_bytes(incoming) > MAX_SESSION_OFFER_BYTES)
            .then(|| "the offers' names are too long in all".to_owned())
    }

    /// Checks the whole offer on the blocking pool (its files lent to it).
    fn check(&mut self, internal: &mpsc::UnboundedSender<Internal>, transfer: &str) {
        let Some(incoming) = self.transfers.get_mut(transfer) else {
            return;
        };
        let files = std::mem::take(&mut incoming.files);
        let totals = (incoming.total_files, incoming.total_bytes);
        let generation = incoming.generation;
        let (internal, transfer) = (internal.clone(), transfer.to_owned());
        tokio::task::spawn_blocking(move || {
            let result = plan::check_whole_offer(&files, totals);
            let _ = internal.send(Internal::Checked(Checked {
                transfer,
                generation,
                files,
                result,
            }));
        });
    }

    /// Opens every file's `.part` on the blocking pool.
    pub(super) fn plan(&mut self, internal: &mpsc::UnboundedSender<Internal>, transfer: &str) {
        let Some(incoming) = self.transfers.get(transfer) else {
            return;
        };
        let (into, files) = (incoming.into.clone(), incoming.files.clone());
        let (generation, on_conflict) = (incoming.generation, incoming.on_conflict);
        let (internal, transfer) = (internal.clone(), transfer.to_owned());
        tokio::task::spawn_blocking(move || {
            let result = plan::plan_files(&into, files, on_conflict);
            let _ = internal.send(Internal::Planned(Planned {
                transfer,
                generation,
                result,
            }));
        });
    }

    pub(crate) async fn on_planned(
        &mut self,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        planned: Planned,
    ) -> Result<(), SessionEnd> {
        let transfer = planned.transfer;
        let current = self
            .transfers
            .get(&transfer)
            .is_some_and(|i| i.generation == planned.generation);
        if !current {
            // It ended while its files were planned: what the plan made
            // goes again.
            if let Ok(plan) = planned.result {
                tokio::task::spawn_blocking(move || plan::give_back(&plan.root, &plan.files));
            }
            return Ok(());
        }
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
        self.refill(wire, internal).await
    }

    /// Ends a transfer with `error`: its streams stop (their decoders end),
    /// what was verified stays on disk for a later resume, and the peer is
    /// told when `tell`.
    pub(super) async fn fail(
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
            discard(incoming);
        }
        if !tell {
            return Ok(());
        }
        // The peer learns what it needs, not this side's paths or free space.
        let message = match &error {
            TransferError::BadData { index, .. } => super::file_error(
                transfer,
                Some(*index),
                FileErrorCode::BadData,
                "data does not match the offered file",
            ),
            TransferError::NoSpace(_) => super::file_error(
                transfer,
                None,
                FileErrorCode::NoSpace,
                "not enough free space here for these files",
            ),
            TransferError::Local(_) => send_file(FileMessage::Cancel {
                transfer: transfer.to_owned(),
                reason: "the files could not be stored here".to_owned(),
            }),
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
            discard(incoming);
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
            discard(incoming);
        }
    }
}

/// A transfer that ended before its files came: the `.part` files it made
/// and never started are removed (they hold reserved space and nothing
/// verified); what was verified stays for a later resume.
fn discard(incoming: Incoming) {
    if let Some(asking) = incoming.asking {
        asking.abort();
    }
    let (Some(root), queue) = (incoming.root, incoming.queue) else {
        return;
    };
    if queue.iter().any(|file| file.created) {
        let give_back = move || {
            let mut queue = queue;
            plan::give_back(&root, queue.make_contiguous());
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(give_back)),
            Err(_) => give_back(),
        }
    }
}

/// Memory one offered file takes here besides its name (its entry, and
/// the copies made to check and plan it).
const BYTES_PER_OFFERED_FILE: usize = 160;
/// Most memory the offers of one session may take, all together.
const MAX_SESSION_OFFER_BYTES: usize = 256 << 20;

/// Memory an offer's files take here (names and entries).
fn held_bytes(incoming: &Incoming) -> usize {
    incoming.path_bytes + BYTES_PER_OFFERED_FILE * incoming.total_files.min(1 << 20) as usize
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
