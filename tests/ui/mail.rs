//! The Mail screen over two real backends (the demo DIR): alice writes to
//! bob while his app is closed, a file dropped on the compose window as the
//! attachment; bob opens Mail, finds it with "valid signature, verified
//! sender" and replies, straight to alice's running agent (delivered at
//! once); alice reads the reply and sees her mail read.

use std::sync::Arc;

use egui_kittest::kittest::Queryable as _;
use sixchat_testkit::sixchat_dir_bin;

use crate::support::{Dropped, click, fill, open, settle};

#[test]
#[allow(clippy::too_many_lines)] // one scenario across two windows, top to bottom
fn alice_mails_bob_while_he_is_away_and_reads_his_reply() {
    let dir = tempfile::tempdir().unwrap();
    let world =
        sixchat::demo::prepare(dir.path(), &sixchat_dir_bin()).expect("demo DIR and profiles");
    let mut alice = open(&world.profiles, "alice", Some(sixchat::demo::PASSPHRASE));
    settle(&mut [&mut alice], "alice registered", |h| {
        !h[0].state().state.network.registered.is_empty()
    });

    click(&mut alice, "✉ Mail");
    click(&mut alice, "✏ Write a mail");
    fill(&mut alice, "To", "bob@demo");
    // The contact list completes the UserID.
    click(&mut alice, "bob@demo.sixchat.test");
    fill(&mut alice, "Subject", "Lunch on Tuesday");
    fill(
        &mut alice,
        "Message",
        "Noon at the usual place? The menu is attached.",
    );
    let menu = dir.path().join("menu.pdf");
    std::fs::write(&menu, vec![42u8; 120_000]).unwrap();
    alice
        .input_mut()
        .dropped_files
        .push(Arc::new(Dropped(menu.clone())));
    alice.step();
    assert!(
        alice.query_by_label_contains("menu.pdf").is_some(),
        "attached"
    );
    click(&mut alice, "Send");
    settle(&mut [&mut alice], "the mail sent", |h| {
        h[0].state().state.mail.sent.is_some() && h[0].state().view.mail.compose.is_none()
    });

    // Bob starts the app later and opens Mail: it is fetched and read.
    let mut bob = open(&world.profiles, "bob", Some(sixchat::demo::PASSPHRASE));
    settle(&mut [&mut alice, &mut bob], "bob ready", |h| {
        h[1].query_by_label("✉ Mail").is_some()
    });
    click(&mut bob, "✉ Mail");
    settle(
        &mut [&mut alice, &mut bob],
        "the mail in bob's Inbox",
        |h| h[1].query_by_label("Lunch on Tuesday").is_some(),
    );
    click(&mut bob, "Lunch on Tuesday");
    settle(&mut [&mut alice, &mut bob], "the status in words", |h| {
        h[1].query_by_label_contains("Status: valid signature, verified sender")
            .is_some()
    });
    assert!(bob.query_by_label_contains("menu.pdf").is_some());
    assert!(
        bob.query_by_label_contains("Noon at the usual place?")
            .is_some()
    );

    // Bob replies.
    click(&mut bob, "Reply");
    fill(&mut bob, "Message", "Yes, see you there.");
    click(&mut bob, "Send");
    settle(&mut [&mut alice, &mut bob], "the reply sent", |h| {
        h[1].state().state.mail.sent.is_some() && h[1].state().view.mail.compose.is_none()
    });

    // Alice's app runs, so the reply went straight to her agent: bob's
    // Sent says delivered before alice asks her DIR for anything.
    click(&mut bob, "Sent");
    settle(&mut [&mut alice, &mut bob], "bob's reply delivered", |h| {
        h[1].state()
            .state
            .mail
            .listed
            .as_ref()
            .is_some_and(|(_, rows)| {
                rows.iter().any(|r| {
                    r.subject == "Re: Lunch on Tuesday"
                        && r.deliveries.iter().any(|(_, state)| state == "delivered")
                })
            })
    });

    // Alice checks: the reply is there, and her mail was read.
    click(&mut alice, "⟳ Check for mail");
    settle(&mut [&mut alice, &mut bob], "the reply at alice", |h| {
        h[0].query_by_label("Re: Lunch on Tuesday").is_some()
    });
    click(&mut alice, "Re: Lunch on Tuesday");
    settle(&mut [&mut alice, &mut bob], "the reply's status", |h| {
        h[0].query_by_label_contains("Status: valid signature, verified sender")
            .is_some()
    });
    assert!(
        alice
            .query_by_label_contains("Yes, see you there.")
            .is_some()
    );
    click(&mut alice, "Sent");
    settle(&mut [&mut alice, &mut bob], "alice's mail read", |h| {
        h[0].state()
            .state
            .mail
            .listed
            .as_ref()
            .is_some_and(|(_, rows)| {
                rows.iter()
                    .any(|r| r.deliveries.iter().any(|(_, state)| state == "read"))
            })
    });
}
