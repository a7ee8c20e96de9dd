//! The session driver: one task per session that drives records only (like
//! quinn's `ConnectionDriver`). It reads frames, opens records, answers the
//! session-level messages (`ping`, `bye`, `error`) itself and routes the
//! rest by type to the services beside it ([`crate::services`]): chat, chat
//! receipts and typing to the chat service; `file-*` messages and bulk
//! records (inner type 0x18, by stream id) to the transfer service, whose
//! outgoing streams it sends round-robin between everything else; `mail-*`
//! messages and bulk records of mail streams (stream ids with the high bit
//! set) to the session's mail service, whose records go the same way;
//! mail receipts to the agent's mail service.

use sixchat_proto::frame::Frame;
use sixchat_proto::mail::MAIL_STREAM_BIT;
use sixchat_proto::session::{Role, SessionEvent};
use sixchat_proto::{AlertCode, AppMessage, Established};
use tokio::sync::mpsc;

use super::Agent;
use super::events::{AgentEvent, Answer, INCOMING_ANSWER_TIMEOUT, SessionEnd};
use super::registry::{Registration, SessionCommand};
use crate::conn::{Conn, ConnError};
use crate::services::chat::ChatService;
use crate::services::mail_session::MailSession;
use crate::services::transfer::{TransferService, Work};

/// One session's connection and keys: what the services write to.
pub(crate) struct Wire {
    conn: Conn,
    pub(crate) established: Box<Established>,
}

impl Wire {
    /// Seals one application message for the peer and writes it.
    pub(crate) async fn send(&mut self, message: &AppMessage) -> Result<(), SessionEnd> {
        let bytes = self
            .established
            .session
            .seal_application(&message.to_xml())
            .map_err(|e| SessionEnd::LocalFault(e.to_string()))?;
        self.conn
            .write(&bytes)
            .await
            .map_err(|e| SessionEnd::ConnectionLost(e.to_string()))
    }

    /// Seals one chunk of a file stream and writes it.
    pub(crate) async fn send_bulk(
        &mut self,
        stream: u32,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), SessionEnd> {
        let record = self
            .established
            .session
            .seal_bulk(stream, offset, bytes)
            .map_err(|e| SessionEnd::LocalFault(e.to_string()))?;
        self.conn
            .write(&record)
            .await
            .map_err(|e| SessionEnd::ConnectionLost(e.to_string()))
    }

    /// Sends `alert` if the connection still takes it (the session ends anyway).
    async fn alert(&mut self, alert: AlertCode) {
        let _ = self
            .conn
            .write(&self.established.session.seal_alert(alert))
            .await;
    }

    /// Whether this session agreed `capability` and the peer is confirmed.
    pub(crate) fn may_send(&self, message: &AppMessage) -> bool {
        let session = &self.established.session;
        session.is_confirmed()
            && message
                .required_capabilities()
                .iter()
                .all(|c| session.has_capability(c))
    }

    pub(crate) fn peer(&self) -> &sixchat_proto::UserId {
        &self.established.peer.user_id
    }
}

/// What a session's services and its driver hold between records.
struct Services {
    chat: ChatService,
    transfer: TransferService,
    mail: MailSession,
    /// A dialled peer's person may still be deciding; its first message
    /// says it accepted.
    awaiting_peer: bool,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Agent {
    /// One session: delivers the outbox, stores what arrives, answers receipts.
    pub(super) async fn run_session(
        self,
        conn: Conn,
        established: Box<Established>,
        registration: Registration,
        commands: mpsc::Receiver<SessionCommand>,
    ) {
        let peer = established.peer.user_id.clone();
        let mut services = Services {
            chat: ChatService::default(),
            transfer: TransferService::default(),
            mail: MailSession::default(),
            awaiting_peer: established.session.role() == Role::Initiator,
        };
        let mut wire = Wire { conn, established };
        let reason = match self.start_flow(&mut wire, &mut services).await {
            Err(end) => end,
            Ok(()) => {
                self.drive(&mut wire, &mut services, &registration, commands)
                    .await
            }
        };
        wire.conn.shutdown().await;
        drop(registration);
        let _ = self
            .write_store({
                let peer = peer.clone();
                move |s| s.touch_peer(peer.as_str())
            })
            .await;
        self.emit(AgentEvent::SessionEnded {
            peer: peer.to_string(),
            reason,
        })
        .await;
    }

    /// Reads frames and takes commands until the session ends; returns why.
    async fn drive(
        &self,
        wire: &mut Wire,
        services: &mut Services,
        registration: &Registration,
        mut commands: mpsc::Receiver<SessionCommand>,
    ) -> SessionEnd {
        // A dialled new or anonymous peer whose code the person does not
        // answer in time is declined: it holds the peer's live slot meanwhile.
        let answer_by = tokio::time::Instant::now() + INCOMING_ANSWER_TIMEOUT;
        let idle = self.inner.options.limits.idle_timeout;
        loop {
            let unanswered = !wire.established.session.is_confirmed();
            let mail_stall = services.mail.stall_deadline();
            let mail_bulk = services.mail.has_bulk() && !unanswered;
            let command = tokio::select! {
                () = tokio::time::sleep_until(answer_by), if unanswered => {
                    wire.alert(AlertCode::UserDeclined).await;
                    return SessionEnd::Declined { in_time: false };
                }
                frame = tokio::time::timeout(idle, wire.conn.next_frame()) => {
                    let step = match frame {
                        Err(_) => {
                            wire.alert(AlertCode::CloseNotify).await;
                            Err(SessionEnd::Idle)
                        }
                        Ok(Ok(Some(frame))) => self.on_frame(wire, services, &frame).await,
                        Ok(Ok(None)) => Err(SessionEnd::ConnectionLost(
                            "the peer closed the connection".into(),
                        )),
                        Ok(Err(e)) => Err(self.on_connection_error(wire, e).await),
                    };
                    if let Err(end) = step {
                        return end;
                    }
                    continue;
                }
                () = std::future::ready(()), if mail_bulk => {
                    let step = match services.mail.next_bulk() {
                        Some((stream, offset, bytes)) => wire.send_bulk(stream, offset, &bytes).await,
                        None => Ok(()),
                    };
                    if let Err(end) = step {
                        return end;
                    }
                    continue;
                }
                () = tokio::time::sleep_until(mail_stall.unwrap_or(answer_by)), if mail_stall.is_some() => {
                    if let Err(end) = services.mail.drop_stalled(wire).await {
                        return end;
                    }
                    continue;
                }
                command = commands.recv() => command,
                () = registration.close.notified() => Some(SessionCommand::Close),
                work = services.transfer.next_work(!unanswered) => {
                    let step = match work {
                        Work::Internal(internal) => services.transfer.on_internal(self, wire, internal).await,
                        Work::Bulk { stream, offset, bytes } => wire.send_bulk(stream, offset, &bytes).await,
                    };
                    if let Err(end) = step {
                        return end;
                    }
                    continue;
                }
            };
            if let Err(end) = self.on_command(wire, services, command).await {
                return end;
            }
        }
    }

    async fn on_connection_error(&self, wire: &mut Wire, e: ConnError) -> SessionEnd {
        if matches!(e, ConnError::Frame(_)) {
            wire.alert(AlertCode::DecodeError).await;
            return SessionEnd::Misbehaved {
                alert: AlertCode::DecodeError,
                reason: e.to_string(),
            };
        }
        SessionEnd::ConnectionLost(e.to_string())
    }

    async fn on_command(
        &self,
        wire: &mut Wire,
        services: &mut Services,
        command: Option<SessionCommand>,
    ) -> Result<(), SessionEnd> {
        match command {
            Some(SessionCommand::Send(message)) => {
                if wire.may_send(&message) {
                    wire.send(&message).await?;
                }
                Ok(())
            }
            Some(SessionCommand::Flush) => services.chat.flush(self, wire).await,
            Some(SessionCommand::Answer(answer)) => self.on_answer(wire, services, answer).await,
            Some(SessionCommand::Transfer(command)) => {
                services.transfer.on_command(wire, command).await
            }
            Some(SessionCommand::Mail(mail)) => services.mail.offer(wire, mail).await,
            Some(SessionCommand::Close) | None => {
                let _ = wire.send(&AppMessage::Bye { id: new_id() }).await;
                wire.alert(AlertCode::CloseNotify).await;
                Err(SessionEnd::Closed)
            }
        }
    }

    /// Once data may flow (at the start, or when the person confirmed the
    /// code): sends what waits in the outbox and, while the peer of a dialled
    /// session has not accepted, a `ping` (its `pong` says the peer accepted).
    async fn start_flow(&self, wire: &mut Wire, services: &mut Services) -> Result<(), SessionEnd> {
        services.chat.flush(self, wire).await?;
        if services.awaiting_peer && wire.established.session.is_confirmed() {
            wire.send(&AppMessage::Ping { id: new_id() }).await?;
        }
        Ok(())
    }

    /// The person's answer about a `new` or `anonymous` peer of this session.
    async fn on_answer(
        &self,
        wire: &mut Wire,
        services: &mut Services,
        answer: Answer,
    ) -> Result<(), SessionEnd> {
        if wire.established.session.is_confirmed() {
            // Already accepted (a repeated click): nothing more to do.
            return Ok(());
        }
        if answer == Answer::Decline {
            wire.alert(AlertCode::UserDeclined).await;
            return Err(SessionEnd::Declined { in_time: true });
        }
        let (held, pinned) = match self.confirm(&mut wire.established, answer) {
            Ok(confirmed) => confirmed,
            Err(e) => {
                wire.alert(AlertCode::InternalError).await;
                return Err(SessionEnd::LocalFault(e));
            }
        };
        if let Some(addr) = wire.conn.peer_addr() {
            let peer = wire.peer().to_string();
            let _ = self
                .write_store(move |s| s.remember_address(&peer, &addr.to_string()))
                .await;
        }
        self.emit(AgentEvent::SessionConfirmed {
            peer: wire.peer().to_string(),
            pinned,
        })
        .await;
        for event in held {
            self.on_event(wire, services, event).await?;
        }
        self.start_flow(wire, services).await
    }

    /// Opens one frame and handles what it holds.
    async fn on_frame(
        &self,
        wire: &mut Wire,
        services: &mut Services,
        frame: &Frame,
    ) -> Result<(), SessionEnd> {
        match wire.established.session.handle(frame) {
            Ok(Some(event)) => self.on_event(wire, services, event).await,
            Ok(None) => Ok(()),
            Err(e) => {
                wire.alert(e.alert).await;
                Err(SessionEnd::Misbehaved {
                    alert: e.alert,
                    reason: e.to_string(),
                })
            }
        }
    }

    /// Handles one event of the session.
    async fn on_event(
        &self,
        wire: &mut Wire,
        services: &mut Services,
        event: SessionEvent,
    ) -> Result<(), SessionEnd> {
        if services.awaiting_peer && matches!(event, SessionEvent::Application(_)) {
            services.awaiting_peer = false;
            self.emit(AgentEvent::PeerAccepted {
                peer: wire.peer().to_string(),
            })
            .await;
        }
        match event {
            SessionEvent::Application(xml) => self.on_application(wire, services, &xml).await,
            // Bulk records go to the mail or the transfer service, by stream id.
            SessionEvent::Bulk {
                stream_id,
                offset,
                bytes,
            } if stream_id & MAIL_STREAM_BIT != 0 => {
                services
                    .mail
                    .on_bulk(self, wire, stream_id, offset, bytes)
                    .await
            }
            SessionEvent::Bulk {
                stream_id,
                offset,
                bytes,
            } => {
                services
                    .transfer
                    .on_bulk(wire, stream_id, offset, bytes)
                    .await
            }
            SessionEvent::KeyUpdated => Ok(()),
            SessionEvent::Closed => Err(SessionEnd::ClosedByPeer),
            SessionEvent::PeerAlert(alert) => Err(SessionEnd::PeerAlert(alert)),
        }
    }

    /// Parses one application message, checks its capability was agreed, and
    /// routes it: session-level messages here, the rest to their service.
    async fn on_application(
        &self,
        wire: &mut Wire,
        services: &mut Services,
        xml: &[u8],
    ) -> Result<(), SessionEnd> {
        let message = match AppMessage::parse(xml) {
            Ok(message) => message,
            Err(e) => {
                let error = AppMessage::Error {
                    id: new_id(),
                    reference: e.id.unwrap_or_default(),
                    reason: e.reason,
                };
                return wire.send(&error).await;
            }
        };
        let missing = message
            .required_capabilities()
            .iter()
            .find(|c| !wire.established.session.has_capability(c));
        if let Some(capability) = missing {
            let error = AppMessage::Error {
                id: new_id(),
                reference: message.id().to_owned(),
                reason: format!("{capability} was not agreed"),
            };
            return wire.send(&error).await;
        }
        match message {
            AppMessage::Ping { id } => {
                wire.send(&AppMessage::Pong {
                    id: new_id(),
                    reference: id,
                })
                .await
            }
            AppMessage::Pong { .. } => Ok(()),
            AppMessage::Bye { .. } => Err(SessionEnd::ClosedByPeer),
            AppMessage::Error {
                reference, reason, ..
            } => {
                if services.mail.on_peer_error(&reference, &reason) {
                    return Ok(());
                }
                self.emit(AgentEvent::PeerError {
                    from: wire.peer().to_string(),
                    reference,
                    reason,
                })
                .await;
                Ok(())
            }
            AppMessage::Chat { .. }
            | AppMessage::Ack { .. }
            | AppMessage::Read { .. }
            | AppMessage::Typing { .. } => services.chat.on_message(self, wire, message).await,
            AppMessage::File { id, message } => {
                services.transfer.on_message(self, wire, id, message).await
            }
            AppMessage::Mail { id, message } => {
                services.mail.on_message(self, wire, id, message).await
            }
            AppMessage::MailReceipt {
                message_id, read, ..
            } => {
                let peer = wire.peer().clone();
                self.mail_receipt(&peer, message_id, read).await;
                Ok(())
            }
        }
    }
}
