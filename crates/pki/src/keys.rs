//! Identity keys: an RSA private key held as PKCS#8 DER in zeroizing memory.
//!
//! Keys are generated with the `rsa` crate, but every private-key operation
//! goes through aws-lc-rs, whose RSA is constant-time: the `rsa` crate 0.9 is
//! subject to the Marvin timing advisory (RUSTSEC-2023-0071), and the
//! handshake signature is reachable from the network.

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use sixchat_proto::{Fingerprint, HandshakeSigner, SignError};
use zeroize::Zeroizing;

use crate::x509;

/// RSA modulus sizes SixChat accepts for identity keys (protocol.md, "Algorithms").
pub const ALLOWED_KEY_BITS: [usize; 3] = [2048, 3072, 4096];

/// The modulus size of a newly generated identity key unless the user picks another.
pub const DEFAULT_KEY_BITS: usize = 2048;

/// Why a key could not be made or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("an RSA key of {0} bits is not allowed: use 2048, 3072 or 4096 bits")]
    UnsupportedSize(usize),
    #[error("could not generate an RSA key")]
    Generation,
    #[error("not a usable RSA private key in PKCS#8 form ({0})")]
    Rejected(&'static str),
}

/// The local user's RSA identity key.
///
/// The PKCS#8 encoding is kept in memory that is wiped on drop; the aws-lc-rs
/// key pair is built once, when the key is loaded, and reused for every
/// signature.
pub struct IdentityKey {
    pkcs8_der: Zeroizing<Vec<u8>>,
    key_pair: RsaKeyPair,
    spki_der: Vec<u8>,
    /// The PKCS#1 RSAPublicKey (the SubjectPublicKeyInfo's bit string).
    rsa_public_key_der: Vec<u8>,
    bits: usize,
}

impl IdentityKey {
    /// Generates a fresh key of `bits` (2048, 3072 or 4096) from the OS RNG.
    pub fn generate(bits: usize) -> Result<Self, KeyError> {
        use rsa::pkcs8::EncodePrivateKey as _;
        if !ALLOWED_KEY_BITS.contains(&bits) {
            return Err(KeyError::UnsupportedSize(bits));
        }
        let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits)
            .map_err(|_| KeyError::Generation)?;
        let document = private.to_pkcs8_der().map_err(|_| KeyError::Generation)?;
        Self::from_pkcs8_der(document.as_bytes())
    }

    /// Loads an RSA private key from PKCS#8 DER (`PrivateKeyInfo`, unencrypted).
    pub fn from_pkcs8_der(pkcs8_der: &[u8]) -> Result<Self, KeyError> {
        let key_pair =
            RsaKeyPair::from_pkcs8(pkcs8_der).map_err(|e| KeyError::Rejected(e.description_()))?;
        let spki_der = key_pair
            .public_key()
            .as_der()
            .map_err(|_| KeyError::Rejected("public key could not be encoded"))?
            .as_ref()
            .to_vec();
        let bits = match x509::rsa_bits_of_spki_der(&spki_der) {
            Some(bits) if ALLOWED_KEY_BITS.contains(&bits) => bits,
            Some(bits) => return Err(KeyError::UnsupportedSize(bits)),
            None => return Err(KeyError::Rejected("public key could not be read back")),
        };
        let rsa_public_key_der = key_pair.public_key().as_ref().to_vec();
        Ok(Self {
            pkcs8_der: Zeroizing::new(pkcs8_der.to_vec()),
            key_pair,
            spki_der,
            rsa_public_key_der,
            bits,
        })
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// A SHA-256 over the SubjectPublicKeyInfo, for logs and display (not secret).
    pub fn public_key_fingerprint(&self) -> Fingerprint {
        Fingerprint::of_der(&self.spki_der)
    }

    /// The public key as a PKCS#1 RSAPublicKey.
    pub(crate) fn rsa_public_key_der(&self) -> &[u8] {
        &self.rsa_public_key_der
    }

    /// The private key's PKCS#8 DER, for handing to an in-process TLS stack
    /// (rustls client authentication to the DIR). Never write it anywhere:
    /// on disk the key lives only inside an encrypted PKCS#12 (see
    /// [`crate::pkcs12::export`]).
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8_der
    }

    /// Signs with RSA PKCS#1 v1.5 and SHA-256 (certificates, CSRs, CRLs).
    pub(crate) fn sign_pkcs1_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign_with(&signature::RSA_PKCS1_SHA256, message)
    }

    fn sign_with(
        &self,
        encoding: &'static dyn signature::RsaEncoding,
        message: &[u8],
    ) -> Result<Vec<u8>, SignError> {
        let mut out = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(encoding, &SystemRandom::new(), message, &mut out)
            .map_err(|_| SignError("the RSA private-key operation failed".to_owned()))?;
        Ok(out)
    }
}

impl HandshakeSigner for IdentityKey {
    /// RSA-PSS, SHA-256, MGF1-SHA-256, salt length 32, through aws-lc-rs.
    fn sign_pss_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign_with(&signature::RSA_PSS_SHA256, message)
    }

    fn key_bits(&self) -> usize {
        self.bits
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKey")
            .field("bits", &self.bits)
            .field("public_key_sha256", &self.public_key_fingerprint().to_hex())
            .finish_non_exhaustive()
    }
}

/// Verifies an RSA-PSS / SHA-256 / MGF1-SHA-256 / salt-32 signature with the
/// public key `spki_der` (a SubjectPublicKeyInfo, or a bare PKCS#1
/// RSAPublicKey). Keys of 2048 to 8192 bits; the caller checks the exact size.
pub fn verify_pss_sha256(spki_der: &[u8], message: &[u8], signature_bytes: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA256, spki_der)
        .verify(message, signature_bytes)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_key() -> IdentityKey {
        IdentityKey::from_pkcs8_der(include_bytes!("../tests/fixtures/keys/rsa2048-a.pk8"))
            .expect("fixture key is a valid RSA-2048 PKCS#8 key")
    }

    #[test]
    fn generated_key_has_the_size_asked_for_and_round_trips() {
        let key = IdentityKey::generate(2048).unwrap();
        assert_eq!(key.bits(), 2048);
        assert_eq!(key.key_bits(), 2048);
        let again = IdentityKey::from_pkcs8_der(key.pkcs8_der()).unwrap();
        assert_eq!(again.public_key_spki_der(), key.public_key_spki_der());
    }

    #[test]
    fn other_sizes_are_refused() {
        for bits in [512, 1024, 2047, 2049, 8192] {
            assert_eq!(
                IdentityKey::generate(bits).unwrap_err(),
                KeyError::UnsupportedSize(bits)
            );
        }
    }

    #[test]
    fn a_1024_bit_pkcs8_key_is_refused() {
        let err = IdentityKey::from_pkcs8_der(include_bytes!("../tests/fixtures/keys/rsa1024.pk8"))
            .unwrap_err();
        assert!(
            matches!(err, KeyError::Rejected(_) | KeyError::UnsupportedSize(1024)),
            "{err:?}"
        );
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(matches!(
            IdentityKey::from_pkcs8_der(b"not a key"),
            Err(KeyError::Rejected(_))
        ));
    }

    #[test]
    fn pss_signature_verifies_and_a_flipped_bit_does_not() {
        let key = fixture_key();
        let message = b"TH(7) transcript hash";
        let sig = key.sign_pss_sha256(message).unwrap();
        assert_eq!(sig.len(), 256);
        assert!(verify_pss_sha256(key.public_key_spki_der(), message, &sig));
        let mut bad = sig.clone();
        bad[100] ^= 0x01;
        assert!(!verify_pss_sha256(key.public_key_spki_der(), message, &bad));
        assert!(!verify_pss_sha256(
            key.public_key_spki_der(),
            b"another message",
            &sig
        ));
        // PSS is randomised: two signatures differ, both verify.
        let sig2 = key.sign_pss_sha256(message).unwrap();
        assert_ne!(sig, sig2);
        assert!(verify_pss_sha256(key.public_key_spki_der(), message, &sig2));
    }

    #[test]
    fn debug_output_shows_no_private_material() {
        let key = fixture_key();
        let shown = format!("{key:?}");
        assert!(
            shown.contains("2048") && !shown.contains("pkcs8"),
            "{shown}"
        );
    }
}
