//! Mail over a live Direct session (docs/mail.md, "Directly, over a live session"):
//! application messages of the `mail` capability. A mail is one S/MIME
//! message, opaque here. Up to [`MAX_INLINE_BYTES`] travel inside the
//! `mail-offer`; a larger one goes as a bulk stream (inner type 0x18) whose
//! id the receiver picks with [`MAIL_STREAM_BIT`] set, so it never meets a
//! file stream. The receiver answers `mail-stored` only once the whole mail
//! is stored.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::xml::{Element, Writer};

/// Most bytes of a mail offered over a session (what the mail service
/// writes is at most 40 MiB; the offer's `size` may not say more).
pub const MAX_MAIL_BYTES: u64 = 40 << 20;
/// Most bytes of a mail carried inside its `mail-offer` (base64 makes it
/// about 44 KiB of the record's 64 KiB).
pub const MAX_INLINE_BYTES: usize = 32 << 10;
/// Set in every stream id that carries a mail (the receiver picks it).
pub const MAIL_STREAM_BIT: u32 = 1 << 31;
/// Longest `<reason>` of a `mail-refuse`.
const MAX_REASON_CHARS: usize = 256;

/// One mail message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailMessage {
    /// The sender offers one mail: its `size`, SHA-256, and (when it is at
    /// most [`MAX_INLINE_BYTES`]) the mail itself.
    Offer {
        size: u64,
        sha256: [u8; 32],
        data: Option<Vec<u8>>,
    },
    /// The receiver takes offer `reference`: send it as bulk stream `stream`
    /// from offset 0.
    Accept { reference: String, stream: u32 },
    /// The receiver will not take offer `reference` now (the sender leaves
    /// it at the receiver's DIR instead).
    Refuse { reference: String, reason: String },
    /// The whole mail of offer `reference` is stored: the sender's
    /// delivery is done.
    Stored { reference: String },
}

/// Why a mail message is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailMessageError {
    #[error("missing <{0}>")]
    Missing(&'static str),
    #[error("invalid <{0}>")]
    Invalid(&'static str),
    #[error("a mail of {0} bytes is over the limit")]
    TooLarge(u64),
    #[error("the inline mail is not the size the offer says")]
    SizeMismatch,
}

impl MailMessage {
    /// The message's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Offer { .. } => "mail-offer",
            Self::Accept { .. } => "mail-accept",
            Self::Refuse { .. } => "mail-refuse",
            Self::Stored { .. } => "mail-stored",
        }
    }

    /// Whether `type_name` is one of these messages.
    pub fn is_mail_type(type_name: &str) -> bool {
        matches!(
            type_name,
            "mail-offer" | "mail-accept" | "mail-refuse" | "mail-stored"
        )
    }

    /// Writes the message's children.
    pub fn write(&self, w: Writer) -> Writer {
        match self {
            Self::Offer { size, sha256, data } => {
                let w = w
                    .child("size", &size.to_string())
                    .child("sha256", &hex::encode(sha256));
                match data {
                    Some(data) => w.child("data", &STANDARD.encode(data)),
                    None => w,
                }
            }
            Self::Accept { reference, stream } => w
                .child("ref", reference)
                .child("stream", &stream.to_string()),
            Self::Refuse { reference, reason } => w.child("ref", reference).child("reason", reason),
            Self::Stored { reference } => w.child("ref", reference),
        }
    }

    /// Reads the message of type `type_name` from its root element; `None`
    /// if it is not a mail message.
    pub fn parse(type_name: &str, root: &Element) -> Result<Option<Self>, MailMessageError> {
        let text = |name: &'static str| -> Result<&str, MailMessageError> {
            root.child(name)
                .map(|c| c.text.as_str())
                .ok_or(MailMessageError::Missing(name))
        };
        let reference = || -> Result<String, MailMessageError> {
            let value = text("ref")?;
            if crate::app::valid_id(value) {
                Ok(value.to_owned())
            } else {
                Err(MailMessageError::Invalid("ref"))
            }
        };
        Ok(Some(match type_name {
            "mail-offer" => {
                let size: u64 = digits(text("size")?).ok_or(MailMessageError::Invalid("size"))?;
                if size > MAX_MAIL_BYTES {
                    return Err(MailMessageError::TooLarge(size));
                }
                let sha256 =
                    hex_digest(text("sha256")?).ok_or(MailMessageError::Invalid("sha256"))?;
                let data = match root.child("data") {
                    None => None,
                    Some(data) => Some(inline_data(&data.text, size)?),
                };
                Self::Offer { size, sha256, data }
            }
            "mail-accept" => {
                let stream: u32 =
                    digits(text("stream")?).ok_or(MailMessageError::Invalid("stream"))?;
                if stream & MAIL_STREAM_BIT == 0 {
                    return Err(MailMessageError::Invalid("stream"));
                }
                Self::Accept {
                    reference: reference()?,
                    stream,
                }
            }
            "mail-refuse" => {
                let reason = text("reason")?;
                if reason.chars().count() > MAX_REASON_CHARS
                    || reason.chars().any(crate::text::needs_escape)
                {
                    return Err(MailMessageError::Invalid("reason"));
                }
                Self::Refuse {
                    reference: reference()?,
                    reason: reason.to_owned(),
                }
            }
            "mail-stored" => Self::Stored {
                reference: reference()?,
            },
            _ => return Ok(None),
        }))
    }
}

/// A decimal number of ASCII digits only (no sign, no spaces).
fn digits<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn hex_digest(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

fn inline_data(text: &str, size: u64) -> Result<Vec<u8>, MailMessageError> {
    // Checked before decoding: base64 of MAX_INLINE_BYTES is 4/3 of it.
    if text.len() > MAX_INLINE_BYTES.div_ceil(3) * 4 {
        return Err(MailMessageError::Invalid("data"));
    }
    let data = STANDARD
        .decode(text.as_bytes())
        .map_err(|_| MailMessageError::Invalid("data"))?;
    if data.len() > MAX_INLINE_BYTES || data.len() as u64 != size {
        return Err(MailMessageError::SizeMismatch);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppMessage;

    fn round_trip(message: MailMessage) {
        let app = AppMessage::Mail {
            id: "m-1".into(),
            message,
        };
        assert_eq!(AppMessage::parse(&app.to_xml()).unwrap(), app);
    }

    #[test]
    fn every_message_round_trips() {
        round_trip(MailMessage::Offer {
            size: 3,
            sha256: [7; 32],
            data: Some(b"abc".to_vec()),
        });
        round_trip(MailMessage::Offer {
            size: MAX_MAIL_BYTES,
            sha256: [1; 32],
            data: None,
        });
        round_trip(MailMessage::Accept {
            reference: "m-0".into(),
            stream: MAIL_STREAM_BIT | 5,
        });
        round_trip(MailMessage::Refuse {
            reference: "m-0".into(),
            reason: "busy".into(),
        });
        round_trip(MailMessage::Stored {
            reference: "m-0".into(),
        });
    }

    fn parse(children: &str, kind: &str) -> Result<AppMessage, crate::app::AppError> {
        let xml = format!(
            r#"<message xmlns="urn:sixchat:direct" version="2" type="{kind}" id="x1">{children}</message>"#
        );
        AppMessage::parse(xml.as_bytes())
    }

    #[test]
    fn hostile_offers_are_refused_before_any_work() {
        let sha = "ab".repeat(32);
        for (children, why) in [
            (
                format!("<size>41943041</size><sha256>{sha}</sha256>"),
                "over 40 MiB",
            ),
            (format!("<size>-1</size><sha256>{sha}</sha256>"), "a sign"),
            (format!("<size> 1</size><sha256>{sha}</sha256>"), "a space"),
            (
                "<size>1</size><sha256>abcd</sha256>".to_owned(),
                "a short digest",
            ),
            (
                format!("<size>4</size><sha256>{sha}</sha256><data>YWJj</data>"),
                "size is not the data's",
            ),
            (
                format!("<size>3</size><sha256>{sha}</sha256><data>!!!!</data>"),
                "not base64",
            ),
            (
                format!(
                    "<size>1</size><sha256>{sha}</sha256><data>{}</data>",
                    "A".repeat(50_000)
                ),
                "inline data over 32 KiB",
            ),
        ] {
            assert!(parse(&children, "mail-offer").is_err(), "{why}");
        }
        // A stream without the mail bit would meet a file stream.
        assert!(parse("<ref>m-0</ref><stream>5</stream>", "mail-accept").is_err());
        assert!(parse("<ref>m-0</ref><reason>a\u{1b}[2Kb</reason>", "mail-refuse").is_err());
        assert!(parse("<ref>a&lt;b</ref>", "mail-stored").is_err());
    }
}
