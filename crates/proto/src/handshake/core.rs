//! What both roles share: the transcript, the current record keys, the alert
//! rules for plain and encrypted failures, and the result types.

use std::sync::Arc;

use super::Config;
use crate::AlertCode;
use crate::entropy::{Entropy, RandomPurpose};
use crate::frame::{self, Frame, KIND_PLAIN, KIND_RECORD};
use crate::identity::{PeerCertificate, TrustLevel, UserId};
use crate::keys::{Secret, Transcript};
use crate::messages;
use crate::record::{CipherSuite, ContentType, RecordReader, RecordWriter};
use crate::session::Session;

/// Whose fault a failed handshake was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// We refused the peer (and sent it `alert`).
    Local,
    /// The peer sent us `alert`.
    Peer,
}

/// A failed handshake: the alert sent or received, and a reason a person can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct HandshakeError {
    pub alert: AlertCode,
    pub origin: Origin,
    pub reason: String,
}

impl HandshakeError {
    pub fn local(alert: AlertCode, reason: impl Into<String>) -> Self {
        Self {
            alert,
            origin: Origin::Local,
            reason: reason.into(),
        }
    }

    pub fn peer(alert: AlertCode) -> Self {
        Self {
            alert,
            origin: Origin::Peer,
            reason: format!("peer refused the session: {}", alert.describe()),
        }
    }
}

impl From<messages::MessageError> for HandshakeError {
    fn from(err: messages::MessageError) -> Self {
        Self::local(err.alert(), err.to_string())
    }
}

/// The peer as the handshake established it.
#[derive(Debug, Clone)]
pub struct PeerIdentity {
    pub user_id: UserId,
    pub name: String,
    pub level: TrustLevel,
    /// None in anonymous mode.
    pub certificate: Option<PeerCertificate>,
}

/// A completed handshake.
pub struct Established {
    pub session: Session,
    pub peer: PeerIdentity,
    /// The short authentication string, `012 345`.
    pub sas: String,
    pub capabilities: Vec<String>,
    pub suite: CipherSuite,
    /// `exp`, for channel binding by later protocols.
    pub exporter: Secret,
}

/// What one incoming frame led to.
pub enum Step {
    /// Write these bytes (maybe none) and wait for the next frame.
    Continue(Vec<u8>),
    /// Write these bytes (maybe none): the session is established.
    Complete(Vec<u8>, Box<Established>),
    /// Write these bytes (an alert, or nothing) and close: the handshake failed.
    Failed(Vec<u8>, HandshakeError),
}

/// A message received during the handshake.
pub(super) struct Received {
    pub bytes: Vec<u8>,
}

/// Transcript, keys and alert rules shared by both roles.
pub(super) struct Core {
    pub config: Arc<Config>,
    pub entropy: Box<dyn Entropy>,
    pub transcript: Transcript,
    pub writer: Option<RecordWriter>,
    pub reader: Option<RecordReader>,
    pub received_record: bool,
}

impl Core {
    pub fn new(config: Arc<Config>, entropy: Box<dyn Entropy>) -> Self {
        Self {
            config,
            entropy,
            transcript: Transcript::default(),
            writer: None,
            reader: None,
            received_record: false,
        }
    }

    pub fn random32(&mut self, purpose: RandomPurpose) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.entropy.fill(purpose, &mut out);
        out
    }

    /// Hands the entropy source on to the established session.
    pub fn take_entropy(&mut self) -> Box<dyn Entropy> {
        std::mem::replace(&mut self.entropy, Box::new(crate::entropy::OsEntropy))
    }

    /// Sends a plain handshake message (1-4) and adds it to the transcript.
    pub fn send_plain(&mut self, xml: &[u8]) -> Vec<u8> {
        self.transcript.add(xml);
        frame::encode(KIND_PLAIN, xml)
    }

    /// Sends a handshake message (5-12) under the current write key.
    pub fn send_record(&mut self, xml: &[u8]) -> Result<Vec<u8>, HandshakeError> {
        self.transcript.add(xml);
        self.seal(ContentType::Handshake, xml)
    }

    fn seal(
        &mut self,
        content_type: ContentType,
        content: &[u8],
    ) -> Result<Vec<u8>, HandshakeError> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| HandshakeError::local(AlertCode::InternalError, "no write key"))?;
        writer
            .seal(content_type, content, self.entropy.as_mut())
            .map_err(|e| HandshakeError::local(AlertCode::InternalError, e.to_string()))
    }

    /// Takes one frame and returns the handshake message in it, or the peer's alert as an error.
    pub fn receive(&mut self, frame: &Frame) -> Result<Received, HandshakeError> {
        match frame.kind {
            KIND_PLAIN => {
                let is_alert = messages::message_type(&frame.body).as_deref() == Some("Alert");
                if is_alert && !self.received_record {
                    return Err(HandshakeError::peer(messages::parse_alert(&frame.body)?));
                }
                if self.writer.is_some() || self.received_record {
                    return Err(HandshakeError::local(
                        AlertCode::HandshakeFailure,
                        "plain message after the keys were set",
                    ));
                }
                Ok(Received {
                    bytes: frame.body.clone(),
                })
            }
            KIND_RECORD => {
                let reader = self.reader.as_mut().ok_or_else(|| {
                    HandshakeError::local(
                        AlertCode::HandshakeFailure,
                        "record before the keys were set",
                    )
                })?;
                let (content_type, content) = reader.open(&frame.body).map_err(|_| {
                    HandshakeError::local(AlertCode::BadRecordMac, "bad record MAC")
                })?;
                self.received_record = true;
                Self::handshake_content(content_type, content)
            }
            other => Err(HandshakeError::local(
                AlertCode::DecodeError,
                format!("unknown frame kind 0x{other:02x}"),
            )),
        }
    }

    /// Interprets an opened record during the handshake.
    pub fn handshake_content(
        content_type: ContentType,
        content: Vec<u8>,
    ) -> Result<Received, HandshakeError> {
        match content_type {
            ContentType::Handshake => Ok(Received { bytes: content }),
            ContentType::Alert => Err(HandshakeError::peer(alert_from_record(&content))),
            _ => Err(HandshakeError::local(
                AlertCode::HandshakeFailure,
                "application data during the handshake",
            )),
        }
    }

    /// Turns a failure into the bytes that tell the peer: a plain Alert while no
    /// keys are set, else an alert record under the current write key; nothing
    /// in answer to the peer's own alert.
    pub fn fail(&mut self, err: HandshakeError) -> Step {
        if err.origin == Origin::Peer {
            return Step::Failed(Vec::new(), err);
        }
        let bytes = if self.writer.is_some() {
            self.seal(ContentType::Alert, &[err.alert.level(), err.alert.code()])
                .unwrap_or_default()
        } else {
            frame::encode(KIND_PLAIN, &messages::alert_to_xml(err.alert))
        };
        Step::Failed(bytes, err)
    }
}

/// Reads `level ‖ code` from an alert record; anything else reads as `decode_error`.
pub fn alert_from_record(content: &[u8]) -> AlertCode {
    match content {
        [_level, code] => AlertCode::from_code(*code).unwrap_or(AlertCode::HandshakeFailure),
        _ => AlertCode::DecodeError,
    }
}

/// The bytes both proofs sign: `pad64 ‖ context ‖ 0x00 ‖ TH(n)`.
pub fn signed_proof(context: &str, transcript_hash: &[u8; 32]) -> Vec<u8> {
    let mut out = vec![0x20u8; 64];
    out.extend_from_slice(context.as_bytes());
    out.push(0);
    out.extend_from_slice(transcript_hash);
    out
}

/// Computes X25519 and refuses an all-zero result.
pub fn x25519(private: &[u8; 32], peer_public: &[u8; 32]) -> Result<[u8; 32], HandshakeError> {
    let secret = x25519_dalek::StaticSecret::from(*private);
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*peer_public));
    if !shared.was_contributory() {
        return Err(HandshakeError::local(
            AlertCode::HandshakeFailure,
            "X25519 result is all zero",
        ));
    }
    Ok(shared.to_bytes())
}

pub fn x25519_public(private: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*private)).to_bytes()
}

/// Verifies a peer's RSA-PSS-SHA256 (salt 32) signature against its SPKI.
pub fn verify_pss(spki_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use aws_lc_rs::signature::{RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};
    UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, spki_der)
        .verify(message, signature)
        .is_ok()
}

/// The certificate policy of steps 5 and 8 as both roles apply it: the PKI's
/// verdict first, then key size, its size token, and whether `new` peers are
/// let through.
pub(super) fn check_peer_info(
    config: &Config,
    info: &messages::UserInfo,
    anonymous: bool,
    accepted_algorithms: &[String],
    now_unix: i64,
) -> Result<PeerIdentity, HandshakeError> {
    let user_id = UserId::parse(&info.user_id)
        .map_err(|e| HandshakeError::local(AlertCode::DecodeError, e.to_string()))?;
    if anonymous {
        if !info.certificates.is_empty() {
            return Err(HandshakeError::local(
                AlertCode::HandshakeFailure,
                "certificate sent in an anonymous session",
            ));
        }
        return Ok(PeerIdentity {
            user_id,
            name: info.name.clone(),
            level: TrustLevel::Anonymous,
            certificate: None,
        });
    }
    if info.certificates.is_empty() {
        return Err(HandshakeError::local(
            AlertCode::BadCertificate,
            format!("{user_id} sent no certificate"),
        ));
    }
    let cert = config
        .policy
        .check_peer(&user_id, &info.name, &info.certificates, now_unix)
        .map_err(|rejection| {
            HandshakeError::local(rejection.alert(), format!("{rejection} ({user_id})"))
        })?;
    let Some(size_token) = super::negotiate::rsa_size_token(cert.key_bits) else {
        return Err(HandshakeError::local(
            AlertCode::BadCertificate,
            format!("{user_id}'s key has {} bits", cert.key_bits),
        ));
    };
    if !accepted_algorithms.iter().any(|a| a == size_token) {
        return Err(HandshakeError::local(
            AlertCode::InsufficientSecurity,
            format!("{size_token} was not agreed"),
        ));
    }
    if cert.level == TrustLevel::New && !config.admit_new {
        let how = if cert.self_signed {
            "self-signed"
        } else {
            "from an unknown CA"
        };
        return Err(HandshakeError::local(
            AlertCode::UnknownCa,
            format!(
                "untrusted certificate: {user_id} is {how} and not pinned (fingerprint {})",
                cert.fingerprint
            ),
        ));
    }
    Ok(PeerIdentity {
        user_id,
        name: info.name.clone(),
        level: cert.level,
        certificate: Some(cert),
    })
}
