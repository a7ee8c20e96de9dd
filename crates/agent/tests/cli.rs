//! sixchat-cli as a person uses it: real binaries, real child processes, TCP
//! on loopback, profiles in a temporary folder.

#[path = "support/cli_env.rs"]
mod cli_env;
#[path = "support/procs.rs"]
mod procs;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cli_env::Env;
use procs::{PASSWORD, free_port, openssl};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn chat_is_refused_with_a_reason_until_both_pin_then_delivered() {
    let env = Env::new();
    let alice_fp = env.new_identity("alice", "alice@a.example", "Alice A");
    let bob_fp = env.new_identity("bob", "bob@b.example", "Bob B");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let alice = env.start_agent("alice", port);

    let refused = env.run(
        "bob",
        &["chat", "alice@a.example", "--addr", &addr, "hello", "alice"],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    let line = stdout(&refused);
    assert!(
        line.contains("untrusted certificate") && line.contains(&bob_fp),
        "{line}"
    );

    // Alice pins Bob, but Bob has not pinned Alice: now Bob's side refuses, naming why.
    env.ok("alice", &["trust", "pin", "bob@b.example", &bob_fp]);
    let refused = env.run(
        "bob",
        &["chat", "alice@a.example", "--addr", &addr, "hello", "alice"],
    );
    assert_eq!(refused.status.code(), Some(1));
    let line = stdout(&refused);
    assert!(
        line.contains("alice@a.example is self-signed and not pinned"),
        "{line}"
    );

    env.ok(
        "bob",
        &["trust", "pin", "alice@a.example", &alice_fp.to_uppercase()],
    );
    let sent = env.ok(
        "bob",
        &["chat", "alice@a.example", "--addr", &addr, "hello", "alice"],
    );
    assert!(sent.contains("trust=known"), "{sent}");
    let alice = alice.wait_for("hello alice", Duration::from_secs(10));
    assert!(
        alice
            .seen
            .iter()
            .any(|l| l.starts_with("session bob@b.example (Bob B) trust=known")),
        "{:?}",
        alice.seen
    );
    let chat_line = alice
        .seen
        .iter()
        .find(|l| l.starts_with("chat bob@b.example "))
        .expect("chat printed");
    assert!(chat_line.ends_with(": hello alice"), "{chat_line}");

    // The two refused attempts stayed in the outbox and were delivered first, in order.
    let history = env.history("alice", "bob@b.example");
    assert_eq!(history.len(), 3, "{history:?}");
    assert!(
        history
            .iter()
            .all(|m| m[0] == "in" && m[3] == "delivered" && m[4] == "hello alice")
    );
    let bob_side = env.history("bob", "alice@a.example");
    assert!(
        bob_side
            .iter()
            .all(|m| m[0] == "out" && m[3] == "delivered"),
        "{bob_side:?}"
    );
}

#[test]
fn kill9_halfway_loses_nothing_and_duplicates_nothing() {
    let env = Env::new();
    let alice_fp = env.new_identity("alice", "alice@a.example", "Alice A");
    let bob_fp = env.new_identity("bob", "bob@b.example", "Bob B");
    env.ok("alice", &["trust", "pin", "bob@b.example", &bob_fp]);
    env.ok("bob", &["trust", "pin", "alice@a.example", &alice_fp]);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let alice = env.start_agent("alice", port);

    let mut bob = env
        .command("bob")
        .args(["chat", "alice@a.example", "--addr", &addr, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("chat starts");
    let mut stdin = bob.stdin.take().expect("piped");
    for i in 1..=100 {
        writeln!(stdin, "message {i}").expect("write");
    }
    stdin.flush().expect("flush");
    // Halfway: once Alice has printed some of them, kill her without warning.
    let alice = alice.wait_for("message 40", Duration::from_secs(30));
    alice.kill9();
    for i in 101..=200 {
        writeln!(stdin, "message {i}").expect("write");
    }
    drop(stdin);
    let out = bob.wait_with_output().expect("chat ends");
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("queued for alice@a.example"),
        "{}",
        stdout(&out)
    );

    let _alice = env.start_agent("alice", port);
    let again = env.ok(
        "bob",
        &["chat", "alice@a.example", "--addr", &addr, "message", "201"],
    );
    assert!(again.contains("delivered"), "{again}");

    let history = env.history("alice", "bob@b.example");
    let bodies: Vec<&str> = history.iter().map(|m| m[4].as_str()).collect();
    let expected: Vec<String> = (1..=201).map(|i| format!("message {i}")).collect();
    assert_eq!(bodies, expected, "every message exactly once, in order");
    assert!(
        env.history("bob", "alice@a.example")
            .iter()
            .all(|m| m[3] == "delivered")
    );
}

#[test]
fn unreachable_peer_keeps_the_message_queued() {
    let env = Env::new();
    env.new_identity("bob", "bob@b.example", "Bob B");
    let port = free_port();
    let out = env.run(
        "bob",
        &[
            "chat",
            "alice@a.example",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "are you there?",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout(&out).contains("1 message(s) queued"),
        "{}",
        stdout(&out)
    );
    let history = env.history("bob", "alice@a.example");
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0][3].as_str(), history[0][4].as_str()),
        ("queued", "are you there?")
    );
}

#[test]
fn wrong_passphrase_and_bad_input_get_clear_errors() {
    let env = Env::new();
    env.new_identity("bob", "bob@b.example", "Bob B");
    let out = env
        .command("bob")
        .env("SIXCHAT_PASSWORD", "not it")
        .args(["id", "export", "/dev/null"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.run("bob", &["trust", "pin", "Carol@x", "abcd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid UserID"));
    let out = env.run(
        "bob",
        &["id", "new", "--user", "bob2@b.example", "--name", "Bob"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a profile keeps its one identity"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already has an identity"));
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario with real processes, read top to bottom
fn identities_move_in_and_out_as_pkcs12_that_openssl_reads() {
    let env = Env::new();
    let work: PathBuf = env.data().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    openssl(&["genrsa", "-out", "k.pem", "2048"], &work);
    openssl(
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "k.pem",
            "-out",
            "c.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Carol C",
            "-addext",
            "subjectAltName=email:carol@c.example",
            "-addext",
            "extendedKeyUsage=clientAuth",
            "-addext",
            "keyUsage=critical,digitalSignature",
        ],
        &work,
    );
    openssl(
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "k.pem",
            "-in",
            "c.pem",
            "-out",
            "carol.p12",
            "-passout",
            &format!("pass:{PASSWORD}"),
        ],
        &work,
    );
    let imported = env.ok(
        "carol",
        &[
            "id",
            "import",
            work.join("carol.p12").to_str().expect("utf-8"),
        ],
    );
    assert!(
        imported.contains("carol@c.example") && imported.contains("Carol C"),
        "{imported}"
    );
    let exported = work.join("back.p12");
    env.ok(
        "carol",
        &["id", "export", exported.to_str().expect("utf-8")],
    );
    let info = Command::new("openssl")
        .args([
            "pkcs12",
            "-info",
            "-noout",
            "-in",
            exported.to_str().expect("utf-8"),
            "-passin",
            &format!("pass:{PASSWORD}"),
        ])
        .output()
        .expect("openssl runs");
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let text = String::from_utf8_lossy(&info.stderr);
    assert!(
        text.contains("PBES2") && text.contains("AES-256-CBC"),
        "{text}"
    );
    // The profile keeps no key in the clear.
    for entry in std::fs::read_dir(env.data().join("carol")).expect("profile dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains("PRIVATE KEY"));
    }
}

#[test]
fn version_names_the_release_and_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_sixchat-cli"))
        .arg("--version")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let line = stdout(&out);
    assert!(
        line.starts_with(&format!(
            "sixchat-cli {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{line}"
    );
    // Built from a Git checkout (as tests are): the commit is HEAD's.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|h| h.status.success());
    if let Some(head) = head {
        let head = stdout(&head);
        assert!(
            line.contains(head.trim()),
            "{line} is not built from {head}"
        );
    }
}

#[test]
fn man_pages_and_completions_come_from_the_command_definitions() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_sixchat-cli"))
        .arg("manpages")
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", procs::text(&out));
    for page in [
        "sixchat-cli.1",
        "sixchat-cli-mail-send.1",
        "sixchat-cli-id-export.1",
    ] {
        let roff = std::fs::read_to_string(dir.path().join(page)).expect(page);
        assert!(
            roff.starts_with(".ie") || roff.contains(".TH"),
            "{page}: {roff}"
        );
    }
    let send = std::fs::read_to_string(dir.path().join("sixchat-cli-mail-send.1")).expect("page");
    assert!(
        send.contains("\\-\\-subject"),
        "the options are in the page"
    );
    // The hidden generator has no page of its own.
    assert!(!dir.path().join("sixchat-cli-manpages.1").exists());

    // The bash script registers itself and offers the subcommands.
    let script = Command::new(env!("CARGO_BIN_EXE_sixchat-cli"))
        .args(["completions", "bash"])
        .output()
        .expect("runs");
    assert!(script.status.success());
    let path = dir.path().join("sixchat-cli.bash");
    std::fs::write(&path, &script.stdout).expect("written");
    let words = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(sixchat-cli ma); COMP_CWORD=1; _sixchat__cli sixchat-cli ma sixchat-cli; echo \"${{COMPREPLY[@]}}\"",
            path.display()
        ))
        .output()
        .expect("bash runs");
    assert!(
        stdout(&words).split_whitespace().any(|w| w == "mail"),
        "{}",
        procs::text(&words)
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_sixchat-cli"))
        .args(["completions", "cmd.exe"])
        .output()
        .expect("runs");
    assert!(!bad.status.success());
}
