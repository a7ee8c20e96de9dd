//! The private key never rests on disk unencrypted: a profile's identity is
//! stored as an encrypted PKCS#12 file ([`crate::pkcs12::export`] with
//! PBES2 / AES-256-CBC / PBKDF2-HMAC-SHA256, 600 000 iterations).

use crate::keys::IdentityKey;
use crate::pkcs12::{self, EncryptionKey, ImportedIdentity, Pkcs12Error};

/// Why an identity could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtectError {
    #[error("wrong passphrase")]
    WrongPassphrase,
    #[error("a passphrase is needed to protect the private key")]
    EmptyPassphrase,
    #[error(transparent)]
    Pkcs12(Pkcs12Error),
}

impl From<Pkcs12Error> for ProtectError {
    fn from(error: Pkcs12Error) -> Self {
        match error {
            Pkcs12Error::WrongPassword => Self::WrongPassphrase,
            other => Self::Pkcs12(other),
        }
    }
}

/// Encrypts the identity (key and chain, leaf first) and its mail
/// encryption keys for storage on disk.
pub fn seal_identity(
    key: &IdentityKey,
    chain: &[Vec<u8>],
    encryption: &[EncryptionKey],
    passphrase: &str,
) -> Result<Vec<u8>, ProtectError> {
    if passphrase.is_empty() {
        return Err(ProtectError::EmptyPassphrase);
    }
    Ok(pkcs12::export_all(key, chain, encryption, passphrase)?)
}

/// Decrypts an identity sealed by [`seal_identity`] (or any PKCS#12 file).
pub fn open_identity(bytes: &[u8], passphrase: &str) -> Result<ImportedIdentity, ProtectError> {
    Ok(pkcs12::import(bytes, passphrase)?)
}
