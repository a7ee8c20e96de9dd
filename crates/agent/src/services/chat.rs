//! The chat service: sends the outbox in order (each message exactly once
//! per session), stores what arrives before its receipt goes back, and
//! moves delivery states forward on `ack` and `read`. The same `receive`
//! takes a chat or a receipt that came sealed through the DIR's store.

use std::collections::HashSet;

use sixchat_proto::AppMessage;

use crate::agent::driver::Wire;
use crate::agent::{Agent, AgentEvent, SessionEnd};
use crate::store::{DeliveryState, StoreError};

/// One session's chat state.
#[derive(Debug, Default)]
pub(crate) struct ChatService {
    /// Outbox ids written on this session (a flush does not send them again).
    sent_here: HashSet<String>,
}

fn local_fault(e: &StoreError) -> SessionEnd {
    SessionEnd::LocalFault(e.to_string())
}

impl ChatService {
    /// Sends every outbox message for this peer not yet sent on this session, in order.
    pub(crate) async fn flush(&mut self, agent: &Agent, wire: &mut Wire) -> Result<(), SessionEnd> {
        let session = &wire.established.session;
        if !session.is_confirmed() || !session.has_capability("chat") {
            return Ok(());
        }
        let peer = wire.peer().to_string();
        let pending = agent
            .with_store(|s| s.undelivered(&peer))
            .map_err(|e| local_fault(&e))?;
        for message in pending {
            if self.sent_here.contains(&message.id) {
                continue;
            }
            let chat = AppMessage::Chat {
                id: message.id.clone(),
                sent: message.sent,
                body: message.body,
            };
            wire.send(&chat).await?;
            let moved = agent
                .write_store({
                    let (peer, id) = (peer.clone(), message.id.clone());
                    move |s| s.mark(&peer, &id, DeliveryState::Sent)
                })
                .await
                .unwrap_or(false);
            if moved {
                agent
                    .emit(AgentEvent::Sent {
                        to: peer.clone(),
                        id: message.id.clone(),
                    })
                    .await;
            }
            self.sent_here.insert(message.id);
        }
        Ok(())
    }

    /// A chat, receipt or typing notice from the session's peer.
    pub(crate) async fn on_message(
        &mut self,
        agent: &Agent,
        wire: &mut Wire,
        message: AppMessage,
    ) -> Result<(), SessionEnd> {
        let peer = wire.peer().to_string();
        match message {
            AppMessage::Typing { active, .. } => {
                agent.emit(AgentEvent::Typing { from: peer, active }).await;
                Ok(())
            }
            other => {
                let receipt = agent
                    .receive(&peer, other)
                    .await
                    .map_err(|e| local_fault(&e))?;
                match receipt {
                    Some(receipt) => wire.send(&receipt).await,
                    None => Ok(()),
                }
            }
        }
    }
}

impl Agent {
    /// Takes a chat or a receipt (delivery or read) from `peer`, however it came (a session, or
    /// a sealed envelope from the DIR store). A chat is stored before its
    /// receipt is returned; a duplicate is acknowledged again, not delivered
    /// twice. Returns the receipt to send back, if any.
    pub async fn receive(
        &self,
        peer: &str,
        message: AppMessage,
    ) -> Result<Option<AppMessage>, StoreError> {
        match message {
            AppMessage::Chat { id, sent, body } => {
                let fresh = self
                    .write_store({
                        let (peer, id, sent, body) =
                            (peer.to_owned(), id.clone(), sent.clone(), body.clone());
                        move |s| s.store_incoming(&peer, &id, &sent, &body)
                    })
                    .await?;
                let ack = AppMessage::Ack {
                    id: uuid::Uuid::new_v4().to_string(),
                    reference: id.clone(),
                };
                if fresh {
                    self.emit(AgentEvent::Chat {
                        from: peer.to_owned(),
                        id,
                        sent,
                        text: body,
                    })
                    .await;
                }
                Ok(Some(ack))
            }
            AppMessage::Ack { reference, .. } => {
                if self
                    .set_state(peer, &reference, DeliveryState::Delivered)
                    .await?
                {
                    self.emit(AgentEvent::Delivered {
                        to: peer.to_owned(),
                        id: reference,
                    })
                    .await;
                }
                Ok(None)
            }
            AppMessage::Read { reference, .. } => {
                if self
                    .set_state(peer, &reference, DeliveryState::Read)
                    .await?
                {
                    self.emit(AgentEvent::Read {
                        to: peer.to_owned(),
                        id: reference,
                    })
                    .await;
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Moves an outgoing message forward to `state`; whether it moved.
    async fn set_state(
        &self,
        peer: &str,
        id: &str,
        state: DeliveryState,
    ) -> Result<bool, StoreError> {
        let (peer, id) = (peer.to_owned(), id.to_owned());
        self.write_store(move |s| s.mark(&peer, &id, state)).await
    }
}
