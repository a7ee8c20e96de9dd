//! One connection: the TLS handshake under a deadline, then frames in,
//! responses out, in order, until the peer leaves, goes idle, breaks the
//! framing, sends a body too slowly, or the server shuts down. A request
//! being answered when the shutdown comes is finished and its response sent
//! first.
//!
//! What one connection can cost the server is bounded: a frame's body must
//! arrive within `Limits::frame_deadline` of its length; memory for a body
//! over 64 KiB comes from the shared budget 1 MiB at a time as the bytes
//! arrive; each frame is parsed once, a large one on the blocking pool
//! under `Limits::parse_deadline`, so no request holds a runtime thread.
//! Callers without a client certificate draw on a budget of their own
//! ([`ANONYMOUS_BUDGET_KIB`]), so they can never starve certified uploads;
//! a large `store_fetch` answer takes its memory from the shared budget
//! before it is written and holds it until it has been sent (or 1801 when
//! the budget stays taken), and it gets the time its length needs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use sixchat_proto::irp::{
    self, ErrorCode, ErrorResponse, HEADER_BYTES, Header, IrpError, MAX_FRAME_BYTES,
    MAX_STORE_FRAME_BYTES, Request, Response,
};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader,
};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio::time::{timeout, timeout_at};
use tokio_rustls::TlsAcceptor;

use crate::handlers::{self, Dir, Presented, rate_limited};
use crate::limits::{Limits, Source, TokenBucket};

const KIB: usize = 1 << 10;
/// Frames above this size draw on the shared budget as their body arrives
/// (so 20 000 connections cannot each hold a 1 MiB frame), and are parsed
/// on the blocking pool (so a large one never holds a runtime thread).
const BUDGETED_FRAME_BYTES: usize = 64 << 10;
/// The step in which a large frame's body is reserved and read: the budget
/// grows by this much only once bytes of the next step have arrived, and
/// each step must arrive within `Limits::frame_deadline` of its size.
const BUDGET_STEP_BYTES: usize = 1 << 20;
/// Memory for large frames of callers without a client certificate, in KiB
/// (their frames are at most 1 MiB).
pub(crate) const ANONYMOUS_BUDGET_KIB: usize = 16 << 10;
/// How long a large answer waits for its share of the budget before the
/// caller is told to come back (1801).
const ANSWER_BUDGET_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// A `store_fetch` answer costs about this many times its envelopes' bytes
/// while it is built and sent (the rows, their base64, the frame).
const ANSWER_MEMORY_FACTOR: usize = 4;

/// What one connection needs from the server.
pub(crate) struct ConnContext {
    pub(crate) dir: Arc<Dir>,
    pub(crate) acceptor: TlsAcceptor,
    /// Memory for frames over 64 KiB, in KiB, shared by all connections
    /// with a client certificate.
    pub(crate) large_frames: Arc<Semaphore>,
    /// The same for connections without one ([`ANONYMOUS_BUDGET_KIB`]).
    pub(crate) anonymous_frames: Arc<Semaphore>,
    /// The size of `large_frames`, in KiB.
    pub(crate) budget_kib: usize,
    /// Large frames parsed at once on the blocking pool (one per CPU), so
    /// parsing never takes the threads the database work needs.
    pub(crate) parses: Arc<Semaphore>,
}

enum FrameError {
    /// The peer closed the connection or the socket failed (or went idle
    /// before a frame began).
    Closed,
    /// Over the limit: answered, then the connection is closed (the body
    /// is not read, so the frame boundary is lost).
    TooLarge(usize),
    /// The body did not arrive within its deadline: the connection is
    /// dropped without an answer.
    TooSlow(usize),
}

/// Serves one accepted TCP connection to its end.
pub(crate) async fn serve(
    ctx: Arc<ConnContext>,
    tcp: TcpStream,
    peer_addr: SocketAddr,
    mut shutdown: broadcast::Receiver<()>,
) {
    let limits = &ctx.dir.limits;
    let source = Source::of(peer_addr.ip());
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
    // A certificate the DIR still stands behind (not revoked, not expired:
    // TLS knows nothing of the CRL) earns the 64 MiB frames and the shared
    // budget; anyone else has the anonymous limits.
    let standing = match &presented {
        Some(presented) => handlers::authenticate(&ctx.dir, presented).await.is_ok(),
        None => false,
    };
    let (frame_limit, frame_budget) = if standing {
        (MAX_STORE_FRAME_BYTES, &ctx.large_frames)
    } else {
        (MAX_FRAME_BYTES, &ctx.anonymous_frames)
    };
    let (reader, mut writer) = tokio::io::split(tls);
    let mut reader = BufReader::new(reader);
    let mut bucket = TokenBucket::new(limits.rate_per_sec, limits.burst, Instant::now());
    loop {
        let frame = tokio::select! {
            _ = shutdown.recv() => break,
            frame = read_frame(&mut reader, frame_limit, frame_budget, limits) => frame,
        };
        let (response, keep_open, _answer_budget) = match frame {
            Err(FrameError::Closed) => break,
            Err(FrameError::TooSlow(len)) => {
                tracing::debug!(%peer_addr, len, "frame body too slow; dropping the connection");
                break;
            }
            Err(FrameError::TooLarge(len)) => {
                tracing::debug!(%peer_addr, len, "frame over the limit");
                let error = ErrorResponse::new(ErrorCode::TooLarge, "message too large");
                (error_frame(&ctx.dir, None, error), false, None)
            }
            Ok(frame) => answer(&ctx, presented.as_ref(), source, &mut bucket, frame).await,
        };
        // A large answer gets the time its length needs at the minimum rate.
        let write_time = limits.idle.max(limits.frame_deadline(response.len()));
        let written = timeout(write_time, async {
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
    budget: Option<OwnedSemaphorePermit>,
}

/// Reads one frame: the header within the idle time, then the body within
/// `limits.frame_deadline(len)`. A body over 64 KiB is read in steps of
/// 1 MiB: each step's share of the budget is taken only once its first
/// bytes are there (an announced length reserves nothing), and each step
/// must arrive within the deadline of its own size, so a body that stalls
/// holds at most one step, and not for long.
async fn read_frame<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limit: usize,
    large_frames: &Arc<Semaphore>,
    limits: &Limits,
) -> Result<Frame, FrameError> {
    let mut header = [0u8; HEADER_BYTES];
    match timeout(limits.idle, reader.read_exact(&mut header)).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) | Err(_) => return Err(FrameError::Closed),
    }
    let len = irp::frame_len(header, limit)
        .map_err(|_| FrameError::TooLarge(u32::from_be_bytes(header) as usize))?;
    let deadline = tokio::time::Instant::now() + limits.frame_deadline(len);
    let too_slow = |_| FrameError::TooSlow(len);
    if len <= BUDGETED_FRAME_BYTES {
        let mut bytes = vec![0u8; len];
        timeout_at(deadline, reader.read_exact(&mut bytes))
            .await
            .map_err(too_slow)?
            .map_err(closed)?;
        return Ok(Frame {
            bytes,
            budget: None,
        });
    }
    let mut bytes: Vec<u8> = Vec::new();
    let mut budget: Option<OwnedSemaphorePermit> = None;
    while bytes.len() < len {
        let start = bytes.len();
        let step = (len - start).min(BUDGET_STEP_BYTES);
        let step_deadline =
            (tokio::time::Instant::now() + limits.frame_deadline(step)).min(deadline);
        let permit = timeout_at(step_deadline, async {
            // Wait for bytes before reserving memory for them.
            if reader.fill_buf().await.map_err(closed)?.is_empty() {
                return Err(FrameError::Closed);
            }
            let kib = u32::try_from(step.div_ceil(KIB)).map_err(|_| FrameError::TooLarge(len))?;
            let permit = Arc::clone(large_frames)
                .acquire_many_owned(kib)
                .await
                .map_err(closed)?;
            if bytes.capacity() < start + step {
                // Double as it fills (amortised copying), never past the frame.
                let target = (bytes.capacity() * 2).clamp(start + step, len);
                bytes.reserve_exact(target - start);
            }
            bytes.resize(start + step, 0);
            reader
                .read_exact(&mut bytes[start..])
                .await
                .map_err(closed)?;
            Ok(permit)
        })
        .await
        .map_err(too_slow)??;
        match &mut budget {
            Some(held) => held.merge(permit),
            None => budget = Some(permit),
        }
    }
    Ok(Frame { bytes, budget })
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(closed)`
fn closed<E>(_: E) -> FrameError {
    FrameError::Closed
}

/// What a frame parsed into: the request, or the refusal and the header to
/// answer it under.
type Parsed = Result<(Header, Request), (Header, IrpError)>;

/// The response frame to one request frame, and whether the connection
/// stays open. The frame is parsed once; a frame over 64 KiB on the
/// blocking pool, within `limits.parse_deadline` (a frame that takes longer
/// is answered 1103 and the connection closed; the parse finishes on its
/// own thread, still holding the frame's budget).
#[allow(clippy::too_many_lines)] // one request's checks in the order irp.md gives them, then its handler
async fn answer(
    ctx: &ConnContext,
    presented: Option<&Presented>,
    source: Source,
    bucket: &mut TokenBucket,
    frame: Frame,
) -> (Vec<u8>, bool, Option<OwnedSemaphorePermit>) {
    let dir = &*ctx.dir;
    let len = frame.bytes.len();
    let (parsed, _budget): (Parsed, _) = if len > BUDGETED_FRAME_BYTES {
        let Ok(parsing) = Arc::clone(&ctx.parses).acquire_owned().await else {
            return (Vec::new(), false, None);
        };
        let job = tokio::task::spawn_blocking(move || {
            let _parsing = parsing;
            let Frame { bytes, budget } = frame;
            (Request::parse_answerable(&bytes), budget)
        });
        match timeout(dir.limits.parse_deadline, job).await {
            Ok(Ok(parsed)) => parsed,
            Ok(Err(_)) => {
                let error = ErrorResponse::new(
                    ErrorCode::Internal,
                    "internal server error, request not performed",
                );
                return (error_frame(dir, None, error), false, None);
            }
            Err(_) => {
                tracing::warn!(
                    len,
                    "a frame took too long to parse; closing its connection"
                );
                let error =
                    ErrorResponse::new(ErrorCode::UnknownRequest, "request took too long to read");
                return (error_frame(dir, None, error), false, None);
            }
        }
    } else {
        (Request::parse_answerable(&frame.bytes), frame.budget)
    };
    if let Err(wait) = bucket.try_take(Instant::now()) {
        let (Ok((header, _)) | Err((header, _))) = &parsed;
        return (
            error_frame(dir, Some(header), rate_limited(wait)),
            true,
            None,
        );
    }
    let (header, request) = match parsed {
        Ok(parsed) => parsed,
        Err((header, e)) => {
            let description: String = e.to_string().chars().take(200).collect();
            let error = ErrorResponse::new(e.code(), description);
            return (error_frame(dir, Some(&header), error), true, None);
        }
    };
    if len > MAX_FRAME_BYTES && !matches!(request, Request::StorePut { .. }) {
        let error = ErrorResponse::new(ErrorCode::TooLarge, "message too large");
        return (error_frame(dir, Some(&header), error), true, None);
    }
    let response = handlers::handle(dir, presented, source, &header, request).await;
    let weight = weight(&response);
    if weight <= BUDGETED_FRAME_BYTES {
        return (encode(dir, &header, response).await, true, None);
    }
    // The rows are already in memory; their base64 and frame are made only
    // with a share of the budget, held until the answer has been sent.
    let kib = (weight.saturating_mul(ANSWER_MEMORY_FACTOR) / KIB)
        .min(ctx.budget_kib)
        .max(1);
    let budget = match u32::try_from(kib) {
        Ok(kib) => timeout(
            ANSWER_BUDGET_WAIT,
            Arc::clone(&ctx.large_frames).acquire_many_owned(kib),
        )
        .await
        .ok()
        .and_then(Result::ok),
        Err(_) => None,
    };
    let Some(budget) = budget else {
        drop(response);
        return (
            error_frame(dir, Some(&header), rate_limited(ANSWER_BUDGET_WAIT)),
            true,
            None,
        );
    };
    (encode(dir, &header, response).await, true, Some(budget))
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

/// Bytes of data a response carries (envelopes are the only large part).
fn weight(response: &Response) -> usize {
    match response {
        Response::StoreFetch { envelopes, .. } => envelopes.iter().map(|e| e.data.len()).sum(),
        _ => 0,
    }
}

/// The response's frame; a large one is written on the blocking pool.
async fn encode(dir: &Dir, request: &Header, response: Response) -> Vec<u8> {
    let header = reply_header(dir, Some(request));
    let body = if weight(&response) > BUDGETED_FRAME_BYTES {
        tokio::task::spawn_blocking(move || response.to_xml(&header))
            .await
            .unwrap_or_default()
    } else {
        response.to_xml(&header)
    };
    match irp::encode_frame(&body) {
        Ok(frame) if !body.is_empty() => frame,
        Ok(_) | Err(_) => {
            tracing::error!(
                len = body.len(),
                "response over the frame limit or not written"
            );
            let error = ErrorResponse::new(
                ErrorCode::Internal,
                "internal server error, request not performed",
            );
            error_frame(dir, Some(request), error)
        }
    }
}
