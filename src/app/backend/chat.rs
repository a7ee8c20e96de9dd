//! Conversations: loading one, read receipts, typing, sending (queued
//! first, then delivered by the agent's one rule), and chats that arrive.

use std::sync::Arc;

use sixchat_agent::deliver::{Delivery, DeliveryUpdate, Route, Stage};
use sixchat_agent::reach::ReachError;
use sixchat_agent::store::{DeliveryState, Direction, StoredMessage};
use sixchat_host::lock;
use sixchat_proto::{AppMessage, UserId};

use super::running::{Running, other};
use crate::app::command::ChatCommand;
use crate::app::event::{ChatMessage, DialStage, Event, Failure};

/// The longest chat the app sends (the rest of a frame is headroom).
const MAX_CHAT_BYTES: usize = 64 * 1024;

fn to_chat(message: StoredMessage) -> ChatMessage {
    ChatMessage {
        sent_unix: parse_time(&message.sent),
        outgoing: message.direction == Direction::Out,
        id: message.id,
        text: message.body,
        state: message.state,
    }
}

fn parse_time(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or(0, |t| t.timestamp())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Running {
    pub(super) async fn chat_command(
        self: &Arc<Self>,
        command: ChatCommand,
    ) -> Result<(), Failure> {
        match command {
            ChatCommand::Open { user_id } => {
                let messages = self
                    .agent
                    .with_store(|s| s.history(&user_id))
                    .map_err(other)?;
                let messages = messages.into_iter().map(to_chat).collect();
                self.sink.emit(Event::History { user_id, messages }).await;
            }
            ChatCommand::MarkSeen { user_id } => self.mark_seen(&user_id).await?,
            ChatCommand::Send { user_id, text } => self.send(user_id, text).await?,
            ChatCommand::Typing { user_id, active } => {
                if let Ok(peer) = UserId::parse(&user_id) {
                    let agent = self.agent.clone();
                    tokio::spawn(async move {
                        let typing = AppMessage::Typing {
                            id: new_id(),
                            active,
                        };
                        agent.send_live(&peer, typing).await;
                    });
                }
            }
        }
        Ok(())
    }

    /// Marks what `user_id` sent as seen and sends the read receipts.
    async fn mark_seen(&self, user_id: &str) -> Result<(), Failure> {
        let ids = self
            .agent
            .with_store(|s| s.mark_seen(user_id))
            .map_err(other)?;
        if ids.is_empty() {
            return Ok(());
        }
        self.emit_contacts().await;
        let Ok(peer) = UserId::parse(user_id) else {
            return Ok(());
        };
        let agent = self.agent.clone();
        tokio::spawn(async move {
            for reference in ids {
                let read = AppMessage::Read {
                    id: new_id(),
                    reference,
                };
                if !agent.send_live(&peer, read).await {
                    break;
                }
            }
        });
        Ok(())
    }

    async fn send(self: &Arc<Self>, user_id: String, text: String) -> Result<(), Failure> {
        let peer = UserId::parse(&user_id).map_err(|e| Failure::Invalid(e.to_string()))?;
        // Pasted Windows text ends its lines with CR LF; the protocol's line end is LF.
        let text = text.replace("\r\n", "\n").trim_end().to_owned();
        if text.trim().is_empty() {
            return Ok(());
        }
        if let Some(problem) = sixchat_proto::text::chat_body_problem(&text) {
            return Err(Failure::Invalid(problem));
        }
        if text.len() > MAX_CHAT_BYTES {
            return Err(Failure::Invalid(format!(
                "a message may hold at most {} KiB",
                MAX_CHAT_BYTES / 1024
            )));
        }
        let id = self.agent.queue_chat(&peer, &text).map_err(other)?;
        let message = ChatMessage {
            id,
            outgoing: true,
            sent_unix: chrono::Utc::now().timestamp(),
            text,
            state: DeliveryState::Queued,
        };
        self.emit_message(user_id, message).await;
        tokio::spawn(self.clone().deliver(peer, false, None));
        Ok(())
    }

    /// Delivers the outbox for `peer` by the agent's one rule (live session,
    /// else a dial: at `address` if the person gave one, else where it was
    /// last reached, else where its DIR says; else its DIR's store). With
    /// `report`, each stage goes to the "Connect to User" window.
    pub(super) async fn deliver(
        self: Arc<Self>,
        peer: UserId,
        report: bool,
        address: Option<String>,
    ) {
        let user_id = peer.to_string();
        let stage = |stage: DialStage| {
            let (sink, user_id) = (self.sink.clone(), user_id.clone());
            async move {
                if report {
                    sink.emit(Event::Dial { user_id, stage }).await;
                }
            }
        };
        let route = Route {
            address,
            relay: true,
        };
        let mut job = self.agent.deliver_job(peer.clone(), route);
        while let Some(update) = job.next().await {
            let done = match update {
                DeliveryUpdate::Stage(Stage::LookingUp) => {
                    stage(DialStage::LookingUp).await;
                    continue;
                }
                DeliveryUpdate::Stage(Stage::Connecting) => {
                    stage(DialStage::Connecting).await;
                    continue;
                }
                DeliveryUpdate::Done(done) => done,
            };
            match done {
                Delivery::Live => {
                    // A dial under way reports its own end.
                    let card = lock(&self.cards).get(&user_id).cloned();
                    if let Some(card) = card {
                        stage(DialStage::Connected(card)).await;
                    }
                }
                // The window learns the peer's card from the session's start.
                Delivery::Connected(handle) => {
                    lock(&self.sessions).insert(user_id.clone(), handle);
                }
                Delivery::Relayed { .. } => {
                    let count = self.agent.undelivered(&peer).unwrap_or(0);
                    stage(DialStage::Queued { count }).await;
                }
                Delivery::Refused(e) => {
                    stage(DialStage::Failed(Failure::Refused(e.to_string()))).await;
                }
                Delivery::Unreachable {
                    why: ReachError::NoAddress(_),
                    ..
                } => stage(DialStage::Failed(Failure::NoAddress)).await,
                Delivery::Unreachable { why, .. } => {
                    stage(DialStage::Failed(Failure::Unreachable(why.to_string()))).await;
                }
            }
        }
    }

    pub(super) async fn chat_arrived(&self, from: String, id: String, sent: &str, text: String) {
        let local = from.split('@').next().unwrap_or_default().to_owned();
        self.ensure_contact(&from, &local, false).await;
        let message = ChatMessage {
            id,
            outgoing: false,
            sent_unix: parse_time(sent),
            text,
            state: DeliveryState::Delivered,
        };
        self.emit_message(from, message).await;
    }
}
