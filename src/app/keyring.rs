//! The passphrase remembered in the OS keyring (macOS Keychain, Windows
//! Credential Manager, the Secret Service on Linux), if the person asks.
//! Called from the backend only: these calls may block.

use sixchat_agent::Profile;
use zeroize::Zeroizing;

const SERVICE: &str = "SixChat";

/// One entry per profile folder, so profiles and data folders never share one.
fn entry(profile: &Profile) -> Result<keyring::Entry, String> {
    keyring::Entry::new(SERVICE, &profile.dir.display().to_string()).map_err(|e| e.to_string())
}

/// The profile's setting that says a passphrase was kept, so a profile that
/// never asked does not wait on a keyring at start.
const KEPT: &str = "keyring";

fn mark(profile: &Profile, kept: bool) {
    if let Ok(store) = profile.open_store() {
        let _ = store.set_setting(KEPT, if kept { "on" } else { "off" });
    }
}

pub fn remember(profile: &Profile, passphrase: &str) -> Result<(), String> {
    entry(profile)?
        .set_password(passphrase)
        .map_err(|e| e.to_string())?;
    mark(profile, true);
    Ok(())
}

/// The remembered passphrase; `None` when none was kept or there is no keyring.
pub fn recall(profile: &Profile) -> Option<Zeroizing<String>> {
    let kept = profile.open_store().ok()?.setting(KEPT).ok().flatten();
    if kept.as_deref() != Some("on") {
        return None;
    }
    entry(profile).ok()?.get_password().ok().map(Zeroizing::new)
}

/// Forgets the passphrase if one was kept (without touching the keyring otherwise).
pub fn forget_if_kept(profile: &Profile) {
    let kept = profile
        .open_store()
        .ok()
        .and_then(|s| s.setting(KEPT).ok().flatten());
    if kept.as_deref() == Some("on") {
        forget(profile);
    }
}

/// Forgets the passphrase; forgetting one that is not there is fine.
pub fn forget(profile: &Profile) {
    mark(profile, false);
    if let Ok(entry) = entry(profile) {
        let _ = entry.delete_credential();
    }
}
