//! The first-start wizard: a standalone identity, an OpenSSL PKCS#12 file,
//! and an invite from a real `sixchat-dir` child process.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use sixchat::app::state::Phase;
use sixchat::ui::SixChatApp;
use sixchat_agent::Profile;
use sixchat_testkit::{Dir, free_port, openssl, sixchat_dir_bin};

use crate::support::{PATIENCE, click, fill, open, wait_label};

#[test]
fn wizard_creates_a_standalone_identity() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = open(dir.path(), "alice", None);
    wait_label(&mut app, "Create a standalone identity");
    click(&mut app, "Create a standalone identity");
    app.step();
    fill(&mut app, "UserID", "alice@lan.test");
    fill(&mut app, "Display name", "Alice Liddell");
    fill(&mut app, "Passphrase", "correct horse");
    fill(&mut app, "Repeat passphrase", "correct horse");
    click(&mut app, "Create identity");
    wait_label(&mut app, "Alice Liddell <alice@lan.test>");
    assert_eq!(app.state().state.phase, Phase::Ready);
    // The identity is on disk, encrypted with the passphrase.
    let profile = Profile::locate("alice", Some(dir.path())).unwrap();
    assert!(profile.unlock("wrong passphrase").is_err());
    assert_eq!(
        profile.unlock("correct horse").unwrap().info.name,
        "Alice Liddell"
    );
}

#[test]
fn wizard_imports_an_openssl_pkcs12_and_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k.pem",
            "-out",
            "c.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Carol Imported",
            "-addext",
            "subjectAltName=email:carol@lan.test",
        ],
        work,
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
            "pass:file-secret-1",
        ],
        work,
    );
    std::fs::write(work.join("notes.txt"), "not a certificate").unwrap();
    let mut app = open(&work.join("profiles"), "carol", None);
    wait_label(&mut app, "Import a PKCS#12 file");
    click(&mut app, "Import a PKCS#12 file");
    app.step();

    let attempt = |app: &mut Harness<'static, SixChatApp>, file: &str, password: &str| {
        let path = work.join(file).display().to_string();
        wait_label(app, "File");
        app.get_by_label("File").focus();
        app.step();
        app.state_mut().view.wizard.p12_path.clear();
        app.get_by_label("File").type_text(&path);
        app.step();
        fill(app, "File password", password);
        click(app, "Import");
    };
    attempt(&mut app, "carol.p12", "wrong-password");
    wait_label(&mut app, "Wrong password for this file.");
    attempt(&mut app, "notes.txt", "whatever");
    wait_label(&mut app, "This is not a PKCS#12 file.");
    attempt(&mut app, "carol.p12", "file-secret-1");
    wait_label(&mut app, "Carol Imported <carol@lan.test>");
    // The profile is protected by the file's password (no other passphrase was chosen).
    let profile = Profile::locate("carol", Some(&work.join("profiles"))).unwrap();
    assert_eq!(
        profile
            .unlock("file-secret-1")
            .unwrap()
            .info
            .user_id
            .as_str(),
        "carol@lan.test"
    );
}

#[test]
fn wizard_joins_a_directory_with_an_invite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dir");
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let admin = Dir::new(sixchat_dir_bin(), &data, "test-dir-passphrase");
    admin.init("wizard.test", &address);
    let invite = admin.invite("erin@wizard.test", "Erin");
    let _server = admin.serve(&address, &[], PATIENCE);
    // Enrolment dials at once: let the DIR come up first.
    let deadline = Instant::now() + PATIENCE;
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(
            Instant::now() < deadline,
            "the DIR never listened on {address}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut app = open(&dir.path().join("profiles"), "erin", None);
    wait_label(&mut app, "Join a directory");
    click(&mut app, "Join a directory");
    app.step();
    fill(&mut app, "Invite", &invite);
    fill(&mut app, "Passphrase", "erin's passphrase");
    fill(&mut app, "Repeat passphrase", "erin's passphrase");
    click(&mut app, "Join");
    // The name is the one the administrator gave the invite.
    wait_label(&mut app, "Erin <erin@wizard.test>");
    let identity = app.state().state.identity.clone().unwrap();
    assert!(!identity.self_signed, "the DIR issued the certificate");
    assert_eq!(identity.dir_address.as_deref(), Some(address.as_str()));
    assert_eq!(
        app.state().state.trust.roots.len(),
        1,
        "the domain's root is trusted"
    );
}
