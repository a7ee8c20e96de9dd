//! What the window needs before its first frame: the profile, its language,
//! theme and notification settings, and the app itself.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use eframe::egui;
use sixchat_agent::Profile;
use zeroize::Zeroizing;

use crate::app::backend::{Backend, BackendOptions};
use crate::i18n::Language;
use crate::ui::theme::ThemeChoice;
use crate::ui::{Preferences, SixChatApp};

/// When the process started (set first thing in `main`), for the
/// "first frame" log line that `scripts/bench-ui.sh` reads.
pub static STARTED: OnceLock<Instant> = OnceLock::new();

/// The settings the first frame needs (a missing or unreadable store gives the defaults).
pub fn preferences(profile: &Profile) -> (Language, Preferences) {
    let store = profile.open_store().ok();
    let setting = |key: &str| store.as_ref().and_then(|s| s.setting(key).ok().flatten());
    let language = setting("language")
        .and_then(|code| Language::from_code(&code))
        .unwrap_or_else(Language::from_system);
    let prefs = Preferences {
        theme: setting("theme").map_or(ThemeChoice::System, |c| ThemeChoice::from_code(&c)),
        notifications: setting("notifications").is_none_or(|v| v != "off"),
    };
    (language, prefs)
}

/// `SIXCHAT_PASSWORD`, if set: the window unlocks without asking (the demo uses it).
pub fn passphrase_from_env() -> Option<Zeroizing<String>> {
    std::env::var("SIXCHAT_PASSWORD")
        .ok()
        .filter(|v| !v.is_empty())
        .map(Zeroizing::new)
}

/// Starts the backend for `profile` and builds the app on `ctx`.
pub fn build_app(
    ctx: &egui::Context,
    profile: Profile,
    passphrase: Option<Zeroizing<String>>,
) -> std::io::Result<SixChatApp> {
    let (language, prefs) = preferences(&profile);
    let name = profile.name.clone();
    let waker_ctx = ctx.clone();
    let waker = Arc::new(move || waker_ctx.request_repaint());
    let (backend, events) = Backend::start(profile, BackendOptions { passphrase }, waker)?;
    Ok(SixChatApp::new(backend, events, language, prefs, name))
}
