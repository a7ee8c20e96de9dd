//! Dialling: a TCP connection (one address, or Happy Eyeballs over many),
//! the initiator's handshake, and the session task.

use std::net::SocketAddr;

use sixchat_host::lock;
use sixchat_proto::{AlertCode, Established, HandshakeError, UserId};
use tokio::net::TcpStream;

use super::events::{AgentEvent, PeerCard};
use super::registry::SessionHandle;
use super::{Agent, Dialing};
use crate::conn::{self, Conn, ConnError};

/// Why a dial did not give a session.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot reach {addr}: {source}")]
    Unreachable {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(ConnError),
}

impl ConnectError {
    /// The alert behind a refused handshake, and who sent it.
    pub fn alert(&self) -> Option<(AlertCode, sixchat_proto::handshake::Origin)> {
        match self {
            Self::Failed(e) => e.alert(),
            Self::Unreachable { .. } => None,
        }
    }
}

impl Agent {
    /// Dials `addr`, completes the handshake as initiator to `peer`, and starts
    /// the session task (which first delivers the outbox, in order).
    pub async fn connect(&self, peer: &UserId, addr: &str) -> Result<SessionHandle, ConnectError> {
        let _dialing = Dialing::new(self, peer);
        let unreachable = |source| ConnectError::Unreachable {
            addr: addr.to_owned(),
            source,
        };
        let stream = tokio::time::timeout(
            self.inner.options.limits.handshake_timeout,
            TcpStream::connect(addr),
        )
        .await
        .map_err(|_| {
            unreachable(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            ))
        })?
        .map_err(unreachable)?;
        self.connect_stream(peer, stream, addr).await
    }

    /// Dials every address (IPv6 first, alternating families, each started
    /// [`crate::dial::ATTEMPT_DELAY`] after the last unless it failed sooner:
    /// Happy Eyeballs), keeps the first TCP connection, and runs the handshake
    /// on it.
    pub async fn connect_any(
        &self,
        peer: &UserId,
        addrs: &[SocketAddr],
    ) -> Result<SessionHandle, ConnectError> {
        let _dialing = Dialing::new(self, peer);
        let (stream, addr) =
            crate::dial::happy_eyeballs(addrs, self.inner.options.limits.handshake_timeout)
                .await
                .map_err(|source| ConnectError::Unreachable {
                    addr: super::events::addresses_text(addrs).replace(' ', ", "),
                    source,
                })?;
        self.connect_stream(peer, stream, &addr.to_string()).await
    }

    /// Runs the initiator's handshake on a connected stream.
    pub async fn connect_stream(
        &self,
        peer: &UserId,
        stream: TcpStream,
        addr: &str,
    ) -> Result<SessionHandle, ConnectError> {
        let mut conn = Conn::new(stream);
        let fresh_crls = self.freshen_crls(Some(peer.domain()));
        let initiated = conn::initiate(
            &mut conn,
            self.config(),
            peer.clone(),
            false,
            self.deadlines(),
            fresh_crls,
        )
        .await;
        let established = match initiated {
            Ok(established) => established,
            Err(err) => {
                self.emit(AgentEvent::HandshakeFailed {
                    addr: addr.to_owned(),
                    inbound: false,
                    reason: err.to_string(),
                })
                .await;
                return Err(ConnectError::Failed(err));
            }
        };
        let level = established.peer.level;
        if !level.needs_sas_confirmation() {
            // A new peer's address is kept once the person accepted its code.
            let _ = lock(&self.inner.store).remember_address(peer.as_str(), addr);
        }
        let sas = established.sas.clone();
        let Some((registration, receiver)) = self.register(peer) else {
            let mut established = established;
            let _ = conn
                .write(&established.session.seal_alert(AlertCode::CloseNotify))
                .await;
            return Err(ConnectError::Failed(ConnError::Handshake(
                HandshakeError::local(AlertCode::CloseNotify, "too many sessions are open"),
            )));
        };
        self.announce(&established, addr, false).await;
        let agent = self.clone();
        let commands = registration.sender.clone();
        let task = tokio::spawn(async move {
            agent
                .run_session(conn, established, registration, receiver)
                .await;
        });
        Ok(SessionHandle {
            peer: peer.clone(),
            level,
            sas,
            commands,
            task: Some(task),
        })
    }

    pub(super) async fn announce(&self, established: &Established, addr: &str, inbound: bool) {
        let _ = lock(&self.inner.store).touch_peer(established.peer.user_id.as_str());
        self.emit(AgentEvent::SessionStarted {
            card: PeerCard::of(established),
            addr: addr.to_owned(),
            inbound,
        })
        .await;
    }

    pub(super) fn deadlines(&self) -> conn::Deadlines {
        let limits = &self.inner.options.limits;
        conn::Deadlines {
            whole: limits.handshake_timeout,
            first_message: limits.first_message_timeout.min(limits.handshake_timeout),
            next_message: limits.message_timeout.min(limits.handshake_timeout),
        }
    }
}
