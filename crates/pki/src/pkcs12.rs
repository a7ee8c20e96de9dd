//! PKCS#12 import and export of an identity: one RSA signing key and its
//! chain, and the mail encryption keys (mail.md: every one the person ever
//! had, each with its certificate), told apart by their certificates' key
//! usage.
//!
//! Import reads files made by OpenSSL 3 (PBES2 / AES-CBC / PBKDF2-SHA256,
//! MAC SHA-256 or SHA-512), `openssl pkcs12 -legacy` (3DES and RC2-40 with the
//! PKCS#12 KDF), Java keytool, GnuTLS certtool, and NSS `pk12util`, which is
//! what Firefox and Thunderbird export (S/MIME identities live there).
//!
//! NSS writes BER: indefinite lengths and constructed OCTET STRINGs. Every
//! file first goes through [`ber`], which decodes the PFX and its
//! AuthenticatedSafe with the `der` crate's BER rules and writes them again in
//! DER for p12-keystore, which reads DER only. The MAC covers the
//! AuthenticatedSafe as stored, so when the file's was not DER the MAC is
//! checked here over the stored bytes ([`mac`]) and the DER handed on carries
//! none. For a DER file the AuthenticatedSafe comes out byte for byte the same
//! and p12-keystore checks the MAC itself, as before.
//!
//! Before any key derivation runs, a pre-scan of the DER checks that the file
//! is a PFX and that no visible iteration count exceeds [`MAX_KDF_ITERATIONS`].
//! Files over [`MAX_IMPORT_BYTES`] are refused before anything is decoded.
//!
//! Export writes PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA256 over
//! [`EXPORT_ITERATIONS`] iterations for the key and the certificates, and an
//! HMAC-SHA256 MAC with the same count.
//!
//! Limitations: BER inside SafeContents (plain or decrypted) and inside
//! algorithm parameters is not rewritten (no tool we know writes it);
//! p12-keystore holds the decrypted PKCS#8 in an ordinary `Vec` while it
//! works; only our own copy ([`IdentityKey`]) is wiped on drop.

mod ber;
mod mac;
mod scan;

use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, Pkcs12Archive,
    PrivateKey, PrivateKeyChain,
};
use sixchat_proto::Fingerprint;

pub use scan::MAX_KDF_ITERATIONS;

use crate::keys::{IdentityKey, KeyError};
use crate::x509;

/// PBKDF2 (and MAC KDF) iterations used when we write a PKCS#12 file.
pub const EXPORT_ITERATIONS: u32 = 600_000;

/// Largest PKCS#12 file [`import`] reads; an identity file is a few kilobytes.
pub const MAX_IMPORT_BYTES: usize = 1 << 20;

/// Most certificates we keep from a file's chain (leaf included).
const MAX_CHAIN: usize = 8;

/// Most private keys read from one file (the identity and its encryption keys).
pub const MAX_KEYS: usize = 64;

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// Why a PKCS#12 file could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pkcs12Error {
    #[error("not a PKCS#12 file")]
    NotPkcs12,
    #[error("the file is {size} bytes; a PKCS#12 identity file is at most {max}")]
    TooLarge { size: usize, max: usize },
    #[error("wrong password for this PKCS#12 file")]
    WrongPassword,
    #[error(
        "the PKCS#12 file has no password MAC, so neither the password nor the file can be checked; export it again with a MAC (every common tool writes one by default)"
    )]
    NoMac,
    #[error(
        "the PKCS#12 file asks for {found} key-derivation iterations; at most {max} are accepted"
    )]
    TooManyIterations { found: u64, max: u64 },
    #[error("unsupported algorithm in the PKCS#12 file: {0}")]
    UnsupportedAlgorithm(String),
    #[error("the PKCS#12 file holds no private key")]
    NoPrivateKey,
    #[error("the PKCS#12 file holds {0} private keys; it must hold exactly one identity")]
    SeveralPrivateKeys(usize),
    #[error("the PKCS#12 file holds no certificate for its private key")]
    NoCertificate,
    #[error("the PKCS#12 file is damaged: {0}")]
    Malformed(String),
    #[error("the private key in the PKCS#12 file cannot be used: {0}")]
    Key(#[from] KeyError),
    #[error("could not write the PKCS#12 file: {0}")]
    Export(String),
}

/// An identity read from a PKCS#12 file.
#[derive(Debug)]
pub struct ImportedIdentity {
    pub key: IdentityKey,
    /// DER certificates, leaf (the key's certificate) first, then its issuers.
    pub chain: Vec<Vec<u8>>,
    /// The mail encryption keys, in the file's order.
    pub encryption: Vec<EncryptionKey>,
}

/// A mail encryption key and its certificate (keyEncipherment only).
#[derive(Debug)]
pub struct EncryptionKey {
    pub key: IdentityKey,
    pub certificate: Vec<u8>,
}

/// Reads one RSA identity from a PKCS#12 file (DER or BER).
pub fn import(bytes: &[u8], password: &str) -> Result<ImportedIdentity, Pkcs12Error> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(Pkcs12Error::TooLarge {
            size: bytes.len(),
            max: MAX_IMPORT_BYTES,
        });
    }
    let normalised = ber::normalise(bytes).map_err(|e| match e {
        ber::NormaliseError::NotPkcs12 => Pkcs12Error::NotPkcs12,
        ber::NormaliseError::Malformed(why) => Pkcs12Error::Malformed(why),
    })?;
    let der_error = |e: der::Error| Pkcs12Error::Malformed(e.to_string());
    let der = normalised.to_der(true).map_err(der_error)?;
    scan::prescan(&der).map_err(|e| match e {
        scan::ScanError::NotPkcs12 => Pkcs12Error::NotPkcs12,
        scan::ScanError::TooManyIterations(found) => Pkcs12Error::TooManyIterations {
            found,
            max: MAX_KDF_ITERATIONS,
        },
        scan::ScanError::NoMac => Pkcs12Error::NoMac,
        scan::ScanError::UnsupportedKdf => Pkcs12Error::UnsupportedAlgorithm(
            "a key-derivation function other than PBKDF2 (such as scrypt)".to_owned(),
        ),
        scan::ScanError::TooManyDerivations => Pkcs12Error::Malformed(format!(
            "it asks for more than {} password-based key derivations",
            scan::MAX_DERIVATIONS
        )),
    })?;
    let der = match (&normalised.mac_data, &normalised.stored_auth_safe) {
        // The MAC covers the stored BER, not our DER: check it here.
        (Some(mac_data), Some(stored)) => {
            mac::verify(mac_data, password, stored)?;
            normalised.to_der(false).map_err(der_error)?
        }
        _ => der,
    };
    let archive = Pkcs12Archive::from_pkcs12(&der, password).map_err(map_library_error)?;
    if archive.keys.len() > MAX_KEYS {
        return Err(Pkcs12Error::SeveralPrivateKeys(archive.keys.len()));
    }
    let certs: Vec<&[u8]> = archive.certs.iter().map(|bag| bag.cert.as_der()).collect();
    let mut signing = Vec::new();
    let mut encryption = Vec::new();
    for bag in &archive.keys {
        let algorithm = bag.key.oid().to_string();
        if algorithm != OID_RSA_ENCRYPTION {
            return Err(Pkcs12Error::UnsupportedAlgorithm(format!(
                "the private key is {}; SixChat identities are RSA",
                key_algorithm_name(&algorithm)
            )));
        }
        let key = IdentityKey::from_pkcs8_der(bag.key.as_der())?;
        let chain = chain_for_key(&key, &certs)?;
        if x509::parse_certificate(&chain[0]).is_some_and(|c| x509::encryption_only(&c)) {
            let certificate = chain.into_iter().next().unwrap_or_default();
            encryption.push(EncryptionKey { key, certificate });
        } else {
            signing.push((key, chain));
        }
    }
    let (key, chain) = match signing.len() {
        0 => return Err(Pkcs12Error::NoPrivateKey),
        1 => signing.remove(0),
        several => return Err(Pkcs12Error::SeveralPrivateKeys(several)),
    };
    Ok(ImportedIdentity {
        key,
        chain,
        encryption,
    })
}

fn key_algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.2.1" => "an elliptic-curve key".to_owned(),
        "1.3.101.112" => "an Ed25519 key".to_owned(),
        "1.3.101.113" => "an Ed448 key".to_owned(),
        "1.2.840.10040.4.1" => "a DSA key".to_owned(),
        "1.2.840.113549.1.1.10" => "an RSA-PSS-only key".to_owned(),
        other => format!("a key of type {other}"),
    }
}

/// The key's certificate (matched by public key), then its issuers by name.
fn chain_for_key(key: &IdentityKey, certs: &[&[u8]]) -> Result<Vec<Vec<u8>>, Pkcs12Error> {
    let parsed: Vec<_> = certs
        .iter()
        .filter_map(|der| x509::parse_certificate(der).map(|c| (*der, c)))
        .collect();
    let leaf_index = parsed
        .iter()
        .position(|(_, cert)| cert.public_key().raw == key.public_key_spki_der())
        .ok_or(Pkcs12Error::NoCertificate)?;
    let mut used = vec![leaf_index];
    let mut current = leaf_index;
    while used.len() < MAX_CHAIN {
        let cert = &parsed[current].1;
        if cert.issuer().as_raw() == cert.subject().as_raw() {
            break;
        }
        let next = parsed.iter().enumerate().position(|(i, (_, c))| {
            !used.contains(&i) && c.subject().as_raw() == cert.issuer().as_raw()
        });
        let Some(next) = next else { break };
        used.push(next);
        current = next;
    }
    Ok(used.into_iter().map(|i| parsed[i].0.to_vec()).collect())
}

fn map_library_error(error: p12_keystore::error::Error) -> Pkcs12Error {
    use p12_keystore::error::Error as E;
    match error {
        // The MAC is keyed by the password; a MAC-less file shows a wrong
        // password as bad padding after decryption.
        E::MacError(_) | E::UnpadError => Pkcs12Error::WrongPassword,
        E::InvalidVersion => Pkcs12Error::NotPkcs12,
        E::UnsupportedEncryptionScheme => {
            Pkcs12Error::UnsupportedAlgorithm("encryption scheme".to_owned())
        }
        E::UnsupportedMacAlgorithm => Pkcs12Error::UnsupportedAlgorithm("MAC algorithm".to_owned()),
        E::UnsupportedContentType => Pkcs12Error::UnsupportedAlgorithm(
            "content type (signed or public-key protected)".to_owned(),
        ),
        E::UnsupportedCertificateType => {
            Pkcs12Error::UnsupportedAlgorithm("certificate type (not X.509)".to_owned())
        }
        E::InvalidParameters => Pkcs12Error::UnsupportedAlgorithm(
            "key-derivation parameters outside the accepted bounds".to_owned(),
        ),
        other => Pkcs12Error::Malformed(other.to_string()),
    }
}

/// Writes `key` and `chain` (DER, leaf first; the leaf must be the key's
/// certificate) as a PKCS#12 file protected by `password`.
pub fn export(
    key: &IdentityKey,
    chain: &[Vec<u8>],
    password: &str,
) -> Result<Vec<u8>, Pkcs12Error> {
    export_all(key, chain, &[], password)
}

#[allow(clippy::needless_pass_by_value)] // the shape `map_err` hands over
fn export_error(e: p12_keystore::error::Error) -> Pkcs12Error {
    Pkcs12Error::Export(e.to_string())
}

/// One key and its chain as a keystore entry; the leaf must be the key's.
fn key_entry(key: &IdentityKey, chain: &[Vec<u8>]) -> Result<KeyStoreEntry, Pkcs12Error> {
    let leaf = chain
        .first()
        .ok_or_else(|| Pkcs12Error::Export("no certificate given for the key".to_owned()))?;
    let leaf_cert = x509::parse_certificate(leaf)
        .ok_or_else(|| Pkcs12Error::Export("the first certificate is unreadable".to_owned()))?;
    if leaf_cert.public_key().raw != key.public_key_spki_der() {
        return Err(Pkcs12Error::Export(
            "the first certificate is not for this key".to_owned(),
        ));
    }
    let certs = chain
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(export_error)?;
    let private = PrivateKey::from_der(key.pkcs8_der()).map_err(export_error)?;
    let local_key_id = Fingerprint::of_der(leaf).0[..20].to_vec();
    Ok(KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
        local_key_id,
        private,
        certs,
    )))
}

/// Writes the identity and every mail encryption key (each with its
/// certificate and the identity's issuers) as one PKCS#12 file.
pub fn export_all(
    key: &IdentityKey,
    chain: &[Vec<u8>],
    encryption: &[EncryptionKey],
    password: &str,
) -> Result<Vec<u8>, Pkcs12Error> {
    let mut store = KeyStore::new();
    store.add_entry("sixchat-identity", key_entry(key, chain)?);
    for (n, held) in encryption.iter().enumerate() {
        let mut enc_chain = vec![held.certificate.clone()];
        enc_chain.extend(chain.iter().skip(1).cloned());
        store.add_entry(
            &format!("sixchat-encryption-{}", n + 1),
            key_entry(&held.key, &enc_chain)?,
        );
    }
    store
        .writer(password)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .encryption_iterations(EXPORT_ITERATIONS)
        .mac_algorithm(MacAlgorithm::HmacSha256)
        .mac_iterations(EXPORT_ITERATIONS)
        .write()
        .map_err(export_error)
}
