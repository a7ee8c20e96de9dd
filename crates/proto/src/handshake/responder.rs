//! The responder: checks messages 1, 3, 5, 7, 9, 11 and sends 2, 4, 6, 8, 10, 12.
//! It makes no private-key operation before message 7 has verified.

use std::sync::Arc;

use super::core::{self, Core, Established, HandshakeError, PeerIdentity, Step};
use super::initiator::verify_response;
use super::{Config, negotiate};
use crate::AlertCode;
use crate::entropy::{Entropy, RandomPurpose};
use crate::frame::Frame;
use crate::keys::{self, HandshakeSecrets};
use crate::messages::{
    CapabilitiesAccept, CapabilitiesOffer, ChallengeResponse, CryptoChallenge, CryptoSuiteAccept,
    CryptoSuiteOffer, KeyExchange, SessionReady, UserInfo,
};
use crate::record::{CipherSuite, RecordReader, RecordWriter};
use crate::session::{Role, Session};

/// Waiting for message 1.
struct ExpectOffer;

/// Sent message 2, expects CryptoSuite_Offer.
struct ExpectSuite {
    x25519_private: [u8; 32],
    key_commit: [u8; 32],
    s_r: [u8; 32],
    capabilities: Vec<String>,
    anonymous: bool,
}

/// What messages 1-4 settled.
struct Negotiated {
    secrets: HandshakeSecrets,
    suite: CipherSuite,
    algorithms: Vec<String>,
    capabilities: Vec<String>,
    anonymous: bool,
    pub_i: [u8; 32],
    pub_r: [u8; 32],
    s_r: [u8; 32],
}

/// Sent message 4, expects I's User_Info.
struct ExpectUserInfo(Negotiated);
/// Sent message 6, expects I's Challenge_Response; I's certificate is checked.
struct ExpectResponse(Negotiated, PeerIdentity);
/// I has proved itself; sent message 8, expects I's Crypto_Challenge.
struct ExpectChallenge(Negotiated, PeerIdentity);
/// Sent message 10, expects Key_Exchange.
struct ExpectKeyExchange(Negotiated, PeerIdentity);

enum State {
    Offer(ExpectOffer),
    Suite(ExpectSuite),
    UserInfo(ExpectUserInfo),
    Response(ExpectResponse),
    Challenge(ExpectChallenge),
    KeyExchange(ExpectKeyExchange),
    Done,
}

/// The UA that was dialled.
pub struct Responder {
    core: Core,
    state: State,
}

impl Responder {
    pub fn new(config: Arc<Config>, entropy: Box<dyn Entropy>) -> Self {
        Self {
            core: Core::new(config, entropy),
            state: State::Offer(ExpectOffer),
        }
    }

    /// Handles one frame from I.
    pub fn handle(&mut self, frame: &Frame, now_unix: i64) -> Step {
        match self.step(frame, now_unix) {
            Ok(step) => step,
            Err(err) => {
                self.state = State::Done;
                self.core.fail(err)
            }
        }
    }

    /// Ends the handshake from outside (a framing error, a timeout): returns the
    /// alert to send, plain or under the current key as the protocol says.
    pub fn abort(&mut self, alert: AlertCode, reason: &str) -> Step {
        self.state = State::Done;
        self.core.fail(HandshakeError::local(alert, reason))
    }

    fn step(&mut self, frame: &Frame, now_unix: i64) -> Result<Step, HandshakeError> {
        let message = self.core.receive(frame)?.bytes;
        let state = std::mem::replace(&mut self.state, State::Done);
        let (next, out) = match state {
            State::Offer(_) => self.on_offer(&message)?,
            State::Suite(s) => self.on_suite(s, &message)?,
            State::UserInfo(s) => self.on_user_info(s, &message, now_unix)?,
            State::Response(s) => self.on_response(s, &message)?,
            State::Challenge(s) => self.on_challenge(s, &message)?,
            State::KeyExchange(s) => return self.on_key_exchange(s, &message),
            State::Done => {
                return Err(HandshakeError::local(
                    AlertCode::HandshakeFailure,
                    "message after the handshake ended",
                ));
            }
        };
        self.state = next;
        Ok(Step::Continue(out))
    }

    fn on_offer(&mut self, message: &[u8]) -> Result<(State, Vec<u8>), HandshakeError> {
        let offer = CapabilitiesOffer::parse(message)?;
        let config = &self.core.config;
        let (capabilities, anonymous) = negotiate::accept_capabilities(
            &offer.capabilities,
            &config.app_capabilities,
            config.allow_anonymous_callers,
        )?;
        self.core.transcript.add(message);
        let x25519_private = self.core.random32(RandomPurpose::X25519Private);
        let nonce = self.core.random32(RandomPurpose::Nonce);
        let s_r = self.core.random32(RandomPurpose::SasSecret);
        let accept = CapabilitiesAccept {
            capabilities: capabilities.clone(),
            nonce,
            key_share: core::x25519_public(&x25519_private),
            sas_commit: keys::sha256(&[&s_r]),
        };
        let out = self.core.send_plain(&accept.to_xml());
        let next = ExpectSuite {
            x25519_private,
            key_commit: offer.key_commit,
            s_r,
            capabilities,
            anonymous,
        };
        Ok((State::Suite(next), out))
    }

    fn on_suite(
        &mut self,
        s: ExpectSuite,
        message: &[u8],
    ) -> Result<(State, Vec<u8>), HandshakeError> {
        let offer = CryptoSuiteOffer::parse(message)?;
        if !keys::ct_eq(&keys::sha256(&[&offer.key_share]), &s.key_commit) {
            return Err(HandshakeError::local(
                AlertCode::HandshakeFailure,
                "key-share does not match key-commit",
            ));
        }
        let dh = core::x25519(&s.x25519_private, &offer.key_share)?;
        let own_bits = self.core.config.identity.signer.key_bits();
        let (algorithms, suite) = negotiate::accept_algorithms(
            &offer.algorithms,
            &self.core.config.cipher_preference,
            s.anonymous,
            own_bits,
        )?;
        self.core.transcript.add(message);
        let out = self.core.send_plain(
            &CryptoSuiteAccept {
                algorithms: algorithms.clone(),
            }
            .to_xml(),
        );
        let secrets = HandshakeSecrets::derive(&dh, &self.core.transcript.current());
        self.core.writer = Some(RecordWriter::new(suite, secrets.r_hs.clone()));
        self.core.reader = Some(RecordReader::new(suite, secrets.i_hs.clone()));
        let negotiated = Negotiated {
            secrets,
            suite,
            algorithms,
            capabilities: s.capabilities,
            anonymous: s.anonymous,
            pub_i: offer.key_share,
            pub_r: core::x25519_public(&s.x25519_private),
            s_r: s.s_r,
        };
        Ok((State::UserInfo(ExpectUserInfo(negotiated)), out))
    }

    fn on_user_info(
        &mut self,
        s: ExpectUserInfo,
        message: &[u8],
        now_unix: i64,
    ) -> Result<(State, Vec<u8>), HandshakeError> {
        let n = s.0;
        let info = UserInfo::parse(message, true)?;
        let peer = core::check_peer_info(
            &self.core.config,
            &info,
            n.anonymous,
            &n.algorithms,
            now_unix,
        )?;
        let own = &self.core.config.identity.user_id;
        if info.peer_id.as_deref() != Some(own.as_str()) {
            return Err(HandshakeError::local(
                AlertCode::UnknownRecipient,
                format!("the caller wanted someone other than {own}"),
            ));
        }
        self.core.transcript.add(message);
        let challenge = self.core.random32(RandomPurpose::Challenge);
        let out = self
            .core
            .send_record(&CryptoChallenge { challenge }.to_xml())?;
        Ok((State::Response(ExpectResponse(n, peer)), out))
    }

    fn on_response(
        &mut self,
        s: ExpectResponse,
        message: &[u8],
    ) -> Result<(State, Vec<u8>), HandshakeError> {
        let ExpectResponse(n, peer) = s;
        let response = ChallengeResponse::parse(message)?;
        let th6 = self.core.transcript.current();
        verify_response(
            &response,
            &peer,
            &n.secrets.fk_i[..],
            &th6,
            "sixchat initiator proof",
        )?;
        self.core.transcript.add(message);
        let identity = &self.core.config.identity;
        let info = UserInfo {
            user_id: identity.user_id.to_string(),
            name: identity.name.clone(),
            peer_id: None,
            certificates: if n.anonymous {
                Vec::new()
            } else {
                identity.chain.clone()
            },
        };
        let out = self.core.send_record(&info.to_xml())?;
        Ok((State::Challenge(ExpectChallenge(n, peer)), out))
    }

    fn on_challenge(
        &mut self,
        s: ExpectChallenge,
        message: &[u8],
    ) -> Result<(State, Vec<u8>), HandshakeError> {
        let ExpectChallenge(n, peer) = s;
        CryptoChallenge::parse(message)?;
        self.core.transcript.add(message);
        let th9 = self.core.transcript.current();
        // I proved itself at message 7: R's first private-key operation is here.
        let signature = if n.anonymous {
            None
        } else {
            let proof = core::signed_proof("sixchat responder proof", &th9);
            let signer = &self.core.config.identity.signer;
            Some(
                signer
                    .sign_pss_sha256(&proof)
                    .map_err(|e| HandshakeError::local(AlertCode::InternalError, e.to_string()))?,
            )
        };
        let mac = keys::hmac(
            &n.secrets.fk_r[..],
            &[&th9, signature.as_deref().unwrap_or_default()],
        );
        let out = self
            .core
            .send_record(&ChallengeResponse { signature, mac }.to_xml())?;
        Ok((State::KeyExchange(ExpectKeyExchange(n, peer)), out))
    }

    fn on_key_exchange(
        &mut self,
        s: ExpectKeyExchange,
        message: &[u8],
    ) -> Result<Step, HandshakeError> {
        let ExpectKeyExchange(n, peer) = s;
        let exchange = KeyExchange::parse(message)?;
        let th10 = self.core.transcript.current();
        let expected = keys::hmac(&n.secrets.fk_fin_i[..], &[&th10]);
        if !keys::ct_eq(&expected, &exchange.finished) {
            return Err(HandshakeError::local(
                AlertCode::HandshakeFailure,
                "Key_Exchange finished does not verify",
            ));
        }
        self.core.transcript.add(message);
        let th11 = self.core.transcript.current();
        let app = n.secrets.application(&th11);
        let ready = SessionReady {
            finished: keys::hmac(&n.secrets.fk_fin_r[..], &[&th11]),
            sas_reveal: n.s_r,
        };
        // Session_Ready is the first record under r_ap.
        let mut writer = RecordWriter::new(n.suite, app.r_ap.clone());
        let out = writer
            .seal(
                crate::record::ContentType::Handshake,
                &ready.to_xml(),
                self.core.entropy.as_mut(),
            )
            .map_err(|e| HandshakeError::local(AlertCode::InternalError, e.to_string()))?;
        let sas = keys::sas_display(n.secrets.sas_bytes(&n.pub_i, &n.pub_r, &n.s_r));
        let reader = RecordReader::new(n.suite, app.i_ap);
        let fallback = self.core.reader.take();
        let entropy = self.core.take_entropy();
        let session = Session::new(
            Role::Responder,
            writer,
            reader,
            fallback,
            entropy,
            n.capabilities.clone(),
            peer.level,
        );
        let established = Established {
            session,
            peer,
            sas,
            capabilities: n.capabilities,
            suite: n.suite,
            exporter: app.exporter,
        };
        Ok(Step::Complete(out, Box::new(established)))
    }
}
