//! The live sessions: their places under the caps, the command channel of
//! each, and the handles a dialler keeps.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use sixchat_host::lock;
use sixchat_proto::{AppMessage, TrustLevel, UserId};
use tokio::sync::mpsc;

use super::Agent;
use super::events::Answer;
use crate::services::mail_session::OutgoingMail;
use crate::services::transfer::TransferCommand;

/// Longest a caller waits for a session to take a command.
const COMMAND_WAIT: Duration = Duration::from_secs(1);

/// What the agent may be told to do with a live session.
#[derive(Debug)]
pub enum SessionCommand {
    /// Send what waits in the outbox for this peer (in order).
    Flush,
    /// Send one message that is not stored (typing, read receipts); dropped
    /// if the session did not agree its capability.
    Send(AppMessage),
    /// Say `bye` and close.
    Close,
    /// The person compared the code of a `new` or `anonymous` peer:
    /// [`Answer::Accept`] or [`Answer::AcceptAndPin`] lets data flow,
    /// [`Answer::Decline`] ends the session with `user_declined`.
    Answer(Answer),
    /// A listing or a file asked of the peer's share.
    Transfer(TransferCommand),
    /// A mail to offer the peer (docs/mail.md, "Directly, over a live session").
    Mail(OutgoingMail),
}

/// Hands `command` to a session, waiting at most [`COMMAND_WAIT`]; false if
/// it has ended or does not take commands.
pub(crate) async fn hand_over(
    sender: &mpsc::Sender<SessionCommand>,
    command: SessionCommand,
) -> bool {
    matches!(
        tokio::time::timeout(COMMAND_WAIT, sender.send(command)).await,
        Ok(Ok(()))
    )
}

/// A running session as the caps count it.
pub(super) struct SessionEntry {
    sender: mpsc::Sender<SessionCommand>,
    /// Asks the session to close (it still counts until it has ended).
    close: Arc<tokio::sync::Notify>,
    closing: bool,
}

/// A session's place among the running ones; dropping it (when the session
/// task ends or is aborted) takes the session off the live map and the caps.
pub(super) struct Registration {
    agent: Agent,
    peer: UserId,
    pub(super) sender: mpsc::Sender<SessionCommand>,
    pub(super) close: Arc<tokio::sync::Notify>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.agent.unregister(&self.peer, &self.sender);
    }
}

/// A live outbound session; dropping it ends the session task.
pub struct SessionHandle {
    pub peer: UserId,
    pub level: TrustLevel,
    pub sas: String,
    pub(super) commands: mpsc::Sender<SessionCommand>,
    pub(super) task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("peer", &self.peer)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl SessionHandle {
    /// Asks the session to send what waits in the outbox.
    pub async fn flush(&self) {
        let _ = self.commands.send(SessionCommand::Flush).await;
    }

    /// Says `bye`, closes, and waits (briefly) for the task to end.
    pub async fn close(mut self) {
        let _ = self.commands.send(SessionCommand::Close).await;
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Hands a listing or a file request to the session's transfer
    /// service; false if the session has ended.
    pub async fn transfer(&self, command: TransferCommand) -> bool {
        self.commands
            .send(SessionCommand::Transfer(command))
            .await
            .is_ok()
    }

    /// The session's command channel (for the agent's own deliveries).
    pub(crate) fn commands(&self) -> mpsc::Sender<SessionCommand> {
        self.commands.clone()
    }

    pub fn is_finished(&self) -> bool {
        self.task
            .as_ref()
            .is_none_or(tokio::task::JoinHandle::is_finished)
    }

    /// Where the person's answer about this session's `new` or `anonymous`
    /// peer goes (cheap to clone; outlives no session).
    pub fn answerer(&self) -> Answerer {
        Answerer(self.commands.clone())
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Gives a dialled session the person's answer after they compared the code.
#[derive(Clone)]
pub struct Answerer(mpsc::Sender<SessionCommand>);

impl Answerer {
    /// Passes `answer` to the session; false if it has ended.
    pub async fn answer(&self, answer: Answer) -> bool {
        hand_over(&self.0, SessionCommand::Answer(answer)).await
    }
}

impl Agent {
    /// Makes a session's command channel and registers it as the live session
    /// with `peer`, so flushes from elsewhere (a queued chat, the desktop app)
    /// reach it. A peer over `max_sessions_per_peer` has its oldest session
    /// asked to close (it counts until it has ended); over `max_sessions` in
    /// all, the new one is refused (`None`).
    pub(super) fn register(
        &self,
        peer: &UserId,
    ) -> Option<(Registration, mpsc::Receiver<SessionCommand>)> {
        let limits = &self.inner.options.limits;
        let per_peer = limits.max_sessions_per_peer.max(1);
        let (sender, receiver) = mpsc::channel(64);
        let close = Arc::new(tokio::sync::Notify::new());
        {
            let mut sessions = lock(&self.inner.sessions);
            let total: usize = sessions.values().map(VecDeque::len).sum();
            if total >= limits.max_sessions {
                return None;
            }
            let queue = sessions.entry(peer.clone()).or_default();
            queue.push_back(SessionEntry {
                sender: sender.clone(),
                close: close.clone(),
                closing: false,
            });
            let mut open = queue.iter().filter(|e| !e.closing).count();
            for entry in queue.iter_mut() {
                if open <= per_peer {
                    break;
                }
                if !entry.closing {
                    entry.closing = true;
                    entry.close.notify_one();
                    open -= 1;
                }
            }
        }
        lock(&self.inner.live).insert(peer.clone(), sender.clone());
        let registration = Registration {
            agent: self.clone(),
            peer: peer.clone(),
            sender,
            close,
        };
        Some((registration, receiver))
    }

    fn unregister(&self, peer: &UserId, own_sender: &mpsc::Sender<SessionCommand>) {
        // Unless a newer session with the same peer took the live slot.
        let mut live = lock(&self.inner.live);
        if live
            .get(peer)
            .is_some_and(|sender| sender.same_channel(own_sender))
        {
            live.remove(peer);
        }
        drop(live);
        let mut sessions = lock(&self.inner.sessions);
        if let Some(queue) = sessions.get_mut(peer) {
            queue.retain(|entry| !entry.sender.same_channel(own_sender));
            if queue.is_empty() {
                sessions.remove(peer);
            }
        }
    }

    /// Asks every live session to close (the listener is shutting down).
    pub(super) fn close_all(&self) {
        let senders: Vec<_> = lock(&self.inner.live).values().cloned().collect();
        for sender in senders {
            let _ = sender.try_send(SessionCommand::Close);
        }
    }
}
