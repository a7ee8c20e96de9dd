//! The transfer queue at work: runs a queued send or get in a session with
//! its peer ([`drive`]), records how it ended in the store, and starts the
//! waiting ones whose peer is reachable ([`start_waiting`], for `run` and the
//! desktop app). Pause and cancel reach a running transfer through its row:
//! the task running it looks every second.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sixchat_proto::UserId;
use sixchat_proto::files::WirePath;
use tokio::sync::mpsc;

use crate::agent::Agent;
use crate::reach::ReachError;
use crate::services::transfer::{TransferCommand, TransferError, TransferUpdate};
use crate::store::{QueuedTransfer, TransferKind, TransferState};

/// How a transfer run ended.
pub enum Outcome {
    Complete {
        files: u64,
        bytes: u64,
    },
    /// The peer could not be reached, or the session ended: waits in the queue.
    Waiting(String),
    /// The person paused or cancelled it (from `transfers`).
    Stopped(TransferState),
    /// The peer refused the session or the transfer, or sent bad data.
    Refused(String),
    Failed(String),
}

/// Whether the person stopped a running transfer (another process may
/// have paused or cancelled it, or removed its row): the state to stop in.
/// A store that cannot answer now (busy) is not a cancel.
fn stopped_by_person(agent: &Agent, id: &str) -> Option<TransferState> {
    match agent.with_store(|s| s.transfer(id)) {
        Ok(None) => Some(TransferState::Cancelled),
        Ok(Some(row)) if matches!(row.state, TransferState::Paused | TransferState::Cancelled) => {
            Some(row.state)
        }
        Ok(Some(_)) | Err(_) => None,
    }
}

/// How long a transfer waits for the peer's first answer (an offer for a
/// get, an accept for a send) before it goes back to waiting.
const NO_ANSWER: Duration = Duration::from_secs(11 * 60);

/// Runs one queued transfer in a session with its peer, telling `report`
/// each update, and records how it ended in the queue. The row is taken
/// first: a transfer another process runs already is left to it
/// ([`Outcome::Waiting`]).
pub async fn drive(
    agent: &Agent,
    row: &QueuedTransfer,
    mut report: impl FnMut(&TransferUpdate),
) -> Outcome {
    let claimed = agent.with_store(|s| s.claim_transfer(&row.id));
    match claimed {
        Ok(true) => {}
        Ok(false) => {
            return Outcome::Waiting(format!(
                "{} is not waiting: another SixChat process may be running it",
                row.id
            ));
        }
        Err(e) => return Outcome::Failed(format!("the queue: {e}")),
    }
    // The row's heartbeat while this process runs it.
    let session = drive_session(agent, row, &mut report);
    tokio::pin!(session);
    let mut beat = tokio::time::interval(Duration::from_secs(1));
    let outcome = loop {
        tokio::select! {
            outcome = &mut session => break outcome,
            _ = beat.tick() => {
                let _ = agent.with_store(|s| s.touch_transfer(&row.id));
            }
        }
    };
    let (state, reason) = match &outcome {
        Outcome::Complete { .. } => (TransferState::Done, String::new()),
        Outcome::Waiting(why) => (TransferState::Waiting, why.clone()),
        Outcome::Stopped(state) => (*state, String::new()),
        Outcome::Refused(why) | Outcome::Failed(why) => (TransferState::Failed, why.clone()),
    };
    let _ = agent.with_store(|s| s.end_transfer(&row.id, state, &reason));
    outcome
}

#[allow(clippy::too_many_lines)] // one loop over a transfer's updates, with its stops
async fn drive_session(
    agent: &Agent,
    row: &QueuedTransfer,
    report: &mut impl FnMut(&TransferUpdate),
) -> Outcome {
    let Ok(peer) = UserId::parse(&row.peer) else {
        return Outcome::Failed(format!("{}: not a UserID", row.peer));
    };
    let command = |updates| -> Result<TransferCommand, String> {
        Ok(match row.kind {
            TransferKind::Send => TransferCommand::Send {
                paths: row.sources.iter().map(PathBuf::from).collect(),
                to_folder: match row.target.as_str() {
                    "" => None,
                    folder => Some(WirePath::parse(folder).map_err(|e| e.to_string())?),
                },
                updates,
            },
            TransferKind::Get => TransferCommand::Get {
                path: remote_path(row.sources.first().map(String::as_str))?,
                into: PathBuf::from(&row.target),
                on_conflict: row.on_conflict,
                updates,
            },
        })
    };
    let (updates, mut received) = mpsc::channel(256);
    let command = match command(updates) {
        Ok(command) => command,
        Err(why) => return Outcome::Failed(why),
    };
    let handle = match agent.reach(&peer, row.addr.as_deref(), || {}).await {
        Ok(handle) => handle,
        Err(ReachError::Refused(e)) => return Outcome::Refused(e.to_string()),
        Err(ReachError::NoAddress(_)) => {
            return Outcome::Waiting(format!(
                "no address for {peer}: pass --addr HOST:PORT, or enroll this profile with a DIR"
            ));
        }
        Err(why) => return Outcome::Waiting(why.to_string()),
    };
    if !handle.transfer(command).await {
        return Outcome::Waiting("the session ended".into());
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut files, mut bytes, mut verified) = (0, 0, 0);
    // A peer that never answers the request (no offer, no accept) does not
    // hold the row: the person has ten minutes to accept a push.
    let asked = tokio::time::Instant::now();
    let mut answered = false;
    let outcome = loop {
        tokio::select! {
            update = received.recv() => {
                let Some(update) = update else {
                    break Outcome::Waiting(TransferError::SessionEnded.to_string());
                };
                report(&update);
                answered = true;
                match update {
                    TransferUpdate::Offered { files: f, bytes: b, resumed, .. } => {
                        (files, bytes, verified) = (f, b, resumed);
                    }
                    TransferUpdate::Progress { verified: v, .. } => verified = v,
                    TransferUpdate::Finished { files: f, bytes: b } => {
                        (files, bytes, verified) = (f, b, b);
                        break Outcome::Complete { files, bytes };
                    }
                    TransferUpdate::Failed(e @ (TransferError::Refused { .. } | TransferError::BadData { .. })) => {
                        break Outcome::Refused(e.to_string());
                    }
                    TransferUpdate::Failed(TransferError::SessionEnded) => {
                        break Outcome::Waiting(TransferError::SessionEnded.to_string());
                    }
                    TransferUpdate::Failed(e) => break Outcome::Failed(e.to_string()),
                    TransferUpdate::FileDone { .. } | TransferUpdate::Accepted => {}
                }
            }
            _ = tick.tick() => {
                let _ = agent.with_store(|s| s.set_transfer_progress(&row.id, files, bytes, verified));
                if let Some(state) = stopped_by_person(agent, &row.id) {
                    break Outcome::Stopped(state);
                }
                if !answered && asked.elapsed() > NO_ANSWER {
                    break Outcome::Waiting("the peer did not answer; it is tried again later".into());
                }
            }
        }
    };
    let _ = agent.with_store(|s| s.set_transfer_progress(&row.id, files, bytes, verified));
    handle.close().await;
    outcome
}

/// A remote path as a person types it or the queue keeps it (empty or
/// slashes only: the share's top).
pub fn remote_path(path: Option<&str>) -> Result<WirePath, String> {
    match path.map(|p| p.trim_matches('/')) {
        None | Some("") => Ok(WirePath::root()),
        Some(p) => WirePath::parse(p).map_err(|e| e.to_string()),
    }
}

/// The queued transfers under way in this process.
#[derive(Debug, Default, Clone)]
pub struct Underway(Arc<Mutex<HashSet<String>>>);

impl Underway {
    /// Marks `id` under way; `false` if it already was.
    pub fn claim(&self, id: &str) -> bool {
        sixchat_host::lock(&self.0).insert(id.to_owned())
    }

    pub fn release(&self, id: &str) {
        sixchat_host::lock(&self.0).remove(id);
    }
}

/// Starts every waiting transfer in the background (each at most once at a
/// time: `running` holds those under way); one that cannot reach its peer
/// goes back to waiting, and how each other one ended is an
/// [`AgentEvent::QueuedTransferEnded`](crate::AgentEvent).
pub fn start_waiting(agent: &Agent, running: &Underway) {
    let waiting: Vec<QueuedTransfer> = agent
        .with_store(crate::store::Store::transfers)
        .unwrap_or_default()
        .into_iter()
        .filter(QueuedTransfer::may_start)
        .collect();
    for row in waiting {
        if !running.claim(&row.id) {
            continue;
        }
        let (agent, running) = (agent.clone(), running.clone());
        tokio::spawn(async move {
            let outcome = drive(&agent, &row, |_| {}).await;
            let (state, reason) = match outcome {
                Outcome::Complete { .. } => (TransferState::Done, String::new()),
                Outcome::Waiting(_) => (TransferState::Waiting, String::new()),
                Outcome::Stopped(state) => (state, String::new()),
                Outcome::Refused(why) | Outcome::Failed(why) => (TransferState::Failed, why),
            };
            if state != TransferState::Waiting {
                agent
                    .emit(crate::AgentEvent::QueuedTransferEnded {
                        peer: row.peer.clone(),
                        transfer: row.id.clone(),
                        state: state.as_str().to_owned(),
                        reason,
                    })
                    .await;
            }
            running.release(&row.id);
        });
    }
}
