//! IRP, the Identity Registration Protocol (irp.md), sans-IO.
//!
//! The DIR and the agent's IRP client share these types: the frame header,
//! the `<message>` envelope, every request and response with its XML shape,
//! the error codes, and the user-signed address record. irp.md fixes the
//! envelope and the message names; the element names inside each message
//! are ours and are listed in ARCHITECTURE.md ("IRP messages").
//!
//! # Layout
//!
//! - this file: limits, the frame header, [`Header`], [`IrpError`], the writer.
//! - [`messages`]: [`Request`] and [`Response`], to and from XML.
//! - [`record`]: the [`AddressRecord`] and its canonical bytes.
//! - [`invite`]: the invite string.

pub mod invite;
pub mod messages;
pub mod record;

pub use invite::{Invite, InviteError};

pub use messages::{
    CertState, CertStatus, CertUsage, ErrorCode, ErrorResponse, LookupResult, Request, Response,
    StoredEnvelope,
};
pub use record::{AddressRecord, SignedRecord};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::xml::{self, Element};

/// The namespace of every IRP message.
pub const NAMESPACE: &str = "urn:sixchat:irp";
/// The one protocol version.
pub const VERSION: &str = "1";
/// The IRP port (irp.md).
pub const IRP_PORT: u16 = 4604;
/// Largest frame body for every message but the store messages.
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// Largest frame body for `store_put` and `store_fetch_response`.
pub const MAX_STORE_FRAME_BYTES: usize = 64 << 20;
/// Bytes of the frame header (`u32be` length).
pub const HEADER_BYTES: usize = 4;
/// Longest request id accepted.
pub const MAX_ID_CHARS: usize = 64;

/// Why an IRP message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IrpError {
    #[error("frame of {0} bytes is over the limit")]
    FrameTooLarge(usize),
    #[error("malformed XML: {0}")]
    Xml(#[from] xml::XmlError),
    #[error("not an IRP message: {0}")]
    NotIrp(String),
    #[error("unsupported IRP version {0:?}")]
    Version(String),
    #[error("unrecognised message type {0:?}")]
    UnknownType(String),
    #[error("malformed {message}: {reason}")]
    Malformed {
        message: &'static str,
        reason: String,
    },
}

impl IrpError {
    /// The `error_response` code that answers this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Version(_) => ErrorCode::Version,
            Self::FrameTooLarge(_) => ErrorCode::TooLarge,
            _ => ErrorCode::UnknownRequest,
        }
    }
}

pub(crate) fn malformed(message: &'static str, reason: impl Into<String>) -> IrpError {
    IrpError::Malformed {
        message,
        reason: reason.into(),
    }
}

/// The frame header for a body of `len` bytes.
pub fn frame_header(len: usize) -> Result<[u8; HEADER_BYTES], IrpError> {
    if len > MAX_STORE_FRAME_BYTES {
        return Err(IrpError::FrameTooLarge(len));
    }
    Ok(u32::try_from(len)
        .map_err(|_| IrpError::FrameTooLarge(len))?
        .to_be_bytes())
}

/// Reads a frame header; refuses a length over `limit` before anything is
/// allocated.
pub fn frame_len(header: [u8; HEADER_BYTES], limit: usize) -> Result<usize, IrpError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > limit.min(MAX_STORE_FRAME_BYTES) {
        return Err(IrpError::FrameTooLarge(len));
    }
    Ok(len)
}

/// `u32be length ‖ body`.
pub fn encode_frame(body: &[u8]) -> Result<Vec<u8>, IrpError> {
    let header = frame_header(body.len())?;
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    Ok(out)
}

/// The envelope's attributes other than the type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// The UserID of the sender, or the domain for a DIR's response. Absent on
    /// requests from an agent without an identity yet.
    pub sender: Option<String>,
    /// The domain for a request, the caller's UserID for a response.
    pub recipient: Option<String>,
    /// The request id, echoed by the response.
    pub id: String,
}

impl Header {
    pub fn new(sender: Option<&str>, recipient: Option<&str>, id: &str) -> Self {
        Self {
            sender: sender.map(str::to_owned),
            recipient: recipient.map(str::to_owned),
            id: id.to_owned(),
        }
    }

    /// The header of the response to a request with this header.
    #[must_use]
    pub fn reply(&self) -> Self {
        Self {
            sender: self.recipient.clone(),
            recipient: self.sender.clone(),
            id: self.id.clone(),
        }
    }
}

/// Parses the envelope: namespace, version, type and header attributes.
/// Returns the message type and the root element for the body parser.
pub fn parse_envelope(bytes: &[u8]) -> Result<(String, Header, Element), IrpError> {
    let root = xml::parse(bytes)?;
    let (message_type, header) = read_envelope(&root)?;
    Ok((message_type, header, root))
}

/// Checks the envelope of a parsed document: its message type and header.
pub(crate) fn read_envelope(root: &Element) -> Result<(String, Header), IrpError> {
    if root.name != "message" {
        return Err(IrpError::NotIrp(format!("root element <{}>", root.name)));
    }
    if root.attribute("xmlns") != Some(NAMESPACE) {
        return Err(IrpError::NotIrp("missing or wrong namespace".into()));
    }
    let version = root.attribute("version").unwrap_or_default();
    if version != VERSION {
        return Err(IrpError::Version(version.chars().take(16).collect()));
    }
    let message_type = root
        .attribute("type")
        .ok_or_else(|| IrpError::NotIrp("no type".into()))?
        .to_owned();
    let id = root.attribute("id").unwrap_or_default();
    if !id_is_valid(id) {
        return Err(IrpError::NotIrp("missing or overlong id".into()));
    }
    let header = Header {
        sender: root.attribute("sender").map(str::to_owned),
        recipient: root.attribute("recipient").map(str::to_owned),
        id: id.to_owned(),
    };
    Ok((message_type, header))
}

fn id_is_valid(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_ID_CHARS
}

/// The header to answer a document whose envelope is bad under: only its
/// id, if that much is good, else id "0".
pub(crate) fn fallback_header(root: Option<&Element>) -> Header {
    let id = root
        .and_then(|root| root.attribute("id"))
        .filter(|id| id_is_valid(id))
        .unwrap_or("0");
    Header::new(None, None, id)
}

/// Writes compact IRP XML: the envelope, then flat children.
#[derive(Debug)]
pub(crate) struct Writer {
    out: String,
}

impl Writer {
    pub(crate) fn new(message_type: &str, header: &Header) -> Self {
        let mut out = String::with_capacity(512);
        out.push_str("<message xmlns=\"");
        out.push_str(NAMESPACE);
        out.push_str("\" version=\"");
        out.push_str(VERSION);
        out.push('"');
        let mut attribute = |key: &str, value: Option<&str>| {
            if let Some(value) = value {
                out.push(' ');
                out.push_str(key);
                out.push_str("=\"");
                xml::escape_into(&mut out, value);
                out.push('"');
            }
        };
        attribute("sender", header.sender.as_deref());
        attribute("recipient", header.recipient.as_deref());
        attribute("type", Some(message_type));
        attribute("id", Some(&header.id));
        out.push('>');
        Self { out }
    }

    /// `<name k="v" …>text</name>`.
    pub(crate) fn element(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attributes {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            xml::escape_into(&mut self.out, value);
            self.out.push('"');
        }
        self.out.push('>');
        xml::escape_into(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    pub(crate) fn text(&mut self, name: &str, text: &str) {
        self.element(name, &[], text);
    }

    /// `<name>base64</name>`; the base64 alphabet needs no escaping.
    pub(crate) fn base64(&mut self, name: &str, bytes: &[u8]) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        BASE64.encode_string(bytes, &mut self.out);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.out.push_str("</message>");
        self.out.into_bytes()
    }
}

/// Reading the children of a message body.
pub(crate) struct Body<'a> {
    pub(crate) message: &'static str,
    pub(crate) root: &'a Element,
}

impl<'a> Body<'a> {
    pub(crate) fn optional(&self, name: &str) -> Option<&'a Element> {
        self.root.child(name)
    }

    pub(crate) fn all(&self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.root.children.iter().filter(move |c| c.name == name)
    }

    pub(crate) fn text(&self, name: &str) -> Result<&'a str, IrpError> {
        self.optional(name)
            .map(|e| e.text.as_str())
            .ok_or_else(|| malformed(self.message, format!("no <{name}>")))
    }

    pub(crate) fn base64(&self, name: &str) -> Result<Vec<u8>, IrpError> {
        decode_base64(self.message, name, self.text(name)?)
    }

    pub(crate) fn optional_base64(&self, name: &str) -> Result<Option<Vec<u8>>, IrpError> {
        self.optional(name)
            .map(|e| decode_base64(self.message, name, &e.text))
            .transpose()
    }

    pub(crate) fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, IrpError> {
        parse_number(self.message, name, self.text(name)?)
    }

    pub(crate) fn optional_number<T: std::str::FromStr>(
        &self,
        name: &str,
    ) -> Result<Option<T>, IrpError> {
        self.optional(name)
            .map(|e| parse_number(self.message, name, &e.text))
            .transpose()
    }
}

pub(crate) fn decode_base64(
    message: &'static str,
    name: &str,
    text: &str,
) -> Result<Vec<u8>, IrpError> {
    BASE64
        .decode(text.trim())
        .map_err(|_| malformed(message, format!("<{name}> is not base64")))
}

pub(crate) fn parse_number<T: std::str::FromStr>(
    message: &'static str,
    name: &str,
    text: &str,
) -> Result<T, IrpError> {
    text.trim()
        .parse()
        .map_err(|_| malformed(message, format!("<{name}> is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_limits_are_checked_before_reading_the_body() {
        assert_eq!(frame_len(1024u32.to_be_bytes(), MAX_FRAME_BYTES), Ok(1024));
        let over = u32::try_from(MAX_FRAME_BYTES + 1).unwrap().to_be_bytes();
        assert_eq!(
            frame_len(over, MAX_FRAME_BYTES),
            Err(IrpError::FrameTooLarge(MAX_FRAME_BYTES + 1))
        );
        assert!(frame_len(over, MAX_STORE_FRAME_BYTES).is_ok());
        assert!(frame_len(u32::MAX.to_be_bytes(), usize::MAX).is_err());
        let frame = encode_frame(b"<x/>").unwrap();
        assert_eq!(&frame[..4], &[0, 0, 0, 4]);
    }

    #[test]
    fn envelope_is_checked() {
        let good = br#"<message xmlns="urn:sixchat:irp" version="1" sender="a@x.org" recipient="x.org" type="crl" id="7"/>"#;
        let (kind, header, _) = parse_envelope(good).unwrap();
        assert_eq!(kind, "crl");
        assert_eq!(header.sender.as_deref(), Some("a@x.org"));
        assert_eq!(header.reply().recipient.as_deref(), Some("a@x.org"));
        let wrong_version = br#"<message xmlns="urn:sixchat:irp" version="2" type="crl" id="7"/>"#;
        assert_eq!(
            parse_envelope(wrong_version).unwrap_err().code(),
            ErrorCode::Version
        );
        let wrong_ns = br#"<message xmlns="urn:sixchat:direct" version="1" type="crl" id="7"/>"#;
        assert!(matches!(parse_envelope(wrong_ns), Err(IrpError::NotIrp(_))));
        let no_id = br#"<message xmlns="urn:sixchat:irp" version="1" type="crl"/>"#;
        assert!(parse_envelope(no_id).is_err());
    }
}
