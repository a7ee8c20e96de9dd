//! What the admin commands do: `init`, `invite`, `users`, `revoke`,
//! `approve`. Each opens the database itself, so they work while `serve`
//! runs (WAL; writes wait for the server's writer through the busy timeout).

use sixchat_pki::IdentityKey;
use sixchat_pki::ca::{CaError, CertificateAuthority};
use sixchat_pki::cert::{MAX_DISPLAY_NAME_CHARS, to_pem};
use sixchat_pki::keys::KeyError;
use sixchat_proto::irp::invite::host_of;
use sixchat_proto::irp::messages::{MAX_TEXT_CHARS, REVOKE_REASONS};
use sixchat_proto::irp::{IRP_PORT, Invite};
use sixchat_proto::{Fingerprint, UserId, identity::is_dns_name};

use crate::crl::{self, CrlError};
use crate::files::{self, DataDir, FileError, Passphrase};
use crate::secret::{self, RandomUnavailable};
use crate::store::users::{self, UserSummary};
use crate::store::{self, Meta, Store, StoreError, certs};
use crate::{DEFAULT_CERT_DAYS, now_unix};

/// Root key size.
pub const ROOT_KEY_BITS: usize = 3072;
/// TLS server key size.
pub const SERVER_KEY_BITS: usize = 3072;
/// Root validity: ten years.
pub const ROOT_VALID_DAYS: u32 = 3653;
/// TLS server certificate validity (the CA/Browser Forum's old maximum).
pub const SERVER_VALID_DAYS: u32 = 825;

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Crl(#[from] CrlError),
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
    #[error("{0:?} is not a domain name (lowercase ASCII, A-label form)")]
    BadDomain(String),
    #[error("{0:?} is not HOST:PORT (a DNS name, an IPv4 address, or [IPv6]; port 1-65535)")]
    BadAddress(String),
    #[error("{0}")]
    BadUserId(String),
    #[error("{user_id} is not in this DIR's domain {domain}")]
    WrongDomain { user_id: String, domain: String },
    #[error(
        "the display name must be 1 to {MAX_DISPLAY_NAME_CHARS} characters without control characters"
    )]
    BadName,
    #[error(
        "the e-mail address must be 1 to {MAX_TEXT_CHARS} characters without control characters"
    )]
    BadEmail,
    #[error("the reason must be one of {}", REVOKE_REASONS.join(", "))]
    BadReason,
    #[error("the invite lifetime must be 0 to 365 days")]
    BadValidity,
    #[error("no such user: {0}")]
    NoSuchUser(String),
    #[error("no certificate has the subject key identifier {0}")]
    NoSuchKey(String),
    #[error("no enrollment of {0} waits for approval")]
    NothingToApprove(String),
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// What `init` is asked for.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub domain: String,
    /// `HOST:PORT` for invites; `<domain>:4604` if `None`.
    pub address: Option<String>,
    pub require_approval: bool,
    /// Validity of issued identity certificates, in days.
    pub cert_valid_days: u32,
}

/// What `init` made.
#[derive(Debug, Clone)]
pub struct InitReport {
    pub domain: String,
    pub address: String,
    pub root_fingerprint: Fingerprint,
}

/// Checks `HOST:PORT`: a DNS name, an IPv4 address or a bracketed IPv6
/// address, and a port from 1 to 65535. Returns the host.
pub fn check_address(address: &str) -> Result<&str, AdminError> {
    let bad = || AdminError::BadAddress(address.chars().take(80).collect());
    let (host_part, port) = address.rsplit_once(':').ok_or_else(bad)?;
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad());
    }
    let host = host_of(address);
    let bracketed = host_part.starts_with('[');
    let ok = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(_)) => bracketed,
        Ok(std::net::IpAddr::V4(_)) => !bracketed,
        Err(_) => !bracketed && is_dns_name(host),
    };
    if ok { Ok(host) } else { Err(bad()) }
}

/// Creates the data folder, the root and server keys and certificates, the
/// first CRL and the database.
pub fn init(
    data: &DataDir,
    passphrase: &Passphrase,
    options: &InitOptions,
) -> Result<InitReport, AdminError> {
    if !is_dns_name(&options.domain) {
        return Err(AdminError::BadDomain(
            options.domain.chars().take(80).collect(),
        ));
    }
    let address = options
        .address
        .clone()
        .unwrap_or_else(|| format!("{}:{IRP_PORT}", options.domain));
    let host = check_address(&address)?.to_owned();
    if options.cert_valid_days == 0 || options.cert_valid_days > sixchat_pki::cert::MAX_VALID_DAYS {
        return Err(AdminError::BadValidity);
    }
    data.create()?;

    let root_key = IdentityKey::generate(ROOT_KEY_BITS)?;
    let ca = CertificateAuthority::new_root(
        &options.domain,
        IdentityKey::from_pkcs8_der(root_key.pkcs8_der())?,
        ROOT_VALID_DAYS,
    )?;
    let root_der = ca.certificate_der().to_vec();
    let server_key = IdentityKey::generate(SERVER_KEY_BITS)?;
    let server_der = ca.issue_server(
        &host,
        server_key.public_key_spki_der(),
        SERVER_VALID_DAYS,
        secret::new_serial()?,
    )?;

    files::write_private(
        &data.root_key_path(),
        &files::seal(&root_key, std::slice::from_ref(&root_der), passphrase)?,
    )?;
    files::write_private(
        &data.server_key_path(),
        &files::seal(&server_key, &[server_der, root_der.clone()], passphrase)?,
    )?;
    files::write_public(
        &data.root_cert_path(),
        to_pem("CERTIFICATE", &root_der).as_bytes(),
    )?;

    let now = now_unix();
    let meta = Meta {
        domain: options.domain.clone(),
        address: address.clone(),
        require_approval: options.require_approval,
        cert_valid_days: options.cert_valid_days,
        root_der: root_der.clone(),
        created_unix: now,
    };
    // The database holds invites, backups and mail: owner only, like the
    // folder (SQLite gives its -wal and -shm files the same mode).
    files::write_private(&data.db_path(), b"")?;
    let mut store = Store::open(&data.db_path())?;
    store.write(|tx| {
        store::insert_meta(tx, &meta)?;
        crl::reissue(tx, &ca, now)?;
        Ok::<(), AdminError>(())
    })?;
    Ok(InitReport {
        domain: options.domain.clone(),
        address,
        root_fingerprint: Fingerprint::of_der(&root_der),
    })
}

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            domain: String::new(),
            address: None,
            require_approval: false,
            cert_valid_days: DEFAULT_CERT_DAYS,
        }
    }
}

fn open(data: &DataDir) -> Result<(Store, Meta), AdminError> {
    if !data.db_path().exists() {
        return Err(StoreError::NotInitialised.into());
    }
    let store = Store::open(&data.db_path())?;
    let meta = store.meta()?;
    Ok((store, meta))
}

fn user_of_domain(text: &str, meta: &Meta) -> Result<UserId, AdminError> {
    let user_id = UserId::parse(text).map_err(|e| AdminError::BadUserId(e.to_string()))?;
    if user_id.domain() != meta.domain {
        return Err(AdminError::WrongDomain {
            user_id: user_id.to_string(),
            domain: meta.domain.clone(),
        });
    }
    Ok(user_id)
}

fn plain_text(text: &str, max: usize) -> bool {
    let count = text.chars().count();
    (1..=max).contains(&count) && !text.chars().any(char::is_control)
}

/// Makes an invite valid for `valid_secs` (0 makes one already expired,
/// for tests); creates the user if new.
pub fn invite(
    data: &DataDir,
    user_id: &str,
    name: &str,
    email: Option<&str>,
    valid_secs: i64,
) -> Result<Invite, AdminError> {
    let (mut store, meta) = open(data)?;
    let user_id = user_of_domain(user_id, &meta)?;
    if !plain_text(name, MAX_DISPLAY_NAME_CHARS) {
        return Err(AdminError::BadName);
    }
    if email.is_some_and(|e| !plain_text(e, MAX_TEXT_CHARS)) {
        return Err(AdminError::BadEmail);
    }
    if !(0..=365 * 86_400).contains(&valid_secs) {
        return Err(AdminError::BadValidity);
    }
    let secret = secret::new_invite_secret()?;
    let hash = secret::sha256(secret.as_bytes());
    let now = now_unix();
    store.write(|tx| {
        users::create_invite(
            tx,
            user_id.as_str(),
            name,
            email,
            &hash,
            now + valid_secs,
            now,
        )
    })?;
    Ok(Invite {
        dir_address: meta.address,
        user_id,
        secret: secret.to_string(),
        root_fingerprint: Fingerprint::of_der(&meta.root_der),
    })
}

/// Every user, with the newest certificate.
pub fn users(data: &DataDir) -> Result<Vec<UserSummary>, AdminError> {
    let (store, _) = open(data)?;
    Ok(users::list(store.conn())?)
}

/// Revokes every certificate of a user (a UserID) or those with a subject
/// key identifier (hex), and reissues the CRL in the same transaction.
/// Returns the serials newly revoked or matched.
pub fn revoke(
    data: &DataDir,
    passphrase: &Passphrase,
    target: &str,
    reason: &str,
) -> Result<Vec<u64>, AdminError> {
    if !REVOKE_REASONS.contains(&reason) {
        return Err(AdminError::BadReason);
    }
    let (mut store, meta) = open(data)?;
    let ca = data.load_ca(&meta.domain, passphrase)?;
    let now = now_unix();
    if target.contains('@') {
        let user_id = user_of_domain(target, &meta)?;
        store.write(|tx| {
            if users::user(tx, user_id.as_str())?.is_none() {
                return Err(AdminError::NoSuchUser(user_id.to_string()));
            }
            let serials = certs::revoke_user(tx, user_id.as_str(), reason, now)?;
            users::mark_revoked(tx, user_id.as_str(), now)?;
            crl::reissue(tx, &ca, now)?;
            Ok(serials)
        })
    } else {
        let ski = target.trim().to_ascii_lowercase().replace(':', "");
        store.write(|tx| {
            let serials = certs::revoke_ski(tx, None, &ski, reason, now)?
                .ok_or_else(|| AdminError::NoSuchKey(ski.clone()))?;
            crl::reissue(tx, &ca, now)?;
            Ok(serials)
        })
    }
}

/// Approves the user's enrollment waiting for approval.
pub fn approve(data: &DataDir, user_id: &str) -> Result<usize, AdminError> {
    let (mut store, meta) = open(data)?;
    let user_id = user_of_domain(user_id, &meta)?;
    let now = now_unix();
    store.write(|tx| {
        if users::user(tx, user_id.as_str())?.is_none() {
            return Err(AdminError::NoSuchUser(user_id.to_string()));
        }
        match users::approve(tx, user_id.as_str(), now)? {
            0 => Err(AdminError::NothingToApprove(user_id.to_string())),
            n => Ok(n),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::certs::NewCert;
    use sixchat_pki::ca::LeafRequest;
    use sixchat_pki::cert::CertInfo;

    #[test]
    #[allow(clippy::too_many_lines)] // one scenario on one data folder, read top to bottom
    fn a_domain_is_made_once_and_revocation_by_ski_reaches_the_crl() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path().join("dir"));
        let passphrase = Passphrase::new("pw".into());
        let options = InitOptions {
            domain: "example.org".into(),
            address: Some("[::1]:4604".into()),
            ..InitOptions::default()
        };
        let report = init(&data, &passphrase, &options).unwrap();
        assert_eq!(report.address, "[::1]:4604");
        assert!(matches!(
            init(&data, &passphrase, &options),
            Err(AdminError::File(FileError::AlreadyInitialised(_)))
        ));
        let wrong = invite(&data, "alice@example.com", "Alice", None, 60).unwrap_err();
        assert!(matches!(wrong, AdminError::WrongDomain { .. }), "{wrong}");
        assert!(matches!(
            invite(&data, "alice@example.org", "", None, 60),
            Err(AdminError::BadName)
        ));
        let made = invite(&data, "alice@example.org", "Alice", None, 60).unwrap();
        assert_eq!(made.dir_address, "[::1]:4604");
        assert_eq!(made.root_fingerprint, report.root_fingerprint);

        // A certificate as the server would issue it.
        let ca = data.load_ca("example.org", &passphrase).unwrap();
        assert!(
            data.load_ca("example.org", &Passphrase::new("no".into()))
                .is_err()
        );
        let key = IdentityKey::generate(2048).unwrap();
        let der = ca
            .issue_leaf(
                LeafRequest::Key {
                    spki_der: key.public_key_spki_der(),
                    user_id: &made.user_id,
                    name: "Alice",
                },
                30,
                77,
            )
            .unwrap();
        let info = CertInfo::parse(&der).unwrap();
        let ski = info.subject_key_id_hex.clone().unwrap();
        let (mut store, _) = open(&data).unwrap();
        let cert = NewCert {
            usage: sixchat_proto::irp::CertUsage::Identity,
            serial: 77,
            user_id: made.user_id.to_string(),
            ski_hex: ski.clone(),
            spki_sha256: secret::sha256(key.public_key_spki_der()),
            spki: key.public_key_spki_der().to_vec(),
            der,
            not_before_unix: info.not_before_unix,
            not_after_unix: info.not_after_unix,
        };
        store
            .write(|tx| certs::insert(tx, &cert, now_unix()))
            .unwrap();
        let before = certs::crl(store.conn()).unwrap().unwrap();

        assert!(matches!(
            revoke(&data, &passphrase, &ski, "because"),
            Err(AdminError::BadReason)
        ));
        assert!(matches!(
            revoke(&data, &passphrase, "abcdef", "superseded"),
            Err(AdminError::NoSuchKey(_))
        ));
        let upper = ski.to_ascii_uppercase();
        assert_eq!(
            revoke(&data, &passphrase, &upper, "keyCompromise").unwrap(),
            vec![77]
        );
        let after = certs::crl(store.conn()).unwrap().unwrap();
        assert!(after.this_update_unix > before.this_update_unix);
        // DER INTEGER 77 (02 01 4d), as a revoked entry's serial.
        let listed = |der: &[u8]| der.windows(3).any(|w| w == [0x02, 0x01, 0x4d]);
        assert!(!listed(&before.der));
        assert!(listed(&after.der), "serial 77 is listed");
        assert_eq!(
            users::user(store.conn(), "alice@example.org")
                .unwrap()
                .unwrap()
                .status,
            users::UserStatus::Invited,
            "revoking one key does not revoke the user"
        );
        assert!(matches!(
            approve(&data, "alice@example.org"),
            Err(AdminError::NothingToApprove(_))
        ));
        assert!(matches!(
            revoke(&data, &passphrase, "zoe@example.org", "unspecified"),
            Err(AdminError::NoSuchUser(_))
        ));
    }

    #[test]
    fn addresses_are_host_and_port() {
        assert_eq!(
            check_address("dir.example.org:4604").unwrap(),
            "dir.example.org"
        );
        assert_eq!(check_address("127.0.0.1:1").unwrap(), "127.0.0.1");
        assert_eq!(check_address("[::1]:4604").unwrap(), "::1");
        for bad in [
            "example.org",
            "example.org:0",
            "::1:4604",
            "[example.org]:1",
            "Ex.org:1",
            "a b:1",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }
}
