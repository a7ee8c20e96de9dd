//! Test support shared by the proto integration tests: injected randomness, an
//! RSA-PSS signer whose salt can be fixed, and a pin-only certificate policy
//! for the vector identities (which are self-signed and pinned, level "known").
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
use serde_json::Value;
use sixchat_proto::{
    CertRejection, CertificatePolicy, Entropy, Fingerprint, HandshakeSigner, PeerCertificate,
    RandomPurpose, SignError, TrustLevel, UserId,
};

pub fn vectors() -> Value {
    let text = include_str!("../data/vectors.json");
    serde_json::from_str(text).expect("vectors.json is valid JSON")
}

pub fn hex(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex string")).expect("valid hex")
}

pub fn hex32(value: &Value) -> [u8; 32] {
    hex(value).try_into().expect("32 bytes")
}

/// Hands out injected values per purpose, in order; panics when a test asks for
/// one it did not provide (that is a test bug).
#[derive(Default)]
pub struct FixedEntropy {
    queues: HashMap<RandomPurpose, VecDeque<Vec<u8>>>,
}

impl FixedEntropy {
    pub fn with(mut self, purpose: RandomPurpose, value: Vec<u8>) -> Self {
        self.queues.entry(purpose).or_default().push_back(value);
        self
    }
}

impl Entropy for FixedEntropy {
    fn fill(&mut self, purpose: RandomPurpose, out: &mut [u8]) {
        let value = self
            .queues
            .get_mut(&purpose)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| panic!("no injected {purpose:?}"));
        out.copy_from_slice(&value);
    }
}

/// A byte source that yields a fixed salt (the `rsa` crate draws the PSS salt from its RNG).
struct SaltRng(VecDeque<u8>);

impl rand_core::RngCore for SaltRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_be_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_be_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for d in dest {
            *d = self.0.pop_front().expect("salt long enough");
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rand_core::CryptoRng for SaltRng {}

/// RSA-PSS-SHA256 with salt 32 through the `rsa` crate, salt injected or random.
/// Test-only: production signing goes through aws-lc-rs.
pub struct TestSigner {
    key: rsa::RsaPrivateKey,
    salt: Mutex<Option<[u8; 32]>>,
    pub signatures: AtomicUsize,
}

impl TestSigner {
    pub fn from_pem(pem: &str, salt: Option<[u8; 32]>) -> Self {
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("vector key parses");
        Self {
            key,
            salt: Mutex::new(salt),
            signatures: AtomicUsize::new(0),
        }
    }

    pub fn spki(&self) -> Vec<u8> {
        self.key
            .to_public_key()
            .to_public_key_der()
            .expect("encodes")
            .as_bytes()
            .to_vec()
    }
}

impl HandshakeSigner for TestSigner {
    fn sign_pss_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.signatures.fetch_add(1, Ordering::SeqCst);
        let signing = rsa::pss::SigningKey::<sha2::Sha256>::new(self.key.clone());
        let signature = match self.salt.lock().expect("not poisoned").take() {
            Some(salt) => signing.sign_with_rng(&mut SaltRng(salt.into_iter().collect()), message),
            None => signing.sign_with_rng(&mut rand_core::OsRng, message),
        };
        Ok(signature.to_vec())
    }

    fn key_bits(&self) -> usize {
        2048
    }
}

/// Pins: UserID → (name, fingerprint, SPKI). Unpinned peers are `new`.
#[derive(Default)]
pub struct PinPolicy {
    pins: HashMap<String, (String, Fingerprint, Vec<u8>)>,
    known_keys: HashMap<Fingerprint, Vec<u8>>,
}

impl PinPolicy {
    pub fn pin(mut self, user: &str, name: &str, cert_der: &[u8], spki: Vec<u8>) -> Self {
        let fp = Fingerprint::of_der(cert_der);
        self.known_keys.insert(fp, spki.clone());
        self.pins
            .insert(user.to_owned(), (name.to_owned(), fp, spki));
        self
    }

    /// Knows the key of a certificate without pinning it (so it shows as `new`).
    pub fn knows(mut self, cert_der: &[u8], spki: Vec<u8>) -> Self {
        self.known_keys.insert(Fingerprint::of_der(cert_der), spki);
        self
    }
}

impl CertificatePolicy for PinPolicy {
    fn check_peer(
        &self,
        user_id: &UserId,
        name: &str,
        chain: &[Vec<u8>],
        _now: i64,
    ) -> Result<PeerCertificate, CertRejection> {
        let leaf = chain
            .first()
            .ok_or_else(|| CertRejection::BadCertificate("empty chain".into()))?;
        let fp = Fingerprint::of_der(leaf);
        let (level, spki) =
            if let Some((pinned_name, pinned, spki)) = self.pins.get(user_id.as_str()) {
                if !pinned.ct_eq(&fp) {
                    return Err(CertRejection::PinMismatch(user_id.to_string()));
                }
                if pinned_name != name {
                    return Err(CertRejection::UserIdMismatch(format!("name {name:?}")));
                }
                (TrustLevel::Known, spki.clone())
            } else {
                let spki = self
                    .known_keys
                    .get(&fp)
                    .cloned()
                    .ok_or_else(|| CertRejection::BadCertificate("unparsable".into()))?;
                (TrustLevel::New, spki)
            };
        Ok(PeerCertificate {
            level,
            public_key_spki_der: spki,
            key_bits: 2048,
            fingerprint: fp,
            self_signed: true,
            issuer: name.to_owned(),
            not_before_unix: 0,
            not_after_unix: i64::MAX,
        })
    }
}

/// The two vector identities, as (user, name, cert DER, private key PEM).
pub struct VectorIdentity {
    pub user: String,
    pub name: String,
    pub cert: Vec<u8>,
    pub key_pem: String,
}

pub fn vector_identity(v: &Value, side: &str) -> VectorIdentity {
    let id = &v["identities"][side];
    VectorIdentity {
        user: id["user"].as_str().expect("user").to_owned(),
        name: id["name"].as_str().expect("name").to_owned(),
        cert: hex(&id["certificate_der_hex"]),
        key_pem: id["rsa_private_key_pem"].as_str().expect("pem").to_owned(),
    }
}

pub fn arc<T>(value: T) -> Arc<T> {
    Arc::new(value)
}
