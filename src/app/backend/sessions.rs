//! Sessions: "Connect to User" (dialling), the Incoming Chat gate, the
//! person's answers, and what the agent says of each session.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use sixchat_agent::agent::INCOMING_ANSWER_TIMEOUT;
use sixchat_agent::{Answer, IncomingRequest, PeerCard, SessionHandle};
use sixchat_host::lock;
use sixchat_proto::TrustLevel;
use tokio::sync::mpsc;

use super::contacts::{typed_address, typed_user};
use super::running::{Running, Waiting};
use crate::app::command::SessionCommand;
use crate::app::event::{DialStage, Event, Failure, IncomingChat, Notice, Presence};

impl Running {
    pub(super) async fn session_command(
        self: &Arc<Self>,
        command: SessionCommand,
    ) -> Result<(), Failure> {
        match command {
            SessionCommand::Dial { user_id, address } => {
                let peer = typed_user(&user_id)?;
                self.sink
                    .emit(Event::DialStarted {
                        user_id: peer.to_string(),
                    })
                    .await;
                let address = match typed_address(address) {
                    Ok(address) => address,
                    Err(problem) => {
                        self.sink
                            .emit(Event::Dial {
                                user_id: peer.to_string(),
                                stage: DialStage::Failed(Failure::Invalid(problem)),
                            })
                            .await;
                        return Ok(());
                    }
                };
                if address.is_some() {
                    self.add_contact_at(&peer, address.as_deref()).await?;
                }
                tokio::spawn(self.clone().deliver(peer, true, address));
            }
            SessionCommand::AnswerIncoming { request, answer } => {
                let Some(Waiting {
                    peer: user_id,
                    level,
                    decision,
                }) = lock(&self.pending).remove(&request)
                else {
                    return Ok(());
                };
                let _ = decision.send(answer);
                self.sink.emit(Event::IncomingGone { request }).await;
                // A verified or pinned peer the person accepted is not asked
                // again (the contact's "always accept", which they can untick).
                // A new peer whose code matched is pinned by the agent, which
                // says so (`SessionConfirmed`), and is then treated the same.
                if answer == Answer::Accept
                    && matches!(level, TrustLevel::Verified | TrustLevel::Known)
                {
                    self.always_accept(&user_id).await?;
                }
            }
            SessionCommand::AnswerSession {
                user_id,
                sas,
                answer,
            } => {
                // Only the session whose code the person compared.
                let answerer = lock(&self.sessions)
                    .get(&user_id)
                    .filter(|h| h.sas == sas)
                    .map(SessionHandle::answerer);
                // A declined session sends `user_declined` and ends; its end
                // (`SessionEnded`) takes it off the map.
                let answered = match answerer {
                    Some(answerer) => answerer.answer(answer).await,
                    None => false,
                };
                if !answered {
                    return Err(Failure::Other(
                        "that session has ended; connect again".to_owned(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Asks the person about each inbound session, unless the contact is
    /// always accepted (as it is once the person accepted it, or pinned its
    /// key) and its key is verified or pinned.
    pub(super) async fn gate(self: Arc<Self>, mut requests: mpsc::Receiver<IncomingRequest>) {
        while let Some(request) = requests.recv().await {
            let peer = request.card.peer.to_string();
            let always = self
                .agent
                .with_store(|s| s.always_accepts(&peer))
                .unwrap_or(false);
            if request.card.is_trusted() && always {
                let _ = request.decision.send(Answer::Accept);
                continue;
            }
            let id = self.next_request.fetch_add(1, Ordering::Relaxed);
            lock(&self.pending).insert(
                id,
                Waiting {
                    peer,
                    level: request.card.level,
                    decision: request.decision,
                },
            );
            self.sink
                .emit(Event::Incoming(IncomingChat {
                    request: id,
                    card: request.card,
                    addr: request.addr,
                }))
                .await;
            let this = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(INCOMING_ANSWER_TIMEOUT).await;
                if lock(&this.pending).remove(&id).is_some() {
                    this.sink.emit(Event::IncomingGone { request: id }).await;
                }
            });
        }
    }

    pub(super) async fn session_started(&self, card: PeerCard, inbound: bool) {
        let peer = card.peer.to_string();
        lock(&self.cards).insert(peer.clone(), card.clone());
        self.ensure_contact(&peer, &card.name, true).await;
        self.set_presence(&peer, Presence::Online, None).await;
        self.sink
            .emit(Event::SessionStarted { card, inbound })
            .await;
    }

    pub(super) async fn session_confirmed(&self, peer: String, pinned: bool) {
        if pinned {
            // Pinned after the codes matched: not asked again.
            let _ = self.always_accept(&peer).await;
            self.sink.emit(Event::Trust(self.trust_info())).await;
            self.sink
                .emit(Event::Notice(Notice::Pinned {
                    user_id: peer.clone(),
                }))
                .await;
        }
        if let Some(card) = lock(&self.cards).get_mut(&peer) {
            card.confirmed = true;
            if pinned {
                card.level = TrustLevel::Known;
            }
        }
        self.sink
            .emit(Event::SessionConfirmed {
                user_id: peer,
                pinned,
            })
            .await;
    }

    pub(super) async fn session_ended(&self, peer: String, reason: String) {
        lock(&self.sessions).remove(&peer);
        self.sink
            .emit(Event::SessionEnded {
                user_id: peer.clone(),
                reason,
            })
            .await;
        lock(&self.cards).remove(&peer);
        let now = chrono::Utc::now().timestamp();
        self.set_presence(&peer, Presence::Offline, Some(now)).await;
    }
}
