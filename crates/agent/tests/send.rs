//! Offering files to a contact with the real `sixchat-cli`: `send` waits
//! for the receiver's agent to accept (auto-accept per contact), files land
//! verified in its incoming folder, a send to an unreachable peer waits in
//! the queue (exit 3) and starts by itself, and a sender killed halfway
//! goes on from what the receiver verified.

#[path = "support/cli_env.rs"]
mod cli_env;
#[path = "support/procs.rs"]
mod procs;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use cli_env::Env;
use procs::free_port;

/// Two pinned standalone profiles; bob has an incoming folder.
struct World {
    env: Env,
    port: u16,
    addr: String,
    incoming: PathBuf,
    outbox: PathBuf,
}

fn world() -> World {
    let env = Env::new();
    let alice_fp = env.new_identity("alice", "alice@a.example", "Alice A");
    let bob_fp = env.new_identity("bob", "bob@b.example", "Bob B");
    env.ok("alice", &["trust", "pin", "bob@b.example", &bob_fp]);
    env.ok("bob", &["trust", "pin", "alice@a.example", &alice_fp]);
    let incoming = env.data().join("incoming");
    std::fs::create_dir_all(&incoming).expect("mkdir");
    env.ok("bob", &["incoming", "set", utf8(&incoming)]);
    let outbox = env.data().join("outbox");
    std::fs::create_dir_all(outbox.join("album/2026")).expect("mkdir");
    std::fs::write(outbox.join("letter.txt"), b"dear bob\n").expect("write");
    std::fs::write(outbox.join("album/a.jpg"), pattern(70_000, 3)).expect("write");
    std::fs::write(outbox.join("album/2026/b.jpg"), pattern(200_001, 4)).expect("write");
    let port = free_port();
    World {
        env,
        port,
        addr: format!("127.0.0.1:{port}"),
        incoming,
        outbox,
    }
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8")
}

fn pattern(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed) ^ (i >> 10) as u8)
        .collect()
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[test]
#[allow(clippy::too_many_lines)] // one receiver's choices in turn: decline, accept, overwrite, off
fn a_send_waits_for_the_receivers_accept_and_lands_verified() {
    let w = world();
    let mut bob = w.env.start_agent("bob", w.port);
    let letter = w.outbox.join("letter.txt");

    // Bob's `run` has nobody to ask: without auto-accept it declines.
    let out = w.env.run(
        "alice",
        &["send", "bob@b.example", utf8(&letter), "--addr", &w.addr],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("auto-accept"), "{text}");
    bob.next_line("declined: not accepted", Duration::from_secs(10));
    assert_eq!(std::fs::read_dir(&w.incoming).expect("read").count(), 0);

    // With auto-accept for alice, a file and a folder go into a folder of
    // bob's incoming folder, byte for byte.
    w.env
        .ok("bob", &["trust", "auto-accept", "alice@a.example", "on"]);
    let out = w.env.ok(
        "alice",
        &[
            "send",
            "bob@b.example",
            utf8(&letter),
            utf8(&w.outbox.join("album")),
            "--to-folder",
            "from alice",
            "--addr",
            &w.addr,
        ],
    );
    assert!(out.contains("accepted by the peer"), "{out}");
    assert!(
        out.contains("sent 3 files, 270010 bytes, every one verified"),
        "{out}"
    );
    bob.next_line("accepted (auto-accept)", Duration::from_secs(10));
    bob.next_line("complete: 3 file(s), 270010 bytes", Duration::from_secs(10));
    let landed = w.incoming.join("from alice");
    assert_eq!(
        std::fs::read(landed.join("letter.txt")).expect("letter"),
        b"dear bob\n"
    );
    for file in ["album/a.jpg", "album/2026/b.jpg"] {
        assert_eq!(
            std::fs::read(landed.join(file)).expect("landed"),
            std::fs::read(w.outbox.join(file)).expect("sent"),
            "{file}"
        );
    }

    // The queue remembers it as done.
    let queue = json_lines(&w.env.ok("alice", &["--json", "transfers"]));
    assert_eq!(queue.len(), 2, "{queue:?}");
    assert_eq!(queue[0]["state"], "failed");
    assert_eq!(queue[1]["state"], "done");
    assert_eq!(queue[1]["verified"], 270_010);

    // Bob chose to overwrite: a new letter of that name replaces the old.
    w.env.ok("bob", &["incoming", "on-conflict", "overwrite"]);
    std::fs::write(&letter, b"dear bob, again\n").expect("write");
    w.env.ok(
        "alice",
        &[
            "send",
            "bob@b.example",
            utf8(&letter),
            "--to-folder",
            "from alice",
            "--addr",
            &w.addr,
        ],
    );
    assert_eq!(
        std::fs::read(landed.join("letter.txt")).expect("letter"),
        b"dear bob, again\n"
    );
    assert!(!landed.join("letter (2).txt").exists());
    let refused = w.env.run("bob", &["share", "on-conflict", "skip"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "for the incoming folder only"
    );

    // Auto-accept can be turned off again.
    w.env
        .ok("bob", &["trust", "auto-accept", "alice@a.example", "off"]);
    let out = w.env.run(
        "alice",
        &["send", "bob@b.example", utf8(&letter), "--addr", &w.addr],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_send_to_an_unreachable_peer_waits_and_starts_by_itself() {
    let w = world();
    w.env
        .ok("bob", &["trust", "auto-accept", "alice@a.example", "on"]);
    let letter = w.outbox.join("letter.txt");
    let out = w.env.run(
        "alice",
        &[
            "--json",
            "send",
            "bob@b.example",
            utf8(&letter),
            "--addr",
            &w.addr,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    let queued = json_lines(&text);
    let id = queued
        .iter()
        .find(|v| v["event"] == "queued")
        .and_then(|v| v["transfer"].as_str())
        .expect("a queued line")
        .to_owned();
    let queue = json_lines(&w.env.ok("alice", &["--json", "transfers"]));
    assert_eq!(queue[0]["state"], "waiting", "{queue:?}");

    // Bob comes online; alice's agent starts the waiting send by itself.
    let mut bob = w.env.start_agent("bob", w.port);
    let mut alice = w
        .env
        .start_agent_with("alice", free_port(), &["--poll-secs", "1"]);
    alice.next_line(
        &format!("transfer {id} to bob@b.example: done"),
        Duration::from_secs(30),
    );
    bob.next_line("complete: 1 file(s), 9 bytes", Duration::from_secs(10));
    assert_eq!(
        std::fs::read(w.incoming.join("letter.txt")).expect("landed"),
        b"dear bob\n"
    );
    let queue = json_lines(&w.env.ok("alice", &["--json", "transfers"]));
    assert_eq!(queue[0]["state"], "done", "{queue:?}");
    w.env.ok("alice", &["transfers", "clear"]);
    assert!(w.env.ok("alice", &["transfers"]).trim().is_empty());
}

#[test]
fn a_sender_killed_halfway_goes_on_from_what_the_receiver_verified() {
    let w = world();
    w.env
        .ok("bob", &["trust", "auto-accept", "alice@a.example", "on"]);
    let mut bob = w.env.start_agent("bob", w.port);
    let big = pattern(96 << 20, 9);
    let file = w.outbox.join("big.bin");
    std::fs::write(&file, &big).expect("write");
    let mut child = w
        .env
        .command("alice")
        .args([
            "--json",
            "send",
            "bob@b.example",
            utf8(&w.outbox.join("letter.txt")),
            utf8(&file),
            "--addr",
            &w.addr,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("send runs");
    // Once bob verified some of it (alice's progress lines say what bob
    // reported), alice is killed.
    let progress = child.stderr.take().expect("stderr");
    let verified_some = std::io::BufRead::lines(std::io::BufReader::new(progress))
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .any(|v| v["progress"].as_u64().is_some_and(|p| p > 1 << 20));
    assert!(verified_some, "no data came");
    let _ = child.kill();
    let _ = child.wait();
    bob.next_line("not complete", Duration::from_secs(20));
    assert!(!w.incoming.join("big.bin").exists(), "no final name yet");

    // The killed send stays in the queue; resuming it goes on from there.
    let queue = json_lines(&w.env.ok("alice", &["--json", "transfers"]));
    let id = queue[0]["id"].as_str().expect("id").to_owned();
    let out = w.env.ok("alice", &["transfers", "resume", &id[..8]]);
    // The letter, complete before the kill, counts as done for alice too.
    assert!(out.contains("sent 2 files"), "{out}");
    let started = bob.next_line("resuming:", Duration::from_secs(10));
    let resumed: u64 = started
        .split("resuming: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("resumed bytes");
    assert!(resumed > 0 && resumed < big.len() as u64, "{started}");
    eprintln!("resumed from {resumed} of {} bytes", big.len());
    bob.next_line("complete: 2 file(s)", Duration::from_secs(60));
    assert!(std::fs::read(w.incoming.join("big.bin")).expect("complete") == big);
}
