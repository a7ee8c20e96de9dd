//! Answering: the accept loop, handshake slots, the person's answer, and the
//! session task of each caller that got through.

use std::net::SocketAddr;
use std::time::Instant;

use sixchat_host::lock;
use sixchat_proto::session::SessionEvent;
use sixchat_proto::{AlertCode, Established, TrustLevel};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::Agent;
use super::events::{AgentEvent, Answer, INCOMING_ANSWER_TIMEOUT, IncomingRequest, PeerCard};
use crate::conn::{self, Conn};
use crate::limits::PendingTicket;

impl Agent {
    /// Accepts connections until `shutdown` completes, then ends every session.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        if let Ok(addr) = listener.local_addr() {
            self.emit(AgentEvent::Listening {
                addr: addr.to_string(),
            })
            .await;
        }
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => {
                    let Ok((stream, source)) = accepted else { continue };
                    if let Some((agent, ticket)) = self.admit(source) {
                        tasks.spawn(async move { agent.accept(stream, source, ticket).await });
                    }
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        self.close_all();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();
    }

    /// A handshake slot for a caller from `source`, unless it failed too
    /// often or its source holds too many (see [`PendingHandshakes`]).
    fn admit(&self, source: SocketAddr) -> Option<(Self, PendingTicket)> {
        let now = Instant::now();
        let blocked = lock(&self.inner.failures).is_blocked(
            source.ip(),
            self.inner.options.limits.max_failures_per_minute,
            now,
        );
        if blocked {
            return None;
        }
        let ticket = self.inner.pending.admit(source.ip(), now)?;
        Some((self.clone(), ticket))
    }

    /// Asks the person (if the options say so) whether to take this session.
    /// With no one to ask, `known` and `verified` peers are taken and `new`
    /// or `anonymous` ones declined (nobody could compare their code).
    async fn ask(&self, established: &Established, source: SocketAddr) -> Answer {
        let Some(gate) = &self.inner.options.incoming else {
            return if established.peer.level.needs_sas_confirmation() {
                Answer::Decline
            } else {
                Answer::Accept
            };
        };
        let (decision, answer) = tokio::sync::oneshot::channel();
        let request = IncomingRequest {
            card: PeerCard::of(established),
            addr: source.to_string(),
            decision,
        };
        if gate.send(request).await.is_err() {
            return Answer::Decline;
        }
        match tokio::time::timeout(INCOMING_ANSWER_TIMEOUT, answer).await {
            Ok(Ok(answer)) => answer,
            _ => Answer::Decline,
        }
    }

    /// The person accepted a `new` or `anonymous` peer after comparing the
    /// code: pins its certificate if they said the codes match, and lets
    /// data flow. Returns what the peer sent meanwhile, and whether the key
    /// was pinned.
    pub(super) fn confirm(
        &self,
        established: &mut Established,
        answer: Answer,
    ) -> Result<(Vec<SessionEvent>, bool), String> {
        let mut pinned = false;
        if answer == Answer::AcceptAndPin && established.peer.level == TrustLevel::New {
            if let Some(certificate) = &established.peer.certificate {
                let user = established.peer.user_id.as_str();
                let fingerprint = certificate.fingerprint.to_hex();
                let store = lock(&self.inner.store);
                // Another key pinned for this UserID since the handshake (a
                // second prompt answered first): this one does not replace it.
                let pinned_now = store
                    .pins()
                    .map_err(|e| format!("could not read the pins: {e}"))?
                    .into_iter()
                    .any(|pin| pin.user_id == user && pin.fingerprint != fingerprint);
                if pinned_now {
                    return Err(format!("another key is pinned for {user} now"));
                }
                store
                    .pin(user, &fingerprint)
                    .map_err(|e| format!("could not pin the key: {e}"))?;
                drop(store);
                established.peer.level = TrustLevel::Known;
                pinned = true;
            }
        }
        Ok((established.session.confirm_peer(), pinned))
    }

    #[allow(clippy::too_many_lines)] // the accept path in the order a caller meets its limits
    async fn accept(self, stream: TcpStream, source: SocketAddr, ticket: PendingTicket) {
        let mut conn = Conn::new(stream);
        let deadlines = self.deadlines();
        let fresh_crls = self.freshen_crls(None);
        let handshake = conn::respond(
            &mut conn,
            self.config(),
            deadlines,
            ticket.spoke(),
            fresh_crls,
        );
        let result = tokio::select! {
            result = handshake => result,
            () = ticket.evicted() => {
                // Evicted for a newcomer: it counts as a failure of its source.
                lock(&self.inner.failures).record_failure(source.ip(), Instant::now());
                tracing::debug!(%source, "silent caller evicted for a newcomer");
                return;
            }
        };
        drop(ticket);
        let established = match result {
            Ok(established) => established,
            Err(err) => {
                lock(&self.inner.failures).record_failure(source.ip(), Instant::now());
                tracing::info!(%source, "inbound handshake failed: {err}");
                self.emit(AgentEvent::HandshakeFailed {
                    addr: source.to_string(),
                    inbound: true,
                    reason: err.to_string(),
                })
                .await;
                return;
            }
        };
        if established.peer.level.needs_sas_confirmation() {
            let admitted = lock(&self.inner.unverified).try_take(
                self.inner.options.limits.max_unverified_sessions_per_minute,
                Instant::now(),
            );
            if !admitted {
                let mut established = established;
                let _ = conn
                    .write(&established.session.seal_alert(AlertCode::UserDeclined))
                    .await;
                return;
            }
        }
        let mut established = established;
        let answer = self.ask(&established, source).await;
        if answer == Answer::Decline {
            let _ = conn.write(&established.session.decline()).await;
            return;
        }
        let mut confirmed_now = None;
        if !established.session.is_confirmed() {
            // Nothing was read since the handshake: nothing is held.
            match self.confirm(&mut established, answer) {
                Ok((_, pinned)) => confirmed_now = Some(pinned),
                Err(e) => {
                    tracing::warn!("{e}");
                    let _ = conn
                        .write(&established.session.seal_alert(AlertCode::InternalError))
                        .await;
                    return;
                }
            }
        }
        let Some((registration, receiver)) = self.register(&established.peer.user_id) else {
            let mut established = established;
            let _ = conn
                .write(&established.session.seal_alert(AlertCode::CloseNotify))
                .await;
            return;
        };
        self.announce(&established, &source.to_string(), true).await;
        if let Some(pinned) = confirmed_now {
            self.emit(AgentEvent::SessionConfirmed {
                peer: established.peer.user_id.to_string(),
                pinned,
            })
            .await;
        }
        self.run_session(conn, established, registration, receiver)
            .await;
    }
}
