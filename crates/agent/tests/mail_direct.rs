//! Mail directly over a Direct session (docs/mail.md, "Directly, over a
//! live session"), with real processes: a `sixchat-dir` child, bob's agent
//! running (`run`), alice's `mail send`. A small mail goes inline, a large
//! one as a bulk stream; both are `delivered` at once, not left at the DIR.
//! Then the receiver, the sender and the DIR are each killed (SIGKILL) at
//! several moments of a delivery: every mail alice's Sent holds reaches
//! bob's Inbox exactly once, and none that alice was told was delivered or
//! relayed is lost.

#[path = "support/procs.rs"]
mod procs;
#[path = "support/world.rs"]
mod world;

#[path = "support/mail_cli.rs"]
mod mail_cli;

use std::time::{Duration, Instant};

use mail_cli::{enroll, json_lines, list, send, start_send};
use procs::{Proc, free_port, text};
use world::{HOURLY, World};

/// Bytes of an attachment that makes the mail a stream of many records.
const LARGE: usize = 12_000_000;

fn setup() -> (World, Proc) {
    let world = World::new();
    let address = format!("127.0.0.1:{}", world.dir_port);
    world.admin(&["init", "--domain", "example.org", "--address", &address]);
    let dir = world.serve();
    enroll(&world, "alice@example.org", "Alice");
    enroll(&world, "bob@example.org", "Bob");
    (world, dir)
}

fn attachment(world: &World, name: &str, size: usize) -> String {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 253) as u8).collect();
    let path = world.data().join(name);
    std::fs::write(&path, bytes).expect("attachment written");
    path.to_str().expect("utf-8 path").to_owned()
}

/// The subjects of bob's Inbox, once every mail in it has been read.
fn inbox_subjects(world: &World) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = list(world, "bob", "inbox");
        let read = rows
            .iter()
            .all(|r| r["status"].as_str() != Some("not read yet"));
        if read || Instant::now() > deadline {
            let mut subjects: Vec<String> = rows
                .iter()
                .map(|r| r["subject"].as_str().unwrap_or_default().to_owned())
                .collect();
            subjects.sort();
            return subjects;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Alice's Sent: (subject, delivery state to bob).
fn sent_states(world: &World) -> Vec<(String, String)> {
    list(world, "alice", "sent")
        .iter()
        .map(|r| {
            (
                r["subject"].as_str().unwrap_or_default().to_owned(),
                r["deliveries"][0]["state"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn alice_mails_bob_directly_while_his_agent_runs() {
    let (world, _dir) = setup();
    let bob_port = free_port();
    let mut bob = world.start_agent("bob", bob_port, HOURLY);
    bob.wait_seen(&format!("registered 127.0.0.1:{bob_port}"), world::WAIT);

    let small = json_lines(&send(
        &world,
        "alice",
        &["bob@example.org", "--subject", "Lunch"],
        "Noon at the usual place?\n",
    ));
    assert_eq!(small[0]["deliveries"][0]["state"], "delivered", "{small:?}");
    let large_file = attachment(&world, "scan.bin", LARGE);
    let large = json_lines(&send(
        &world,
        "alice",
        &[
            "bob@example.org",
            "--subject",
            "The scan",
            "--attach",
            &large_file,
        ],
        "The scan, as promised.\n",
    ));
    assert_eq!(large[0]["deliveries"][0]["state"], "delivered", "{large:?}");

    // Bob's agent stored both (the DIR holds nothing for him) and read them.
    assert_eq!(inbox_subjects(&world), ["Lunch", "The scan"]);
    let fetched = json_lines(&world.cli_run("bob", &["--json", "mail", "fetch"]));
    assert_eq!(fetched[0]["fetched"], 0, "{fetched:?}");
    let inbox = list(&world, "bob", "inbox");
    for row in &inbox {
        assert_eq!(
            row["status"], "valid signature, verified sender; encrypted",
            "{row:?}"
        );
        assert_eq!(row["from"], "alice@example.org");
    }
    let scan = inbox
        .iter()
        .find(|r| r["subject"] == "The scan")
        .expect("the scan");
    let id = scan["id"].as_i64().expect("id").to_string();
    let saved = world.data().join("saved");
    std::fs::create_dir_all(&saved).expect("folder");
    let out = world.cli_run(
        "bob",
        &[
            "mail",
            "show",
            &id,
            "--save-attachments",
            saved.to_str().expect("utf-8"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(saved.join("scan.bin")).expect("saved"),
        std::fs::read(&large_file).expect("sent"),
        "the streamed mail arrives byte for byte"
    );
    bob.terminate();
}

/// How long one large mail to bob takes, start to end of `mail send`.
fn timed_send(world: &World, subject: &str, file: &str) -> Duration {
    let started = Instant::now();
    let out = send(
        world,
        "alice",
        &["bob@example.org", "--subject", subject, "--attach", file],
        "Timed.\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    started.elapsed()
}

/// Moments to kill at: late in a send that takes `whole`, when the mail is
/// composed and on its way (composing comes first).
fn kill_points(whole: Duration) -> Vec<Duration> {
    [0.55, 0.75, 0.9, 0.97]
        .into_iter()
        .map(|f| whole.mul_f64(f))
        .collect()
}

/// Starts a large mail to bob, then SIGKILLs `victim` after `delay`.
fn send_and_kill(world: &World, subject: &str, file: &str, victim: &mut Proc, delay: Duration) {
    let child = start_send(
        world,
        "alice",
        &["bob@example.org", "--subject", subject, "--attach", file],
        "Kill me if you can.\n",
    );
    std::thread::sleep(delay);
    victim.kill9();
    let out = child.wait_with_output().expect("mail send ends");
    // Delivered, relayed, queued (exit 3), or not sent at all (the DIR was
    // gone before the recipient's certificate was looked up): never a crash.
    assert_ne!(out.status.code(), Some(101), "{}", text(&out));
}

#[test]
fn killing_the_receiver_or_the_dir_mid_delivery_loses_nothing() {
    let (world, mut dir) = setup();
    let bob_port = free_port();
    let file = attachment(&world, "big.bin", LARGE);
    let mut bob = world.run_agent("bob", bob_port);
    let whole = timed_send(&world, "timed", &file);
    // The receiver dies while the mail is offered or streaming; the sender
    // leaves it at the DIR instead.
    for (n, delay) in kill_points(whole).into_iter().enumerate() {
        send_and_kill(&world, &format!("bob killed {n}"), &file, &mut bob, delay);
        bob = world.run_agent("bob", bob_port);
    }
    bob.kill9();
    // The DIR dies while bob is offline and alice's agent relays.
    for (n, delay) in kill_points(whole).into_iter().enumerate() {
        send_and_kill(&world, &format!("dir killed {n}"), &file, &mut dir, delay);
        dir = world.serve();
    }
    eprintln!("after the kills: {:?}", sent_states(&world));
    // Alice's agent tries again; bob's agent runs and takes what waits.
    let fetched = world.cli_run("alice", &["--json", "mail", "fetch"]);
    assert!(fetched.status.success(), "{}", text(&fetched));
    let mut bob = world.run_agent("bob", bob_port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent_states(&world).iter().any(|(_, s)| s != "delivered") && Instant::now() < deadline {
        let _ = world.cli_run("alice", &["mail", "fetch"]);
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut sent: Vec<String> = sent_states(&world).into_iter().map(|(s, _)| s).collect();
    sent.sort();
    // The five to bob were stored in Sent before they went (the DIR was up).
    assert!(sent.len() >= 5, "{sent:?}");
    assert_eq!(inbox_subjects(&world), sent, "each mail once, none lost");
    bob.terminate();
}

#[test]
fn killing_the_sender_mid_delivery_loses_nothing() {
    let (world, _dir) = setup();
    let bob_port = free_port();
    let mut bob = world.run_agent("bob", bob_port);
    let file = attachment(&world, "big.bin", LARGE);
    let whole = timed_send(&world, "timed", &file);
    for (n, delay) in kill_points(whole).into_iter().enumerate() {
        let mut command = world.cli("alice");
        command.args(["mail", "send", "bob@example.org", "--subject"]);
        command.arg(format!("alice killed {n}"));
        command.args(["--attach", &file]);
        command.stdin(std::process::Stdio::null());
        let mut alice = Proc::spawn("alice", command);
        std::thread::sleep(delay);
        alice.kill9();
    }
    eprintln!("after the kills: {:?}", sent_states(&world));
    // What alice's Sent holds goes out when her agent next runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = world.cli_run("alice", &["mail", "fetch"]);
        assert!(out.status.success(), "{}", text(&out));
        let states = sent_states(&world);
        if states.iter().all(|(_, s)| s == "delivered") || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut sent: Vec<String> = sent_states(&world).into_iter().map(|(s, _)| s).collect();
    sent.sort();
    assert_eq!(inbox_subjects(&world), sent, "each mail once, none lost");
    bob.terminate();
}
