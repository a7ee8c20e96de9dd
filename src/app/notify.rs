//! Desktop notifications (called from the backend, never from the UI thread).
//!
//! The title names a peer and the body is a peer's chat: both are peer
//! text, so control characters are shown escaped
//! ([`sixchat_proto::escape_controls`]); the body keeps its newlines and tabs.
//! Freedesktop notification servers read a subset of HTML in the body
//! (`<a href>`, `<img>`, `<b>`): on those systems `&`, `<` and `>` are
//! written as entities, so a chat can neither make a link nor load an image.

use std::borrow::Cow;

use sixchat_proto::{escape_controls, escape_controls_multiline};

/// The body as the notification server must get it.
fn body_text(body: &str) -> String {
    let shown = escape_controls_multiline(body);
    if cfg!(all(unix, not(target_os = "macos"))) {
        markup_escaped(&shown).into_owned()
    } else {
        shown.into_owned()
    }
}

/// `&`, `<` and `>` as entities (the markup the freedesktop spec allows).
fn markup_escaped(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(ch),
        }
    }
    Cow::Owned(out)
}

/// Shows one notification; a desktop without a notification service just
/// does not show it.
pub fn show(title: &str, body: &str) {
    if let Err(e) = notify_rust::Notification::new()
        .appname("SixChat")
        .summary(&escape_controls(title))
        .body(&body_text(body))
        .show()
    {
        tracing::debug!("no desktop notification: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_chat_is_shown_not_followed() {
        assert_eq!(
            markup_escaped("<a href=\"https://x.example\">pay</a> & <img src=x>"),
            "&lt;a href=\"https://x.example\"&gt;pay&lt;/a&gt; &amp; &lt;img src=x&gt;"
        );
        assert!(matches!(markup_escaped("plain"), Cow::Borrowed("plain")));
    }
}
