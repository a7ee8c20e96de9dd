//! Two windows chatting: through the demo DIR (verified), and standalone
//! peers who know only an address and compare codes.

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use sixchat::ui::SixChatApp;
use sixchat_testkit::sixchat_dir_bin;

use crate::support::{
    asked, click, fill, open, open_chat, say, settle, shift_enter, standalone, wait_label,
};

#[test]
fn chat_between_two_windows_shows_trust_and_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let world =
        sixchat::demo::prepare(dir.path(), &sixchat_dir_bin()).expect("demo DIR and profiles");
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
    assert_eq!(
        carol.state().state.cards["dave@lan.test"].level.as_str(),
        "known"
    );
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
