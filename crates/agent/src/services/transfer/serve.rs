//! The share's side: listings, offers for `file-get` (files opened beneath
//! the share and hashed on the blocking pool), and one encoder per
//! requested stream, checked against the offered hash as it reads.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sixchat_proto::AppMessage;
use sixchat_proto::files::messages::{MAX_ENTRIES_PER_MESSAGE, Want};
use sixchat_proto::files::{FileErrorCode, FileMessage, Offer, OfferedFile, WirePath};
use tokio::sync::mpsc;

use super::pipe::{ChunkWriter, WINDOW_RECORDS};
pub(super) use super::prepare::prepare;
use super::{Internal, MAX_STREAMS, TransferError, TransferUpdate, file_error, may_browse, new_id};
use crate::agent::driver::Wire;
use crate::agent::{Agent, SessionEnd};
use crate::files::confine::{ConfineError, Root};
use crate::files::verified::{self, Outboard, SendError};

/// Most bytes of XML in one listing page or offer part (a record holds 64 KiB).
const MESSAGE_BUDGET: usize = 60_000;
/// What one file of an offer costs besides its path, as XML.
const OFFER_ENTRY_OVERHEAD: usize = 192;

/// Most files one offer holds (files.md's limit for an offer).
pub const MAX_OFFER_FILES: usize = 1_000_000;
/// Most folders deep a folder offer goes (the wire's depth limit).
pub(super) const MAX_DEPTH: usize = 64;

/// One file of an offer, opened and hashed.
#[derive(Debug)]
pub(crate) struct ServedFile {
    pub(super) offered: OfferedFile,
    pub(super) file: Arc<File>,
    pub(super) outboard: Arc<Outboard>,
}

/// An offer prepared on the blocking pool: for the peer's `file-get`
/// (`reference`), or a push the person asked for (`updates`).
#[derive(Debug)]
pub(crate) struct Prepared {
    reference: Option<String>,
    transfer: String,
    result: Result<Vec<ServedFile>, (FileErrorCode, String)>,
    updates: Option<mpsc::Sender<TransferUpdate>>,
}

/// A stream being sent.
struct OutStream {
    stream: u32,
    transfer: String,
    offset: u64,
    chunks: mpsc::Receiver<Vec<u8>>,
}

/// An offer made in this session, until the receiver has every file.
struct ServedOffer {
    files: Vec<ServedFile>,
    done: HashSet<u32>,
    /// A push's progress, for the person who sent it.
    updates: Option<mpsc::Sender<TransferUpdate>>,
}

impl ServedOffer {
    fn update(&self, update: TransferUpdate) {
        if let Some(updates) = &self.updates {
            let _ = updates.try_send(update);
        }
    }
}

/// Listings and offers being prepared at once for one session.
const MAX_PREPARING: usize = 4;
/// Offers one session may hold open (files.md: 16 transfers at once).
const MAX_OFFERS: usize = 16;

/// The share's side of one session.
#[derive(Default)]
pub(crate) struct Serving {
    offers: HashMap<String, ServedOffer>,
    streams: VecDeque<OutStream>,
    /// Listings and offers being prepared on the blocking pool.
    preparing: Arc<AtomicUsize>,
}

/// Counts one preparation for as long as it lives.
struct Preparing(Arc<AtomicUsize>);

impl Drop for Preparing {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a path of the share could not be served, as a `file-error`.
pub(super) fn refusal(e: &ConfineError) -> (FileErrorCode, String) {
    let code = match e {
        ConfineError::Path(_) => FileErrorCode::BadPath,
        ConfineError::NotFound(_) => FileErrorCode::NotFound,
        ConfineError::Escapes(_) | ConfineError::NotRegular(_) => FileErrorCode::NotAllowed,
        ConfineError::Io { .. } => FileErrorCode::Io,
    };
    (code, e.to_string())
}

/// The share's folder, if the person set one.
fn share(agent: &Agent) -> Option<PathBuf> {
    agent
        .with_store(|s| s.setting("share").ok().flatten())
        .filter(|folder| !folder.is_empty())
        .map(PathBuf::from)
}

impl Serving {
    /// A turn to prepare a listing or an offer, or the `too-many` answer.
    fn turn(&self, reference: &str) -> Result<Preparing, AppMessage> {
        if self.preparing.fetch_add(1, Ordering::AcqRel) >= MAX_PREPARING {
            self.preparing.fetch_sub(1, Ordering::AcqRel);
            return Err(file_error(
                reference,
                None,
                FileErrorCode::TooMany,
                "too many listings and offers asked at once; ask again when one is answered",
            ));
        }
        Ok(Preparing(self.preparing.clone()))
    }

    /// Whether the peer may browse, and the share's folder; else the error
    /// to answer `reference` with.
    fn allowed(agent: &Agent, wire: &Wire, reference: &str) -> Result<PathBuf, AppMessage> {
        if !may_browse(wire) {
            return Err(file_error(
                reference,
                None,
                FileErrorCode::NotShared,
                "nothing is shared with you",
            ));
        }
        share(agent).ok_or_else(|| {
            file_error(
                reference,
                None,
                FileErrorCode::NotShared,
                "nothing is shared",
            )
        })
    }

    /// Runs `work` beneath the share on the blocking pool (if the peer may
    /// browse and a turn is free; else answers `id` with why not) and hands
    /// what it makes to the driver.
    async fn in_share<T: Send + 'static>(
        &self,
        agent: &Agent,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        id: &str,
        work: impl FnOnce(&Root) -> Result<T, (FileErrorCode, String)> + Send + 'static,
        done: impl FnOnce(Result<T, (FileErrorCode, String)>) -> Internal + Send + 'static,
    ) -> Result<(), SessionEnd> {
        let allowed =
            Self::allowed(agent, wire, id).and_then(|folder| Ok((folder, self.turn(id)?)));
        let (folder, turn) = match allowed {
            Ok(allowed) => allowed,
            Err(refused) => return wire.send(&refused).await,
        };
        let internal = internal.clone();
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let result = Root::open(&folder)
                .map_err(|e| (FileErrorCode::Io, format!("the shared folder: {e}")))
                .and_then(|root| work(&root));
            let _ = internal.send(done(result));
        });
        Ok(())
    }

    pub(crate) async fn on_list(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        id: String,
        path: WirePath,
        start: u64,
    ) -> Result<(), SessionEnd> {
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        let listed = path.clone();
        let work = move |root: &Root| {
            root.list(&listed, start, MAX_ENTRIES_PER_MESSAGE, MESSAGE_BUDGET)
                .map_err(|e| refusal(&e))
        };
        let reference = id.clone();
        let done = move |answer: Result<_, (FileErrorCode, String)>| {
            Internal::Send(match answer {
                Ok((entries, next)) => AppMessage::File {
                    id: new_id(),
                    message: FileMessage::Listing {
                        reference,
                        path,
                        entries,
                        next,
                    },
                },
                Err((code, reason)) => file_error(&reference, None, code, reason),
            })
        };
        self.in_share(agent, wire, internal, &id, work, done).await
    }

    pub(crate) async fn on_get(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        id: String,
        path: WirePath,
    ) -> Result<(), SessionEnd> {
        if self.offers.len() >= MAX_OFFERS {
            let refused = file_error(
                &id,
                None,
                FileErrorCode::TooMany,
                format!("{MAX_OFFERS} transfers are open in this session already"),
            );
            return wire.send(&refused).await;
        }
        let reference = Some(id.clone());
        let done = move |result| {
            Internal::Prepared(Prepared {
                reference,
                transfer: new_id(),
                result,
                updates: None,
            })
        };
        self.in_share(
            agent,
            wire,
            internal,
            &id,
            move |root| prepare(root, &path),
            done,
        )
        .await
    }

    /// Sends the prepared offer, in parts of at most 400 files.
    pub(crate) async fn on_prepared(
        &mut self,
        wire: &mut Wire,
        prepared: Prepared,
    ) -> Result<(), SessionEnd> {
        let Prepared {
            reference,
            transfer,
            result,
            updates,
        } = prepared;
        let files = match (result, &reference) {
            (Ok(files), _) => files,
            (Err((code, reason)), Some(reference)) => {
                return wire.send(&file_error(reference, None, code, reason)).await;
            }
            (Err((_, reason)), None) => {
                if let Some(updates) = updates {
                    let _ = updates.try_send(TransferUpdate::Failed(TransferError::Local(reason)));
                }
                return Ok(());
            }
        };
        let total_files = files.len() as u64;
        let total_bytes = files.iter().map(|f| f.offered.size).sum();
        let parts = offer_parts(&files);
        let count = parts.len();
        let offer = ServedOffer {
            files,
            done: HashSet::new(),
            updates,
        };
        offer.update(TransferUpdate::Offered {
            transfer: transfer.clone(),
            files: total_files,
            bytes: total_bytes,
            resumed: 0,
        });
        self.offers.insert(transfer.clone(), offer);
        for (n, entries) in parts.into_iter().enumerate() {
            let message = FileMessage::Offer(Offer {
                transfer: transfer.clone(),
                reference: reference.clone(),
                files: total_files,
                bytes: total_bytes,
                entries,
                last: n + 1 == count,
            });
            wire.send(&AppMessage::File {
                id: new_id(),
                message,
            })
            .await?;
        }
        Ok(())
    }

    /// Starts an encoder for each wanted stream.
    pub(crate) async fn on_request(
        &mut self,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        transfer: &str,
        wants: Vec<Want>,
    ) -> Result<(), SessionEnd> {
        let Some(ServedOffer { files, .. }) = self.offers.get(transfer) else {
            return wire
                .send(&file_error(
                    transfer,
                    None,
                    FileErrorCode::Protocol,
                    "no such transfer",
                ))
                .await;
        };
        for want in wants {
            if self.streams.len() >= MAX_STREAMS * 4 {
                wire.send(&file_error(
                    transfer,
                    Some(want.index),
                    FileErrorCode::TooMany,
                    "too many streams at once",
                ))
                .await?;
                continue;
            }
            let Some(served) = usize::try_from(want.index).ok().and_then(|i| files.get(i)) else {
                wire.send(&file_error(
                    transfer,
                    Some(want.index),
                    FileErrorCode::Protocol,
                    "no such file in the transfer",
                ))
                .await?;
                continue;
            };
            let (tx, rx) = mpsc::channel(WINDOW_RECORDS);
            let file = served.file.clone();
            let outboard = served.outboard.clone();
            let ranges = verified::to_chunk_ranges(&want.ranges);
            let internal = internal.clone();
            let (reference, index) = (transfer.to_owned(), want.index);
            tokio::task::spawn_blocking(move || {
                let mut writer = ChunkWriter::new(tx);
                let result = verified::encode(&file, &outboard, &ranges, &mut writer)
                    .and_then(|()| std::io::Write::flush(&mut writer).map_err(SendError::Closed));
                let problem = match result {
                    Ok(()) | Err(SendError::Closed(_)) => return,
                    Err(SendError::Changed) => (
                        FileErrorCode::Changed,
                        "the file changed while being sent".to_owned(),
                    ),
                    Err(SendError::Read(e)) => {
                        (FileErrorCode::Io, format!("reading the file: {e}"))
                    }
                };
                let _ = internal.send(Internal::Send(file_error(
                    &reference,
                    Some(index),
                    problem.0,
                    problem.1,
                )));
            });
            self.streams.push_back(OutStream {
                stream: want.stream,
                transfer: transfer.to_owned(),
                offset: 0,
                chunks: rx,
            });
        }
        Ok(())
    }

    /// The next record of the next stream in turn; pending while none has
    /// one ready. A stream whose encoder finished is dropped.
    pub(crate) async fn next_bulk(&mut self) -> (u32, u64, Vec<u8>) {
        std::future::poll_fn(|cx| {
            let mut turns = self.streams.len();
            while turns > 0 {
                turns -= 1;
                let Some(mut stream) = self.streams.pop_front() else {
                    break;
                };
                match stream.chunks.poll_recv(cx) {
                    std::task::Poll::Ready(Some(bytes)) => {
                        let at = stream.offset;
                        stream.offset += bytes.len() as u64;
                        let id = stream.stream;
                        self.streams.push_back(stream);
                        return std::task::Poll::Ready((id, at, bytes));
                    }
                    // Finished: the stream is done.
                    std::task::Poll::Ready(None) => {}
                    std::task::Poll::Pending => self.streams.push_back(stream),
                }
            }
            std::task::Poll::Pending
        })
        .await
    }

    /// The receiver has file `index`: once it has every file, the offer
    /// (and the files it holds open) is closed.
    pub(crate) fn on_done(&mut self, transfer: &str, index: u32) {
        let Some(offer) = self.offers.get_mut(transfer) else {
            return;
        };
        let Some(file) = usize::try_from(index).ok().and_then(|i| offer.files.get(i)) else {
            return;
        };
        if offer.done.insert(index) {
            offer.update(TransferUpdate::FileDone {
                path: file.offered.path.clone(),
            });
        }
        if offer.done.len() == offer.files.len() {
            offer.update(TransferUpdate::Finished {
                files: offer.files.len() as u64,
                bytes: offer.files.iter().map(|f| f.offered.size).sum(),
            });
            self.offers.remove(transfer);
        }
    }

    /// The receiver accepted a push.
    pub(crate) fn on_accept(&mut self, transfer: &str) {
        if let Some(offer) = self.offers.get(transfer) {
            offer.update(TransferUpdate::Accepted);
        }
    }

    /// The receiver's count of verified bytes.
    pub(crate) fn on_progress(&mut self, transfer: &str, verified: u64) {
        if let Some(offer) = self.offers.get(transfer) {
            let bytes = offer.files.iter().map(|f| f.offered.size).sum();
            offer.update(TransferUpdate::Progress {
                verified: verified.min(bytes),
                bytes,
            });
        }
    }

    /// Stops every stream of `transfer` (a pause); the offer stays, so the
    /// receiver can ask again.
    pub(crate) fn stop(&mut self, transfer: &str) {
        self.streams.retain(|s| s.transfer != transfer);
    }

    /// Ends `transfer` (a cancel, a decline, an error): its streams stop,
    /// the files it holds open are closed, and a push's sender learns why.
    pub(crate) fn close(&mut self, transfer: &str, why: Option<TransferError>) {
        self.stop(transfer);
        if let (Some(offer), Some(why)) = (self.offers.remove(transfer), why) {
            offer.update(TransferUpdate::Failed(why));
        }
    }

    /// Prepares a push of the person's files on the blocking pool.
    pub(crate) async fn on_send(
        &mut self,
        internal: &mpsc::UnboundedSender<Internal>,
        paths: Vec<PathBuf>,
        to_folder: Option<WirePath>,
        updates: mpsc::Sender<TransferUpdate>,
    ) {
        if self.offers.len() >= MAX_OFFERS {
            let why = format!("{MAX_OFFERS} transfers are open in this session already");
            let _ = updates
                .send(TransferUpdate::Failed(TransferError::Local(why)))
                .await;
            return;
        }
        let internal = internal.clone();
        tokio::task::spawn_blocking(move || {
            let result = super::local::prepare_local(&paths, to_folder.as_ref());
            let _ = internal.send(Internal::Prepared(Prepared {
                reference: None,
                transfer: new_id(),
                result,
                updates: Some(updates),
            }));
        });
    }
}

/// The offer's files in parts that each fit one message (at least one
/// part: an empty folder is an offer of nothing).
fn offer_parts(files: &[ServedFile]) -> Vec<Vec<OfferedFile>> {
    let mut parts = vec![Vec::new()];
    let mut bytes = 0;
    for file in files {
        let cost =
            OFFER_ENTRY_OVERHEAD + sixchat_proto::xml::escaped_len(file.offered.path.as_str());
        let current = parts.last_mut().expect("one part at least");
        if !current.is_empty()
            && (bytes + cost > MESSAGE_BUDGET || current.len() == MAX_ENTRIES_PER_MESSAGE)
        {
            parts.push(Vec::new());
            bytes = 0;
        }
        bytes += cost;
        parts
            .last_mut()
            .expect("one part at least")
            .push(file.offered.clone());
    }
    parts
}
