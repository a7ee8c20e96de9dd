//! The DIR as a new user meets it: a real `sixchat-dir` child process on a
//! loopback port, two profiles enrolled with invites, both agents running,
//! a chat with no address given, three messages for a peer who is offline,
//! and a revocation that the peer enforces.

#[path = "support/procs.rs"]
mod procs;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use procs::{Proc, free_port, sixchat_dir_bin};

const PASSWORD: &str = "correct horse battery staple";
const WAIT: Duration = Duration::from_secs(60);

struct World {
    dir: tempfile::TempDir,
    dir_port: u16,
}

impl World {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            dir_port: free_port(),
        }
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(sixchat_dir_bin())
            .arg("--data")
            .arg(self.data().join("dir"))
            .args(args)
            .env("SIXCHAT_DIR_PASSPHRASE", "root passphrase")
            .output()
            .expect("sixchat-dir runs");
        assert!(
            out.status.success(),
            "sixchat-dir {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn serve(&self) -> Proc {
        let mut command = Command::new(sixchat_dir_bin());
        command
            .arg("--data")
            .arg(self.data().join("dir"))
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.dir_port)])
            .env("SIXCHAT_DIR_PASSPHRASE", "root passphrase");
        let mut proc = Proc::spawn("sixchat-dir", command);
        proc.wait_for("listening on", WAIT);
        proc
    }

    fn cli(&self, profile: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sixchat-cli"));
        command
            .env("SIXCHAT_PASSWORD", PASSWORD)
            .env_remove("SIXCHAT_LOG")
            .arg("--data-dir")
            .arg(self.data().join("profiles"))
            .arg("--profile")
            .arg(profile);
        command
    }

    fn cli_run(&self, profile: &str, args: &[&str]) -> Output {
        self.cli(profile)
            .args(args)
            .output()
            .expect("sixchat-cli runs")
    }

    /// `run` on a fixed loopback port (a restarted agent comes back where it was).
    fn run_agent(&self, profile: &str, port: u16) -> Proc {
        let listen = format!("127.0.0.1:{port}");
        let mut command = self.cli(profile);
        command.args([
            "run",
            "--listen",
            &listen,
            "--poll-secs",
            "1",
            "--crl-secs",
            "1",
        ]);
        let mut proc = Proc::spawn(profile, command);
        proc.wait_for("listening on", WAIT);
        proc.wait_for(&format!("registered {listen}"), WAIT);
        proc
    }

    fn history(&self, profile: &str, peer: &str) -> Vec<Vec<String>> {
        let out = self.cli_run(profile, &["history", peer]);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn enroll_chat_by_userid_offline_store_and_revocation() {
    let world = World::new();
    let address = format!("127.0.0.1:{}", world.dir_port);
    world.admin(&["init", "--domain", "example.org", "--address", &address]);
    let alice_invite = world
        .admin(&["invite", "alice@example.org", "--name", "Alice"])
        .trim()
        .to_owned();
    let bob_invite = world
        .admin(&["invite", "bob@example.org", "--name", "Bob"])
        .trim()
        .to_owned();
    assert!(alice_invite.starts_with(&format!("sixchat-invite:1:{address}:alice@example.org:")));
    let mut dir = world.serve();

    for (profile, invite) in [("alice", &alice_invite), ("bob", &bob_invite)] {
        let out = world.cli_run(profile, &["enroll", invite, "--name", profile]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Enrolled"));
    }
    // An invite works once.
    let again = world.cli_run("mallory", &["enroll", &alice_invite]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("1401"),
        "{}",
        text(&again)
    );

    let (alice_port, bob_port) = (free_port(), free_port());
    let mut alice = world.run_agent("alice", alice_port);
    let mut bob = world.run_agent("bob", bob_port);

    // No address given: bob looks alice up and reaches her; both see "verified".
    let out = world.cli_run("bob", &["chat", "alice@example.org", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("trust=verified"),
        "{}",
        text(&out)
    );
    alice.wait_for("session bob@example.org (bob) trust=verified", WAIT);
    alice.wait_for("chat bob@example.org", WAIT);

    // Alice goes offline; three messages wait for her at the DIR.
    assert!(alice.terminate().is_some_and(|s| s.success()));
    for n in 1..=3 {
        let message = format!("offline {n}");
        let out = world.cli_run("bob", &["chat", "alice@example.org", &message]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("queued"),
            "{}",
            text(&out)
        );
    }
    let queued: Vec<_> = world
        .history("bob", "alice@example.org")
        .into_iter()
        .filter(|m| m[4].starts_with("offline"))
        .collect();
    assert_eq!(queued.len(), 3);
    assert!(queued.iter().all(|m| m[3] == "queued"), "{queued:?}");

    // Alice comes back: each message arrives exactly once; bob gets the receipts.
    let mut alice = world.run_agent("alice", alice_port);
    for n in 1..=3 {
        alice.wait_for(&format!(": offline {n}"), WAIT);
    }
    for _ in 1..=3 {
        bob.wait_for("delivered", WAIT);
    }
    std::thread::sleep(Duration::from_secs(3));
    let arrived: Vec<_> = alice
        .drain()
        .iter()
        .filter(|l| l.contains(": offline "))
        .cloned()
        .collect();
    assert_eq!(arrived.len(), 3, "{arrived:?}");
    let stored: Vec<_> = world
        .history("alice", "bob@example.org")
        .into_iter()
        .filter(|m| m[0] == "in" && m[4].starts_with("offline"))
        .collect();
    assert_eq!(stored.len(), 3, "{stored:?}");
    let states: Vec<_> = world
        .history("bob", "alice@example.org")
        .into_iter()
        .filter(|m| m[4].starts_with("offline"))
        .map(|m| m[3].clone())
        .collect();
    assert_eq!(states, ["delivered"; 3]);

    // The administrator revokes bob: alice refuses his next session.
    world.admin(&["revoke", "bob@example.org", "--reason", "keyCompromise"]);
    std::thread::sleep(Duration::from_secs(3));
    let out = world.cli_run("bob", &["chat", "alice@example.org", "after revocation"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("certificate revoked"),
        "{}",
        text(&out)
    );
    alice.wait_for("certificate revoked", WAIT);

    bob.terminate();
    alice.terminate();
    assert!(dir.terminate().is_some_and(|s| s.success()));
}

fn json_line(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(out));
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("one JSON object")
}

#[test]
fn renew_backup_restore_and_self_revocation() {
    let world = World::new();
    let address = format!("127.0.0.1:{}", world.dir_port);
    world.admin(&["init", "--domain", "example.org", "--address", &address]);
    let invite = world
        .admin(&["invite", "carol@example.org", "--name", "Carol"])
        .trim()
        .to_owned();
    let root_sha256 = invite.rsplit(':').next().expect("fingerprint").to_owned();
    let mut dir = world.serve();
    json_line(&world.cli_run("carol", &["--json", "enroll", &invite]));
    let before = json_line(&world.cli_run("carol", &["--json", "id", "show"]));

    // Renewal: a new certificate for the same UserID, stored in the profile.
    let renewed = json_line(&world.cli_run("carol", &["--json", "id", "renew"]));
    let after = json_line(&world.cli_run("carol", &["--json", "id", "show"]));
    assert_eq!(after["user_id"], "carol@example.org");
    assert_eq!(after["fingerprint"], renewed["fingerprint"]);
    assert_ne!(after["fingerprint"], before["fingerprint"]);

    // Backup with a recovery code, restore on a "new device".
    let code_file = world.data().join("recovery-code");
    std::fs::write(&code_file, "tulip-orbit-7731-canyon-lamp-0420\n").expect("write code");
    let code_arg = code_file.to_str().expect("utf-8 path");
    json_line(&world.cli_run(
        "carol",
        &["--json", "id", "backup", "--recovery-code-file", code_arg],
    ));
    let wrong_file = world.data().join("wrong-code");
    std::fs::write(&wrong_file, "tulip-orbit-7731-canyon-lamp-0421\n").expect("write code");
    let restore = |profile: &str, file: &str| {
        world.cli_run(
            profile,
            &[
                "--json",
                "id",
                "restore",
                "carol@example.org",
                "--dir",
                &address,
                "--root-sha256",
                &root_sha256,
                "--recovery-code-file",
                file,
            ],
        )
    };
    let refused = restore("carol-wrong", wrong_file.to_str().expect("utf-8 path"));
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("1502"),
        "{}",
        text(&refused)
    );
    let restored = json_line(&restore("carol-laptop", code_arg));
    assert_eq!(restored["fingerprint"], after["fingerprint"]);
    let shown = json_line(&world.cli_run("carol-laptop", &["--json", "id", "show"]));
    assert_eq!(shown["user_id"], "carol@example.org");

    // Carol revokes her own certificate: the DIR refuses it from then on.
    json_line(&world.cli_run(
        "carol",
        &["--json", "id", "revoke", "--reason", "keyCompromise"],
    ));
    let again = world.cli_run("carol", &["id", "renew"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("certificate revoked"),
        "{}",
        text(&again)
    );
    assert!(dir.terminate().is_some_and(|s| s.success()));
}
