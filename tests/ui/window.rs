//! The window itself: its narrowest size, repainting while locked, the
//! emoji picker's glyphs, switching language, and unlocking.

use eframe::egui;
use egui_kittest::kittest::Queryable as _;
use sixchat::app::state::Phase;
use sixchat::i18n::{I18n, Language};
use sixchat_agent::Profile;

use crate::support::{click, fill, open, settle, standalone, wait_label};

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
fn every_symbol_of_the_mail_screen_has_a_glyph() {
    let ctx = egui::Context::default();
    sixchat::ui::theme::install_fonts(&ctx);
    let mut output = ctx.run_ui(egui::RawInput::default(), |_| {});
    output.textures_delta.clear();
    let font = egui::FontId::proportional(14.0);
    let missing: Vec<&str> = ["✉", "✏", "⟳", "📎", "✖", "💬", "—"]
        .into_iter()
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
