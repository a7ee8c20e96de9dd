//! One connection: the TLS handshake under a deadline, then frames in,
//! responses out, in order, until the peer leaves, goes idle, breaks the
//! framing, or the server shuts down. A request being answered when the
//! shutdown comes is finished and its response sent first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use sixchat_proto::irp::{
    self, ErrorCode, ErrorResponse, HEADER_BYTES, Header, MAX_FRAME_BYTES, MAX_STORE_FRAME_BYTES,
    Request, Response,
};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, broadcast};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::handlers::{self, Dir, Presented, rate_limited};
use crate::limits::TokenBucket;

const KIB: usize = 1 << 10;
/// Frames above this size draw on the shared budget before their body is
/// allocated (so 20 000 connections cannot each hold a 1 MiB frame).
const BUDGETED_FRAME_BYTES: usize = 64 << 10;

/// What one connection needs from the server.
pub(crate) struct ConnContext {
    pub(crate) dir: Arc<Dir>,
    pub(crate) acceptor: TlsAcceptor,
    /// Memory for frames over 64 KiB, in KiB, shared by all connections.
    pub(crate) large_frames: Arc<Semaphore>,
}

enum FrameError {
    /// The peer closed the connection or the socket failed.
    Closed,
    /// Over the limit: answered, then the connection is closed (the body
    /// is not read, so the frame boundary is lost).
    TooLarge(usize),
}

/// Serves one accepted TCP connection to its end.
pub(crate) async fn serve(
    ctx: Arc<ConnContext>,
    tcp: TcpStream,
    peer_addr: SocketAddr,
    mut shutdown: broadcast::Receiver<()>,
) {
    let limits = &ctx.dir.limits;
    let handshake = tokio::select! {
        _ = shutdown.recv() => return,
        result = timeout(limits.handshake, ctx.acceptor.accept(tcp)) => result,
    };
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(%peer_addr, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer_addr, "TLS handshake timed out");
            return;
        }
    };
    let presented = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| Presented::new(leaf.to_vec()));
    // Only a caller with a verified client certificate may send 64 MiB.
    let frame_limit = if presented.is_some() {
        MAX_STORE_FRAME_BYTES
    } else {
        MAX_FRAME_BYTES
    };
    let (reader, mut writer) = tokio::io::split(tls);
    let mut reader = BufReader::new(reader);
    let mut bucket = TokenBucket::new(limits.rate_per_sec, limits.burst, Instant::now());
    loop {
        let frame = tokio::select! {
            _ = shutdown.recv() => break,
            frame = timeout(limits.idle, read_frame(&mut reader, frame_limit, &ctx.large_frames)) => frame,
        };
        let (response, keep_open) = match frame {
            Err(_) | Ok(Err(FrameError::Closed)) => break,
            Ok(Err(FrameError::TooLarge(len))) => {
                tracing::debug!(%peer_addr, len, "frame over the limit");
                let error = ErrorResponse::new(ErrorCode::TooLarge, "message too large");
                (error_frame(&ctx.dir, None, error), false)
            }
            Ok(Ok(body)) => (
                answer(&ctx.dir, presented.as_ref(), &mut bucket, &body.bytes).await,
                true,
            ),
        };
        let written = timeout(limits.idle, async {
            writer.write_all(&response).await?;
            writer.flush().await
        })
        .await;
        if !matches!(written, Ok(Ok(()))) || !keep_open {
            break;
        }
    }
    let _ = timeout(std::time::Duration::from_secs(1), writer.shutdown()).await;
}

/// A frame body; holds its share of the large-frame budget while alive.
struct Frame {
    bytes: Vec<u8>,
    _budget: Option<tokio::sync::OwnedSemaphorePermit>,
}

async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    limit: usize,
    large_frames: &Arc<Semaphore>,
) -> Result<Frame, FrameError> {
    let mut header = [0u8; HEADER_BYTES];
    reader
        .read_exact(&mut header)
        .await
        .map_err(|_| FrameError::Closed)?;
    let len = irp::frame_len(header, limit)
        .map_err(|_| FrameError::TooLarge(u32::from_be_bytes(header) as usize))?;
    let budget = if len > BUDGETED_FRAME_BYTES {
        let kib = u32::try_from(len.div_ceil(KIB)).map_err(|_| FrameError::TooLarge(len))?;
        Some(
            Arc::clone(large_frames)
                .acquire_many_owned(kib)
                .await
                .map_err(|_| FrameError::Closed)?,
        )
    } else {
        None
    };
    let mut bytes = vec![0u8; len];
    reader
        .read_exact(&mut bytes)
        .await
        .map_err(|_| FrameError::Closed)?;
    Ok(Frame {
        bytes,
        _budget: budget,
    })
}

/// The response frame to one request frame.
async fn answer(
    dir: &Dir,
    presented: Option<&Presented>,
    bucket: &mut TokenBucket,
    body: &[u8],
) -> Vec<u8> {
    if let Err(wait) = bucket.try_take(Instant::now()) {
        return error_frame(dir, Some(&header_of(body)), rate_limited(wait));
    }
    let (header, request) = match Request::parse(body) {
        Ok(parsed) => parsed,
        Err(e) => {
            let description: String = e.to_string().chars().take(200).collect();
            let error = ErrorResponse::new(e.code(), description);
            return error_frame(dir, Some(&header_of(body)), error);
        }
    };
    if body.len() > MAX_FRAME_BYTES && !matches!(request, Request::StorePut { .. }) {
        let error = ErrorResponse::new(ErrorCode::TooLarge, "message too large");
        return error_frame(dir, Some(&header), error);
    }
    let response = handlers::handle(dir, presented, &header, request).await;
    encode(dir, &header, &response)
}

/// The header of a request that did not parse: its envelope if that much
/// is good, else at least its id if the XML is readable, else id "0".
fn header_of(body: &[u8]) -> Header {
    if let Ok((_, header, _)) = irp::parse_envelope(body) {
        return header;
    }
    let id = sixchat_proto::xml::parse(body)
        .ok()
        .and_then(|root| root.attribute("id").map(str::to_owned))
        .filter(|id| !id.is_empty() && id.chars().count() <= irp::MAX_ID_CHARS)
        .unwrap_or_else(|| "0".to_owned());
    Header::new(None, None, &id)
}

fn reply_header(dir: &Dir, request: Option<&Header>) -> Header {
    let mut reply = request.map_or_else(|| Header::new(None, None, "0"), Header::reply);
    reply.sender = Some(dir.domain.clone());
    reply
}

fn error_frame(dir: &Dir, request: Option<&Header>, error: ErrorResponse) -> Vec<u8> {
    let header = reply_header(dir, request);
    irp::encode_frame(&Response::Error(error).to_xml(&header)).unwrap_or_default()
}

fn encode(dir: &Dir, request: &Header, response: &Response) -> Vec<u8> {
    let header = reply_header(dir, Some(request));
    match irp::encode_frame(&response.to_xml(&header)) {
        Ok(frame) => frame,
        Err(e) => {
            tracing::error!(error = %e, "response over the frame limit");
            let error = ErrorResponse::new(
                ErrorCode::Internal,
                "internal server error, request not performed",
            );
            error_frame(dir, Some(request), error)
        }
    }
}
