//! Each handshake message to XML and back.

use super::strict::{KEY_SHARE, Occurs, b64, bytes32, parse_strict, spec, tokens};
use super::{
    CapabilitiesAccept, CapabilitiesOffer, ChallengeResponse, CryptoChallenge, CryptoSuiteAccept,
    CryptoSuiteOffer, KeyExchange, MAX_CHAIN, MessageError, SessionReady, UserInfo, shape,
};
use crate::xml::{self, Writer};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

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
