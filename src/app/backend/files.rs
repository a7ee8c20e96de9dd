//! The commander and the transfer queue ([`FileCommand`]): local listings
//! (the UI touches no disk), a contact's shared folder, sends and gets
//! through the agent's queue (`sixchat_agent::transfers`), the queue panel's
//! rows with their speed, and the person's answers to contacts' offers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sixchat_agent::services::transfer::{OfferRequest, TransferCommand, TransferUpdate};
use sixchat_agent::store::{NewTransfer, QueuedTransfer, TransferKind, TransferState};
use sixchat_agent::transfers;
use sixchat_host::lock;
use sixchat_proto::UserId;
use sixchat_proto::files::WirePath;
use tokio::sync::{mpsc, oneshot};

use super::running::{Running, other};
use crate::app::command::FileCommand;
use crate::app::event::{Event, Failure, FileEntry, Listing, OfferInfo, QueueRow};

/// Most entries of a folder the commander lists.
const MAX_LISTED: usize = 20_000;

/// A transfer running in this app, for the queue panel's speed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Live {
    started: Instant,
    /// Verified when it started (a resume), and now.
    first: u64,
    verified: u64,
}

/// What the backend keeps for files besides the store.
#[derive(Default)]
pub(super) struct FilesBackend {
    pub(super) underway: transfers::Underway,
    pub(super) live: std::sync::Mutex<HashMap<String, Live>>,
    /// Offers waiting for the person, by transfer.
    pub(super) offers: std::sync::Mutex<HashMap<String, oneshot::Sender<bool>>>,
    /// Contacts' offers this side accepted, while they run (not queued).
    pub(super) receiving: std::sync::Mutex<HashMap<String, QueueRow>>,
}

fn list_local(path: &Path) -> Listing {
    let mut listing = Listing {
        path: path.display().to_string(),
        ..Listing::default()
    };
    let read = match std::fs::read_dir(path) {
        Ok(read) => read,
        Err(e) => {
            listing.error = Some(format!("{}: {e}", path.display()));
            return listing;
        }
    };
    for entry in read.flatten().take(MAX_LISTED) {
        let Ok(meta) = entry.metadata() else { continue };
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        listing.entries.push(FileEntry {
            name: entry.file_name().to_string_lossy().into_owned(),
            folder: meta.is_dir(),
            size: if meta.is_dir() { 0 } else { meta.len() },
            modified,
        });
    }
    listing
}

impl Running {
    pub(super) async fn file_command(
        self: &Arc<Self>,
        command: FileCommand,
    ) -> Result<(), Failure> {
        match command {
            FileCommand::ListLocal { path } => {
                let listing = tokio::task::spawn_blocking(move || list_local(&path))
                    .await
                    .map_err(other)?;
                self.sink.emit(Event::LocalListing(listing)).await;
            }
            FileCommand::MakeFolder { path } => {
                let made = path.clone();
                tokio::task::spawn_blocking(move || std::fs::create_dir(&made))
                    .await
                    .map_err(other)?
                    .map_err(|e| Failure::Other(format!("{}: {e}", path.display())))?;
                let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
                let listing = tokio::task::spawn_blocking(move || list_local(&parent))
                    .await
                    .map_err(other)?;
                self.sink.emit(Event::LocalListing(listing)).await;
            }
            FileCommand::ListRemote { user_id, path } => {
                let running = self.clone();
                tokio::spawn(async move { running.list_remote(user_id, path).await });
            }
            FileCommand::Send {
                user_id,
                paths,
                to_folder,
            } => self.queue_send(&user_id, &paths, to_folder.as_deref())?,
            FileCommand::Get {
                user_id,
                remote,
                into,
            } => self.queue_get(&user_id, &remote, &into)?,
            FileCommand::Pause { id } => self.set_state(&id, TransferState::Paused)?,
            FileCommand::Cancel { id } => self.set_state(&id, TransferState::Cancelled)?,
            FileCommand::Resume { id } => {
                // Only a paused or failed transfer goes back to waiting.
                self.agent
                    .with_store(|s| s.resume_transfer(&id))
                    .map_err(other)?;
                self.start_waiting();
            }
            FileCommand::AnswerOffer { transfer, accept } => {
                // The offer's task passes the answer on and says it is gone.
                if let Some(answer) = lock(&self.files.offers).remove(&transfer) {
                    let _ = answer.send(accept);
                } else {
                    self.sink.emit(Event::OfferGone { transfer }).await;
                }
            }
        }
        self.emit_queue().await;
        Ok(())
    }

    async fn list_remote(self: Arc<Self>, user_id: String, path: String) {
        let listing = self.fetch_listing(&user_id, &path).await;
        let listing = listing.unwrap_or_else(|error| Listing {
            path: path.clone(),
            entries: Vec::new(),
            error: Some(error),
        });
        self.sink
            .emit(Event::RemoteListing { user_id, listing })
            .await;
    }

    async fn fetch_listing(&self, user_id: &str, path: &str) -> Result<Listing, String> {
        let peer = UserId::parse(user_id).map_err(|e| e.to_string())?;
        let wire = transfers::remote_path(Some(path))?;
        let handle = self
            .agent
            .reach(&peer, None, || {})
            .await
            .map_err(|e| e.to_string())?;
        let mut listing = Listing {
            path: wire.to_string(),
            ..Listing::default()
        };
        let mut start = 0;
        loop {
            let (reply, answer) = oneshot::channel();
            let command = TransferCommand::List {
                path: wire.clone(),
                start,
                reply,
            };
            if !handle.transfer(command).await {
                return Err("the session ended".into());
            }
            let page = answer
                .await
                .map_err(|_| "the session ended".to_owned())?
                .map_err(|e| e.to_string())?;
            listing
                .entries
                .extend(page.entries.into_iter().map(|e| FileEntry {
                    name: e.name,
                    folder: e.folder,
                    size: e.size,
                    modified: e.modified,
                }));
            match page.next {
                // Pages go forward (a peer sending one page again would
                // keep this loop going), up to what the commander shows.
                Some(next) if next > start && listing.entries.len() < MAX_LISTED => start = next,
                _ => return Ok(listing),
            }
        }
    }

    fn queue_send(
        self: &Arc<Self>,
        user_id: &str,
        paths: &[PathBuf],
        to_folder: Option<&str>,
    ) -> Result<(), Failure> {
        let peer = UserId::parse(user_id).map_err(|e| Failure::Invalid(e.to_string()))?;
        let target = match to_folder.map(|f| f.trim_matches('/')) {
            None | Some("") => String::new(),
            Some(folder) => WirePath::parse(folder)
                .map_err(|e| Failure::Invalid(e.to_string()))?
                .to_string(),
        };
        let sources: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        self.queue(&NewTransfer {
            id: &uuid::Uuid::new_v4().to_string(),
            peer: peer.as_str(),
            kind: TransferKind::Send,
            sources: &sources,
            target: &target,
            addr: None,
            state: TransferState::Waiting,
            on_conflict: sixchat_agent::services::transfer::OnConflict::default(),
        })
    }

    fn queue_get(
        self: &Arc<Self>,
        user_id: &str,
        remote: &str,
        into: &Path,
    ) -> Result<(), Failure> {
        let peer = UserId::parse(user_id).map_err(|e| Failure::Invalid(e.to_string()))?;
        let path = WirePath::parse(remote.trim_matches('/'))
            .map_err(|e| Failure::Invalid(e.to_string()))?;
        self.queue(&NewTransfer {
            id: &uuid::Uuid::new_v4().to_string(),
            peer: peer.as_str(),
            kind: TransferKind::Get,
            sources: &[path.to_string()],
            target: &into.display().to_string(),
            addr: None,
            state: TransferState::Waiting,
            on_conflict: sixchat_agent::services::transfer::OnConflict::default(),
        })
    }

    fn queue(self: &Arc<Self>, new: &NewTransfer<'_>) -> Result<(), Failure> {
        self.agent
            .with_store(|s| s.queue_transfer(new))
            .map_err(other)?;
        self.start_waiting();
        Ok(())
    }

    fn set_state(&self, id: &str, state: TransferState) -> Result<(), Failure> {
        self.agent
            .with_store(|s| s.set_transfer_state(id, state, "by the person"))
            .map_err(other)?;
        Ok(())
    }

    /// Starts every waiting transfer whose peer is reachable, each in a
    /// task that reports its progress to the queue panel.
    pub(super) fn start_waiting(self: &Arc<Self>) {
        let waiting: Vec<QueuedTransfer> = self
            .agent
            .with_store(sixchat_agent::Store::transfers)
            .unwrap_or_default()
            .into_iter()
            .filter(QueuedTransfer::may_start)
            .collect();
        for row in waiting {
            if !self.files.underway.claim(&row.id) {
                continue;
            }
            let running = self.clone();
            tokio::spawn(async move {
                let id = row.id.clone();
                let mut last = Instant::now();
                let (tick, mut ticks) = mpsc::channel::<()>(1);
                let agent = running.agent.clone();
                let drive = transfers::drive(&agent, &row, |update| {
                    if let TransferUpdate::Offered { resumed, .. } = update {
                        lock(&running.files.live).insert(
                            id.clone(),
                            Live {
                                started: Instant::now(),
                                first: *resumed,
                                verified: *resumed,
                            },
                        );
                    }
                    if let TransferUpdate::Progress { verified, .. } = update
                        && let Some(live) = lock(&running.files.live).get_mut(&id)
                    {
                        live.verified = *verified;
                    }
                    if last.elapsed() > Duration::from_millis(250) {
                        last = Instant::now();
                        let _ = tick.try_send(());
                    }
                });
                tokio::pin!(drive);
                loop {
                    tokio::select! {
                        _ = &mut drive => break,
                        Some(()) = ticks.recv() => running.emit_queue().await,
                    }
                }
                lock(&running.files.live).remove(&id);
                running.files.underway.release(&id);
                running.emit_queue().await;
            });
        }
    }

    /// Sends the queue panel's rows: the store's queue with live speeds,
    /// then the offers this side accepted.
    pub(super) async fn emit_queue(&self) {
        let stored = self
            .agent
            .with_store(sixchat_agent::Store::transfers)
            .unwrap_or_default();
        let live = lock(&self.files.live).clone();
        let mut rows: Vec<QueueRow> = stored
            .into_iter()
            .map(|t| queue_row(&t, live.get(&t.id)))
            .collect();
        rows.extend(lock(&self.files.receiving).values().cloned());
        self.sink.emit(Event::Queue(rows)).await;
    }

    /// Takes contacts' offers for the person: each waits for an answer,
    /// under a key of this side's (peers choose their transfer ids, so two
    /// may choose one), and leaves the conversation when answered or when
    /// the agent stops waiting (no answer in time, the session ended).
    pub(super) async fn offers(self: Arc<Self>, mut requests: mpsc::Receiver<OfferRequest>) {
        while let Some(request) = requests.recv().await {
            let key = format!("{} {}", request.from, uuid::Uuid::new_v4());
            let (decided, decision) = oneshot::channel();
            lock(&self.files.offers).insert(key.clone(), decided);
            let mut answer = request.answer;
            let running = self.clone();
            let gone = key.clone();
            tokio::spawn(async move {
                tokio::select! {
                    Ok(accept) = decision => { let _ = answer.send(accept); }
                    () = answer.closed() => {}
                }
                lock(&running.files.offers).remove(&gone);
                running.sink.emit(Event::OfferGone { transfer: gone }).await;
            });
            self.sink
                .emit(Event::Offer(OfferInfo {
                    user_id: request.from.to_string(),
                    transfer: key,
                    files: request.files,
                    bytes: request.bytes,
                    names: request.names.iter().map(ToString::to_string).collect(),
                }))
                .await;
        }
    }
}

#[allow(clippy::cast_precision_loss)] // a speed shown to a few digits
fn queue_row(t: &QueuedTransfer, live: Option<&Live>) -> QueueRow {
    let (source, destination) = match t.kind {
        TransferKind::Send => (
            t.sources.join(", "),
            format!(
                "{}:{}",
                t.peer,
                if t.target.is_empty() { "/" } else { &t.target }
            ),
        ),
        TransferKind::Get => (
            format!("{}:{}", t.peer, t.sources.join(", ")),
            t.target.clone(),
        ),
    };
    let (verified, speed) = match live {
        Some(live) => {
            let seconds = live.started.elapsed().as_secs_f64().max(0.001);
            (
                live.verified.max(t.verified),
                live.verified.saturating_sub(live.first) as f64 / seconds,
            )
        }
        None => (t.verified, 0.0),
    };
    QueueRow {
        id: t.id.clone(),
        peer: t.peer.clone(),
        kind: match t.kind {
            TransferKind::Send => "send",
            TransferKind::Get => "get",
        }
        .to_owned(),
        source,
        destination,
        state: t.state.as_str().to_owned(),
        files: t.files,
        bytes: t.bytes,
        verified,
        speed,
        reason: t.reason.clone(),
    }
}
