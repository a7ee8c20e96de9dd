//! Pushes coming in: whether a contact may offer files here, the person's
//! answer (or auto-accept), and a push's updates turned into the agent's
//! events (no command waits on a push).

use std::path::PathBuf;

use sixchat_proto::AppMessage;
use sixchat_proto::files::FileMessage;
use tokio::sync::mpsc;

use super::fetch::{Checked, Fetching, send_file};
use super::{
    Internal, OFFER_ANSWER_TIMEOUT, OfferRequest, OnConflict, TransferError, TransferUpdate,
};
use crate::agent::driver::Wire;
use crate::agent::{Agent, AgentEvent, SessionEnd};

/// What a push is: accepted unasked (auto-accept) or asking the person.
#[derive(Debug, Clone, Copy)]
pub(super) struct Push {
    auto: bool,
}

/// Where an admitted offer goes (and what a taken name does there), who
/// hears of it, and whether it is a push.
pub(super) type Admitted = (
    PathBuf,
    OnConflict,
    mpsc::Sender<TransferUpdate>,
    Option<Push>,
);

/// The setting that says what a push does with a taken name.
pub const INCOMING_CONFLICT: &str = "incoming-conflict";

impl Fetching {
    /// Whether a push may come in, and where it goes; else why not.
    pub(super) fn admit_push(
        &self,
        agent: &Agent,
        wire: &Wire,
        transfer: &str,
    ) -> Result<Admitted, String> {
        if !super::may_browse(wire) {
            return Err("files are taken only from known contacts".to_owned());
        }
        if self.transfers.len() >= super::MAX_STREAMS {
            return Err("too many transfers at once; offer again later".to_owned());
        }
        let peer = wire.peer().to_string();
        let (folder, auto, on_conflict) = agent.with_store(|s| {
            (
                s.setting("incoming")
                    .ok()
                    .flatten()
                    .filter(|f| !f.is_empty()),
                s.auto_accepts(&peer).unwrap_or(false),
                s.setting(INCOMING_CONFLICT)
                    .ok()
                    .flatten()
                    .and_then(|c| OnConflict::parse(&c))
                    .unwrap_or_default(),
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
        let updates = forward_to_events(agent.clone(), wire.peer().to_string(), transfer);
        Ok((
            PathBuf::from(folder),
            on_conflict,
            updates,
            Some(Push { auto }),
        ))
    }

    /// A whole offer checked: a get's is planned, a push is accepted by
    /// auto-accept or asked about; a bad one ends here.
    pub(crate) async fn on_checked(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        checked: Checked,
    ) -> Result<(), SessionEnd> {
        let Checked {
            transfer,
            generation,
            files,
            result,
        } = checked;
        let Some(incoming) = self
            .transfers
            .get_mut(&transfer)
            .filter(|i| i.generation == generation)
        else {
            return Ok(());
        };
        incoming.files = files;
        let push = incoming.push;
        if let Err(problem) = result {
            if push.is_some() {
                let event = self.offered(wire, &transfer, format!("declined: {problem}"));
                agent.emit(event).await;
            }
            let error = TransferError::Protocol(problem);
            return self.fail(wire, &transfer, error, true).await;
        }
        match push {
            None => {
                self.plan(internal, &transfer);
                Ok(())
            }
            Some(Push { auto: true }) => {
                let event = self.offered(wire, &transfer, "accepted (auto-accept)".into());
                agent.emit(event).await;
                self.on_answered(wire, internal, &transfer, true).await
            }
            Some(Push { auto: false }) => self.ask(agent, wire, internal, &transfer).await,
        }
    }

    /// Asks the person about a push (declined if no answer comes in time).
    async fn ask(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        internal: &mpsc::UnboundedSender<Internal>,
        transfer: &str,
    ) -> Result<(), SessionEnd> {
        let Some(incoming) = self.transfers.get(transfer) else {
            return Ok(());
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        let request = OfferRequest {
            from: wire.peer().clone(),
            transfer: transfer.to_owned(),
            files: incoming.total_files,
            bytes: incoming.total_bytes,
            names: incoming
                .files
                .iter()
                .take(5)
                .map(|f| f.path.clone())
                .collect(),
            answer,
        };
        let asked = agent
            .offers_gate()
            .is_some_and(|gate| gate.try_send(request).is_ok());
        if !asked {
            return self.on_answered(wire, internal, transfer, false).await;
        }
        agent
            .emit(self.offered(wire, transfer, "asking".into()))
            .await;
        let (internal, id) = (internal.clone(), transfer.to_owned());
        let asking = tokio::spawn(async move {
            tokio::select! {
                answer = tokio::time::timeout(OFFER_ANSWER_TIMEOUT, answered) => {
                    let accept = matches!(answer, Ok(Ok(true)));
                    let _ = internal.send(Internal::Answered { transfer: id, accept });
                }
                // The session ended: nobody is left to answer.
                () = internal.closed() => {}
            }
        });
        if let Some(incoming) = self.transfers.get_mut(transfer) {
            incoming.asking = Some(asking.abort_handle());
        }
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

    /// The event that a push was offered, with this side's answer.
    fn offered(&self, wire: &Wire, transfer: &str, answer: String) -> AgentEvent {
        let (files, bytes) = self
            .transfers
            .get(transfer)
            .map_or((0, 0), |i| (i.total_files, i.total_bytes));
        offered_event(wire, transfer, files, bytes, answer)
    }
}

pub(super) fn offered_event(
    wire: &Wire,
    transfer: &str,
    files: u64,
    bytes: u64,
    answer: String,
) -> AgentEvent {
    AgentEvent::FileOffered {
        from: wire.peer().to_string(),
        transfer: transfer.to_owned(),
        files,
        bytes,
        answer,
    }
}

pub(super) fn decline(transfer: &str, reason: &str) -> AppMessage {
    send_file(FileMessage::Decline {
        transfer: transfer.to_owned(),
        reason: super::reason(reason),
    })
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
