//! The DIR as a new user meets it: a real `sixchat-dir` child process on a
//! loopback port, two profiles enrolled with invites, both agents running,
//! a chat with no address given, three messages for a peer who is offline,
//! and a revocation that the peer enforces.

#[path = "support/procs.rs"]
mod procs;
#[path = "support/world.rs"]
mod world;

use std::fmt::Write as _;
use std::process::Output;
use std::time::Duration;

use procs::{PASSWORD, free_port, text};

use world::{HOURLY, WAIT, World};

#[test]
#[allow(clippy::too_many_lines)] // one scenario with real processes, read top to bottom
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
    // The name is the one the administrator gave the invite ("Bob"), not
    // the one bob asked for.
    alice.wait_for("session bob@example.org (Bob) trust=verified", WAIT);
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
    // Two keys per person (mail.md): enrolment gave a mail encryption key;
    // the renewal a new one, the old one kept for mail already stored.
    assert!(before["mail_key"]["fingerprint"].is_string(), "{before}");
    assert_eq!(before["mail_key"]["older_keys"], 0, "{before}");
    assert_ne!(
        after["mail_key"]["fingerprint"],
        before["mail_key"]["fingerprint"]
    );
    assert_eq!(after["mail_key"]["older_keys"], 1, "{after}");

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
    // The backup carried every encryption key.
    assert_eq!(shown["mail_key"], after["mail_key"], "{shown}");

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

#[test]
#[allow(clippy::too_many_lines)] // one scenario with real processes, read top to bottom
fn revocation_counts_within_seconds_and_no_crl_means_no_verified_peer() {
    let world = World::new();
    let address = format!("127.0.0.1:{}", world.dir_port);
    world.admin(&["init", "--domain", "example.org", "--address", &address]);
    let mut dir = world.serve();
    for user in ["alice", "bob"] {
        let invite = world
            .admin(&["invite", &format!("{user}@example.org"), "--name", user])
            .trim()
            .to_owned();
        let out = world.cli_run(user, &["enroll", &invite, "--name", user]);
        assert!(out.status.success(), "{}", text(&out));
    }

    // Dave is standalone: he trusts the domain's root, at first without its
    // CRL, and has pinned bob's key; bob has pinned dave's.
    let out = world.cli_run(
        "dave",
        &["id", "new", "--user", "dave@lan.example", "--name", "Dave"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let root = world.data().join("dir").join("root.pem");
    let root = root.to_str().expect("utf-8 path");
    let out = world.cli_run(
        "dave",
        &["trust", "add-root", root, "--domain", "example.org"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no CRL is held"),
        "{}",
        text(&out)
    );
    let fingerprint = |profile: &str| {
        json_line(&world.cli_run(profile, &["--json", "id", "show"]))["fingerprint"]
            .as_str()
            .expect("fingerprint")
            .to_owned()
    };
    let (bob_fp, dave_fp) = (fingerprint("bob"), fingerprint("dave"));
    assert!(
        world
            .cli_run("dave", &["trust", "pin", "bob@example.org", &bob_fp])
            .status
            .success()
    );
    assert!(
        world
            .cli_run("bob", &["trust", "pin", "dave@lan.example", &dave_fp])
            .status
            .success()
    );
    let dave_port = free_port();
    let mut dave = world.start_agent("dave", dave_port, HOURLY);
    let dave_addr = format!("127.0.0.1:{dave_port}");
    let out = world.cli_run(
        "bob",
        &["chat", "dave@lan.example", "--addr", &dave_addr, "hi dave"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    dave.wait_for("no revocation list is held", WAIT);
    assert!(dave.terminate().is_some_and(|s| s.success()));
    // Named with its DIR, the root's CRL is fetched, and bob verifies.
    let out = world.cli_run(
        "dave",
        &[
            "trust",
            "add-root",
            root,
            "--domain",
            "example.org",
            "--dir",
            &address,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let mut dave = world.start_agent("dave", dave_port, HOURLY);
    let out = world.cli_run(
        "bob",
        &["chat", "dave@lan.example", "--addr", &dave_addr, "hi again"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    dave.wait_for("session bob@example.org (bob) trust=verified", WAIT);

    // Alice polls the CRL only hourly, yet refuses bob within seconds of
    // the administrator's revocation.
    let alice_port = free_port();
    let mut alice = world.start_agent("alice", alice_port, HOURLY);
    let alice_addr = format!("127.0.0.1:{alice_port}");
    let out = world.cli_run(
        "bob",
        &["chat", "alice@example.org", "--addr", &alice_addr, "before"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    world.admin(&["revoke", "bob@example.org", "--reason", "keyCompromise"]);
    let revoked_at = std::time::Instant::now();
    let delay = loop {
        let out = world.cli_run(
            "bob",
            &["chat", "alice@example.org", "--addr", &alice_addr, "after"],
        );
        if out.status.code() == Some(1)
            && String::from_utf8_lossy(&out.stdout).contains("certificate revoked")
        {
            break revoked_at.elapsed();
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(40),
            "bob still accepted 40 s after his revocation: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "alice refused bob {:.1} s after the revocation",
        delay.as_secs_f64()
    );
    alice.wait_for("certificate revoked", WAIT);
    // Dave, who learnt the CRL's address, refuses him too.
    let out = world.cli_run(
        "bob",
        &["chat", "dave@lan.example", "--addr", &dave_addr, "after"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    dave.terminate();
    alice.terminate();
    assert!(dir.terminate().is_some_and(|s| s.success()));
}

/// A sealed envelope whose outer start tag carries `attributes` namespace
/// declarations, padded to `size` bytes: what a hostile sender can store.
fn hostile_envelope(attributes: usize, size: usize) -> Vec<u8> {
    let mut out = String::with_capacity(size + 64);
    out.push_str("<sealed xmlns=\"urn:sixchat:sealed\" version=\"1\"");
    for i in 0..attributes {
        let _ = write!(out, " xmlns:a{i}=\"u\"");
    }
    out.push_str("><to>bob@example.org</to><ciphertext>");
    while out.len() < size {
        out.push_str("AAAA");
    }
    out.push_str("</ciphertext></sealed>");
    out.into_bytes()
}

#[test]
fn a_hostile_stored_envelope_wedges_nothing() {
    let world = World::new();
    let address = format!("127.0.0.1:{}", world.dir_port);
    world.admin(&["init", "--domain", "example.org", "--address", &address]);
    let mut dir = world.serve();
    for user in ["bob", "mallory"] {
        let invite = world
            .admin(&["invite", &format!("{user}@example.org"), "--name", user])
            .trim()
            .to_owned();
        let out = world.cli_run(user, &["enroll", &invite, "--name", user]);
        assert!(out.status.success(), "{}", text(&out));
    }
    // Mallory, an enrolled user of the same DIR, leaves bob a 16 MiB
    // envelope with 400 000 namespace declarations on its outer tag.
    let profile = sixchat_agent::Profile::locate("mallory", Some(&world.data().join("profiles")))
        .expect("profile");
    let unlocked = profile.unlock(PASSWORD).expect("unlock");
    let dir_record = profile
        .open_store()
        .expect("store")
        .dir("example.org")
        .expect("read")
        .expect("mallory's DIR");
    let directory = sixchat_agent::irp::Directory::new(
        dir_record,
        unlocked.chain.clone(),
        std::sync::Arc::new(unlocked.key),
    );
    let bob_id = sixchat_proto::UserId::parse("bob@example.org").expect("user id");
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(directory.store_put(&bob_id, hostile_envelope(400_000, 16 << 20)))
        .expect("the DIR takes it");

    // Bob's agent drops it with a reason, keeps registering, stops at once.
    let bob_port = free_port();
    let mut bob = world.run_agent("bob", bob_port);
    bob.wait_for(
        "dir stored message: dropped one from mallory@example.org",
        WAIT,
    );
    let stopping = std::time::Instant::now();
    assert!(bob.terminate().is_some_and(|s| s.success()));
    assert!(stopping.elapsed() < Duration::from_secs(10));
    // It was acknowledged: the next start neither hangs nor sees it again.
    let mut bob = world.run_agent("bob", bob_port);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !bob.drain().iter().any(|l| l.contains("dropped one")),
        "{:?}",
        bob.seen
    );
    assert!(bob.terminate().is_some_and(|s| s.success()));
    assert!(dir.terminate().is_some_and(|s| s.success()));
}
