//! Mail as a new user meets it (docs/mail.md): a real `sixchat-dir` child
//! process, alice and bob enrolled; alice mails bob (text and a 5 MB
//! attachment) while bob is offline; bob fetches it, finds it with
//! "valid signature, verified sender", saves the attachment and replies;
//! alice reads the reply and sees her mail delivered and read. Then what
//! another program made (`openssl cms`) comes in with `mail import`, and
//! a mail bob exported is what OpenSSL decrypts and verifies.

#[path = "support/procs.rs"]
mod procs;
#[path = "support/world.rs"]
mod world;

#[path = "support/mail_cli.rs"]
mod mail_cli;

use mail_cli::{enroll, json_lines, ok, send};
use procs::text;
use world::World;

#[test]
#[allow(clippy::too_many_lines)] // one scenario with real processes, read top to bottom
fn alice_mails_bob_while_he_is_offline_and_bob_replies() {
    let world = World::new();
    let address = format!("127.0.0.1:{}", world.dir_port);
    world.admin(&["init", "--domain", "example.org", "--address", &address]);
    let mut dir = world.serve();
    enroll(&world, "alice@example.org", "Alice");
    enroll(&world, "bob@example.org", "Bob");

    // A 5 MB attachment; bob's agent is not running.
    let attachment: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = world.data().join("report.bin");
    std::fs::write(&file, &attachment).expect("attachment written");
    let sent = send(
        &world,
        "alice",
        &[
            "bob@example.org",
            "--subject",
            "The report",
            "--attach",
            file.to_str().expect("utf-8 path"),
        ],
        "Hello Bob,\nthe report is attached.\n",
    );
    let sent = json_lines(&sent);
    assert_eq!(sent[0]["deliveries"][0]["state"], "relayed", "{sent:?}");
    let listed =
        json_lines(&world.cli_run("alice", &["--json", "mail", "list", "--folder", "sent"]));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["deliveries"][0]["state"], "relayed");

    // Bob starts: his agent fetches, stores, acknowledges, reads.
    let fetched = json_lines(&world.cli_run("bob", &["--json", "mail", "fetch"]));
    assert_eq!(fetched[0]["fetched"], 1, "{fetched:?}");
    let inbox = json_lines(&world.cli_run("bob", &["--json", "mail", "list", "--folder", "inbox"]));
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(
        inbox[0]["status"],
        "valid signature, verified sender; encrypted"
    );
    assert_eq!(inbox[0]["subject"], "The report");
    assert_eq!(inbox[0]["from"], "alice@example.org");
    assert_eq!(inbox[0]["unread"], true);
    let id = inbox[0]["id"].as_i64().expect("an id").to_string();
    let saved = world.data().join("saved");
    std::fs::create_dir_all(&saved).expect("folder");
    let shown = json_lines(&world.cli_run(
        "bob",
        &[
            "--json",
            "mail",
            "show",
            &id,
            "--save-attachments",
            saved.to_str().expect("utf-8"),
        ],
    ));
    assert!(
        shown[0]["body"]
            .as_str()
            .expect("body")
            .contains("the report is attached")
    );
    assert_eq!(
        std::fs::read(saved.join("report.bin")).expect("saved attachment"),
        attachment,
        "the attachment arrives byte for byte"
    );
    // Search finds it by a body word; not by a word it lacks.
    let found = json_lines(&world.cli_run(
        "bob",
        &["--json", "mail", "list", "--search", "report attached"],
    ));
    assert_eq!(found.len(), 1);
    assert!(
        ok(&world.cli_run("bob", &["mail", "list", "--search", "invoice"]))
            .trim()
            .is_empty()
    );

    // Bob replies; alice fetches the reply and the receipts.
    let message_id = shown[0]["message_id"]
        .as_str()
        .expect("Message-ID")
        .to_owned();
    let reply = send(
        &world,
        "bob",
        &[
            "alice@example.org",
            "--subject",
            "Re: The report",
            "--in-reply-to",
            &message_id,
        ],
        "Thanks, Alice.\n",
    );
    ok(&reply);
    let fetched = json_lines(&world.cli_run("alice", &["--json", "mail", "fetch"]));
    assert!(
        fetched[0]["fetched"].as_u64().expect("a count") >= 1,
        "{fetched:?}"
    );
    let inbox =
        json_lines(&world.cli_run("alice", &["--json", "mail", "list", "--folder", "inbox"]));
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0]["subject"], "Re: The report");
    assert_eq!(
        inbox[0]["status"],
        "valid signature, verified sender; encrypted"
    );
    let sent = json_lines(&world.cli_run("alice", &["--json", "mail", "list", "--folder", "sent"]));
    assert_eq!(sent[0]["deliveries"][0]["state"], "read", "{sent:?}");

    // What bob received, exported, is what OpenSSL decrypts and verifies
    // with the DIR root as the only anchor.
    let eml = world.data().join("mail.eml");
    ok(&world.cli_run(
        "bob",
        &["mail", "export", &id, eml.to_str().expect("utf-8")],
    ));
    let exported = std::fs::read(&eml).expect("exported");
    assert!(String::from_utf8_lossy(&exported).contains("Subject: [...]"));
    let bob = Keys::of(&world, "bob");
    let root = world.data().join("dir").join("root.pem");
    let root = root.to_str().expect("utf-8");
    let decrypted = world.data().join("decrypted.eml");
    let decrypted = decrypted.to_str().expect("utf-8");
    let eml = eml.to_str().expect("utf-8");
    openssl(&[
        "cms",
        "-decrypt",
        "-in",
        eml,
        "-inkey",
        &bob.encryption_key,
        "-out",
        decrypted,
    ]);
    let verified = openssl(&[
        "cms",
        "-verify",
        "-in",
        decrypted,
        "-CAfile",
        root,
        "-out",
        "/dev/null",
    ]);
    assert!(verified.contains("Verification successful"), "{verified}");

    // What OpenSSL makes (alice's identity signs; bob's encryption
    // certificate receives) comes in with `mail import`, with its status.
    let alice = Keys::of(&world, "alice");
    let cases: [&[&str]; 4] = [
        &["-aes-256-cbc"],
        &["-aes-256-cbc", "-keyopt", "rsa_padding_mode:oaep"],
        &["-aes-256-gcm"],
        &["-aes-128-gcm", "-keyopt", "rsa_padding_mode:oaep"],
    ];
    for (n, encrypt) in cases.into_iter().enumerate() {
        let made = openssl_mail(&world, &alice, &bob, &format!("case{n}"), &[], encrypt);
        let imported = json_lines(&world.cli_run("bob", &["--json", "mail", "import", &made]));
        assert_eq!(
            imported[0]["status"], "valid signature, verified sender; encrypted",
            "{encrypt:?}: {imported:?}"
        );
        assert!(
            imported[0]["body"]
                .as_str()
                .expect("body")
                .contains("made by OpenSSL")
        );
    }
    // Bad input: a SHA-1 signature, a mail for someone else, a truncated one.
    let sha1 = openssl_mail(
        &world,
        &alice,
        &bob,
        "sha1",
        &["-md", "sha1"],
        &["-aes-256-cbc"],
    );
    let imported = json_lines(&world.cli_run("bob", &["--json", "mail", "import", &sha1]));
    let status = imported[0]["status"].as_str().expect("status");
    assert!(
        status.starts_with("invalid signature") && status.contains("SHA-1"),
        "{status}"
    );
    let for_alice = world.data().join("for-alice.eml");
    let for_alice = for_alice.to_str().expect("utf-8");
    let plain = world.data().join("case0-plain.eml");
    openssl(&[
        "cms",
        "-encrypt",
        "-in",
        plain.to_str().expect("utf-8"),
        "-out",
        for_alice,
        "-aes-256-cbc",
        &alice.encryption_cert,
    ]);
    let imported = json_lines(&world.cli_run("bob", &["--json", "mail", "import", for_alice]));
    assert_eq!(
        imported[0]["status"],
        "not for us: encrypted to someone else"
    );
    let whole = std::fs::read(made_path(&world, "case2")).expect("made");
    let cut = world.data().join("cut.eml");
    std::fs::write(&cut, &whole[..whole.len() / 2]).expect("written");
    let imported = json_lines(&world.cli_run(
        "bob",
        &["--json", "mail", "import", cut.to_str().expect("utf-8")],
    ));
    assert!(
        imported[0]["status"]
            .as_str()
            .expect("status")
            .starts_with("cannot decrypt"),
        "{imported:?}"
    );
    // All of it stayed in the Inbox, each with its status.
    let inbox = json_lines(&world.cli_run("bob", &["--json", "mail", "list", "--folder", "inbox"]));
    assert_eq!(inbox.len(), 1 + 4 + 3, "{inbox:?}");
    // A mail over the limit is refused at import, and nothing is stored.
    let huge = world.data().join("huge.eml");
    std::fs::write(&huge, vec![b'a'; 41 << 20]).expect("written");
    let refused = world.cli_run("bob", &["mail", "import", huge.to_str().expect("utf-8")]);
    assert!(!refused.status.success(), "{}", text(&refused));
    let inbox = json_lines(&world.cli_run("bob", &["--json", "mail", "list", "--folder", "inbox"]));
    assert_eq!(inbox.len(), 1 + 4 + 3);
    // Alice's certificate is revoked since: her mail shows it when read again.
    world.admin(&["revoke", "alice@example.org", "--reason", "keyCompromise"]);
    let shown = json_lines(&world.cli_run("bob", &["--json", "mail", "show", &id]));
    let status = shown[0]["status"].as_str().expect("status");
    assert!(status.contains("revoked"), "{status}");
    assert!(dir.terminate().is_some_and(|s| s.success()));
}

/// A profile's keys as PEM files for OpenSSL: from `id export` (PKCS#12
/// with every key) through `openssl pkcs12`.
struct Keys {
    identity_key: String,
    identity_cert: String,
    encryption_key: String,
    encryption_cert: String,
}

impl Keys {
    fn of(world: &World, profile: &str) -> Self {
        let p12 = world.data().join(format!("{profile}.p12"));
        ok(&world.cli_run(profile, &["id", "export", p12.to_str().expect("utf-8")]));
        let pass = format!("pass:{}", procs::PASSWORD);
        let pem = openssl(&[
            "pkcs12",
            "-in",
            p12.to_str().expect("utf-8"),
            "-passin",
            &pass,
            "-nodes",
        ]);
        // Each PEM block follows its bag's attributes; a key is found by
        // its friendlyName. The certificates are the profile's PEM files.
        let key = |friendly: &str| -> String {
            let marker = "-----END PRIVATE KEY-----";
            let block = pem
                .split_inclusive(marker)
                .find(|chunk| {
                    chunk.contains(&format!("friendlyName: {friendly}"))
                        && chunk.contains("-----BEGIN PRIVATE KEY-----")
                })
                .unwrap_or_else(|| panic!("{friendly} in {pem}"));
            let begin = block
                .find("-----BEGIN PRIVATE KEY-----")
                .expect("a PEM block");
            let path = world.data().join(format!("{profile}-{friendly}.key"));
            std::fs::write(&path, format!("{}\n", &block[begin..])).expect("written");
            path.to_string_lossy().into_owned()
        };
        let profile_dir = world.data().join("profiles").join(profile);
        let first_cert = |file: &str| -> String {
            let text = std::fs::read_to_string(profile_dir.join(file)).expect("a PEM file");
            let end = text
                .find("-----END CERTIFICATE-----")
                .expect("a certificate")
                + "-----END CERTIFICATE-----".len();
            let path = world.data().join(format!("{profile}-{file}"));
            std::fs::write(&path, format!("{}\n", &text[..end])).expect("written");
            path.to_string_lossy().into_owned()
        };
        Self {
            identity_key: key("sixchat-identity"),
            identity_cert: first_cert("identity.pem"),
            encryption_key: key("sixchat-encryption-1"),
            encryption_cert: first_cert("encryption.pem"),
        }
    }
}

/// Runs OpenSSL; its output, and it must succeed.
fn openssl(args: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?}: {all}");
    all
}

fn made_path(world: &World, name: &str) -> std::path::PathBuf {
    world.data().join(format!("{name}.eml"))
}

/// A mail as another program makes it: `openssl cms -sign` as alice, then
/// `-encrypt` to bob's encryption certificate.
fn openssl_mail(
    world: &World,
    alice: &Keys,
    bob: &Keys,
    name: &str,
    sign: &[&str],
    encrypt: &[&str],
) -> String {
    let plain = world.data().join(format!("{name}-plain.eml"));
    std::fs::write(
        &plain,
        "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: from OpenSSL\r\nContent-Type: text/plain\r\n\r\nThis mail was made by OpenSSL.\r\n",
    )
    .expect("written");
    let signed = world.data().join(format!("{name}-signed.eml"));
    let mut args = vec![
        "cms",
        "-sign",
        "-in",
        plain.to_str().expect("utf-8"),
        "-signer",
        &alice.identity_cert,
        "-inkey",
        &alice.identity_key,
        "-out",
        signed.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(sign);
    openssl(&args);
    let made = made_path(world, name);
    let made_str = made.to_string_lossy().into_owned();
    let mut args = vec![
        "cms",
        "-encrypt",
        "-in",
        signed.to_str().expect("utf-8"),
        "-out",
        &made_str,
        "-recip",
        &bob.encryption_cert,
    ];
    args.extend_from_slice(encrypt);
    openssl(&args);
    made_str
}

/// Flips one bit in every RSA-2048 wrapped content key of an S/MIME
/// message (the body after `Content-Transfer-Encoding: base64`).
fn corrupt_key_transport(message: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let text = String::from_utf8(message.to_vec()).expect("a mail is ASCII");
    let at = text
        .find("Content-Transfer-Encoding: base64")
        .expect("a base64 body");
    let body_start = text[at..].find("\r\n\r\n").expect("the body") + at + 4;
    let encoded: String = text[body_start..].split_whitespace().collect();
    let mut der = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    let starts: Vec<usize> = der
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0x04, 0x82, 0x01, 0x00])
        .map(|(i, _)| i)
        .collect();
    assert!(!starts.is_empty(), "wrapped keys");
    for start in starts {
        der[start + 4 + 100] ^= 0x01;
    }
    let mut out = text[..body_start].to_owned();
    out.push_str(&base64::engine::general_purpose::STANDARD.encode(&der));
    out.push_str("\r\n");
    out.into_bytes()
}

#[test]
fn the_sender_sees_the_same_for_a_good_mail_and_a_corrupted_key_transport() {
    let world = World::new();
    let address = format!("127.0.0.1:{}", world.dir_port);
    world.admin(&["init", "--domain", "example.org", "--address", &address]);
    let mut dir = world.serve();
    enroll(&world, "alice@example.org", "Alice");
    enroll(&world, "bob@example.org", "Bob");
    for subject in ["good", "tampered"] {
        ok(&send(
            &world,
            "alice",
            &["bob@example.org", "--subject", subject],
            "Hi.\n",
        ));
    }
    let sent = json_lines(&world.cli_run("alice", &["--json", "mail", "list", "--folder", "sent"]));
    let tampered_id = sent
        .iter()
        .find(|m| m["subject"] == "tampered")
        .and_then(|m| m["message_id"].as_str())
        .expect("the second mail")
        .to_owned();
    // An attacker on the way (here: in the DIR's store) flips a bit of the
    // wrapped keys of the second mail.
    let db = rusqlite::Connection::open(world.data().join("dir").join("dir.db")).expect("dir.db");
    db.busy_timeout(std::time::Duration::from_secs(10))
        .expect("timeout");
    let rows: Vec<(String, Vec<u8>)> = db
        .prepare("SELECT id, data FROM store WHERE to_user = 'bob@example.org'")
        .expect("query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 2);
    let (id, data) = rows
        .iter()
        .find(|(_, data)| String::from_utf8_lossy(data).contains(&tampered_id))
        .expect("the tampered mail in the store");
    db.execute(
        "UPDATE store SET data = ?2 WHERE id = ?1",
        rusqlite::params![id, corrupt_key_transport(data)],
    )
    .expect("tampered");
    drop(db);

    ok(&world.cli_run("bob", &["mail", "fetch"]));
    ok(&world.cli_run("alice", &["mail", "fetch"]));
    // The sender sees the same for both: stored by bob's agent.
    let sent = json_lines(&world.cli_run("alice", &["--json", "mail", "list", "--folder", "sent"]));
    let states: Vec<&serde_json::Value> = sent.iter().map(|m| &m["deliveries"]).collect();
    assert_eq!(states.len(), 2);
    assert_eq!(states[0], states[1], "{sent:?}");
    assert_eq!(states[0][0]["state"], "delivered");
    // Bob sees which one could not be opened.
    let inbox = json_lines(&world.cli_run("bob", &["--json", "mail", "list", "--folder", "inbox"]));
    let mut statuses: Vec<&str> = inbox
        .iter()
        .map(|m| m["status"].as_str().expect("status"))
        .collect();
    statuses.sort_unstable();
    assert!(statuses[0].starts_with("cannot decrypt"), "{statuses:?}");
    assert_eq!(statuses[1], "valid signature, verified sender; encrypted");
    assert!(dir.terminate().is_some_and(|s| s.success()));
}
