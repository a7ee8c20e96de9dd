//! Human lines or one JSON object per line (`--json`).
//!
//! Text from peers, certificates and the DIR is not ours: a chat body or a
//! certificate's email address may hold a newline (which would start a line
//! of its own, e.g. a forged `chat …` line) or an ESC (which drives the
//! terminal). Callers pass each such field through [`safe`], which escapes
//! every control character (newline and tab too) so that it stays inside its
//! own line and column; [`Output::print`] then escapes whatever control is
//! left but the newlines and tabs of the caller's own layout, and
//! [`Output::fail`] prints one line with nothing unescaped. JSON lines are
//! escaped by serde_json, and the controls it leaves as they are (DEL, C1,
//! bidi) are written as `\uXXXX` too.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::process::ExitCode;

use sixchat_proto::text::{escape_controls, escape_controls_multiline, needs_escape};

/// Where results go.
#[derive(Clone, Copy)]
pub struct Output {
    json: bool,
}

/// `text` (from a peer, a certificate or the DIR) made safe for one field of
/// a human line: no line break, no tab, no terminal or bidi control.
pub fn safe(text: &str) -> Cow<'_, str> {
    escape_controls(text)
}

/// One JSON line: serde_json escapes C0 controls, quotes and backslashes;
/// the other characters of [`needs_escape`] (only ever inside strings) become
/// `\uXXXX`, so the line reads the same to a JSON parser.
pub fn json_line(value: &serde_json::Value) -> String {
    let line = value.to_string();
    if !line.chars().any(needs_escape) {
        return line;
    }
    let mut out = String::with_capacity(line.len() + 16);
    for c in line.chars() {
        if needs_escape(c) {
            // All of them are in the Basic Multilingual Plane.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn is_json(self) -> bool {
        self.json
    }

    /// Prints `human` as a line (fields from elsewhere already passed through
    /// [`safe`]), or `value` as one JSON line.
    pub fn print(self, human: &str, value: &serde_json::Value) {
        if self.json {
            println!("{}", json_line(value));
        } else {
            println!("{}", escape_controls_multiline(human));
        }
    }

    /// Reports an error on one line (stderr, or a JSON object on stdout) and returns `code`.
    pub fn fail(self, code: u8, message: &str) -> ExitCode {
        if self.json {
            println!(
                "{}",
                json_line(&serde_json::json!({ "error": message, "exit": code }))
            );
        } else {
            eprintln!("sixchat-cli: {}", escape_controls(message));
        }
        ExitCode::from(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_escape_what_serde_json_leaves() {
        let value = serde_json::json!({ "text": "a\nb\u{1b}[2K\u{7f}\u{9b}\u{202e}c" });
        let line = json_line(&value);
        assert!(!line.chars().any(needs_escape), "{line}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&line).expect("still JSON"),
            value
        );
    }
}
