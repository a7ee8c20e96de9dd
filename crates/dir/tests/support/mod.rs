//! A real `sixchat-dir` for whole-system tests: `init` and the other admin
//! commands as child processes, `serve` on a loopback port chosen by the OS
//! (read from its `listening on` line), stopped by its own PID; and agents
//! made of an RSA key, a certificate and the agent's `IrpClient`.

#![allow(dead_code)] // each test file uses a part

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sixchat_agent::irp::{ClientAuth, IrpClient, IrpClientError};
use sixchat_pki::IdentityKey;
use sixchat_pki::cert::{certificate_from_pem_or_der, csr_for};
use sixchat_proto::irp::Header;
use sixchat_proto::irp::{ErrorCode, ErrorResponse, Invite, Request, Response};
use sixchat_proto::{Fingerprint, UserId};
use sixchat_testkit::{ChildGuard, line_reader};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use tokio_rustls::rustls::{self, RootCertStore};

pub const PASSPHRASE: &str = "test root passphrase";
const WAIT: Duration = Duration::from_secs(60);

/// A data folder made by `sixchat-dir init`.
pub struct TestDir {
    tmp: tempfile::TempDir,
    pub root_der: Vec<u8>,
}

impl TestDir {
    /// `init --domain example.org --address 127.0.0.1:4604` plus `extra`.
    pub fn init(extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut this = Self {
            tmp,
            root_der: Vec::new(),
        };
        let mut args = vec![
            "init",
            "--domain",
            "example.org",
            "--address",
            "127.0.0.1:4604",
        ];
        args.extend_from_slice(extra);
        this.admin_ok(&args);
        let pem = std::fs::read(this.data().join("root.pem")).expect("root.pem");
        this.root_der = certificate_from_pem_or_der(&pem).expect("root certificate");
        this
    }

    pub fn data(&self) -> PathBuf {
        self.tmp.path().join("dir")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sixchat-dir"));
        command
            .arg("--data")
            .arg(self.data())
            .env("SIXCHAT_DIR_PASSPHRASE", PASSPHRASE)
            .env("RUST_LOG", "warn");
        command
    }

    pub fn admin(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("sixchat-dir runs")
    }

    pub fn admin_ok(&self, args: &[&str]) -> String {
        let out = self.admin(args);
        assert!(
            out.status.success(),
            "sixchat-dir {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// `invite USER --name NAME` plus `extra`; the printed invite.
    pub fn invite(&self, user_id: &str, extra: &[&str]) -> Invite {
        let mut args = vec!["invite", user_id, "--name", "Test User"];
        args.extend_from_slice(extra);
        let out = self.admin_ok(&args);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "invite prints exactly one line: {out:?}");
        let invite = Invite::parse(lines[0]).expect("a valid invite");
        assert_eq!(invite.root_fingerprint, Fingerprint::of_der(&self.root_der));
        invite
    }

    /// `serve --listen 127.0.0.1:0` plus `extra`, once it listens.
    pub fn serve(&self, extra: &[&str]) -> Served {
        let mut command = self.command();
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("sixchat-dir serve starts");
        let rx = line_reader(child.stdout.take().expect("piped stdout"));
        let mut served = Served {
            child: ChildGuard(child),
            addr: String::new(),
        };
        let line = rx.recv_timeout(WAIT).expect("serve prints `listening on`");
        line.strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .clone_into(&mut served.addr);
        served
    }
}

/// A running `sixchat-dir serve`.
pub struct Served {
    child: ChildGuard,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Served {
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// The server's resident memory (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("/proc/PID/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("HOST:PORT")
    }

    /// SIGTERM by PID, then the exit status (within 20 s).
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.0.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("sixchat-dir did not stop within 20 s of SIGTERM");
    }

    /// SIGKILL by PID, at once.
    pub fn kill9(mut self) {
        self.child.0.kill().expect("SIGKILL");
        self.child.0.wait().expect("reaped");
    }
}

/// An agent's identity.
pub struct Agent {
    pub user_id: UserId,
    pub key: Arc<IdentityKey>,
    pub chain: Vec<Vec<u8>>,
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_secs()).expect("seconds fit i64")
}

pub fn new_key() -> Arc<IdentityKey> {
    Arc::new(IdentityKey::generate(2048).expect("key"))
}

pub fn user(text: &str) -> UserId {
    UserId::parse(text).expect("UserID")
}

pub async fn anonymous(served: &Served, dir: &TestDir) -> IrpClient {
    IrpClient::connect(&served.addr, &dir.root_der, None)
        .await
        .expect("TLS to the DIR")
}

pub async fn as_agent(served: &Served, dir: &TestDir, agent: &Agent) -> IrpClient {
    let auth = ClientAuth {
        chain: agent.chain.clone(),
        key: Arc::clone(&agent.key),
    };
    IrpClient::connect(&served.addr, &dir.root_der, Some(auth))
        .await
        .expect("TLS to the DIR with a client certificate")
}

/// `enroll` for `csr_user` with `key`, using `invite`'s secret and UserID.
pub async fn enroll_request(
    client: &mut IrpClient,
    invite: &Invite,
    key: &IdentityKey,
    csr_user: &UserId,
) -> Result<Response, IrpClientError> {
    let csr_der = csr_for(key, csr_user, "Test User").expect("CSR");
    client
        .call(&Request::Enroll {
            user_id: invite.user_id.clone(),
            secret: invite.secret.clone(),
            csr_der,
            encryption_csr_der: None,
        })
        .await
}

/// Enrolls with a fresh key; panics unless the DIR issues.
pub async fn enroll(served: &Served, dir: &TestDir, invite: &Invite) -> Agent {
    let key = new_key();
    let mut client = anonymous(served, dir).await;
    let response = enroll_request(&mut client, invite, &key, &invite.user_id)
        .await
        .expect("enrollment succeeds");
    let Response::Enroll {
        chain, root_der, ..
    } = response
    else {
        panic!("not an enroll_response: {response:?}");
    };
    assert_eq!(root_der, dir.root_der);
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[1], dir.root_der);
    Agent {
        user_id: invite.user_id.clone(),
        key,
        chain,
    }
}

/// The refusal of a call that must be refused with `code`.
pub fn refused(result: Result<Response, IrpClientError>, code: ErrorCode) -> ErrorResponse {
    match result {
        Err(IrpClientError::Refused(error)) => {
            assert_eq!(error.code, code, "{error}");
            error
        }
        other => panic!("expected refusal {code:?}, got {other:?}"),
    }
}

/// How long a raw client waits for an answer or a close.
pub const ANSWER: Duration = Duration::from_secs(15);

/// A TCP connection to the server from `source` (a loopback address such
/// as 127.0.0.2: the socket is bound to it before it connects).
pub async fn tcp_from(source: std::net::IpAddr, served: &Served) -> std::io::Result<TcpStream> {
    let socket = if source.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(std::net::SocketAddr::new(source, 0))?;
    let server = std::net::SocketAddr::new("127.0.0.1".parse().expect("IP"), served.port());
    socket.connect(server).await
}

/// A raw TLS client: frames in and out byte by byte (no IRP client to tidy
/// things up), from any loopback source, with or without a certificate.
pub struct Raw {
    pub stream: TlsStream<TcpStream>,
}

impl Raw {
    /// From 127.0.0.1, without a certificate.
    pub async fn connect(served: &Served, dir: &TestDir) -> std::io::Result<Self> {
        Self::connect_from("127.0.0.1".parse().expect("IP"), served, dir, None).await
    }

    /// From `source`, presenting `agent`'s certificate if given.
    pub async fn connect_from(
        source: std::net::IpAddr,
        served: &Served,
        dir: &TestDir,
        agent: Option<&Agent>,
    ) -> std::io::Result<Self> {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(dir.root_der.clone()))
            .expect("root");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_root_certificates(roots);
        let config = match agent {
            None => builder.with_no_client_auth(),
            Some(agent) => {
                let chain = agent
                    .chain
                    .iter()
                    .map(|der| CertificateDer::from(der.clone()))
                    .collect();
                let key =
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(agent.key.pkcs8_der().to_vec()));
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("client certificate")
            }
        };
        let tcp = tcp_from(source, served).await?;
        let name = ServerName::try_from("127.0.0.1").expect("IP name");
        let stream = tokio::time::timeout(
            ANSWER,
            TlsConnector::from(Arc::new(config)).connect(name, tcp),
        )
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))??;
        Ok(Self { stream })
    }

    /// Sends one frame.
    pub async fn send(&mut self, body: &[u8]) {
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        self.stream.write_all(&len).await.expect("write");
        self.stream.write_all(body).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// The next response, or `None` once the server closed the connection.
    pub async fn recv(&mut self) -> Option<(Header, Response)> {
        let read = async {
            let mut head = [0u8; 4];
            self.stream.read_exact(&mut head).await.ok()?;
            let mut body = vec![0u8; u32::from_be_bytes(head) as usize];
            self.stream.read_exact(&mut body).await.ok()?;
            Some(Response::parse(&body).expect("the DIR writes valid IRP"))
        };
        tokio::time::timeout(ANSWER, read)
            .await
            .expect("an answer or a close in time")
    }

    /// Sends `request` (from `sender`, to example.org) and reads its answer.
    pub async fn call(&mut self, sender: Option<&UserId>, request: &Request, id: &str) -> Response {
        let header = Header::new(sender.map(UserId::as_str), Some("example.org"), id);
        self.send(&request.to_xml(&header)).await;
        let (header, response) = self.recv().await.expect("an answer");
        assert_eq!(header.id, id, "the answer echoes the id");
        response
    }

    /// The code of the `error_response` to `body`, with the id it echoes.
    pub async fn error_for(&mut self, body: &[u8]) -> (String, ErrorCode) {
        self.send(body).await;
        match self.recv().await {
            Some((header, Response::Error(error))) => (header.id, error.code),
            other => panic!("expected an error_response, got {other:?}"),
        }
    }
}

/// `127.0.0.N`.
pub fn loopback(n: u8) -> std::net::IpAddr {
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, n))
}
