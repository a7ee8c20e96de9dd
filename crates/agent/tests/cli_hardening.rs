//! sixchat-cli against hostile input (issue 9, items 7 and 9c), with the real
//! binary as a child process:
//!
//! - `run` meets a caller whose certificate's email address holds a newline
//!   and ESC, and a pinned peer whose name, chats and error reasons hold
//!   newlines, ESC and bidi controls: no line of its stdout or stderr holds a
//!   raw control, no forged line appears, a chat with ESC is refused with
//!   `error` and not stored;
//! - `chat` refuses such text before anything is queued;
//! - `enroll` takes the invite on standard input or from a file.

#[path = "support/procs.rs"]
mod procs;

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use sixchat_agent::{Agent, AgentEvent, AgentOptions, Store, UnlockedIdentity};
use sixchat_pki::cert::{self, CertInfo};
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::trust::TrustStore;
use sixchat_proto::{AppMessage, Fingerprint, UserId};

use procs::{sixchat_cli as cli, text};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pki/tests/fixtures/keys");
const WAIT: Duration = Duration::from_secs(30);
/// What an attacker would like a person to read as a chat from Bob.
const FORGED: &str = "chat bob@example.org 00000000-0000-4000-8000-000000000001 2026-01-01T00:00:00Z: new account for the transfer: DE00 1234";

fn ok(data: &Path, profile: &str, args: &[&str]) -> String {
    let out = cli(data, profile).args(args).output().expect("runs");
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn uid(text: &str) -> UserId {
    UserId::parse(text).expect("UserID")
}

fn fixture_key(name: &str) -> (IdentityKey, Vec<u8>) {
    let pkcs8 = std::fs::read(format!("{FIXTURES}/{name}.pk8")).expect("fixture key");
    (IdentityKey::from_pkcs8_der(&pkcs8).expect("key"), pkcs8)
}

/// A self-signed identity certificate with whatever email address and CN
/// its maker chose (an rfc822Name is an IA5String: newline and ESC fit).
fn hostile_certificate(pkcs8: &[u8], email: &str, common_name: &str) -> Vec<u8> {
    let key_pair = rcgen::KeyPair::try_from(pkcs8).expect("rcgen reads the key");
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.subject_alt_names = vec![rcgen::SanType::Rfc822Name(
        email.try_into().expect("ASCII is IA5"),
    )];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(30);
    params
        .self_signed(&key_pair)
        .expect("self-signed")
        .der()
        .to_vec()
}

/// An agent library peer that trusts Alice's pinned certificate.
fn peer_agent(
    dir: &Path,
    identity: UnlockedIdentity,
    alice_fp: Fingerprint,
) -> (Agent, tokio::sync::mpsc::Receiver<AgentEvent>) {
    let mut trust = TrustStore::new();
    trust.pin(uid("alice@a.example"), alice_fp);
    let store = Store::open(&dir.join(format!("{}.db", identity.info.user_id.local_part())))
        .expect("store");
    Agent::new(identity, store, Arc::new(trust), AgentOptions::default())
}

/// `sixchat-cli run` with stdout and stderr read line by line (as bytes, so
/// that nothing is lost to UTF-8 decoding).
struct Running {
    child: Child,
    lines: mpsc::Receiver<(&'static str, String)>,
    seen: Vec<(&'static str, String)>,
}

impl Running {
    fn start(data: &Path, profile: &str, port: u16) -> Self {
        let mut child = cli(data, profile)
            .env("SIXCHAT_LOG", "info")
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run starts");
        let (tx, lines) = mpsc::channel();
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("piped"));
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("piped"));
        for (name, stream) in [("stdout", stdout), ("stderr", stderr)] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).split(b'\n').map_while(Result::ok) {
                    let line = String::from_utf8_lossy(&line).into_owned();
                    if tx.send((name, line)).is_err() {
                        break;
                    }
                }
            });
        }
        let mut running = Self {
            child,
            lines,
            seen: Vec::new(),
        };
        running.wait_for("listening on");
        running
    }

    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some((_, line)) = self
                .seen
                .iter()
                .find(|(stream, l)| *stream == "stdout" && l.contains(needle))
            {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("run never printed {needle:?}; it printed {:#?}", self.seen)
                }
            }
        }
    }

    /// SIGTERM by PID, then every line it wrote.
    fn stop(mut self) -> Vec<(&'static str, String)> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// No raw control and no line that a peer started.
fn assert_clean(lines: &[(&str, String)]) {
    for (stream, line) in lines {
        assert!(
            !line.chars().any(sixchat_proto::text::needs_escape),
            "{stream} has a raw control: {line:?}"
        );
        assert!(
            !line.starts_with("chat bob@example.org"),
            "{stream} has a forged line: {line:?}"
        );
        if let Some(chat) = line.strip_prefix("chat ") {
            assert!(chat.starts_with("eve@e.example "), "{stream}: {line:?}");
        }
    }
}

async fn next_event(
    events: &mut tokio::sync::mpsc::Receiver<AgentEvent>,
    what: &str,
    matches: impl Fn(&AgentEvent) -> bool,
) -> AgentEvent {
    tokio::time::timeout(WAIT, async {
        while let Some(event) = events.recv().await {
            if matches(&event) {
                return event;
            }
        }
        panic!("the events ended before {what}")
    })
    .await
    .unwrap_or_else(|_| panic!("no {what}"))
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario against one running agent, each hostile input followed by its check
fn run_prints_peer_text_escaped_and_never_a_forged_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("profiles");
    ok(
        &data,
        "alice",
        &[
            "id",
            "new",
            "--user",
            "alice@a.example",
            "--name",
            "Alice A",
        ],
    );
    let shown: serde_json::Value =
        serde_json::from_str(ok(&data, "alice", &["--json", "id", "show"]).trim()).expect("json");
    let alice_fp = Fingerprint::parse_hex(shown["fingerprint"].as_str().expect("fp")).expect("fp");

    // Mallory: an honest-looking User_Info, and a certificate whose email
    // address carries a forged line and terminal controls.
    let (mallory_key, mallory_pkcs8) = fixture_key("rsa2048-c");
    let mallory_info = CertInfo::parse(
        &cert::self_signed_identity(&mallory_key, &uid("mallory@m.example"), "Mallory", 30)
            .expect("cert"),
    )
    .expect("info");
    let mallory_cert = hostile_certificate(
        &mallory_pkcs8,
        &format!("mallory@m.example\n{FORGED}\x1b[2K\x1b]0;pwned\x07"),
        "Mallory",
    );
    // Eve: pinned by Alice, with a name that carries a forged line.
    let (eve_key, eve_pkcs8) = fixture_key("rsa2048-d");
    let eve_cert = hostile_certificate(&eve_pkcs8, "eve@e.example", &format!("Eve\n{FORGED}"));
    let eve_info = CertInfo::parse(&eve_cert).expect("Eve's certificate reads");
    ok(
        &data,
        "alice",
        &[
            "trust",
            "pin",
            "eve@e.example",
            &Fingerprint::of_der(&eve_cert).to_hex(),
        ],
    );

    let port = procs::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut alice = Running::start(&data, "alice", port);
    let alice_uid = uid("alice@a.example");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let (mallory, _mallory_events) = rt.block_on(async {
        peer_agent(
            tmp.path(),
            UnlockedIdentity {
                key: mallory_key,
                chain: vec![mallory_cert],
                info: mallory_info,
                encryption: Vec::new(),
            },
            alice_fp,
        )
    });
    let refused = rt.block_on(mallory.connect(&alice_uid, &addr));
    assert!(refused.is_err(), "Alice must refuse Mallory's certificate");
    let line = alice.wait_for("handshake from");
    assert!(
        line.starts_with("handshake from 127.0.0.1:") && line.contains("not authenticated"),
        "{line}"
    );
    if line.contains("pwned") {
        assert!(
            line.contains(&format!("\\n{FORGED}\\u{{1b}}[2K\\u{{1b}}]0;pwned\\u{{7}}")),
            "the claimed address is shown escaped: {line}"
        );
    }

    let (eve, mut eve_events) = rt.block_on(async {
        peer_agent(
            tmp.path(),
            UnlockedIdentity {
                key: eve_key,
                chain: vec![eve_cert],
                info: eve_info,
                encryption: Vec::new(),
            },
            alice_fp,
        )
    });
    let newline_chat = format!("hello\n{FORGED}");
    let esc_chat_id = "00000000-0000-4000-8000-0000000000e5";
    rt.block_on(async {
        eve.queue_chat(&alice_uid, &newline_chat)
            .expect("a newline is text");
        assert!(
            eve.queue_chat(&alice_uid, "pay now\x1b[2K").is_err(),
            "our own outbox refuses ESC"
        );
        let handle = eve.connect(&alice_uid, &addr).await.expect("Eve is pinned");
        next_event(&mut eve_events, "the receipt", |e| {
            matches!(e, AgentEvent::Delivered { .. })
        })
        .await;
        // What our agent would never send, sent raw: ESC in a body, a newline in
        // <sent>, a bidi override (allowed, shown escaped), an error with controls.
        for message in [
            AppMessage::Chat {
                id: esc_chat_id.into(),
                sent: "2026-01-01T00:00:00Z".into(),
                body: format!("x\x1b[2K\r{FORGED}"),
            },
            AppMessage::Chat {
                id: "00000000-0000-4000-8000-0000000000e6".into(),
                sent: format!("2026-01-01T00:00:00Z\n{FORGED}"),
                body: "hi".into(),
            },
            AppMessage::Chat {
                id: "00000000-0000-4000-8000-0000000000e7".into(),
                sent: "2026-01-01T00:00:00Z".into(),
                body: "invoice_\u{202e}fdp.exe".into(),
            },
            AppMessage::Error {
                id: "00000000-0000-4000-8000-0000000000e8".into(),
                reference: "ref\nx".into(),
                reason: format!("boom\n{FORGED}\x1b[2K"),
            },
        ] {
            assert!(eve.send_live(&alice_uid, message).await, "session is live");
        }
        // Each refused chat is answered with `error` naming it, as any malformed message.
        for (id, reason) in [
            (esc_chat_id, "invalid <body>"),
            ("00000000-0000-4000-8000-0000000000e6", "invalid <sent>"),
        ] {
            let event = next_event(
                &mut eve_events,
                reason,
                |e| matches!(e, AgentEvent::PeerError { reason: r, .. } if r.starts_with(reason)),
            )
            .await;
            assert!(
                matches!(&event, AgentEvent::PeerError { reference, .. } if reference == id),
                "{event:?}"
            );
        }
        // Alice read everything before the error message, sent last.
        handle.close().await;
    });
    alice.wait_for("error from eve@e.example");
    let lines = alice.stop();
    assert_clean(&lines);
    let stdout: Vec<&str> = lines
        .iter()
        .filter(|(s, _)| *s == "stdout")
        .map(|(_, l)| l.as_str())
        .collect();
    let escaped_forgery = format!("\\n{FORGED}");
    let session = stdout
        .iter()
        .find(|l| l.starts_with("session eve@e.example "))
        .expect("session line");
    assert!(
        session.starts_with(&format!(
            "session eve@e.example (Eve{escaped_forgery}) trust=known"
        )),
        "{session}"
    );
    let chats: Vec<&&str> = stdout.iter().filter(|l| l.starts_with("chat ")).collect();
    assert_eq!(
        chats.len(),
        2,
        "the ESC and <sent> chats were refused: {chats:#?}"
    );
    assert!(
        chats[0].ends_with(&format!(": hello{escaped_forgery}")),
        "{}",
        chats[0]
    );
    assert!(
        chats[1].ends_with(": invoice_\\u{202e}fdp.exe"),
        "{}",
        chats[1]
    );
    let error = stdout
        .iter()
        .find(|l| l.starts_with("error from eve@e.example"))
        .expect("error line");
    assert_eq!(
        *error,
        format!("error from eve@e.example about ref\\nx: boom{escaped_forgery}\\u{{1b}}[2K")
    );

    // The store kept the two chats it accepted, and `history` shows them on one line each.
    let history = ok(&data, "alice", &["history", "eve@e.example"]);
    let rows: Vec<&str> = history.lines().collect();
    assert_eq!(rows.len(), 2, "{history}");
    assert_eq!(rows[0].split('\t').count(), 5, "{}", rows[0]);
    assert!(
        rows[0].ends_with(&format!("\thello{escaped_forgery}")),
        "{}",
        rows[0]
    );
    assert!(!history.contains(esc_chat_id) && !history.contains('\u{1b}'));
    // JSON keeps the exact text, escaped the JSON way.
    let json = ok(&data, "alice", &["--json", "history", "eve@e.example"]);
    let first: serde_json::Value =
        serde_json::from_str(json.lines().next().expect("a row")).expect("json");
    assert_eq!(first["body"], newline_chat.as_str());
    assert!(
        !json
            .chars()
            .any(|c| c != '\n' && sixchat_proto::text::needs_escape(c))
    );
}

#[test]
fn chat_refuses_control_characters_before_anything_is_queued() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path();
    ok(
        data,
        "bob",
        &["id", "new", "--user", "bob@b.example", "--name", "Bob B"],
    );
    let nobody = format!("127.0.0.1:{}", procs::free_port());
    let out = cli(data, "bob")
        .args([
            "chat",
            "alice@a.example",
            "--addr",
            &nobody,
            "pay\x1b[2K now",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not sent: the text contains the control character U+001B"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'));
    assert_eq!(ok(data, "bob", &["history", "alice@a.example"]), "");

    // From standard input: the lines before a bad one go out, the bad one and the rest do not.
    let mut child = cli(data, "bob")
        .args(["chat", "alice@a.example", "--addr", &nobody, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chat starts");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(b"one\r\ntwo\rcarriage\nthree\n")
        .expect("write");
    let out = child.wait_with_output().expect("chat ends");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2 of the input: not sent"),
        "{}",
        text(&out)
    );
    let history = ok(data, "bob", &["history", "alice@a.example"]);
    let bodies: Vec<&str> = history
        .lines()
        .map(|l| l.rsplit('\t').next().unwrap_or_default())
        .collect();
    assert_eq!(bodies, ["one"], "{history}");
}

#[test]
fn enroll_takes_the_invite_on_standard_input_or_from_a_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir_data = tmp.path().join("dir");
    let profiles = tmp.path().join("profiles");
    let port = procs::free_port();
    let address = format!("127.0.0.1:{port}");
    let dir_admin = procs::Dir::new(procs::sixchat_dir_bin(), &dir_data, "root passphrase");
    dir_admin.init("example.org", &address);
    let alice_invite = dir_admin.invite("alice@example.org", "Alice");
    let bob_invite = dir_admin.invite("bob@example.org", "Bob");
    let mut dir = dir_admin.serve(&address, &[], WAIT);

    // `enroll -`: the invite comes through a pipe, not the command line.
    let mut child = cli(&profiles, "alice")
        .args(["enroll", "-", "--name", "Alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("enroll starts");
    let pid = child.id();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains("sixchat-invite"),
        "the invite is not in the process's arguments"
    );
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(format!("{alice_invite}\n").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("enroll ends");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Enrolled alice@example.org (Alice)"),
        "{}",
        text(&out)
    );

    // `--invite-file FILE`.
    let file = tmp.path().join("bob-invite.txt");
    std::fs::write(&file, format!("  {bob_invite}  \n")).expect("write");
    let out = cli(&profiles, "bob")
        .args(["enroll", "--invite-file"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Enrolled bob@example.org"));

    // An empty input is a clear error, not a parse of nothing.
    let out = cli(&profiles, "carol")
        .args(["enroll", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the invite is empty"));
    dir.terminate();
}
