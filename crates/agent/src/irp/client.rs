//! One TLS connection to a DIR, carrying requests one at a time.

use std::sync::Arc;
use std::time::Duration;

use sixchat_pki::cert::CertInfo;
use sixchat_proto::irp::{
    self, ErrorResponse, Header, IrpError, MAX_STORE_FRAME_BYTES, Request, Response,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::tls::{self, ClientAuth, DirTrust};

/// Longest wait for the TCP connection and the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the request to go out and each response's header (and
/// for a body, unless its length needs longer at [`MIN_BODY_RATE`]).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes per second a long answer's body must at least average.
const MIN_BODY_RATE: usize = 64 << 10;

/// Why a call to the DIR failed.
#[derive(Debug, thiserror::Error)]
pub enum IrpClientError {
    #[error("cannot reach the DIR at {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("TLS with the DIR failed: {0}")]
    Tls(String),
    #[error("the DIR connection broke: {0}")]
    Io(#[from] std::io::Error),
    #[error("the DIR did not answer in time")]
    Timeout,
    #[error("the DIR sent a malformed answer: {0}")]
    Protocol(#[from] IrpError),
    #[error("the DIR answered {got} to {request}")]
    Unexpected {
        request: &'static str,
        got: &'static str,
    },
    #[error("the DIR refused: {0}")]
    Refused(ErrorResponse),
}

impl IrpClientError {
    /// The DIR's refusal, if that is what this is.
    pub fn refusal(&self) -> Option<&ErrorResponse> {
        match self {
            Self::Refused(error) => Some(error),
            _ => None,
        }
    }
}

/// A connection to a DIR.
pub struct IrpClient {
    stream: TlsStream<TcpStream>,
    sender: Option<String>,
    domain: Option<String>,
    next_id: u64,
}

impl std::fmt::Debug for IrpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IrpClient")
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

impl IrpClient {
    /// Connects to the DIR at `dir_address` (`host:port`) whose root is
    /// `root_der`, authenticating with `auth` if given.
    pub async fn connect(
        dir_address: &str,
        root_der: &[u8],
        auth: Option<ClientAuth>,
    ) -> Result<Self, IrpClientError> {
        Self::connect_with(dir_address, DirTrust::Root(root_der), auth).await
    }

    /// Connects trusting whatever root has the given fingerprint (enrolment
    /// and restore, before the root itself is known).
    pub async fn connect_with(
        dir_address: &str,
        trust: DirTrust<'_>,
        auth: Option<ClientAuth>,
    ) -> Result<Self, IrpClientError> {
        let config = tls::client_config(trust, auth.as_ref())
            .map_err(|e| IrpClientError::Tls(e.to_string()))?;
        let host = irp::invite::host_of(dir_address);
        let server_name = tls::server_name(host).map_err(|e| IrpClientError::Tls(e.to_string()))?;
        let connect = async {
            let tcp = TcpStream::connect(dir_address).await.map_err(|source| {
                IrpClientError::Connect {
                    address: dir_address.to_owned(),
                    source,
                }
            })?;
            tcp.set_nodelay(true)?;
            TlsConnector::from(Arc::new(config))
                .connect(server_name, tcp)
                .await
                .map_err(|e| IrpClientError::Tls(e.to_string()))
        };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| IrpClientError::Timeout)??;
        let sender = auth
            .as_ref()
            .and_then(|a| a.chain.first())
            .and_then(|leaf| CertInfo::parse(leaf).ok())
            .map(|info| info.user_id.to_string());
        let domain = sender
            .as_deref()
            .and_then(|s| s.split_once('@'))
            .map(|(_, domain)| domain.to_owned());
        Ok(Self {
            stream,
            sender,
            domain,
            next_id: 1,
        })
    }

    /// Sends `request` and waits for its response. An `error_response`
    /// becomes [`IrpClientError::Refused`].
    pub async fn call(&mut self, request: &Request) -> Result<Response, IrpClientError> {
        let id = self.next_id.to_string();
        self.next_id += 1;
        let (sender, domain) = match request {
            Request::Enroll { user_id, .. } | Request::BackupGet { user_id, .. } => (
                Some(user_id.as_str().to_owned()),
                Some(user_id.domain().to_owned()),
            ),
            _ => (self.sender.clone(), self.domain.clone()),
        };
        let header = Header {
            sender,
            recipient: domain,
            id: id.clone(),
        };
        let frame = irp::encode_frame(&request.to_xml(&header))?;
        // The request and each answer's header within CALL_TIMEOUT; a long
        // answer's body gets the time its length needs at 64 KiB/s (a 48 MiB
        // envelope over a slow link is not cut off, and so never stuck).
        let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
        let timed_out = |_| IrpClientError::Timeout;
        tokio::time::timeout_at(deadline, async {
            self.stream.write_all(&frame).await?;
            self.stream.flush().await
        })
        .await
        .map_err(timed_out)??;
        let response = loop {
            let mut head = [0u8; irp::HEADER_BYTES];
            tokio::time::timeout_at(deadline, self.stream.read_exact(&mut head))
                .await
                .map_err(timed_out)??;
            let len = irp::frame_len(head, MAX_STORE_FRAME_BYTES)?;
            let body_time = CALL_TIMEOUT.max(Duration::from_secs((len / MIN_BODY_RATE) as u64));
            let mut body = vec![0u8; len];
            tokio::time::timeout(body_time, self.stream.read_exact(&mut body))
                .await
                .map_err(timed_out)??;
            let (reply_header, response) = Response::parse(&body)?;
            // A response to an earlier, abandoned request is skipped.
            if reply_header.id == id || matches!(response, Response::Error(_)) {
                break response;
            }
        };
        match response {
            Response::Error(error) => Err(IrpClientError::Refused(error)),
            other => Ok(other),
        }
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = self.stream.shutdown().await;
    }
}

/// Checks that `response` is of the kind `request` expects.
pub(crate) fn unexpected(request: &Request, response: &Response) -> IrpClientError {
    IrpClientError::Unexpected {
        request: request.type_name(),
        got: response.type_name(),
    }
}
