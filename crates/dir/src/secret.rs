//! Secrets the DIR makes or checks: invite secrets (kept only as SHA-256),
//! certificate serials, and the recovery-secret verifier (PBKDF2-HMAC-SHA256,
//! random salt, 600 000 iterations), all through aws-lc-rs.

use std::num::NonZeroU32;

use aws_lc_rs::{digest, pbkdf2, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::store::data::BackupRow;

/// PBKDF2 iterations for a new recovery-secret verifier.
pub const RECOVERY_ITERATIONS: u32 = 600_000;
/// Most iterations a stored verifier may ask for (bounds the work per try).
const MAX_ITERATIONS: u32 = 10_000_000;
const SALT_BYTES: usize = 16;
const VERIFIER_BYTES: usize = 32;

/// The operating system's random generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random generator is unavailable")]
pub struct RandomUnavailable;

fn random<const N: usize>() -> Result<[u8; N], RandomUnavailable> {
    let mut bytes = [0u8; N];
    rand::fill(&mut bytes).map_err(|_| RandomUnavailable)?;
    Ok(bytes)
}

/// SHA-256.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// A new one-time invite secret: 128 random bits, URL-safe base64 without
/// padding (22 characters).
pub fn new_invite_secret() -> Result<Zeroizing<String>, RandomUnavailable> {
    let bytes = Zeroizing::new(random::<16>()?);
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(*bytes)))
}

/// A random certificate serial in `1 .. 2^63`.
pub fn new_serial() -> Result<u64, RandomUnavailable> {
    loop {
        let serial = u64::from_be_bytes(random::<8>()?) >> 1;
        if serial != 0 {
            return Ok(serial);
        }
    }
}

/// A new UUID (v4) from the system generator, for envelope ids.
pub fn new_envelope_id() -> Result<String, RandomUnavailable> {
    Ok(uuid::Builder::from_random_bytes(random::<16>()?)
        .into_uuid()
        .to_string())
}

/// The stored form of a recovery secret. Slow on purpose: call it off the
/// runtime threads.
pub fn recovery_verifier(secret: &str) -> Result<(Vec<u8>, Vec<u8>, u32), RandomUnavailable> {
    let salt = random::<SALT_BYTES>()?.to_vec();
    let mut verifier = vec![0u8; VERIFIER_BYTES];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(RECOVERY_ITERATIONS).unwrap_or(NonZeroU32::MIN),
        &salt,
        secret.as_bytes(),
        &mut verifier,
    );
    Ok((salt, verifier, RECOVERY_ITERATIONS))
}

/// Checks a recovery secret in constant time. With no backup the same work
/// is done against a dummy verifier, so timing does not tell whether a
/// backup exists. Slow on purpose: call it off the runtime threads.
pub fn recovery_secret_matches(secret: &str, backup: Option<&BackupRow>) -> bool {
    let dummy_salt = [0u8; SALT_BYTES];
    let dummy_verifier = [0u8; VERIFIER_BYTES];
    let (salt, verifier, iterations) = match backup {
        Some(b) if b.iterations <= MAX_ITERATIONS && b.verifier.len() == VERIFIER_BYTES => {
            (b.salt.as_slice(), b.verifier.as_slice(), b.iterations)
        }
        _ => (
            dummy_salt.as_slice(),
            dummy_verifier.as_slice(),
            RECOVERY_ITERATIONS,
        ),
    };
    let Some(iterations) = NonZeroU32::new(iterations) else {
        return false;
    };
    let verified = pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        secret.as_bytes(),
        verifier,
    )
    .is_ok();
    verified && backup.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_secrets_are_long_random_and_url_safe() {
        let a = new_invite_secret().unwrap();
        let b = new_invite_secret().unwrap();
        assert_ne!(*a, *b);
        assert_eq!(a.len(), 22);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(sha256(b"abc")[0], 0xba);
    }

    #[test]
    fn serials_are_positive_and_below_2_63() {
        for _ in 0..1000 {
            let serial = new_serial().unwrap();
            assert!(serial > 0 && serial < 1 << 63);
        }
        assert_eq!(new_envelope_id().unwrap().len(), 36);
    }

    #[test]
    fn only_the_right_recovery_secret_matches() {
        let (salt, verifier, iterations) = recovery_verifier("tulip river 42").unwrap();
        assert_eq!(iterations, 600_000);
        let backup = BackupRow {
            pkcs12: vec![1],
            salt,
            verifier,
            iterations,
        };
        assert!(recovery_secret_matches("tulip river 42", Some(&backup)));
        assert!(!recovery_secret_matches("tulip river 43", Some(&backup)));
        assert!(!recovery_secret_matches("tulip river 42", None));
    }
}
