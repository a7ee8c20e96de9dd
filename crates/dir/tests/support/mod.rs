//! A real `sixchat-dir` for whole-system tests: `init` and the other admin
//! commands as child processes, `serve` on a loopback port chosen by the OS
//! (read from its `listening on` line), stopped by its own PID; and agents
//! made of an RSA key, a certificate and the agent's `IrpClient`.

#![allow(dead_code)] // each test file uses a part

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sixchat_agent::irp::{ClientAuth, IrpClient, IrpClientError};
use sixchat_pki::IdentityKey;
use sixchat_pki::cert::{certificate_from_pem_or_der, csr_for};
use sixchat_proto::irp::{ErrorCode, ErrorResponse, Invite, Request, Response};
use sixchat_proto::{Fingerprint, UserId};

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
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut served = Served {
            child,
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
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Served {
    pub fn pid(&self) -> u32 {
        self.child.id()
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
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("sixchat-dir did not stop within 20 s of SIGTERM");
    }

    /// SIGKILL by PID, at once.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    let Response::Enroll { chain, root_der } = response else {
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
