//! The initiator: sends messages 1, 3, 5, 7, 9, 11 and checks 2, 4, 6, 8, 10, 12.

use std::sync::Arc;

use super::core::{self, Core, Established, HandshakeError, PeerIdentity, Step};
use super::{Config, negotiate};
use crate::AlertCode;
use crate::entropy::{Entropy, RandomPurpose};
use crate::frame::Frame;
use crate::identity::UserId;
use crate::keys::{self, HandshakeSecrets};
use crate::messages::{
    CapabilitiesAccept, CapabilitiesOffer, ChallengeResponse, CryptoChallenge, CryptoSuiteAccept,
    CryptoSuiteOffer, KeyExchange, SessionReady, UserInfo,
};
use crate::record::{CipherSuite, RecordReader, RecordWriter};
use crate::session::{Role, Session};

/// Sent message 1, expects Capabilities_Accept.
struct ExpectCapabilities {
    x25519_private: [u8; 32],
    offered: Vec<String>,
}

/// Sent message 3, expects CryptoSuite_Accept.
struct ExpectSuite {
    x25519_private: [u8; 32],
    capabilities: Vec<String>,
    pub_r: [u8; 32],
    sas_commit: [u8; 32],
    offered: Vec<String>,
}

/// What messages 1-4 settled.
struct Negotiated {
    secrets: HandshakeSecrets,
    suite: CipherSuite,
    algorithms: Vec<String>,
    capabilities: Vec<String>,
    pub_i: [u8; 32],
    pub_r: [u8; 32],
    sas_commit: [u8; 32],
}

/// Sent message 5, expects Crypto_Challenge.
struct ExpectChallenge(Negotiated);
/// Sent message 7, expects R's User_Info.
struct ExpectUserInfo(Negotiated);
/// Sent message 9, expects R's Challenge_Response; holds R's checked certificate.
struct ExpectResponse(Negotiated, PeerIdentity, [u8; 32]);
/// Sent message 11, expects Session_Ready; R's proof is verified.
struct ExpectReady(Negotiated, PeerIdentity, RecordReader);

enum State {
    Capabilities(ExpectCapabilities),
    Suite(ExpectSuite),
    Challenge(ExpectChallenge),
    UserInfo(ExpectUserInfo),
    Response(ExpectResponse),
    Ready(ExpectReady),
    Done,
}

/// The UA that dialled.
pub struct Initiator {
    core: Core,
    state: State,
    peer_id: UserId,
    anonymous: bool,
}

impl Initiator {
    /// Starts a handshake to `peer_id`; returns the machine and message 1 to send.
    pub fn start(
        config: Arc<Config>,
        peer_id: UserId,
        anonymous: bool,
        entropy: Box<dyn Entropy>,
    ) -> (Self, Vec<u8>) {
        let mut core = Core::new(config, entropy);
        let x25519_private = core.random32(RandomPurpose::X25519Private);
        let nonce = core.random32(RandomPurpose::Nonce);
        let pub_i = core::x25519_public(&x25519_private);
        let offered = negotiate::capability_offer(anonymous, &core.config.app_capabilities);
        let offer = CapabilitiesOffer {
            capabilities: offered.clone(),
            nonce,
            key_commit: keys::sha256(&[&pub_i]),
        };
        let bytes = core.send_plain(&offer.to_xml());
        let state = State::Capabilities(ExpectCapabilities {
            x25519_private,
            offered,
        });
        (
            Self {
                core,
                state,
                peer_id,
                anonymous,
            },
            bytes,
        )
    }

    /// Handles one frame from R.
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
        let state = std::mem::replace(&mut self.state, State::Done);
        if let State::Ready(ready) = state {
            return self.on_session_ready(ready, frame);
        }
        let message = self.core.receive(frame)?.bytes;
        let (next, out) = match state {
            State::Capabilities(s) => self.on_capabilities(&s, &message)?,
            State::Suite(s) => self.on_suite(s, &message)?,
            State::Challenge(s) => self.on_challenge(s, &message)?,
            State::UserInfo(s) => self.on_user_info(s, &message, now_unix)?,
            State::Response(s) => self.on_response(s, &message)?,
            State::Ready(_) | State::Done => {
                return Err(HandshakeError::local(
                    AlertCode::HandshakeFailure,
                    "message after the handshake ended",
                ));
            }
        };
        self.state = next;
        Ok(Step::Continue(out))
    }

    fn on_capabilities(
        &mut self,
        s: &ExpectCapabilities,
        message: &[u8],
    ) -> Result<(State, Vec<u8>), HandshakeError> {
        let accept = CapabilitiesAccept::parse(message)?;
        negotiate::check_capability_accept(&s.offered, &accept.capabilities, self.anonymous)?;
        self.core.transcript.add(message);
        let pub_i = core::x25519_public(&s.x25519_private);
        let offered =
            negotiate::algorithm_offer(self.anonymous, &self.core.config.cipher_preference);
        let offer = CryptoSuiteOffer {
            algorithms: offered.clone(),
            key_share: pub_i,
        };
        let out = self.core.send_plain(&offer.to_xml());
        let next = ExpectSuite {
            x25519_private: s.x25519_private,
            capabilities: accept.capabilities,
            pub_r: accept.key_share,
            sas_commit: accept.sas_commit,
            offered,
        };
        Ok((State::Suite(next), out))
    }

    fn on_suite(
        &mut self,
        s: ExpectSuite,
        message: &[u8],
    ) -> Result<(State, Vec<u8>), HandshakeError> {
        let accept = CryptoSuiteAccept::parse(message)?;
        let own_bits = self.core.config.identity.signer.key_bits();
        let suite = negotiate::check_algorithm_accept(
            &s.offered,
            &accept.algorithms,
            self.anonymous,
            own_bits,
        )?;
        let dh = core::x25519(&s.x25519_private, &s.pub_r)?;
        self.core.transcript.add(message);
        let secrets = HandshakeSecrets::derive(&dh, &self.core.transcript.current());
        self.core.writer = Some(RecordWriter::new(suite, secrets.i_hs.clone()));
        self.core.reader = Some(RecordReader::new(suite, secrets.r_hs.clone()));
        let identity = &self.core.config.identity;
        let info = UserInfo {
            user_id: identity.user_id.to_string(),
            name: identity.name.clone(),
            peer_id: Some(self.peer_id.to_string()),
            certificates: if self.anonymous {
                Vec::new()
            } else {
                identity.chain.clone()
            },
        };
        let out = self.core.send_record(&info.to_xml())?;
        let pub_i = core::x25519_public(&s.x25519_private);
        let negotiated = Negotiated {
            secrets,
            suite,
            algorithms: accept.algorithms,
            capabilities: s.capabilities,
            pub_i,
            pub_r: s.pub_r,
            sas_commit: s.sas_commit,
        };
        Ok((State::Challenge(ExpectChallenge(negotiated)), out))
    }

    fn on_challenge(
        &mut self,
        s: ExpectChallenge,
        message: &[u8],
    ) -> Result<(State, Vec<u8>), HandshakeError> {
        CryptoChallenge::parse(message)?;
        self.core.transcript.add(message);
        let th6 = self.core.transcript.current();
        let signature = if self.anonymous {
            None
        } else {
            let proof = core::signed_proof("sixchat initiator proof", &th6);
            let signer = &self.core.config.identity.signer;
            Some(
                signer
                    .sign_pss_sha256(&proof)
                    .map_err(|e| HandshakeError::local(AlertCode::InternalError, e.to_string()))?,
            )
        };
        let mac = keys::hmac(
            &s.0.secrets.fk_i[..],
            &[&th6, signature.as_deref().unwrap_or_default()],
        );
        let out = self
            .core
            .send_record(&ChallengeResponse { signature, mac }.to_xml())?;
        Ok((State::UserInfo(ExpectUserInfo(s.0)), out))
    }

    fn on_user_info(
        &mut self,
        s: ExpectUserInfo,
        message: &[u8],
        now_unix: i64,
    ) -> Result<(State, Vec<u8>), HandshakeError> {
        let info = UserInfo::parse(message, false)?;
        let peer = core::check_peer_info(
            &self.core.config,
            &info,
            self.anonymous,
            &s.0.algorithms,
            now_unix,
        )?;
        if peer.user_id != self.peer_id {
            return Err(HandshakeError::local(
                AlertCode::UserIdMismatch,
                format!("dialled {} but the peer is {}", self.peer_id, peer.user_id),
            ));
        }
        self.core.transcript.add(message);
        let challenge = self.core.random32(RandomPurpose::Challenge);
        let out = self
            .core
            .send_record(&CryptoChallenge { challenge }.to_xml())?;
        Ok((State::Response(ExpectResponse(s.0, peer, challenge)), out))
    }

    fn on_response(
        &mut self,
        s: ExpectResponse,
        message: &[u8],
    ) -> Result<(State, Vec<u8>), HandshakeError> {
        let ExpectResponse(negotiated, peer, _challenge) = s;
        let response = ChallengeResponse::parse(message)?;
        let th9 = self.core.transcript.current();
        verify_response(
            &response,
            &peer,
            &negotiated.secrets.fk_r[..],
            &th9,
            "sixchat responder proof",
        )?;
        self.core.transcript.add(message);
        let th10 = self.core.transcript.current();
        let finished = keys::hmac(&negotiated.secrets.fk_fin_i[..], &[&th10]);
        let out = self.core.send_record(&KeyExchange { finished }.to_xml())?;
        let th11 = self.core.transcript.current();
        let app = negotiated.secrets.application(&th11);
        let ap_reader = RecordReader::new(negotiated.suite, app.r_ap);
        Ok((State::Ready(ExpectReady(negotiated, peer, ap_reader)), out))
    }

    /// Message 12 arrives under `r_ap`; until it verifies, an alert under `r_hs` is also accepted.
    fn on_session_ready(&mut self, s: ExpectReady, frame: &Frame) -> Result<Step, HandshakeError> {
        let ExpectReady(negotiated, peer, mut ap_reader) = s;
        if frame.kind != crate::frame::KIND_RECORD {
            self.core.receive(frame)?;
            return Err(HandshakeError::local(
                AlertCode::HandshakeFailure,
                "plain message instead of Session_Ready",
            ));
        }
        let Ok((content_type, content)) = ap_reader.open(&frame.body) else {
            // Not under r_ap: R may have failed and sent an alert under r_hs.
            self.core.receive(frame)?;
            return Err(HandshakeError::local(
                AlertCode::HandshakeFailure,
                "handshake message instead of Session_Ready",
            ));
        };
        let message = Core::handshake_content(content_type, content)?.bytes;
        let ready = SessionReady::parse(&message)?;
        let th11 = self.core.transcript.current();
        let expected = keys::hmac(&negotiated.secrets.fk_fin_r[..], &[&th11]);
        if !keys::ct_eq(&expected, &ready.finished) {
            return Err(HandshakeError::local(
                AlertCode::HandshakeFailure,
                "Session_Ready finished does not verify",
            ));
        }
        if !keys::ct_eq(&keys::sha256(&[&ready.sas_reveal]), &negotiated.sas_commit) {
            return Err(HandshakeError::local(
                AlertCode::HandshakeFailure,
                "sas-reveal does not match sas-commit",
            ));
        }
        let app = negotiated.secrets.application(&th11);
        let sas = keys::sas_display(negotiated.secrets.sas_bytes(
            &negotiated.pub_i,
            &negotiated.pub_r,
            &ready.sas_reveal,
        ));
        let writer = RecordWriter::new(negotiated.suite, app.i_ap);
        let entropy = self.core.take_entropy();
        let session = Session::new(
            Role::Initiator,
            writer,
            ap_reader,
            None,
            entropy,
            negotiated.capabilities.clone(),
            peer.level,
        );
        let established = Established {
            session,
            peer,
            sas,
            capabilities: negotiated.capabilities,
            suite: negotiated.suite,
            exporter: app.exporter,
        };
        Ok(Step::Complete(Vec::new(), Box::new(established)))
    }
}

/// Checks a Challenge_Response: the peer's signature (unless anonymous) and the MAC.
pub(super) fn verify_response(
    response: &ChallengeResponse,
    peer: &PeerIdentity,
    finished_key: &[u8],
    transcript_hash: &[u8; 32],
    context: &str,
) -> Result<(), HandshakeError> {
    let signature = match (&peer.certificate, &response.signature) {
        (Some(cert), Some(signature)) => {
            let proof = core::signed_proof(context, transcript_hash);
            if !core::verify_pss(&cert.public_key_spki_der, &proof, signature) {
                return Err(HandshakeError::local(
                    AlertCode::HandshakeFailure,
                    "the peer's signature does not verify",
                ));
            }
            signature.as_slice()
        }
        (None, None) => &[],
        _ => {
            return Err(HandshakeError::local(
                AlertCode::HandshakeFailure,
                "signature presence does not match the mode",
            ));
        }
    };
    let expected = keys::hmac(finished_key, &[transcript_hash, signature]);
    if !keys::ct_eq(&expected, &response.mac) {
        return Err(HandshakeError::local(
            AlertCode::HandshakeFailure,
            "the peer's Challenge_Response MAC does not verify",
        ));
    }
    Ok(())
}
