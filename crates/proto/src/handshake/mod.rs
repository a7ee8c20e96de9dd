//! The twelve-step handshake (protocol.md, "The handshake") as two state
//! machines, [`Initiator`] and [`Responder`], over a shared [`Core`] that keeps
//! the transcript, the record keys and the alert rules.
//!
//! Each state is its own type inside the machine's state enum; a state is
//! consumed by the handler for the one message it expects, and proofs that
//! later steps rely on (a verified peer certificate, a verified challenge
//! response) are fields of the states that follow.

mod core;
mod initiator;
mod negotiate;
mod responder;

use std::sync::Arc;

pub use self::core::Origin;
pub use self::core::alert_from_record as core_alert_from_record;
pub use self::core::{Established, HandshakeError, PeerIdentity, Step};
pub use initiator::Initiator;
pub use negotiate::{ALL_CIPHERS, APP_CAPABILITIES};
pub use responder::Responder;

use crate::identity::{CertificatePolicy, HandshakeSigner, UserId};
use crate::record::CipherSuite;

/// The local user's identity as the handshake uses it.
#[derive(Clone)]
pub struct LocalIdentity {
    pub user_id: UserId,
    pub name: String,
    /// DER certificates, leaf first, at most 4.
    pub chain: Vec<Vec<u8>>,
    pub signer: Arc<dyn HandshakeSigner>,
}

/// What a UA brings to every handshake.
#[derive(Clone)]
pub struct Config {
    pub identity: LocalIdentity,
    pub policy: Arc<dyn CertificatePolicy>,
    /// Application capabilities offered or accepted (`chat`, `typing`, …).
    pub app_capabilities: Vec<String>,
    /// Record ciphers in order of preference.
    pub cipher_preference: Vec<CipherSuite>,
    /// Lets peers at the `new` level through to the user (who compares the code);
    /// without it only `known` and `verified` peers complete a handshake.
    pub admit_new: bool,
    /// As responder, accept callers who offer `anonymous`.
    pub allow_anonymous_callers: bool,
}

impl Config {
    pub fn new(identity: LocalIdentity, policy: Arc<dyn CertificatePolicy>) -> Self {
        Self {
            identity,
            policy,
            app_capabilities: vec!["chat".into(), "typing".into()],
            cipher_preference: ALL_CIPHERS.to_vec(),
            admit_new: false,
            allow_anonymous_callers: false,
        }
    }
}
