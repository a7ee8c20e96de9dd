//! The data folder and the key files in it.
//!
//! ```text
//! <data>/dir.db       the database (and its -wal, -shm)
//! <data>/root.p12     root key + root certificate      (mode 0600, sealed)
//! <data>/server.p12   TLS key + [server cert, root]    (mode 0600, sealed)
//! <data>/root.pem     the root certificate, public: what agents pin
//! ```
//!
//! Keys are PKCS#12 (PBES2 / AES-256-CBC / PBKDF2-SHA256, 600 000
//! iterations) sealed with the administrator's passphrase. Without a
//! passphrase the file is still PKCS#12 with an empty password, which
//! protects nothing: only the file mode does, and `init` says so.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sixchat_pki::IdentityKey;
use sixchat_pki::ca::{CaError, CertificateAuthority};
use sixchat_pki::pkcs12::{self, ImportedIdentity, Pkcs12Error};
use sixchat_pki::protect::{self, ProtectError};
use zeroize::Zeroizing;

/// Why a file of the data folder could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0} already holds a DIR database; refusing to overwrite it")]
    AlreadyInitialised(PathBuf),
    #[error("could not open the key file: {0}")]
    Protect(#[from] ProtectError),
    #[error("could not write the key file: {0}")]
    Pkcs12(#[from] Pkcs12Error),
    #[error("the key file holds no certificate")]
    NoCertificate,
    #[error(transparent)]
    Ca(#[from] CaError),
}

fn io_error(what: impl std::fmt::Display, path: &Path) -> impl FnOnce(std::io::Error) -> FileError {
    let what = format!("{what} {}", path.display());
    move |source| FileError::Io { what, source }
}

/// The administrator's passphrase for the key files (never printed).
#[derive(Clone, Default)]
pub struct Passphrase(Zeroizing<String>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

impl Passphrase {
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// From `--passphrase-file` (first line) if given, else from the value
    /// of `SIXCHAT_DIR_PASSPHRASE`, else empty.
    pub fn from_sources(file: Option<&Path>, env_value: Option<String>) -> Result<Self, FileError> {
        if let Some(path) = file {
            let text = Zeroizing::new(
                fs::read_to_string(path).map_err(io_error("reading passphrase file", path))?,
            );
            let line = text.lines().next().unwrap_or_default();
            return Ok(Self::new(line.to_owned()));
        }
        Ok(Self::new(env_value.unwrap_or_default()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn as_str(&self) -> &str {
        &self.0
    }
}

/// The data folder.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join("dir.db")
    }

    pub fn root_key_path(&self) -> PathBuf {
        self.root.join("root.p12")
    }

    pub fn server_key_path(&self) -> PathBuf {
        self.root.join("server.p12")
    }

    pub fn root_cert_path(&self) -> PathBuf {
        self.root.join("root.pem")
    }

    /// Makes the folder (mode 0700) for `init`; refuses one with a database.
    pub fn create(&self) -> Result<(), FileError> {
        if self.db_path().exists() {
            return Err(FileError::AlreadyInitialised(self.root.clone()));
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&self.root)
            .map_err(io_error("creating", &self.root))
    }

    /// Reloads the CA from `root.p12`.
    pub fn load_ca(
        &self,
        domain: &str,
        passphrase: &Passphrase,
    ) -> Result<CertificateAuthority, FileError> {
        let identity = load_identity(&self.root_key_path(), passphrase)?;
        let cert = identity.chain.first().ok_or(FileError::NoCertificate)?;
        Ok(CertificateAuthority::from_parts(
            domain,
            identity.key,
            cert,
        )?)
    }
}

/// Seals a key and its chain (leaf first) as PKCS#12.
pub fn seal(
    key: &IdentityKey,
    chain: &[Vec<u8>],
    passphrase: &Passphrase,
) -> Result<Vec<u8>, FileError> {
    if passphrase.is_empty() {
        // `protect::seal_identity` insists on a passphrase; the
        // administrator chose to rely on the file mode alone.
        return Ok(pkcs12::export(key, chain, "")?);
    }
    Ok(protect::seal_identity(
        key,
        chain,
        &[],
        passphrase.as_str(),
    )?)
}

/// Opens a sealed key file.
pub fn load_identity(path: &Path, passphrase: &Passphrase) -> Result<ImportedIdentity, FileError> {
    let bytes = Zeroizing::new(fs::read(path).map_err(io_error("reading", path))?);
    Ok(protect::open_identity(&bytes, passphrase.as_str())?)
}

/// Writes a new file readable by the owner only (0600), synced to disk.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_new(path, bytes, 0o600)
}

/// Writes a new public file (0644), synced to disk.
pub fn write_public(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_new(path, bytes, 0o644)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(io_error("creating", path))?;
    file.write_all(bytes).map_err(io_error("writing", path))?;
    file.sync_all().map_err(io_error("syncing", path))?;
    // Make the new directory entry durable too (best effort).
    if let Some(Ok(folder)) = path.parent().map(fs::File::open) {
        let _ = folder.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> IdentityKey {
        IdentityKey::generate(2048).unwrap()
    }

    #[test]
    fn a_key_sealed_with_or_without_a_passphrase_opens_only_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = key();
        let copy = IdentityKey::from_pkcs8_der(ca_key.pkcs8_der()).unwrap();
        let ca = CertificateAuthority::new_root("example.org", copy, 30).unwrap();
        for (name, secret) in [("a.p12", "correct horse"), ("b.p12", "")] {
            let passphrase = Passphrase::new(secret.into());
            let sealed = seal(&ca_key, &[ca.certificate_der().to_vec()], &passphrase).unwrap();
            let path = dir.path().join(name);
            write_private(&path, &sealed).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "only the owner may read a key file");
            }
            let opened = load_identity(&path, &passphrase).unwrap();
            assert_eq!(opened.chain[0], ca.certificate_der());
            assert!(load_identity(&path, &Passphrase::new("wrong".into())).is_err());
            assert!(
                write_private(&path, b"x").is_err(),
                "an existing key file is never overwritten"
            );
        }
    }

    #[test]
    fn passphrase_comes_from_the_file_first_and_never_shows() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pass");
        fs::write(&file, "from file\nsecond line\n").unwrap();
        let p = Passphrase::from_sources(Some(&file), Some("from env".into())).unwrap();
        assert_eq!(p.as_str(), "from file");
        let p = Passphrase::from_sources(None, Some("from env".into())).unwrap();
        assert_eq!(p.as_str(), "from env");
        assert!(Passphrase::from_sources(None, None).unwrap().is_empty());
        assert!(!format!("{p:?}").contains("env"));
    }

    #[test]
    fn init_refuses_a_folder_that_has_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path().join("d"));
        data.create().unwrap();
        fs::write(data.db_path(), b"").unwrap();
        assert!(matches!(
            data.create(),
            Err(FileError::AlreadyInitialised(_))
        ));
    }
}
