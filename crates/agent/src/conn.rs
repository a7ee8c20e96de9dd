//! One TCP connection carrying the Direct protocol: frames in and out, and the
//! handshake driven to completion under a deadline (the tokio side of
//! `sixchat-proto`, which does no I/O itself).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sixchat_proto::frame::{Frame, FrameReader};
use sixchat_proto::handshake::Origin;
use sixchat_proto::{
    AlertCode, Config, Established, HandshakeError, Initiator, OsEntropy, Responder, Step, UserId,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Longest a write may wait for the peer to read.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a connection ended or a handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("connection lost: {0}")]
    Io(#[from] std::io::Error),
    #[error("the peer closed the connection")]
    Closed,
    #[error("malformed frame: {0}")]
    Frame(#[from] sixchat_proto::frame::FrameError),
    #[error("the handshake took longer than {0} seconds")]
    Timeout(u64),
    #[error("the peer sent no complete message within {0} seconds")]
    Silent(u64),
    #[error("the peer's next message did not come within {0} seconds")]
    Stalled(u64),
    #[error("{0}")]
    Handshake(HandshakeError),
}

impl ConnError {
    /// The alert behind a refused handshake, if that is what happened.
    pub fn alert(&self) -> Option<(AlertCode, Origin)> {
        match self {
            Self::Handshake(e) => Some((e.alert, e.origin)),
            _ => None,
        }
    }
}

/// A framed TCP connection.
pub struct Conn {
    stream: TcpStream,
    reader: FrameReader,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Self {
            stream,
            reader: FrameReader::new(),
            buf: vec![0; READ_CHUNK_BYTES],
        }
    }

    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.stream.peer_addr().ok()
    }

    /// The next whole frame; `Ok(None)` when the peer closed cleanly between
    /// frames. Cancel-safe: bytes read are kept for the next call.
    pub async fn next_frame(&mut self) -> Result<Option<Frame>, ConnError> {
        loop {
            if let Some(frame) = self.reader.next_frame()? {
                return Ok(Some(frame));
            }
            let n = self.stream.read(&mut self.buf).await?;
            if n == 0 {
                return if self.reader.buffered_bytes() == 0 {
                    Ok(None)
                } else {
                    Err(ConnError::Closed)
                };
            }
            self.reader.push(&self.buf[..n]);
        }
    }

    /// Writes `bytes`, within [`WRITE_TIMEOUT`]: a peer that stops reading
    /// cannot hold a session (or whoever waits on it) for ever.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        if !bytes.is_empty() {
            tokio::time::timeout(WRITE_TIMEOUT, self.stream.write_all(bytes))
                .await
                .map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the peer stopped reading (write timed out)",
                    )
                })??;
        }
        Ok(())
    }

    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

enum Machine {
    Initiator(Initiator),
    Responder(Responder),
}

impl Machine {
    fn handle(&mut self, frame: &Frame, now_unix: i64) -> Step {
        match self {
            Self::Initiator(m) => m.handle(frame, now_unix),
            Self::Responder(m) => m.handle(frame, now_unix),
        }
    }

    fn abort(&mut self, alert: AlertCode, reason: &str) -> Step {
        match self {
            Self::Initiator(m) => m.abort(alert, reason),
            Self::Responder(m) => m.abort(alert, reason),
        }
    }
}

use sixchat_host::now_unix;

/// The deadlines of one handshake.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// For the whole handshake.
    pub whole: Duration,
    /// For the peer's first complete message.
    pub first_message: Duration,
    /// For each later message of the peer.
    pub next_message: Duration,
}

/// Dials nothing: runs the initiator's handshake on a connected stream.
/// `ready` is awaited before the responder's second message is handled
/// (before the certificate policy runs): the agent's CRL freshening.
pub async fn initiate(
    conn: &mut Conn,
    config: Arc<Config>,
    peer: UserId,
    anonymous: bool,
    deadlines: Deadlines,
    ready: impl std::future::Future<Output = ()>,
) -> Result<Box<Established>, ConnError> {
    let (machine, first) = Initiator::start(config, peer, anonymous, Box::new(OsEntropy));
    drive(
        conn,
        Machine::Initiator(machine),
        first,
        deadlines,
        None,
        ready,
    )
    .await
}

/// Runs the responder's handshake on an accepted stream; `spoke` is set once
/// the caller's first message is complete; `ready` is awaited before the
/// caller's second message is handled.
pub async fn respond(
    conn: &mut Conn,
    config: Arc<Config>,
    deadlines: Deadlines,
    spoke: &AtomicBool,
    ready: impl std::future::Future<Output = ()>,
) -> Result<Box<Established>, ConnError> {
    let machine = Responder::new(config, Box::new(OsEntropy));
    drive(
        conn,
        Machine::Responder(machine),
        Vec::new(),
        deadlines,
        Some(spoke),
        ready,
    )
    .await
}

async fn drive(
    conn: &mut Conn,
    mut machine: Machine,
    first: Vec<u8>,
    deadlines: Deadlines,
    spoke: Option<&AtomicBool>,
    ready: impl std::future::Future<Output = ()>,
) -> Result<Box<Established>, ConnError> {
    let timeout = deadlines.whole;
    let result = tokio::time::timeout(timeout, async {
        conn.write(&first).await?;
        let mut ready = Some(ready);
        let mut received = 0usize;
        loop {
            let first_one = received == 0;
            let limit = if first_one {
                deadlines.first_message
            } else {
                deadlines.next_message
            };
            let next = tokio::time::timeout(limit, conn.next_frame())
                .await
                .map_err(|_| {
                    if first_one {
                        ConnError::Silent(limit.as_secs())
                    } else {
                        ConnError::Stalled(limit.as_secs())
                    }
                })?;
            received += 1;
            if received == 1 {
                if let Some(spoke) = spoke {
                    spoke.store(true, Ordering::Relaxed);
                }
            } else if let Some(ready) = ready.take() {
                ready.await;
            }
            let frame = match next {
                Ok(Some(frame)) => frame,
                Ok(None) => return Err(ConnError::Closed),
                Err(ConnError::Frame(e)) => {
                    if let Step::Failed(alert, _) =
                        machine.abort(AlertCode::DecodeError, &e.to_string())
                    {
                        let _ = conn.write(&alert).await;
                    }
                    return Err(ConnError::Frame(e));
                }
                Err(e) => return Err(e),
            };
            match machine.handle(&frame, now_unix()) {
                Step::Continue(out) => conn.write(&out).await?,
                Step::Complete(out, established) => {
                    conn.write(&out).await?;
                    return Ok(established);
                }
                Step::Failed(alert, err) => {
                    let _ = conn.write(&alert).await;
                    conn.shutdown().await;
                    return Err(ConnError::Handshake(err));
                }
            }
        }
    })
    .await;
    let error = match result {
        Ok(Err(e @ (ConnError::Silent(_) | ConnError::Stalled(_)))) => e,
        Ok(outcome) => return outcome,
        Err(_) => ConnError::Timeout(timeout.as_secs()),
    };
    if let Step::Failed(alert, _) =
        machine.abort(AlertCode::HandshakeFailure, "handshake timed out")
    {
        // A stalled peer may not read: give the alert a moment, no more.
        let _ = tokio::time::timeout(Duration::from_secs(1), conn.write(&alert)).await;
    }
    conn.shutdown().await;
    Err(error)
}
