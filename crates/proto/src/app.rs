//! Application messages (protocol.md, "Application messages"): one XML document
//! each, with a `type` and a unique `id`. Unknown children are ignored.
//!
//! A chat's `<body>` may hold no control character but tab and newline (no
//! other C0, no DEL, no C1: [`crate::text::forbidden_in_chat`]), and its
//! `<sent>` none at all; such a chat is unusable like any malformed message
//! (answered with `error`, not stored, not acknowledged).

use crate::files::FileMessage;
use crate::mail::MailMessage;
use crate::xml::{self, Element, NAMESPACE, Writer};

/// One application message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppMessage {
    Chat {
        id: String,
        sent: String,
        body: String,
    },
    Ack {
        id: String,
        reference: String,
    },
    Read {
        id: String,
        reference: String,
    },
    Typing {
        id: String,
        active: bool,
    },
    Error {
        id: String,
        reference: String,
        reason: String,
    },
    Ping {
        id: String,
    },
    Pong {
        id: String,
        reference: String,
    },
    Bye {
        id: String,
    },
    /// A file-transfer message (`file-*`, docs/transfer.md).
    File {
        id: String,
        message: FileMessage,
    },
    /// A mail over the session (`mail-offer`, `mail-accept`, `mail-refuse`,
    /// `mail-stored`: docs/mail.md).
    Mail {
        id: String,
        message: MailMessage,
    },
    /// `mail-receipt` (docs/mail.md): `<message_id>` of a mail we received
    /// and `<state>` `delivered` (stored, before it was read or decrypted)
    /// or `read` (shown to the person).
    MailReceipt {
        id: String,
        message_id: String,
        read: bool,
    },
}

/// Longest Message-ID a receipt names.
pub const MAX_MESSAGE_ID_CHARS: usize = 256;

/// A Message-ID (without angle brackets) we accept in a receipt.
pub fn valid_message_id(text: &str) -> bool {
    (1..=MAX_MESSAGE_ID_CHARS).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'&'))
}

/// Why an application message could not be used; answered with `error`
/// (`id` is the offending message's id when it had a readable one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct AppError {
    pub id: Option<String>,
    pub reason: String,
}

/// Longest id accepted.
const MAX_ID_CHARS: usize = 64;

pub(crate) fn valid_id(id: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'&')
}

impl AppMessage {
    pub fn id(&self) -> &str {
        match self {
            Self::Chat { id, .. }
            | Self::Ack { id, .. }
            | Self::Read { id, .. }
            | Self::Typing { id, .. }
            | Self::Error { id, .. }
            | Self::Ping { id }
            | Self::Pong { id, .. }
            | Self::Bye { id }
            | Self::File { id, .. }
            | Self::Mail { id, .. }
            | Self::MailReceipt { id, .. } => id,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Chat { .. } => "chat",
            Self::Ack { .. } => "ack",
            Self::Read { .. } => "read",
            Self::Typing { .. } => "typing",
            Self::Error { .. } => "error",
            Self::Ping { .. } => "ping",
            Self::Pong { .. } => "pong",
            Self::Bye { .. } => "bye",
            Self::File { message, .. } => message.type_name(),
            Self::Mail { message, .. } => message.type_name(),
            Self::MailReceipt { .. } => "mail-receipt",
        }
    }

    /// The capabilities that must have been agreed before this message is sent.
    pub fn required_capabilities(&self) -> &'static [&'static str] {
        match self {
            Self::Chat { .. } | Self::Ack { .. } | Self::Read { .. } => &["chat"],
            Self::Typing { .. } => &["chat", "typing"],
            Self::Error { .. } | Self::Ping { .. } | Self::Pong { .. } | Self::Bye { .. } => &[],
            Self::File { .. } => &["file-transfer"],
            Self::Mail { .. } | Self::MailReceipt { .. } => &["mail"],
        }
    }

    pub fn to_xml(&self) -> Vec<u8> {
        let w = Writer::message(self.type_name(), Some(self.id()));
        match self {
            Self::Chat { sent, body, .. } => w.child("sent", sent).child("body", body),
            Self::Ack { reference, .. }
            | Self::Read { reference, .. }
            | Self::Pong { reference, .. } => w.child("ref", reference),
            Self::Typing { active, .. } => {
                w.child("state", if *active { "active" } else { "paused" })
            }
            Self::Error {
                reference, reason, ..
            } => w.child("ref", reference).child("reason", reason),
            Self::Ping { .. } | Self::Bye { .. } => w,
            Self::File { message, .. } => message.write(w),
            Self::Mail { message, .. } => message.write(w),
            Self::MailReceipt {
                message_id, read, ..
            } => w
                .child("message_id", message_id)
                .child("state", if *read { "read" } else { "delivered" }),
        }
        .finish()
    }

    #[allow(clippy::too_many_lines)] // one arm per message type of protocol.md's table, and the file messages
    pub fn parse(bytes: &[u8]) -> Result<Self, AppError> {
        let root = xml::parse(bytes).map_err(|e| AppError {
            id: None,
            reason: e.to_string(),
        })?;
        let id = root
            .attribute("id")
            .filter(|id| valid_id(id))
            .map(str::to_owned);
        let fail = |reason: String| AppError {
            id: id.clone(),
            reason,
        };
        if root.name != "message" || root.attribute("xmlns") != Some(NAMESPACE) {
            return Err(fail("not a Direct message".into()));
        }
        if root.attribute("version") != Some("2") {
            return Err(fail("unsupported version".into()));
        }
        let Some(id) = id.clone() else {
            return Err(fail("missing or invalid id".into()));
        };
        let text = |name: &str| -> Result<String, AppError> {
            let child: &Element = root
                .child(name)
                .ok_or_else(|| fail(format!("missing <{name}>")))?;
            Ok(child.text.clone())
        };
        let reference = || {
            text("ref").and_then(|r| {
                if valid_id(&r) {
                    Ok(r)
                } else {
                    Err(fail("invalid <ref>".into()))
                }
            })
        };
        Ok(match root.attribute("type").unwrap_or_default() {
            "chat" => {
                let sent = text("sent")?;
                if sent.chars().any(crate::text::needs_escape) {
                    return Err(fail("invalid <sent>".into()));
                }
                let body = text("body")?;
                if let Some(problem) = crate::text::chat_body_problem(&body) {
                    return Err(fail(format!("invalid <body>: {problem}")));
                }
                Self::Chat { id, sent, body }
            }
            "ack" => Self::Ack {
                id,
                reference: reference()?,
            },
            "read" => Self::Read {
                id,
                reference: reference()?,
            },
            "typing" => match text("state")?.as_str() {
                "active" => Self::Typing { id, active: true },
                "paused" => Self::Typing { id, active: false },
                _ => return Err(fail("typing state is neither active nor paused".into())),
            },
            "error" => Self::Error {
                id,
                reference: text("ref")?,
                reason: text("reason")?,
            },
            "ping" => Self::Ping { id },
            "pong" => Self::Pong {
                id,
                reference: reference()?,
            },
            "bye" => Self::Bye { id },
            "mail-receipt" => {
                let message_id = text("message_id")?;
                if !valid_message_id(&message_id) {
                    return Err(fail("invalid <message_id>".into()));
                }
                let read = match text("state")?.as_str() {
                    "delivered" => false,
                    "read" => true,
                    _ => return Err(fail("a receipt state is delivered or read".into())),
                };
                Self::MailReceipt {
                    id,
                    message_id,
                    read,
                }
            }
            other if MailMessage::is_mail_type(other) => match MailMessage::parse(other, &root) {
                Ok(Some(message)) => Self::Mail { id, message },
                Ok(None) => return Err(fail(format!("unknown message type {other:?}"))),
                Err(e) => return Err(fail(format!("{other}: {e}"))),
            },
            other if FileMessage::is_file_type(other) => match FileMessage::parse(other, &root) {
                Ok(Some(message)) => Self::File { id, message },
                Ok(None) => return Err(fail(format!("unknown message type {other:?}"))),
                Err(e) => return Err(fail(format!("{other}: {e}"))),
            },
            other => {
                return Err(fail(format!(
                    "unknown message type {:?}",
                    other.chars().take(32).collect::<String>()
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_unknown_children() {
        let chat = AppMessage::Chat {
            id: "00000000-0000-4000-8000-000000000001".into(),
            sent: "2026-01-01T12:00:00Z".into(),
            body: "Hello Bob, grüße ✓".into(),
        };
        assert_eq!(AppMessage::parse(&chat.to_xml()).unwrap(), chat);
        let extended = String::from_utf8(chat.to_xml())
            .unwrap()
            .replace("<body>", "<future>x</future><body>");
        assert_eq!(AppMessage::parse(extended.as_bytes()).unwrap(), chat);
        let receipt = AppMessage::MailReceipt {
            id: "r1".into(),
            message_id: "m1.abc@a.example".into(),
            read: true,
        };
        assert_eq!(AppMessage::parse(&receipt.to_xml()).unwrap(), receipt);
        let hostile = String::from_utf8(receipt.to_xml())
            .unwrap()
            .replace("m1.abc@a.example", "a&lt;b");
        assert!(AppMessage::parse(hostile.as_bytes()).is_err());
    }

    #[test]
    fn unusable_messages_name_their_id() {
        let unknown =
            br#"<message xmlns="urn:sixchat:direct" version="2" type="teleport" id="abc"/>"#;
        assert_eq!(
            AppMessage::parse(unknown).unwrap_err().id.as_deref(),
            Some("abc")
        );
        let old = br#"<message xmlns="urn:sixchat:direct" version="1" type="ping" id="abc"/>"#;
        assert_eq!(
            AppMessage::parse(old).unwrap_err().reason,
            "unsupported version"
        );
        let no_body = br#"<message xmlns="urn:sixchat:direct" version="2" type="chat" id="abc"><sent>t</sent></message>"#;
        assert!(AppMessage::parse(no_body).is_err());
    }

    fn chat_xml(sent: &str, body: &str) -> String {
        format!(
            r#"<message xmlns="urn:sixchat:direct" version="2" type="chat" id="abc"><sent>{sent}</sent><body>{body}</body></message>"#
        )
    }

    #[test]
    fn chat_bodies_with_control_characters_are_refused() {
        // ESC, written as a character reference (which the XML parser lets through) or raw.
        for body in [
            "new account&#x1b;[2K",
            "x\u{1b}y",
            "a&#xd;b",
            "&#x7f;",
            "&#x9b;",
        ] {
            let err = AppMessage::parse(chat_xml("2026-01-01T12:00:00Z", body).as_bytes())
                .expect_err(body);
            assert_eq!(err.id.as_deref(), Some("abc"), "{body}");
            assert!(err.reason.starts_with("invalid <body>"), "{}", err.reason);
        }
        let err = AppMessage::parse(chat_xml("2026-01-01T12:00:00Z&#xa;chat", "hi").as_bytes())
            .expect_err("a newline in <sent>");
        assert_eq!(err.reason, "invalid <sent>");
        // Tab and newline are text.
        let ok = AppMessage::parse(
            chat_xml("2026-01-01T12:00:00Z", "line one&#xa;\tline two\nthree").as_bytes(),
        )
        .expect("tab and newline are allowed");
        assert!(
            matches!(ok, AppMessage::Chat { body, .. } if body == "line one\n\tline two\nthree")
        );
        // What we write ourselves round-trips.
        let chat = AppMessage::Chat {
            id: "abc".into(),
            sent: "2026-01-01T12:00:00Z".into(),
            body: "a\n\tb".into(),
        };
        assert_eq!(AppMessage::parse(&chat.to_xml()).unwrap(), chat);
    }
}
