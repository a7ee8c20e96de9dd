//! Handshake messages 1-12 and the plain Alert (protocol.md, "Element names"):
//! typed values, a strict parser for each, and the compact writer.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::AlertCode;
use crate::xml::{self, Element, NAMESPACE, Writer, XmlError};

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

/// How often a child may appear.
#[derive(Clone, Copy)]
enum Occurs {
    One,
    OneOrMore,
    ZeroOrMore,
    Optional,
}

/// One row of a message's child list: name, occurrence, and its one allowed attribute.
struct ChildSpec {
    name: &'static str,
    occurs: Occurs,
    attribute: Option<(&'static str, &'static str)>,
}

const fn spec(name: &'static str, occurs: Occurs) -> ChildSpec {
    ChildSpec {
        name,
        occurs,
        attribute: None,
    }
}

const KEY_SHARE: ChildSpec = ChildSpec {
    name: "key-share",
    occurs: Occurs::One,
    attribute: Some(("group", "X25519")),
};

/// Parses a handshake document of type `expected` whose children follow `specs`
/// exactly, and returns the children grouped per spec row.
fn parse_strict<'a>(
    root: &'a Element,
    expected: &'static str,
    specs: &[ChildSpec],
) -> Result<Vec<Vec<&'a Element>>, MessageError> {
    check_root(root, expected)?;
    let mut groups: Vec<Vec<&Element>> = specs.iter().map(|_| Vec::new()).collect();
    let mut children = root.children.iter().peekable();
    for (spec, group) in specs.iter().zip(groups.iter_mut()) {
        while let Some(child) = children.next_if(|c| c.name == spec.name) {
            group.push(child);
        }
        let count_ok = match spec.occurs {
            Occurs::One => group.len() == 1,
            Occurs::OneOrMore => !group.is_empty(),
            Occurs::ZeroOrMore => true,
            Occurs::Optional => group.len() <= 1,
        };
        if !count_ok {
            return Err(shape(format!("{expected}: <{}> count", spec.name)));
        }
        for child in group.iter() {
            check_leaf(child, spec)?;
        }
    }
    if let Some(extra) = children.next() {
        return Err(shape(format!("{expected}: unexpected <{}>", extra.name)));
    }
    Ok(groups)
}

fn check_root(root: &Element, expected: &'static str) -> Result<(), MessageError> {
    if root.name != "message" || root.attribute("xmlns") != Some(NAMESPACE) {
        return Err(shape("root is not <message xmlns=\"urn:sixchat:direct\">"));
    }
    let got = root.attribute("type").unwrap_or_default();
    if root.attributes.len() != 3
        || root.attribute("version").is_none()
        || root.attribute("type").is_none()
    {
        return Err(shape(format!("{got}: root attributes")));
    }
    match root.attribute("version") {
        Some("2") => {}
        other => {
            return Err(MessageError::Version(
                other.unwrap_or_default().chars().take(16).collect(),
            ));
        }
    }
    if got != expected {
        return Err(MessageError::UnexpectedType {
            expected,
            got: got.chars().take(32).collect(),
        });
    }
    Ok(())
}

fn check_leaf(child: &Element, spec: &ChildSpec) -> Result<(), MessageError> {
    if !child.children.is_empty() {
        return Err(shape(format!("<{}> has children", child.name)));
    }
    let attributes_ok = match spec.attribute {
        None => child.attributes.is_empty(),
        Some((key, value)) => child.attributes.len() == 1 && child.attribute(key) == Some(value),
    };
    if !attributes_ok {
        return Err(shape(format!("<{}> attributes", child.name)));
    }
    if child.text.trim() != child.text || child.text.is_empty() {
        return Err(shape(format!("<{}> text", child.name)));
    }
    Ok(())
}

fn bytes32(element: &Element, name: &'static str) -> Result<[u8; 32], MessageError> {
    let bytes = BASE64
        .decode(&element.text)
        .map_err(|_| MessageError::Base64(name))?;
    bytes.try_into().map_err(|_| MessageError::Size(name))
}

fn tokens(elements: &[&Element]) -> Result<Vec<String>, MessageError> {
    let mut out: Vec<String> = Vec::with_capacity(elements.len());
    for element in elements {
        if out.contains(&element.text) {
            return Err(MessageError::Duplicate(
                element.text.chars().take(32).collect(),
            ));
        }
        out.push(element.text.clone());
    }
    Ok(out)
}

fn b64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
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

impl CapabilitiesOffer {
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let root = xml::parse(bytes)?;
        let g = parse_strict(
            &root,
            "Capabilities_Offer",
            &[
                spec("capability", Occurs::OneOrMore),
                spec("nonce", Occurs::One),
                spec("key-commit", Occurs::One),
            ],
        )?;
        Ok(Self {
            capabilities: tokens(&g[0])?,
            nonce: bytes32(g[1][0], "nonce")?,
            key_commit: bytes32(g[2][0], "key-commit")?,
        })
    }

    pub fn to_xml(&self) -> Vec<u8> {
        let w = self
            .capabilities
            .iter()
            .fold(Writer::message("Capabilities_Offer", None), |w, c| {
                w.child("capability", c)
            });
        w.child("nonce", &b64(&self.nonce))
            .child("key-commit", &b64(&self.key_commit))
            .finish()
    }
}

impl CapabilitiesAccept {
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let root = xml::parse(bytes)?;
        let g = parse_strict(
            &root,
            "Capabilities_Accept",
            &[
                spec("capability", Occurs::OneOrMore),
                spec("nonce", Occurs::One),
                KEY_SHARE,
                spec("sas-commit", Occurs::One),
            ],
        )?;
        Ok(Self {
            capabilities: tokens(&g[0])?,
            nonce: bytes32(g[1][0], "nonce")?,
            key_share: bytes32(g[2][0], "key-share")?,
            sas_commit: bytes32(g[3][0], "sas-commit")?,
        })
    }

    pub fn to_xml(&self) -> Vec<u8> {
        let w = self
            .capabilities
            .iter()
            .fold(Writer::message("Capabilities_Accept", None), |w, c| {
                w.child("capability", c)
            });
        w.child("nonce", &b64(&self.nonce))
            .child_attr("key-share", "group", "X25519", &b64(&self.key_share))
            .child("sas-commit", &b64(&self.sas_commit))
            .finish()
    }
}

impl CryptoSuiteOffer {
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let root = xml::parse(bytes)?;
        let g = parse_strict(
            &root,
            "CryptoSuite_Offer",
            &[spec("algorithm", Occurs::OneOrMore), KEY_SHARE],
        )?;
        Ok(Self {
            algorithms: tokens(&g[0])?,
            key_share: bytes32(g[1][0], "key-share")?,
        })
    }

    pub fn to_xml(&self) -> Vec<u8> {
        let w = self
            .algorithms
            .iter()
            .fold(Writer::message("CryptoSuite_Offer", None), |w, a| {
                w.child("algorithm", a)
            });
        w.child_attr("key-share", "group", "X25519", &b64(&self.key_share))
            .finish()
    }
}

impl CryptoSuiteAccept {
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let root = xml::parse(bytes)?;
        let g = parse_strict(
            &root,
            "CryptoSuite_Accept",
            &[spec("algorithm", Occurs::OneOrMore)],
        )?;
        Ok(Self {
            algorithms: tokens(&g[0])?,
        })
    }

    pub fn to_xml(&self) -> Vec<u8> {
        self.algorithms
            .iter()
            .fold(Writer::message("CryptoSuite_Accept", None), |w, a| {
                w.child("algorithm", a)
            })
            .finish()
    }
}

/// Most certificates in a chain.
pub const MAX_CHAIN: usize = 4;

impl UserInfo {
    /// Parses message 5 (`from_initiator`, with `<peer-id>`) or 8.
    pub fn parse(bytes: &[u8], from_initiator: bool) -> Result<Self, MessageError> {
        let root = xml::parse(bytes)?;
        let mut specs = vec![spec("user-id", Occurs::One), spec("name", Occurs::One)];
        if from_initiator {
            specs.push(spec("peer-id", Occurs::One));
        }
        specs.push(spec("certificate", Occurs::ZeroOrMore));
        let g = parse_strict(&root, "User_Info", &specs)?;
        let certs = g.last().map(Vec::as_slice).unwrap_or_default();
        if certs.len() > MAX_CHAIN {
            return Err(shape("User_Info: more than 4 certificates"));
        }
        let certificates = certs
            .iter()
            .map(|c| {
                BASE64
                    .decode(&c.text)
                    .map_err(|_| MessageError::Base64("certificate"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            user_id: g[0][0].text.clone(),
            name: g[1][0].text.clone(),
            peer_id: from_initiator.then(|| g[2][0].text.clone()),
            certificates,
        })
    }

    pub fn to_xml(&self) -> Vec<u8> {
        let mut w = Writer::message("User_Info", None)
            .child("user-id", &self.user_id)
            .child("name", &self.name);
        if let Some(peer) = &self.peer_id {
            w = w.child("peer-id", peer);
        }
        self.certificates
            .iter()
            .fold(w, |w, c| w.child("certificate", &b64(c)))
            .finish()
    }
}

impl CryptoChallenge {
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let root = xml::parse(bytes)?;
        let g = parse_strict(&root, "Crypto_Challenge", &[spec("challenge", Occurs::One)])?;
        Ok(Self {
            challenge: bytes32(g[0][0], "challenge")?,
        })
    }

    pub fn to_xml(&self) -> Vec<u8> {
        Writer::message("Crypto_Challenge", None)
            .child("challenge", &b64(&self.challenge))
            .finish()
    }
}

impl ChallengeResponse {
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let root = xml::parse(bytes)?;
        let g = parse_strict(
            &root,
            "Challenge_Response",
            &[
                spec("signature", Occurs::Optional),
                spec("mac", Occurs::One),
            ],
        )?;
        let signature = match g[0].first() {
            Some(s) => Some(
                BASE64
                    .decode(&s.text)
                    .map_err(|_| MessageError::Base64("signature"))?,
            ),
            None => None,
        };
        Ok(Self {
            signature,
            mac: bytes32(g[1][0], "mac")?,
        })
    }

    pub fn to_xml(&self) -> Vec<u8> {
        let mut w = Writer::message("Challenge_Response", None);
        if let Some(signature) = &self.signature {
            w = w.child("signature", &b64(signature));
        }
        w.child("mac", &b64(&self.mac)).finish()
    }
}

impl KeyExchange {
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let root = xml::parse(bytes)?;
        let g = parse_strict(&root, "Key_Exchange", &[spec("finished", Occurs::One)])?;
        Ok(Self {
            finished: bytes32(g[0][0], "finished")?,
        })
    }

    pub fn to_xml(&self) -> Vec<u8> {
        Writer::message("Key_Exchange", None)
            .child("finished", &b64(&self.finished))
            .finish()
    }
}

impl SessionReady {
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let root = xml::parse(bytes)?;
        let g = parse_strict(
            &root,
            "Session_Ready",
            &[
                spec("finished", Occurs::One),
                spec("sas-reveal", Occurs::One),
            ],
        )?;
        Ok(Self {
            finished: bytes32(g[0][0], "finished")?,
            sas_reveal: bytes32(g[1][0], "sas-reveal")?,
        })
    }

    pub fn to_xml(&self) -> Vec<u8> {
        Writer::message("Session_Ready", None)
            .child("finished", &b64(&self.finished))
            .child("sas-reveal", &b64(&self.sas_reveal))
            .finish()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_messages_round_trip() {
        let offer = CapabilitiesOffer {
            capabilities: vec!["cert-auth".into(), "dh-kex".into()],
            nonce: [1; 32],
            key_commit: [2; 32],
        };
        assert_eq!(CapabilitiesOffer::parse(&offer.to_xml()).unwrap(), offer);
        let info = UserInfo {
            user_id: "a@b.c".into(),
            name: "A & B".into(),
            peer_id: Some("x@y.z".into()),
            certificates: vec![vec![1, 2, 3]],
        };
        assert_eq!(UserInfo::parse(&info.to_xml(), true).unwrap(), info);
        let response = ChallengeResponse {
            signature: None,
            mac: [3; 32],
        };
        assert_eq!(
            ChallengeResponse::parse(&response.to_xml()).unwrap(),
            response
        );
        assert_eq!(
            parse_alert(&alert_to_xml(AlertCode::UnknownCa)).unwrap(),
            AlertCode::UnknownCa
        );
    }

    #[test]
    fn strictness() {
        let good = CryptoChallenge { challenge: [7; 32] }.to_xml();
        let text = String::from_utf8(good.clone()).unwrap();
        let variants = [
            (
                text.replace("version=\"2\"", "version=\"3\""),
                AlertCode::HandshakeFailure,
            ),
            (
                text.replace("Crypto_Challenge", "Key_Exchange"),
                AlertCode::HandshakeFailure,
            ),
            (
                text.replace("<challenge>", "<challenge> "),
                AlertCode::DecodeError,
            ),
            (
                text.replace("<challenge>", "<challenge x=\"1\">"),
                AlertCode::DecodeError,
            ),
            (
                text.replace("</challenge>", "</challenge><challenge>AA==</challenge>"),
                AlertCode::DecodeError,
            ),
            (text.replace("BwcH", "Bwc"), AlertCode::DecodeError),
            (
                text.replace("\" type", "\" extra=\"1\" type"),
                AlertCode::DecodeError,
            ),
        ];
        for (doc, alert) in variants {
            let err = CryptoChallenge::parse(doc.as_bytes()).unwrap_err();
            assert_eq!(err.alert(), alert, "{doc}: {err}");
        }
        // Whitespace between elements is allowed.
        let spaced = text
            .replace("<challenge>", "\n  <challenge>")
            .replace("</message>", "\n</message>");
        assert_eq!(
            CryptoChallenge::parse(spaced.as_bytes()).unwrap().challenge,
            [7; 32]
        );
        // Wrong size and duplicate tokens.
        let short = text.replace(&b64(&[7; 32]), &b64(&[7; 31]));
        assert_eq!(
            CryptoChallenge::parse(short.as_bytes()).unwrap_err(),
            MessageError::Size("challenge")
        );
        let dup = CryptoSuiteAccept {
            algorithms: vec!["X25519".into(), "X25519".into()],
        }
        .to_xml();
        assert!(matches!(
            CryptoSuiteAccept::parse(&dup),
            Err(MessageError::Duplicate(_))
        ));
    }
}
