//! The receiving side's streams: one decoder per stream on the blocking
//! pool, started in turn across the session's transfers while fewer than
//! [`MAX_STREAMS`] run; bulk records fed to them within a bounded window;
//! each file named once every chunk group verified.

use sixchat_proto::files::messages::Want;
use sixchat_proto::files::{FileMessage, WirePath};
use sixchat_proto::mail::MAIL_STREAM_BIT;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::fetch::{Fetching, InStream, send_file};
use super::pipe::{ChunkReader, WINDOW_RECORDS};
use super::plan::{self, PlannedFile};
use super::{Internal, MAX_STREAMS, TransferError, TransferUpdate};
use crate::agent::SessionEnd;
use crate::agent::driver::Wire;
use crate::files::confine::{ConfineError, Root};
use crate::files::verified::{self, Partial, ReceiveError};

/// A decoder's end.
#[derive(Debug)]
pub(crate) struct Received {
    pub(super) stream: u32,
    pub(super) transfer: String,
    pub(super) path: WirePath,
    pub(super) index: u32,
    pub(super) result: Result<bool, ReceiveError>,
}

/// A stream with no record for this long ends its transfer (what was
/// verified stays for a resume): a peer that keeps the session alive but
/// stops sending does not hold a transfer forever.
pub(crate) const STREAM_STALL: Duration = Duration::from_secs(60);
const STALL_CHECK: Duration = Duration::from_secs(10);

impl Fetching {
    /// Ends the transfers whose streams wait for data when no bulk record
    /// came in the session for [`STREAM_STALL`] (a stream with all its
    /// bytes in, being synced, is not waiting); stops the ticks when no
    /// stream is left, so an idle session still times out.
    pub(crate) async fn check_stalls(&mut self, wire: &mut Wire) -> Result<(), SessionEnd> {
        if self.streams.is_empty() {
            if let Some(ticking) = self.ticking.take() {
                ticking.store(false, Ordering::Relaxed);
            }
            return Ok(());
        }
        if self.last_data.is_none_or(|at| at.elapsed() <= STREAM_STALL) {
            return Ok(());
        }
        let mut stalled: Vec<String> = self
            .streams
            .values()
            .filter(|s| s.received < s.wanted)
            .map(|s| s.transfer.clone())
            .collect();
        stalled.sort_unstable();
        stalled.dedup();
        for transfer in stalled {
            let problem = format!(
                "no data came for {} s; what was verified is kept",
                STREAM_STALL.as_secs()
            );
            self.fail(wire, &transfer, TransferError::Protocol(problem), true)
                .await?;
        }
        Ok(())
    }

    /// Starts streams for queued files, one transfer's file after
    /// another's in turn, while fewer than [`MAX_STREAMS`] run; finishes a
    /// transfer with nothing left to start or run. Cheap when nothing waits:
    /// called after every message and worker result.
    pub(crate) async fn refill(
        &mut self,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
    ) -> Result<(), SessionEnd> {
        let mut ids: Vec<String> = self
            .transfers
            .iter()
            .filter(|(_, incoming)| incoming.root.is_some())
            .map(|(transfer, _)| transfer.clone())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        ids.sort_unstable();
        let (mut wants, mut broken) = (Vec::new(), Vec::new());
        loop {
            let mut started = false;
            for transfer in &ids {
                if self.streams.len() >= MAX_STREAMS {
                    break;
                }
                match self.start_one(internal, transfer) {
                    Some(Ok(want)) => {
                        wants.push((transfer.clone(), want));
                        started = true;
                    }
                    Some(Err(reason)) => broken.push((transfer.clone(), reason)),
                    None => {}
                }
            }
            if !started || self.streams.len() >= MAX_STREAMS {
                break;
            }
        }
        for (transfer, reason) in broken {
            self.fail(wire, &transfer, TransferError::Local(reason), true)
                .await?;
        }
        // One request per stream: a want with many ranges is up to 11 KiB,
        // and every message must fit one record.
        for (transfer, want) in wants {
            if self.streams.contains_key(&want.stream) {
                wire.send(&send_file(FileMessage::Request {
                    transfer,
                    wants: vec![want],
                }))
                .await?;
            }
        }
        for transfer in ids {
            self.finish_if_done(&transfer).await?;
        }
        Ok(())
    }

    /// Starts a decoder for `transfer`'s next queued file: the want to send,
    /// `None` if nothing is queued, or why it cannot be asked for.
    fn start_one(
        &mut self,
        internal: &mpsc::UnboundedSender<Internal>,
        transfer: &str,
    ) -> Option<Result<Want, String>> {
        let incoming = self.transfers.get_mut(transfer)?;
        let root = incoming.root.clone()?;
        let file = incoming.queue.pop_front()?;
        let Some(ranges) = verified::from_chunk_ranges(&file.missing) else {
            return Some(Err(format!(
                "{}: too many missing pieces to ask for",
                file.path
            )));
        };
        if self.ticking.is_none() {
            let ticking = Arc::new(AtomicBool::new(true));
            self.ticking = Some(ticking.clone());
            self.last_data = Some(Instant::now());
            let internal = internal.clone();
            tokio::spawn(async move {
                // Ends with the session, or when a tick finds no stream.
                while ticking.load(Ordering::Relaxed) {
                    tokio::time::sleep(STALL_CHECK).await;
                    if !ticking.load(Ordering::Relaxed) || internal.send(Internal::Tick).is_err() {
                        return;
                    }
                }
            });
        }
        // File streams keep the high bit clear: mail streams have it.
        self.next_stream = self.next_stream.wrapping_add(1) & !MAIL_STREAM_BIT;
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
        let want = Want {
            stream,
            index: file.index,
            ranges,
        };
        let internal = internal.clone();
        let transfer = transfer.to_owned();
        tokio::task::spawn_blocking(move || {
            let (index, path) = (file.index, file.path.clone());
            let result = decode(&root, &file, ChunkReader::new(rx));
            let _ = internal.send(Internal::Received(Received {
                stream,
                transfer,
                path,
                index,
                result,
            }));
        });
        Some(Ok(want))
    }

    pub(crate) async fn on_bulk(
        &mut self,
        wire: &mut Wire,
        stream: u32,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<(), SessionEnd> {
        self.last_data = Some(Instant::now());
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
        // Waiting for the disk is not the peer's stall.
        self.last_data = Some(Instant::now());
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
                .await
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
}

/// Receives one file's missing ranges from `encoded` into its `.part`,
/// held against other programs meanwhile, and names it once complete.
fn decode(
    root: &Root,
    file: &PlannedFile,
    encoded: impl std::io::Read,
) -> Result<bool, ReceiveError> {
    let local = |e: ConfineError| ReceiveError::Write(std::io::Error::other(e.to_string()));
    let mut partial = Partial::open(root, &file.path, file.size, file.hash).map_err(local)?;
    partial.replace_existing(file.replace);
    if partial.created() && file.already > 0 {
        // What the plan found verified went away meanwhile (removed by
        // hand): receiving only the rest would name a file with holes.
        drop(partial);
        plan::remove_sidecars(root, &file.path);
        return Err(ReceiveError::Write(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the partial file went away meanwhile; offer the files again",
        )));
    }
    if !partial.lock() {
        return Err(ReceiveError::Write(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "another program is writing this file",
        )));
    }
    match partial.receive(&file.missing, encoded) {
        // Every missing group was verified as it came, under the lock, and
        // no other transfer here holds this name (its claim): it is named
        // without being read and hashed again.
        Ok(()) => partial.finish_received(root, &file.missing).map_err(local),
        Err(e) => {
            // A `.part` this transfer made and never got a verified group
            // into keeps no reserved space.
            let nothing = partial.missing().is_ok_and(|m| m == file.missing);
            drop(partial);
            if nothing {
                plan::give_back(root, std::slice::from_ref(file));
            }
            Err(e)
        }
    }
}
