//! The desktop app driven by label with egui_kittest, over real backends:
//! real profiles on disk, real agents on loopback, a real `sixchat-dir`
//! child process, and PKCS#12 files made by OpenSSL.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use sixchat::app::state::Phase;
use sixchat::i18n::{I18n, Language};
use sixchat::ui::SixChatApp;
use sixchat_agent::Profile;
use zeroize::Zeroizing;

/// Bounds every wait; reaching it fails the test (this is not a timing test).
const PATIENCE: Duration = Duration::from_secs(90);

fn open(profiles: &Path, name: &str, passphrase: Option<&str>) -> Harness<'static, SixChatApp> {
    let profile = Profile::locate(name, Some(profiles)).expect("profile");
    let ctx = egui::Context::default();
    let mut app = sixchat::startup::build_app(
        &ctx,
        profile,
        passphrase.map(|p| Zeroizing::new(p.to_owned())),
    )
    .expect("backend starts");
    app.i18n.set_language(Language::English);
    Harness::builder()
        .with_size(egui::vec2(1100.0, 760.0))
        .build_ui_state(
            |ui, app: &mut SixChatApp| {
                app.logic(ui.ctx());
                app.ui_root(ui);
            },
            app,
        )
}

/// Steps every harness until `done` holds.
fn settle(
    harnesses: &mut [&mut Harness<'static, SixChatApp>],
    what: &str,
    done: impl Fn(&[&mut Harness<'static, SixChatApp>]) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        for harness in harnesses.iter_mut() {
            harness.step();
        }
        if done(harnesses) {
            return;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(15));
    }
}

fn wait_label(harness: &mut Harness<'static, SixChatApp>, label: &str) {
    settle(&mut [harness], label, |h| {
        h[0].query_by_label(label).is_some()
    });
}

/// Clicks the widget once the layout has settled (windows size themselves
/// over a frame or two, and a click lands where the widget was drawn).
fn click(harness: &mut Harness<'static, SixChatApp>, label: &str) {
    wait_label(harness, label);
    for _ in 0..3 {
        harness.step();
    }
    harness.get_by_label(label).click();
    harness.step();
}

fn fill(harness: &mut Harness<'static, SixChatApp>, label: &str, text: &str) {
    wait_label(harness, label);
    harness.get_by_label(label).focus();
    harness.step();
    harness.get_by_label(label).type_text(text);
    harness.step();
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

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

fn dir_bin() -> PathBuf {
    let app = PathBuf::from(env!("CARGO_BIN_EXE_sixchat"));
    let bin = app.with_file_name(format!("sixchat-dir{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "sixchat-dir", "--bin", "sixchat-dir"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building sixchat-dir failed");
    }
    bin
}

/// A child process stopped by its own PID when the test ends (or fails).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn admin(data: &Path, args: &[&str]) -> String {
    let out = Command::new(dir_bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .env("SIXCHAT_DIR_PASSPHRASE", "test-dir-passphrase")
        .output()
        .expect("sixchat-dir runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn wizard_joins_a_directory_with_an_invite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    admin(
        &data,
        &["init", "--domain", "wizard.test", "--address", &address],
    );
    let invite = admin(&data, &["invite", "erin@wizard.test", "--name", "Erin"]);
    let _server = Child(
        Command::new(dir_bin())
            .arg("--data")
            .arg(&data)
            .args(["serve", "--listen", &address])
            .env("SIXCHAT_DIR_PASSPHRASE", "test-dir-passphrase")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("sixchat-dir serve starts"),
    );
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

#[test]
fn chat_between_two_windows_shows_trust_and_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let world = sixchat::demo::prepare(dir.path(), &dir_bin()).expect("demo DIR and profiles");
    let mut alice = open(&world.profiles, "alice", Some(sixchat::demo::PASSPHRASE));
    let mut bob = open(&world.profiles, "bob", Some(sixchat::demo::PASSPHRASE));
    // Both unlocked and registered with the DIR (else the first message
    // rightly goes to the DIR's store instead of a live session).
    settle(&mut [&mut alice, &mut bob], "both registered", |h| {
        h.iter()
            .all(|h| !h.state().state.network.registered.is_empty())
    });
    click(&mut alice, "Bob");
    wait_label(&mut alice, "Message");
    fill(&mut alice, "Message", "Hello Bob, it is Alice");
    alice.key_press(egui::Key::Enter);
    wait_label(&mut alice, "Hello Bob, it is Alice");

    // Bob is asked, and sees that Alice's certificate is verified by their directory.
    settle(&mut [&mut alice, &mut bob], "Incoming Chat at Bob", |h| {
        h[1].query_by_label("Incoming Chat").is_some()
    });
    assert!(
        bob.query_by_label("✔ Verified").is_some(),
        "the verified badge"
    );
    assert!(bob.query_by_label("alice@demo.sixchat.test").is_some());
    click(&mut bob, "Accept");

    // The message arrives, Alice sees it delivered, then read (Bob's window shows it).
    settle(&mut [&mut alice, &mut bob], "the message at Bob", |h| {
        h[1].query_by_label("Hello Bob, it is Alice").is_some()
    });
    settle(&mut [&mut alice, &mut bob], "read by Bob", |h| {
        h[0].query_by_label("Read").is_some()
    });

    // And back: Bob answers on the same session (its badge shows in his header).
    settle(&mut [&mut alice, &mut bob], "the session at Bob", |h| {
        h[1].state()
            .state
            .cards
            .contains_key("alice@demo.sixchat.test")
    });
    assert_eq!(
        bob.state().state.incoming.len(),
        0,
        "Bob was asked once: {:?}",
        bob.state().state.incoming
    );
    fill(&mut bob, "Message", "Hi Alice!");
    bob.key_press(egui::Key::Enter);
    settle(&mut [&mut alice, &mut bob], "the answer at Alice", |h| {
        h[0].query_by_label("Hi Alice!").is_some()
    });
    settle(&mut [&mut alice, &mut bob], "delivered to Alice", |h| {
        h[1].query_by_label("Delivered").is_some() || h[1].query_by_label("Read").is_some()
    });

    // Shift+Enter starts a new line (it used to send); Enter sends both lines.
    // As a real keyboard may deliver it: Shift is already up again when the
    // frame runs, only the key event says it was held.
    fill(&mut alice, "Message", "first line");
    shift_enter(&mut alice);
    alice.get_by_label("Message").type_text("second line");
    alice.step();
    assert!(
        alice.query_by_label("first line").is_none(),
        "Shift+Enter sent the first line alone"
    );
    alice.key_press(egui::Key::Enter);
    settle(
        &mut [&mut alice, &mut bob],
        "the two-line message at Bob",
        |h| h[1].query_by_label("first line\nsecond line").is_some(),
    );

    // Alice restarts: her new session is not put to Bob again, he accepted her once.
    drop(alice);
    let mut alice = open(&world.profiles, "alice", Some(sixchat::demo::PASSPHRASE));
    settle(&mut [&mut alice, &mut bob], "Alice registered again", |h| {
        !h[0].state().state.network.registered.is_empty()
    });
    click(&mut alice, "Bob");
    say(&mut alice, &mut bob, "back again");
    assert!(
        bob.state().state.incoming.is_empty() && bob.query_by_label("Incoming Chat").is_none(),
        "Bob was asked again"
    );
}

fn standalone(profiles: &Path, name: &str, user: &str) -> Profile {
    let profile = Profile::locate(name, Some(profiles)).unwrap();
    let user_id = sixchat_proto::UserId::parse(user).unwrap();
    let key = sixchat_pki::keys::IdentityKey::generate(2048).unwrap();
    let der = sixchat_pki::cert::self_signed_identity(&key, &user_id, name, 30).unwrap();
    profile
        .save_identity(&key, &[der], "standalone pass")
        .unwrap();
    profile
        .open_store()
        .unwrap()
        .set_setting("listen", "127.0.0.1:0")
        .unwrap();
    profile
}

/// Shift+Enter pressed and released within one frame: the key event carries
/// Shift, the input's modifiers (read at the end of the frame) do not.
fn shift_enter(harness: &mut Harness<'static, SixChatApp>) {
    for pressed in [true, false] {
        harness.input_mut().events.push(egui::Event::Key {
            key: egui::Key::Enter,
            physical_key: None,
            pressed,
            repeat: false,
            modifiers: egui::Modifiers::SHIFT,
        });
    }
    harness.step();
}

/// Sends `text` from the open conversation (Enter) and waits until `to` shows it.
fn say(from: &mut Harness<'static, SixChatApp>, to: &mut Harness<'static, SixChatApp>, text: &str) {
    fill(from, "Message", text);
    from.key_press(egui::Key::Enter);
    settle(&mut [from, to], text, |h| {
        h[1].query_by_label(text).is_some()
    });
}

/// Opens the conversation with `user_id` by clicking its row (labelled with
/// the contact's name, whatever it is now).
fn open_chat(harness: &mut Harness<'static, SixChatApp>, user_id: &str) {
    settle(&mut [harness], user_id, |h| {
        h[0].state().state.contact(user_id).is_some()
    });
    let name = harness.state().state.contact(user_id).unwrap().name.clone();
    for _ in 0..3 {
        harness.step();
    }
    // The row (a button), not the conversation's heading of the same name.
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, &name)
        .click();
    harness.step();
}

/// How many Incoming Chat requests `harness` has been shown so far.
fn asked(harness: &Harness<'static, SixChatApp>) -> usize {
    harness.state().state.incoming.len()
}

/// Dave (who knows only Carol's UserID and the address her "My identity"
/// window shows) dials Carol; both see the same code; each gives `answer`
/// (a button label); then they chat both ways in the same session.
fn dial_compare_and_chat(
    carol: &mut Harness<'static, SixChatApp>,
    dave: &mut Harness<'static, SixChatApp>,
    answer: &str,
    round: usize,
) {
    open_chat(dave, "carol@lan.test");
    click(dave, "Connect");
    settle(&mut [carol, dave], "Incoming Chat at Carol", |h| {
        h[0].query_by_label("Incoming Chat").is_some()
    });
    assert!(carol.query_by_label("⚠ New").is_some(), "the new badge");
    let sas = carol.state().state.incoming[0].card.sas.clone();
    assert_eq!(sas.len(), 7, "{sas}");
    assert!(carol.query_by_label(&sas).is_some(), "Carol sees the code");
    settle(&mut [carol, dave], "the same code at Dave", |h| {
        h[1].query_by_label(&sas).is_some()
    });
    // Dave has compared; Carol is still deciding, and Dave's window says so.
    click(dave, answer);
    settle(&mut [carol, dave], "Dave waiting for Carol", |h| {
        h[1].query_by_label_contains("Waiting for").is_some()
    });
    assert!(
        dave.state().state.awaiting.contains("carol@lan.test"),
        "Dave's window waits for Carol"
    );
    click(carol, answer);
    settle(&mut [carol, dave], "Carol's acceptance at Dave", |h| {
        !h[1].state().state.awaiting.contains("carol@lan.test")
            && h[1].query_by_label_contains("accepted; messages").is_some()
    });
    click(dave, "Close");
    // Both ways, on the one session the codes were compared for.
    say(dave, carol, &format!("Hello Carol ({round})"));
    open_chat(carol, "dave@lan.test");
    say(carol, dave, &format!("Hi Dave ({round})"));
    // A pasted line and a two-line message (Shift+Enter).
    fill(dave, "Message", "");
    dave.event(egui::Event::Paste(format!("pasted line {round}")));
    dave.step();
    shift_enter(dave);
    dave.get_by_label("Message").type_text("and a second line");
    dave.step();
    dave.key_press(egui::Key::Enter);
    let two_lines = format!("pasted line {round}\nand a second line");
    settle(&mut [carol, dave], "the pasted two-line message", |h| {
        h[0].query_by_label(&two_lines).is_some()
    });
    assert_eq!(
        dave.state().state.cards["carol@lan.test"].sas,
        sas,
        "one session throughout"
    );
}

#[test]
fn standalone_peers_given_only_an_address_compare_codes_and_chat() {
    let dir = tempfile::tempdir().unwrap();
    standalone(dir.path(), "Carol", "carol@lan.test");
    standalone(dir.path(), "Dave", "dave@lan.test");
    let mut carol = open(dir.path(), "Carol", Some("standalone pass"));
    let mut dave = open(dir.path(), "Dave", Some("standalone pass"));

    // Carol's "My identity" shows her UserID and where she can be reached, with copy buttons.
    click(&mut carol, "🆔 My identity");
    settle(&mut [&mut carol], "Carol's address", |h| {
        !h[0].state().state.network.reachable.is_empty()
    });
    let address = carol.state().state.network.reachable[0].clone();
    wait_label(&mut carol, &address);
    assert!(carol.query_by_label("carol@lan.test").is_some());
    let copies = carol.get_all_by_label("Copy").count();
    assert_eq!(copies, 3, "UserID, fingerprint and the address");
    carol.get_all_by_label("Copy").next().unwrap().click();
    carol.step();
    let copied: Vec<_> = carol
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        copied,
        ["carol@lan.test"],
        "the UserID went to the clipboard"
    );
    click(&mut carol, "Close");

    // Dave adds Carol by UserID and that address.
    fill(&mut dave, "Add contact", "carol@lan.test");
    fill(&mut dave, "Address (optional)", &address);
    dave.key_press(egui::Key::Enter);
    settle(&mut [&mut dave], "Carol in Dave's contacts", |h| {
        h[0].state()
            .state
            .contact("carol@lan.test")
            .is_some_and(|c| c.address.as_deref() == Some(address.as_str()))
    });

    // 1. "Accept once" on both sides: they chat, nothing is remembered.
    dial_compare_and_chat(&mut carol, &mut dave, "Accept once", 1);
    for (who, h) in [("Carol", &carol), ("Dave", &dave)] {
        assert!(
            h.state().state.trust.pins.is_empty(),
            "{who} pinned nothing"
        );
    }
    assert_eq!(asked(&carol), 0);

    // 2. Dave starts again: Carol is asked again (and shown "New"); this
    // time both say the codes match, and each pins the other's key.
    drop(dave);
    let mut dave = open(dir.path(), "Dave", Some("standalone pass"));
    dial_compare_and_chat(&mut carol, &mut dave, "The codes match", 2);
    settle(&mut [&mut carol, &mut dave], "each pinned the other", |h| {
        let pinned = |i: usize, other: &str| {
            let pins = &h[i].state().state.trust.pins;
            pins.len() == 1 && pins[0].0 == other
        };
        pinned(0, "dave@lan.test") && pinned(1, "carol@lan.test")
    });

    // 3. Once pinned, a new session is not asked about on either side.
    drop(dave);
    let mut dave = open(dir.path(), "Dave", Some("standalone pass"));
    open_chat(&mut dave, "carol@lan.test");
    say(&mut dave, &mut carol, "no questions this time");
    assert!(
        carol.query_by_label("Incoming Chat").is_none() && asked(&carol) == 0,
        "Carol was not asked again"
    );
    assert_eq!(carol.state().state.cards["dave@lan.test"].level, "known");
    assert!(dave.query_by_label("The codes match").is_none());
}

#[test]
fn a_mistyped_address_is_named_and_nothing_is_added() {
    let dir = tempfile::tempdir().unwrap();
    standalone(dir.path(), "Erin", "erin@lan.test");
    let mut erin = open(dir.path(), "Erin", Some("standalone pass"));
    fill(&mut erin, "Add contact", "fred@lan.test");
    fill(&mut erin, "Address (optional)", "fred's laptop");
    erin.key_press(egui::Key::Enter);
    settle(&mut [&mut erin], "the problem named", |h| {
        h[0].query_by_label_contains("is not an address").is_some()
    });
    assert!(erin.state().state.contact("fred@lan.test").is_none());
}

#[test]
fn the_narrowest_window_cuts_nothing_off() {
    let dir = tempfile::tempdir().unwrap();
    standalone(
        dir.path(),
        "Gwen",
        "gwen.with.a.long.name@some-long-domain.lan.test",
    );
    let store = Profile::locate("Gwen", Some(dir.path()))
        .unwrap()
        .open_store()
        .unwrap();
    store
        .add_contact(
            "henry.with.a.long.name@another-domain.lan.test",
            "Henry Longname-Smithington",
        )
        .unwrap();
    drop(store);
    let mut app = open(dir.path(), "Gwen", Some("standalone pass"));
    let [width, height] = sixchat::ui::theme::MIN_WINDOW;
    app.set_size(egui::vec2(width, height));
    click(&mut app, "Henry Longname-Smithington");
    wait_label(&mut app, "Send");
    for _ in 0..5 {
        app.step();
    }
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(width, height));
    let rect = |label: &str| app.get_by_label(label).rect();
    // The window's own buttons and the composer are whole and inside.
    for label in ["⚙ Settings", "🆔 My identity", "Send", "Connect", "Message"] {
        let r = rect(label);
        assert!(
            window.contains_rect(r),
            "{label} at {r:?} is cut off by {window:?}"
        );
    }
    // Nothing in the header sits on another.
    let header = ["⚙ Settings", "🆔 My identity", "SixChat"];
    for (i, a) in header.iter().enumerate() {
        for b in &header[i + 1..] {
            assert!(!rect(a).intersects(rect(b)), "{a} overlaps {b}");
        }
    }
    let conversation = ["Connect", "Always accept"];
    assert!(!rect(conversation[0]).intersects(rect(conversation[1])));
    let name = app
        .get_all_by_label("Henry Longname-Smithington")
        .map(|n| n.rect())
        .collect::<Vec<_>>();
    for r in &name {
        for other in conversation {
            assert!(!r.intersects(rect(other)), "the name overlaps {other}");
        }
    }
}

#[test]
fn the_locked_window_does_not_keep_repainting() {
    let dir = tempfile::tempdir().unwrap();
    standalone(dir.path(), "Ivy", "ivy@lan.test");
    let mut app = open(dir.path(), "Ivy", None);
    wait_label(&mut app, "Unlock SixChat");
    // Waiting for a passphrase, the window draws only when something
    // happens, also while another window has the focus.
    app.input_mut().focused = false;
    assert!(
        app.try_run().is_ok(),
        "the unlock screen asks for a new frame every frame"
    );
    // Back in the window, the passphrase field has the focus: typing goes there.
    app.input_mut().focused = true;
    app.step();
    app.get_by_label("Passphrase").type_text("x");
    app.step();
    assert_eq!(&*app.state().view.unlock.passphrase, "x");
}

#[test]
fn every_emoji_in_the_picker_has_a_glyph() {
    let ctx = egui::Context::default();
    sixchat::ui::theme::install_fonts(&ctx);
    let mut output = ctx.run_ui(egui::RawInput::default(), |_| {});
    output.textures_delta.clear();
    let font = egui::FontId::proportional(18.0);
    let missing: Vec<&str> = sixchat::ui::conversation::EMOJI
        .iter()
        .copied()
        .filter(|e| !ctx.fonts_mut(|f| f.has_glyphs(&font, e)))
        .collect();
    assert!(missing.is_empty(), "drawn as empty boxes: {missing:?}");
}

#[test]
fn language_switches_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = open(dir.path(), "lang", None);
    wait_label(&mut app, "Welcome to SixChat");
    click(&mut app, "简体中文");
    let chinese = I18n::new(Language::Chinese);
    wait_label(&mut app, &chinese.t("wizard-title"));
    assert!(app.query_by_label(&chinese.t("wizard-create")).is_some());
    assert!(app.query_by_label("Welcome to SixChat").is_none());
    click(&mut app, "Deutsch");
    wait_label(&mut app, &I18n::new(Language::German).t("wizard-title"));
    // The choice is stored for the next start.
    let profile = Profile::locate("lang", Some(dir.path())).unwrap();
    settle(&mut [&mut app], "the setting stored", |_| {
        profile
            .open_store()
            .unwrap()
            .setting("language")
            .unwrap()
            .as_deref()
            == Some("de")
    });
}

#[test]
fn unlock_says_when_the_passphrase_is_wrong_and_works_without_a_keyring() {
    let dir = tempfile::tempdir().unwrap();
    standalone(dir.path(), "Frank", "frank@lan.test");
    let mut app = open(dir.path(), "Frank", None);
    wait_label(&mut app, "Unlock SixChat");
    fill(&mut app, "Passphrase", "not the passphrase");
    click(&mut app, "Unlock");
    wait_label(&mut app, "Wrong passphrase.");
    fill(&mut app, "Passphrase", "standalone pass");
    click(&mut app, "Remember the passphrase in the system keyring");
    click(&mut app, "Unlock");
    settle(&mut [&mut app], "unlocked", |h| {
        h[0].state().state.phase == Phase::Ready
    });
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        // No keyring here: the person is told, and the window works on.
        settle(&mut [&mut app], "the keyring notice", |h| {
            h[0].query_by_label_contains("could not keep the passphrase")
                .is_some()
        });
    }
}
