//! Text that came from a peer, a certificate or a DIR, made safe to show.
//!
//! A peer controls its chat bodies, `sent` values, error reasons and display
//! name, and whoever made a certificate controls its names (an rfc822Name is
//! an IA5String: newlines and ESC are allowed). Printed raw, such text can
//! start a line of its own (a forged `chat …` line) or drive the terminal
//! with escape sequences. Every human-readable output therefore passes it
//! through [`escape_controls`], which renders each such character visibly,
//! and a chat body with control characters is refused outright
//! ([`chat_body_problem`]).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is shown escaped: C0 controls (tab and newline included), DEL,
/// C1 controls, the Unicode bidi embeddings, overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069) and the line and paragraph separators
/// (U+2028, U+2029).
pub fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{2028}'
        | '\u{2029}')
}

fn escape_where(text: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !escape(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(other));
            }
        }
    }
    Cow::Owned(out)
}

/// `text` for a one-line output: every character of [`needs_escape`] is
/// written as `\n`, `\r`, `\t` or `\u{1b}` (Rust's notation), so the result
/// holds no line break, no terminal control and no bidi control.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    escape_where(text, needs_escape)
}

/// As [`escape_controls`], but keeps newlines and tabs: for an output that is
/// explicitly multi-line (a notification's body) or whose own layout uses
/// them (a block the caller built from already escaped fields).
pub fn escape_controls_multiline(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c != '\n' && c != '\t' && needs_escape(c))
}

/// Whether `c` may not appear in a chat body: every C0 control except tab
/// and newline (so CR too), DEL, and the C1 controls.
pub fn forbidden_in_chat(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Why `body` is not a chat body we send or accept, if it is not: it names
/// the first forbidden character (see [`forbidden_in_chat`]).
pub fn chat_body_problem(body: &str) -> Option<String> {
    body.chars().find(|c| forbidden_in_chat(*c)).map(|c| {
        format!(
            "the text contains the control character U+{:04X}; only tab and newline are allowed",
            u32::from(c)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in ["", "hello", "grüße ✓ 你好 مرحبا", "a\\u{1b}b"] {
            assert!(matches!(escape_controls(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn every_control_is_rendered_visibly() {
        assert_eq!(
            escape_controls("a\nchat bob@example.org x: new account\x1b[2K\r\t"),
            "a\\nchat bob@example.org x: new account\\u{1b}[2K\\r\\t"
        );
        assert_eq!(
            escape_controls("\0\u{7f}\u{85}\u{9b}"),
            "\\u{0}\\u{7f}\\u{85}\\u{9b}"
        );
        assert_eq!(
            escape_controls("\u{202e}gpj.exe\u{2066}\u{2069}\u{2028}\u{2029}"),
            "\\u{202e}gpj.exe\\u{2066}\\u{2069}\\u{2028}\\u{2029}"
        );
        // Nothing that needs escaping survives, whatever the input.
        let all: String = (0..0x3000)
            .filter_map(char::from_u32)
            .chain(['\u{10ffff}'])
            .collect();
        let escaped = escape_controls(&all);
        assert!(!escaped.chars().any(needs_escape));
        assert!(!escaped.contains('\n') && !escaped.contains('\u{1b}'));
        // Characters that are not controls pass through.
        assert!(!needs_escape(' ') && !needs_escape('\u{a0}') && !needs_escape('\u{200f}'));
    }

    #[test]
    fn multiline_keeps_only_newline_and_tab() {
        assert_eq!(
            escape_controls_multiline("one\n\ttwo\r\x1b]0;title\x07"),
            "one\n\ttwo\\r\\u{1b}]0;title\\u{7}"
        );
    }

    #[test]
    fn chat_bodies_allow_tab_and_newline_only() {
        assert_eq!(chat_body_problem("line one\n\tline two ✓"), None);
        for bad in ["\x1b[31m", "a\rb", "\0", "\u{7f}", "\u{9b}", "bell\x07"] {
            assert!(chat_body_problem(bad).is_some(), "{bad:?}");
        }
        assert_eq!(
            chat_body_problem("x\x1by").as_deref(),
            Some(
                "the text contains the control character U+001B; only tab and newline are allowed"
            )
        );
        // Bidi controls are shown escaped but not refused: right-to-left text uses them.
        assert_eq!(chat_body_problem("\u{202b}שלום\u{202c}"), None);
    }
}
