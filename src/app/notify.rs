//! Desktop notifications (called from the backend, never from the UI thread).
//!
//! The title names a peer and the body is a peer's chat: both are peer
//! text, so control characters are shown escaped
//! ([`sixchat_proto::escape_controls`]); the body keeps its newlines and tabs.

use sixchat_proto::{escape_controls, escape_controls_multiline};

/// Shows one notification; a desktop without a notification service just
/// does not show it.
pub fn show(title: &str, body: &str) {
    if let Err(e) = notify_rust::Notification::new()
        .appname("SixChat")
        .summary(&escape_controls(title))
        .body(&escape_controls_multiline(body))
        .show()
    {
        tracing::debug!("no desktop notification: {e}");
    }
}
