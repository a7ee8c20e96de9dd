//! The PKCS#12 MAC (RFC 7292: a key from the PKCS#12 KDF with ID 3, then
//! HMAC), checked over the AuthenticatedSafe as the file stores it. Used for
//! files whose stored AuthenticatedSafe is BER (see `ber.rs`); p12-keystore
//! checks the MAC of DER files itself.

use aws_lc_rs::hmac;
use der::asn1::ObjectIdentifier;
use pkcs12::MacData;
use pkcs12::kdf::{Pkcs12KeyType, derive_key_utf8};
use sha1::Sha1;
use sha2_011::{Sha224, Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use super::{MAX_KDF_ITERATIONS, Pkcs12Error};

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// Checks `mac_data` over `content` with `password`: a mismatch is a wrong
/// password (or a changed file, which the MAC cannot tell apart).
pub(super) fn verify(
    mac_data: &MacData,
    password: &str,
    content: &[u8],
) -> Result<(), Pkcs12Error> {
    let iterations = mac_data.iterations;
    if iterations < 1 {
        return Err(Pkcs12Error::Malformed(format!(
            "MAC iteration count {iterations}"
        )));
    }
    let found = u64::from(iterations.unsigned_abs());
    if found > MAX_KDF_ITERATIONS {
        return Err(Pkcs12Error::TooManyIterations {
            found,
            max: MAX_KDF_ITERATIONS,
        });
    }
    let salt = mac_data.mac_salt.as_bytes();
    let mac = Pkcs12KeyType::Mac;
    let (algorithm, key) = match mac_data.mac.algorithm.oid {
        SHA1 => (
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            derive_key_utf8::<Sha1>(password, salt, mac, iterations, 20),
        ),
        SHA224 => (
            hmac::HMAC_SHA224,
            derive_key_utf8::<Sha224>(password, salt, mac, iterations, 28),
        ),
        SHA256 => (
            hmac::HMAC_SHA256,
            derive_key_utf8::<Sha256>(password, salt, mac, iterations, 32),
        ),
        SHA384 => (
            hmac::HMAC_SHA384,
            derive_key_utf8::<Sha384>(password, salt, mac, iterations, 48),
        ),
        SHA512 => (
            hmac::HMAC_SHA512,
            derive_key_utf8::<Sha512>(password, salt, mac, iterations, 64),
        ),
        other => {
            return Err(Pkcs12Error::UnsupportedAlgorithm(format!(
                "MAC algorithm {other}"
            )));
        }
    };
    // The KDF takes the password as a BMPString.
    let key = Zeroizing::new(key.map_err(|_| {
        Pkcs12Error::UnsupportedAlgorithm(
            "a password with characters outside the Basic Multilingual Plane".to_owned(),
        )
    })?);
    let key = hmac::Key::new(algorithm, &key);
    hmac::verify(&key, content, mac_data.mac.digest.as_bytes())
        .map_err(|_| Pkcs12Error::WrongPassword)
}
