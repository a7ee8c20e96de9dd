//! The commander and the queue over two real backends (the demo DIR): the
//! peer's shared folder listed, a file copied with F5, a file dropped on a
//! conversation offered to that contact, accepted in the timeline.

use std::path::Path;
use std::sync::Arc;

use eframe::egui;
use egui_kittest::kittest::Queryable as _;
use sixchat_testkit::sixchat_dir_bin;

use crate::support::{Dropped, click, open, open_chat, settle};

fn setting(profiles: &Path, name: &str, key: &str, value: &Path) {
    sixchat_agent::Profile::locate(name, Some(profiles))
        .unwrap()
        .open_store()
        .unwrap()
        .set_setting(key, value.to_str().unwrap())
        .unwrap();
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario across two windows, top to bottom
fn the_commander_copies_with_f5_and_a_dropped_file_is_offered_in_the_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let world =
        sixchat::demo::prepare(dir.path(), &sixchat_dir_bin()).expect("demo DIR and profiles");
    let share = dir.path().join("bob-share");
    let incoming = dir.path().join("bob-incoming");
    let mine = dir.path().join("alice-files");
    for folder in [&share, &incoming, &mine] {
        std::fs::create_dir_all(folder).unwrap();
    }
    std::fs::write(share.join("notes.txt"), b"from bob's share\n").unwrap();
    std::fs::write(share.join("zeta.txt"), b"the last row\n").unwrap();
    setting(&world.profiles, "bob", "share", &share);
    setting(&world.profiles, "bob", "incoming", &incoming);
    let mut alice = open(&world.profiles, "alice", Some(sixchat::demo::PASSPHRASE));
    let mut bob = open(&world.profiles, "bob", Some(sixchat::demo::PASSPHRASE));
    settle(&mut [&mut alice, &mut bob], "both registered", |h| {
        h.iter()
            .all(|h| !h.state().state.network.registered.is_empty())
    });

    // Alice opens the commander on Bob's share: his file is listed.
    open_chat(&mut alice, "bob@demo.sixchat.test");
    alice.state_mut().view.files.local_dir = Some(mine.clone());
    click(&mut alice, "📁 Files");
    // Bob's window asks him about the session first, as for a chat.
    settle(&mut [&mut alice, &mut bob], "Incoming Chat at Bob", |h| {
        h[1].query_by_label("Incoming Chat").is_some()
    });
    click(&mut bob, "Accept");
    settle(&mut [&mut alice, &mut bob], "Bob's share listed", |h| {
        h[0].query_by_label_contains("notes.txt").is_some()
    });
    assert!(
        alice
            .query_by_label_contains("Shared by bob@demo.sixchat.test")
            .is_some()
    );

    // Tab to Bob's pane, F5: the file comes to Alice's folder, verified.
    alice.key_press(egui::Key::Tab);
    alice.key_press(egui::Key::F5);
    settle(
        &mut [&mut alice, &mut bob],
        "the copy in Alice's folder",
        |h| {
            h[0].state()
                .state
                .files
                .queue
                .iter()
                .any(|row| row.state == "done")
        },
    );
    assert_eq!(
        std::fs::read(mine.join("notes.txt")).unwrap(),
        b"from bob's share\n"
    );
    settle(&mut [&mut alice, &mut bob], "the queue row shows it", |h| {
        h[0].query_by_label_contains("done, verified").is_some()
    });
    // A click puts the cursor on a row: F5 copies that one.
    alice.get_by_label_contains("zeta.txt").click();
    alice.run();
    alice.key_press(egui::Key::F5);
    settle(
        &mut [&mut alice, &mut bob],
        "the clicked row copied",
        |_| mine.join("zeta.txt").exists(),
    );
    assert_eq!(
        std::fs::read(mine.join("zeta.txt")).unwrap(),
        b"the last row\n"
    );

    // Back to the conversation; a file dropped on it is offered to Bob,
    // who sees the offer in his timeline and accepts it.
    click(&mut alice, "💬 Chat");
    let report = mine.join("report.pdf");
    std::fs::write(&report, vec![7u8; 70_000]).unwrap();
    alice
        .input_mut()
        .dropped_files
        .push(Arc::new(Dropped(report.clone())));
    alice.step();
    open_chat(&mut bob, "alice@demo.sixchat.test");
    settle(&mut [&mut alice, &mut bob], "the offer at Bob", |h| {
        h[1].query_by_label_contains("offers 1 file(s)").is_some()
    });
    click(&mut bob, "Accept");
    settle(&mut [&mut alice, &mut bob], "the file at Bob", |_| {
        std::fs::read(incoming.join("report.pdf")).is_ok_and(|b| b.len() == 70_000)
    });
    settle(&mut [&mut alice, &mut bob], "Alice's send done", |h| {
        h[0].state()
            .state
            .files
            .queue
            .iter()
            .any(|row| row.kind == "send" && row.state == "done")
    });
    assert!(bob.state().state.files.offers.is_empty(), "answered");
}
