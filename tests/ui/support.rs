//! The helpers of every UI test: a window over a real profile, stepped
//! until a condition holds, and driven by label.

use std::path::Path;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use sixchat::i18n::Language;
use sixchat::ui::SixChatApp;
use sixchat_agent::Profile;
use zeroize::Zeroizing;

/// A file the test drops on the window, as a desktop would.
#[derive(Debug)]
pub struct Dropped(pub std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Bounds every wait; reaching it fails the test (this is not a timing test).
pub const PATIENCE: Duration = Duration::from_secs(90);

pub fn open(profiles: &Path, name: &str, passphrase: Option<&str>) -> Harness<'static, SixChatApp> {
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
pub fn settle(
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

pub fn wait_label(harness: &mut Harness<'static, SixChatApp>, label: &str) {
    settle(&mut [harness], label, |h| {
        h[0].query_by_label(label).is_some()
    });
}

/// Clicks the widget once the layout has settled (windows size themselves
/// over a frame or two, and a click lands where the widget was drawn).
pub fn click(harness: &mut Harness<'static, SixChatApp>, label: &str) {
    wait_label(harness, label);
    for _ in 0..3 {
        harness.step();
    }
    harness.get_by_label(label).click();
    harness.step();
}

pub fn fill(harness: &mut Harness<'static, SixChatApp>, label: &str, text: &str) {
    wait_label(harness, label);
    harness.get_by_label(label).focus();
    harness.step();
    harness.get_by_label(label).type_text(text);
    harness.step();
}

/// Shift+Enter pressed and released within one frame: the key event carries
/// Shift, the input's modifiers (read at the end of the frame) do not.
pub fn shift_enter(harness: &mut Harness<'static, SixChatApp>) {
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
pub fn say(
    from: &mut Harness<'static, SixChatApp>,
    to: &mut Harness<'static, SixChatApp>,
    text: &str,
) {
    fill(from, "Message", text);
    from.key_press(egui::Key::Enter);
    settle(&mut [from, to], text, |h| {
        h[1].query_by_label(text).is_some()
    });
}

/// Opens the conversation with `user_id` by clicking its row (labelled with
/// the contact's name, whatever it is now).
pub fn open_chat(harness: &mut Harness<'static, SixChatApp>, user_id: &str) {
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
pub fn asked(harness: &Harness<'static, SixChatApp>) -> usize {
    harness.state().state.incoming.len()
}

pub fn standalone(profiles: &Path, name: &str, user: &str) -> Profile {
    let profile = Profile::locate(name, Some(profiles)).unwrap();
    let user_id = sixchat_proto::UserId::parse(user).unwrap();
    let key = sixchat_pki::keys::IdentityKey::generate(2048).unwrap();
    let der = sixchat_pki::cert::self_signed_identity(&key, &user_id, name, 30).unwrap();
    profile
        .save_identity(&key, &[der], &[], "standalone pass")
        .unwrap();
    profile
        .open_store()
        .unwrap()
        .set_setting("listen", "127.0.0.1:0")
        .unwrap();
    profile
}
