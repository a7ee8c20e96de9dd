//! Where randomness comes from. Production uses the operating system's CSPRNG;
//! the test vectors inject every random value through this seam.

use rand_core::RngCore as _;

/// What a random value is for, so an injected source can hand out the right one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RandomPurpose {
    /// The per-connection X25519 private key.
    X25519Private,
    /// The 32-byte nonce of message 1 or 2.
    Nonce,
    /// The 32-byte challenge of message 6 or 9.
    Challenge,
    /// R's 32-byte `s_R` behind `sas-commit`.
    SasSecret,
    /// The 16-byte IV of one AES-CBC record.
    CbcIv,
}

/// A source of random bytes.
pub trait Entropy: Send + Sync {
    fn fill(&mut self, purpose: RandomPurpose, out: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, _purpose: RandomPurpose, out: &mut [u8]) {
        rand_core::OsRng.fill_bytes(out);
    }
}
