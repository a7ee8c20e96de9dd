//! Handshake messages 1-12 and the plain Alert (protocol.md, "Element names"):
//! typed values, a strict parser for each, and the compact writer.

mod codec;
mod strict;
#[cfg(test)]
mod tests;

use self::strict::check_root;
use crate::AlertCode;
use crate::xml::{self, Writer, XmlError};

/// Why a handshake message was refused, and the alert that answers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("version {0:?} is not 2")]
    Version(String),
    #[error("expected {expected}, got {got}")]
    UnexpectedType { expected: &'static str, got: String },
    #[error("malformed {0}")]
    Shape(String),
    #[error("invalid base64 in <{0}>")]
    Base64(&'static str),
    #[error("<{0}> has the wrong size")]
    Size(&'static str),
    #[error("duplicate token {0:?}")]
    Duplicate(String),
}

impl MessageError {
    pub fn alert(&self) -> AlertCode {
        match self {
            Self::Version(_) | Self::UnexpectedType { .. } => AlertCode::HandshakeFailure,
            _ => AlertCode::DecodeError,
        }
    }
}

fn shape(what: impl Into<String>) -> MessageError {
    MessageError::Shape(what.into())
}

/// Message 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilitiesOffer {
    pub capabilities: Vec<String>,
    pub nonce: [u8; 32],
    pub key_commit: [u8; 32],
}

/// Message 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilitiesAccept {
    pub capabilities: Vec<String>,
    pub nonce: [u8; 32],
    pub key_share: [u8; 32],
    pub sas_commit: [u8; 32],
}

/// Message 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoSuiteOffer {
    pub algorithms: Vec<String>,
    pub key_share: [u8; 32],
}

/// Message 4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoSuiteAccept {
    pub algorithms: Vec<String>,
}

/// Messages 5 (with `peer_id`) and 8 (without).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub user_id: String,
    pub name: String,
    pub peer_id: Option<String>,
    pub certificates: Vec<Vec<u8>>,
}

/// Messages 6 and 9.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoChallenge {
    pub challenge: [u8; 32],
}

/// Messages 7 and 10.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeResponse {
    pub signature: Option<Vec<u8>>,
    pub mac: [u8; 32],
}

/// Message 11.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExchange {
    pub finished: [u8; 32],
}

/// Message 12.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReady {
    pub finished: [u8; 32],
    pub sas_reveal: [u8; 32],
}

/// Most certificates in a chain.
pub const MAX_CHAIN: usize = 4;

/// The plain Alert message: `<alert level="fatal">NAME</alert>`.
pub fn alert_to_xml(alert: AlertCode) -> Vec<u8> {
    let level = if alert.level() == 1 {
        "warning"
    } else {
        "fatal"
    };
    Writer::message("Alert", None)
        .child_attr("alert", "level", level, alert.name())
        .finish()
}

/// Reads a plain Alert; an unknown name reads as `handshake_failure`.
pub fn parse_alert(bytes: &[u8]) -> Result<AlertCode, MessageError> {
    let root = xml::parse(bytes)?;
    check_root(&root, "Alert")?;
    let [alert] = root.children.as_slice() else {
        return Err(shape("Alert: children"));
    };
    if alert.name != "alert" || !alert.children.is_empty() {
        return Err(shape("Alert: children"));
    }
    Ok(AlertCode::from_name(&alert.text).unwrap_or(AlertCode::HandshakeFailure))
}

/// The `type` of a plain message, to tell an Alert from a handshake message.
pub fn message_type(bytes: &[u8]) -> Option<String> {
    xml::parse(bytes).ok()?.attribute("type").map(str::to_owned)
}
