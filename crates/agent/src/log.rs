//! Log lines that a peer cannot forge: the `tracing` writer for sixchat-cli
//! and the desktop app.
//!
//! Log messages quote peer-supplied text (handshake reasons with certificate
//! names, error reasons, addresses from the DIR). tracing-subscriber escapes
//! ESC but not newlines, so a newline in a certificate's email address would
//! start a log line of the peer's choosing. [`SafeStderr`] writes each
//! formatted event to stderr with every control character escaped
//! ([`sixchat_proto::escape_controls`]) except the event's final newline.
//! Colour codes would be escaped too: use it with `with_ansi(false)`.

use std::io::{self, Write};

use sixchat_proto::escape_controls;

/// A `MakeWriter` for `tracing_subscriber::fmt` that writes to stderr with
/// every control character escaped but the line's own end.
#[derive(Clone, Copy, Debug, Default)]
pub struct SafeStderr;

/// The writer for one event.
#[derive(Debug)]
pub struct SafeLine;

/// `bytes` (one formatted event) with everything but its final newline escaped.
pub fn safe_line(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let (body, end) = match text.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (text.as_ref(), ""),
    };
    let mut out = escape_controls(body).into_owned();
    out.push_str(end);
    out.into_bytes()
}

impl Write for SafeLine {
    /// tracing-subscriber formats an event into one buffer and writes it
    /// whole, so each call is one event.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stderr().lock().write_all(&safe_line(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SafeStderr {
    type Writer = SafeLine;

    fn make_writer(&'a self) -> Self::Writer {
        SafeLine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_line_stays_inside_its_event() {
        let event = b"INFO inbound handshake failed: certificate is for x\nchat bob@example.org 1 2: pay here\x1b[2K\n";
        let written = String::from_utf8(safe_line(event)).expect("utf-8");
        assert_eq!(written.matches('\n').count(), 1);
        assert!(written.ends_with("pay here\\u{1b}[2K\n"), "{written}");
        assert!(!written.contains('\u{1b}'));
    }
}
