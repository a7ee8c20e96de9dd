//! A profile: one person's folder under the platform data directory (or
//! `--data-dir`), holding the encrypted identity, its public certificate chain
//! and the SQLite store.
//!
//! ```text
//! <data dir>/<profile>/identity.p12   key + chain, and every mail encryption key with its
//!                                     certificate, PKCS#12 (PBES2, AES-256-CBC, PBKDF2-SHA256 600 000)
//!                     /identity.pem   the public chain, so `id show` needs no passphrase
//!                     /encryption.pem the mail encryption certificates, newest last
//!                     /sixchat.db     messages, outbox, trust roots, pins, peer addresses
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sixchat_pki::cert::{self, CertInfo};
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::pkcs12::EncryptionKey;
use sixchat_pki::protect;

use crate::store::{Store, StoreError};

/// A profile-level failure, worded for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profile name {0:?} may hold only letters, digits, '.', '_' and '-' (1-64)")]
    BadName(String),
    #[error("no platform data folder could be found; pass --data-dir")]
    NoDataDir,
    #[error("profile {0:?} has no identity yet: run `sixchat-cli id new` or `id import`")]
    NoIdentity(String),
    #[error("profile {0:?} already has an identity ({1}); use another --profile")]
    IdentityExists(String, String),
    #[error("wrong passphrase for profile {0:?}")]
    WrongPassphrase(String),
    #[error("the stored identity is damaged: {0}")]
    Damaged(String),
    #[error(transparent)]
    Protect(#[from] protect::ProtectError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ProfileError + '_ {
    move |source| ProfileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The unlocked identity of a profile.
pub struct UnlockedIdentity {
    pub key: IdentityKey,
    pub chain: Vec<Vec<u8>>,
    pub info: CertInfo,
    /// The mail encryption keys, oldest first (mail.md: all are kept, so
    /// stored mail stays readable).
    pub encryption: Vec<EncryptionKey>,
}

/// A located profile folder.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub dir: PathBuf,
}

impl Profile {
    /// Finds profile `name` under `data_dir`, or under the platform data folder.
    pub fn locate(name: &str, data_dir: Option<&Path>) -> Result<Self, ProfileError> {
        let name_ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && !name.starts_with('.');
        if !name_ok {
            return Err(ProfileError::BadName(name.chars().take(80).collect()));
        }
        let root = match data_dir {
            Some(dir) => dir.to_owned(),
            None => directories::ProjectDirs::from("org", "SixChat", "SixChat")
                .ok_or(ProfileError::NoDataDir)?
                .data_dir()
                .join("profiles"),
        };
        Ok(Self {
            name: name.to_owned(),
            dir: root.join(name),
        })
    }

    fn ensure_dir(&self) -> Result<(), ProfileError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io_err(&self.dir))?;
        }
        Ok(())
    }

    pub fn identity_path(&self) -> PathBuf {
        self.dir.join("identity.p12")
    }

    pub fn chain_path(&self) -> PathBuf {
        self.dir.join("identity.pem")
    }

    pub fn encryption_path(&self) -> PathBuf {
        self.dir.join("encryption.pem")
    }

    /// The mail encryption certificates (DER), oldest first; none if the
    /// profile has no encryption key yet.
    pub fn encryption_certificates(&self) -> Result<Vec<Vec<u8>>, ProfileError> {
        let path = self.encryption_path();
        match std::fs::read(&path) {
            Ok(pem) => cert::certificates_from_pem_or_der(&pem)
                .map_err(|e| ProfileError::Damaged(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Opens (creating) the profile's store.
    pub fn open_store(&self) -> Result<Store, ProfileError> {
        self.ensure_dir()?;
        Ok(Store::open(&self.dir.join("sixchat.db"))?)
    }

    /// The public chain, leaf first, and what the leaf says.
    pub fn public_identity(&self) -> Result<(Vec<Vec<u8>>, CertInfo), ProfileError> {
        let path = self.chain_path();
        let pem = match std::fs::read(&path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ProfileError::NoIdentity(self.name.clone()));
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        let chain = cert::certificates_from_pem_or_der(&pem)
            .map_err(|e| ProfileError::Damaged(e.to_string()))?;
        let leaf = chain
            .first()
            .ok_or_else(|| ProfileError::Damaged("empty chain".into()))?;
        let info = CertInfo::parse(leaf).map_err(|e| ProfileError::Damaged(e.to_string()))?;
        Ok((chain, info))
    }

    /// Stores a new identity, encrypted under `passphrase`; refuses to replace one.
    pub fn save_identity(
        &self,
        key: &IdentityKey,
        chain: &[Vec<u8>],
        encryption: &[EncryptionKey],
        passphrase: &str,
    ) -> Result<CertInfo, ProfileError> {
        if let Ok((_, existing)) = self.public_identity() {
            return Err(ProfileError::IdentityExists(
                self.name.clone(),
                existing.user_id.to_string(),
            ));
        }
        self.replace_identity(key, chain, encryption, passphrase)
    }

    /// Replaces the stored identity (a renewal, or a restore), encrypted under
    /// `passphrase`. Each file is replaced atomically.
    pub fn replace_identity(
        &self,
        key: &IdentityKey,
        chain: &[Vec<u8>],
        encryption: &[EncryptionKey],
        passphrase: &str,
    ) -> Result<CertInfo, ProfileError> {
        let leaf = chain
            .first()
            .ok_or_else(|| ProfileError::Damaged("empty chain".into()))?;
        let info = CertInfo::parse(leaf).map_err(|e| ProfileError::Damaged(e.to_string()))?;
        self.ensure_dir()?;
        let sealed = protect::seal_identity(key, chain, encryption, passphrase)?;
        write_atomically(&self.identity_path(), &sealed, 0o600)?;
        let pem: String = chain
            .iter()
            .map(|der| cert::to_pem("CERTIFICATE", der))
            .collect();
        write_atomically(&self.chain_path(), pem.as_bytes(), 0o644)?;
        if encryption.is_empty() {
            match std::fs::remove_file(self.encryption_path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_err(&self.encryption_path())(e));
                }
                _ => {}
            }
        } else {
            let pem: String = encryption
                .iter()
                .map(|held| cert::to_pem("CERTIFICATE", &held.certificate))
                .collect();
            write_atomically(&self.encryption_path(), pem.as_bytes(), 0o644)?;
        }
        Ok(info)
    }

    /// Stores a renewal: the new chain for `key`, and the new mail
    /// encryption key after every one held before.
    pub fn keep_renewal(
        &self,
        key: &IdentityKey,
        renewed: &crate::irp::directory::Renewed,
        passphrase: &str,
    ) -> Result<(), ProfileError> {
        let mut encryption = self.unlock(passphrase)?.encryption;
        if let Some(new) = &renewed.encryption {
            let copy = IdentityKey::from_pkcs8_der(new.key.pkcs8_der())
                .map_err(|e| ProfileError::Damaged(e.to_string()))?;
            encryption.push(EncryptionKey {
                key: copy,
                certificate: new.certificate.clone(),
            });
        }
        self.replace_identity(key, &renewed.chain, &encryption, passphrase)?;
        Ok(())
    }

    /// Unlocks the identity with `passphrase`.
    pub fn unlock(&self, passphrase: &str) -> Result<UnlockedIdentity, ProfileError> {
        let path = self.identity_path();
        let sealed = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ProfileError::NoIdentity(self.name.clone()));
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        let opened = protect::open_identity(&sealed, passphrase).map_err(|e| match e {
            protect::ProtectError::WrongPassphrase => {
                ProfileError::WrongPassphrase(self.name.clone())
            }
            other => ProfileError::Protect(other),
        })?;
        let leaf = opened
            .chain
            .first()
            .ok_or_else(|| ProfileError::Damaged("no certificate".into()))?;
        let info = CertInfo::parse(leaf).map_err(|e| ProfileError::Damaged(e.to_string()))?;
        Ok(UnlockedIdentity {
            key: opened.key,
            chain: opened.chain,
            info,
            encryption: opened.encryption,
        })
    }
}

/// Reads a file a person chose (a PKCS#12 file, a certificate) of at most
/// `limit` bytes: a device, a FIFO or a huge file is refused without being
/// read whole.
pub fn read_limited(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} KiB; that is not such a file", limit / 1024),
        ));
    }
    Ok(bytes)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it
/// into place, so a crash leaves either the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ProfileError> {
    // A fresh name beside the target, created new: an existing file (or a
    // symlink) of that name is never written through or truncated.
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(io_err(&tmp))?;
    file.write_all(bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path)(e));
    }
    if let Some(parent) = path.parent() {
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::read_limited;

    #[test]
    fn a_chosen_file_is_read_only_when_it_is_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.p12");
        std::fs::write(&small, [0x30; 100]).unwrap();
        assert_eq!(read_limited(&small, 100).unwrap().len(), 100);
        let err = read_limited(&small, 99).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        // A device that never ends is refused, not read until memory runs out.
        let err = read_limited(std::path::Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let err = read_limited(dir.path(), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("regular file"), "{err}");
    }
}
