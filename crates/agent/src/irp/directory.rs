//! What the agent asks of its DIR, one function per IRP request, with the
//! checks the agent makes on every answer.

use std::net::SocketAddr;
use std::sync::Arc;

use sixchat_pki::cert::{self, CertInfo};
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::pkcs12::EncryptionKey;
use sixchat_pki::trust::{Purpose, TrustStore};
use sixchat_proto::irp::record::MAX_LIFETIME_SECS;
use sixchat_proto::irp::{
    AddressRecord, ErrorCode, Invite, LookupResult, Request, Response, SignedRecord, StoredEnvelope,
};
use sixchat_proto::{Fingerprint, HandshakeSigner as _, UserId};
use zeroize::Zeroizing;

use super::client::{IrpClient, IrpClientError, unexpected};
use super::tls::{ClientAuth, DirTrust};
use crate::store::DirRecord;

/// Why a DIR operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error(transparent)]
    Client(#[from] IrpClientError),
    #[error("the enrolment waits for the DIR administrator's approval")]
    Pending,
    #[error("the DIR's answer does not check out: {0}")]
    BadAnswer(String),
    #[error("local failure: {0}")]
    Local(String),
}

impl DirError {
    /// The DIR's error code, if it refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Client(e) => e.refusal().map(|r| r.code),
            _ => None,
        }
    }
}

fn bad(reason: impl Into<String>) -> DirError {
    DirError::BadAnswer(reason.into())
}

/// What `enroll` gave: the new key, the chain (leaf first), the DIR root and
/// the root's current CRL (without which no peer of the domain verifies).
pub struct Enrolled {
    pub key: IdentityKey,
    pub chain: Vec<Vec<u8>>,
    pub root_der: Vec<u8>,
    pub crl_der: Vec<u8>,
    /// The mail encryption key and its certificate (none from a DIR that
    /// issues no encryption certificates).
    pub encryption: Vec<EncryptionKey>,
}

/// What a renewal gave: the identity's new chain and, when the DIR issued
/// one, a new mail encryption key (to keep beside the old ones).
pub struct Renewed {
    pub chain: Vec<Vec<u8>>,
    pub encryption: Option<EncryptionKey>,
}

/// A new mail encryption key of `bits`, made on the blocking pool.
async fn new_encryption_key(bits: usize) -> Result<IdentityKey, DirError> {
    tokio::task::spawn_blocking(move || IdentityKey::generate(bits))
        .await
        .map_err(|e| DirError::Local(e.to_string()))?
        .map_err(|e| DirError::Local(e.to_string()))
}

/// The encryption certificate the DIR sent, checked: for our new key and
/// our UserID, keyEncipherment and emailProtection, issued by the root.
fn checked_encryption(
    certificate: Option<Vec<u8>>,
    key: IdentityKey,
    user_id: &UserId,
    root_der: &[u8],
    crl_der: &[u8],
) -> Result<Option<EncryptionKey>, DirError> {
    let Some(der) = certificate else {
        return Ok(None);
    };
    let chain = [der, root_der.to_vec()];
    check_issued(
        &chain,
        &key,
        user_id,
        root_der,
        crl_der,
        Purpose::MailEncryption,
    )?;
    let [certificate, _] = chain;
    Ok(Some(EncryptionKey { key, certificate }))
}

/// Saves what an enrollment gave into `profile`: the identity (sealed with
/// `passphrase`), the domain's root as trusted, and the DIR's address.
pub fn save_enrollment(
    profile: &crate::Profile,
    invite: &Invite,
    enrolled: Enrolled,
    passphrase: &str,
) -> Result<CertInfo, crate::ProfileError> {
    let info = profile.save_identity(
        &enrolled.key,
        &enrolled.chain,
        &enrolled.encryption,
        passphrase,
    )?;
    let store = profile.open_store()?;
    let domain = invite.user_id.domain();
    store.add_root(
        domain,
        &enrolled.root_der,
        &invite.root_fingerprint.to_hex(),
    )?;
    store.set_dir(&crate::store::DirRecord {
        domain: domain.to_owned(),
        address: invite.dir_address.clone(),
        root_der: enrolled.root_der,
    })?;
    store.set_crl(domain, &enrolled.crl_der)?;
    Ok(info)
}

/// Checks that `chain`'s leaf certifies `key` for `user_id` and `purpose`,
/// verifies to `root_der` and is not on the root's CRL `crl_der`.
fn check_issued(
    chain: &[Vec<u8>],
    key: &IdentityKey,
    user_id: &UserId,
    root_der: &[u8],
    crl_der: &[u8],
    purpose: Purpose,
) -> Result<CertInfo, DirError> {
    let leaf = chain.first().ok_or_else(|| bad("no certificate"))?;
    let info = CertInfo::parse(leaf).map_err(|e| bad(e.to_string()))?;
    if &info.user_id != user_id {
        return Err(bad(format!("the certificate is for {}", info.user_id)));
    }
    let leaf_spki = cert::public_key_spki_der(leaf).map_err(|e| bad(e.to_string()))?;
    if leaf_spki != key.public_key_spki_der() {
        return Err(bad("the certificate is not for our key"));
    }
    let mut trust = TrustStore::new();
    trust
        .add_root(user_id.domain(), root_der)
        .and_then(|()| trust.set_crl(crl_der))
        .map_err(|e| bad(e.to_string()))?;
    trust
        .check_for(
            purpose,
            user_id,
            Some(&info.name),
            chain,
            crate::store::now_unix(),
        )
        .map_err(|e| {
            bad(format!(
                "the certificate does not verify to the DIR root: {e}"
            ))
        })?;
    Ok(info)
}

/// Enrols with an invite: makes a `key_bits` RSA key and a CSR for `name`,
/// sends it, and checks what comes back (the root must be the one the invite
/// names; the leaf must certify our key for our UserID).
pub async fn enroll(
    invite: &Invite,
    name: &str,
    key: IdentityKey,
    wait_for_approval: std::time::Duration,
) -> Result<Enrolled, DirError> {
    let csr_der =
        cert::csr_for(&key, &invite.user_id, name).map_err(|e| DirError::Local(e.to_string()))?;
    let encryption_key = new_encryption_key(key.bits()).await?;
    let encryption_csr_der = cert::csr_for(&encryption_key, &invite.user_id, name)
        .map_err(|e| DirError::Local(e.to_string()))?;
    let request = Request::Enroll {
        user_id: invite.user_id.clone(),
        secret: invite.secret.clone(),
        csr_der,
        encryption_csr_der: Some(encryption_csr_der),
    };
    let deadline = tokio::time::Instant::now() + wait_for_approval;
    let (response, mut client) = loop {
        let mut client = IrpClient::connect_with(
            &invite.dir_address,
            DirTrust::Fingerprint(invite.root_fingerprint),
            None,
        )
        .await?;
        match client.call(&request).await {
            Err(e) if e.refusal().map(|r| r.code) == Some(ErrorCode::Pending) => {
                client.close().await;
                if tokio::time::Instant::now() >= deadline {
                    return Err(DirError::Pending);
                }
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            other => break (other?, client),
        }
    };
    let Response::Enroll {
        chain,
        root_der,
        encryption_certificate,
    } = response
    else {
        return Err(unexpected(&request, &response).into());
    };
    if !Fingerprint::of_der(&root_der).ct_eq(&invite.root_fingerprint) {
        return Err(bad("the root is not the one the invite names"));
    }
    // The CRL comes with the enrolment: a profile never trusts the root
    // without knowing what it revoked.
    let crl = client.call(&Request::Crl).await;
    client.close().await;
    let Response::Crl { crl_der, .. } = crl? else {
        return Err(bad("not a CRL response"));
    };
    check_issued(
        &chain,
        &key,
        &invite.user_id,
        &root_der,
        &crl_der,
        Purpose::Handshake,
    )?;
    let encryption = checked_encryption(
        encryption_certificate,
        encryption_key,
        &invite.user_id,
        &root_der,
        &crl_der,
    )?;
    Ok(Enrolled {
        key,
        chain,
        root_der,
        crl_der,
        encryption: encryption.into_iter().collect(),
    })
}

/// The current CRL of the DIR `dir` (any domain's: `crl` needs no client
/// certificate), checked against its root before it is returned.
pub async fn fetch_crl(dir: &DirRecord) -> Result<Vec<u8>, DirError> {
    let request = Request::Crl;
    let mut client = IrpClient::connect(&dir.address, &dir.root_der, None).await?;
    let response = client.call(&request).await;
    client.close().await;
    let Response::Crl { crl_der, .. } = response? else {
        return Err(bad("not a CRL response"));
    };
    let mut trust = TrustStore::new();
    trust
        .add_root(&dir.domain, &dir.root_der)
        .and_then(|()| trust.set_crl(&crl_der))
        .map_err(|e| bad(format!("the CRL does not check out: {e}")))?;
    Ok(crl_der)
}

/// Fetches the CRL of `dir` within `limit` and stores it in `store`. A
/// failure leaves the CRL held before in place (it still counts until its
/// nextUpdate).
pub async fn fetch_and_store_crl(
    store: &std::sync::Mutex<crate::Store>,
    dir: &DirRecord,
    limit: std::time::Duration,
) -> Result<(), String> {
    let der = tokio::time::timeout(limit, fetch_crl(dir))
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
        .map_err(|e| e.to_string())?;
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .set_crl(&dir.domain, &der)
        .map_err(|e| e.to_string())
}

/// The profile's own DIR, reached with its certificate.
#[derive(Clone)]
pub struct Directory {
    pub dir: DirRecord,
    pub auth: ClientAuth,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("domain", &self.dir.domain)
            .field("address", &self.dir.address)
            .finish_non_exhaustive()
    }
}

impl Directory {
    pub fn new(dir: DirRecord, chain: Vec<Vec<u8>>, key: Arc<IdentityKey>) -> Self {
        Self {
            dir,
            auth: ClientAuth { chain, key },
        }
    }

    /// A fresh authenticated connection.
    pub async fn connect(&self) -> Result<IrpClient, DirError> {
        Ok(IrpClient::connect(
            &self.dir.address,
            &self.dir.root_der,
            Some(self.auth.clone()),
        )
        .await?)
    }

    async fn one(&self, request: &Request) -> Result<Response, DirError> {
        let mut client = self.connect().await?;
        let response = client.call(request).await;
        client.close().await;
        Ok(response?)
    }

    fn user_id(&self) -> Result<UserId, DirError> {
        let leaf = self
            .auth
            .chain
            .first()
            .ok_or_else(|| bad("no certificate"))?;
        Ok(CertInfo::parse(leaf)
            .map_err(|e| DirError::Local(e.to_string()))?
            .user_id)
    }

    /// Signs and registers an address record; returns its expiry.
    pub async fn register(
        &self,
        addresses: &[SocketAddr],
        sequence: u64,
        lifetime_secs: i64,
    ) -> Result<i64, DirError> {
        let record = AddressRecord {
            user_id: self.user_id()?,
            sequence,
            expires_unix: crate::store::now_unix() + lifetime_secs.clamp(60, MAX_LIFETIME_SECS),
            addresses: addresses.to_vec(),
        };
        let bytes = record.to_bytes();
        let signature = self
            .auth
            .key
            .sign_pss_sha256(&AddressRecord::signed_data(&bytes))
            .map_err(|e| DirError::Local(e.to_string()))?;
        let request = Request::Register {
            record: SignedRecord { bytes, signature },
        };
        match self.one(&request).await? {
            Response::Register { expires_unix, .. } => Ok(expires_unix),
            other => Err(unexpected(&request, &other).into()),
        }
    }

    /// Looks a user up.
    pub async fn lookup(&self, user_id: &UserId) -> Result<LookupResult, DirError> {
        let request = Request::Lookup {
            user_id: user_id.clone(),
        };
        match self.one(&request).await? {
            Response::Lookup(found) if &found.user_id == user_id => Ok(*found),
            Response::Lookup(_) => Err(bad("the answer is about another user")),
            other => Err(unexpected(&request, &other).into()),
        }
    }

    /// The current CRL, checked against the root before it is returned.
    pub async fn crl(&self) -> Result<Vec<u8>, DirError> {
        fetch_crl(&self.dir).await
    }

    /// Renewal (`issue`) for `key`, which may be the current key or a new
    /// one, with a new mail encryption key certified beside it (mail.md:
    /// "at enrolment and renewal").
    pub async fn renew(&self, key: &IdentityKey, name: &str) -> Result<Renewed, DirError> {
        let user_id = self.user_id()?;
        let csr_der =
            cert::csr_for(key, &user_id, name).map_err(|e| DirError::Local(e.to_string()))?;
        let encryption_key = new_encryption_key(key.bits()).await?;
        let encryption_csr_der = cert::csr_for(&encryption_key, &user_id, name)
            .map_err(|e| DirError::Local(e.to_string()))?;
        let request = Request::Issue {
            csr_der,
            encryption_csr_der: Some(encryption_csr_der),
        };
        let Response::Issue {
            chain,
            encryption_certificate,
        } = self.one(&request).await?
        else {
            return Err(bad("not an issue response"));
        };
        let crl_der = self.crl().await?;
        let root = &self.dir.root_der;
        check_issued(&chain, key, &user_id, root, &crl_der, Purpose::Handshake)?;
        let encryption = checked_encryption(
            encryption_certificate,
            encryption_key,
            &user_id,
            root,
            &crl_der,
        )?;
        Ok(Renewed { chain, encryption })
    }

    /// Revokes one of our own keys by its SKI.
    pub async fn revoke(&self, ski_hex: &str, reason: &str) -> Result<String, DirError> {
        let request = Request::Revoke {
            ski_hex: ski_hex.to_owned(),
            reason: reason.to_owned(),
        };
        match self.one(&request).await? {
            Response::Revoke { serial_hex } => Ok(serial_hex),
            other => Err(unexpected(&request, &other).into()),
        }
    }

    pub async fn backup_put(&self, pkcs12: Vec<u8>, recovery_secret: &str) -> Result<(), DirError> {
        let request = Request::BackupPut {
            pkcs12,
            recovery_secret: recovery_secret.to_owned(),
        };
        match self.one(&request).await? {
            Response::BackupPut => Ok(()),
            other => Err(unexpected(&request, &other).into()),
        }
    }

    /// Leaves a sealed envelope for `to` (a user of this DIR's domain).
    pub async fn store_put(&self, to: &UserId, envelope: Vec<u8>) -> Result<String, DirError> {
        let request = Request::StorePut {
            to: to.clone(),
            envelope,
            expires_days: None,
        };
        match self.one(&request).await? {
            Response::StorePut { envelope_id, .. } => Ok(envelope_id),
            other => Err(unexpected(&request, &other).into()),
        }
    }

    /// One page of waiting envelopes, oldest first, and whether more wait.
    pub async fn store_fetch(
        &self,
        client: &mut IrpClient,
        limit: u32,
    ) -> Result<(Vec<StoredEnvelope>, bool), DirError> {
        let request = Request::StoreFetch { limit };
        match client.call(&request).await? {
            Response::StoreFetch { envelopes, more } => Ok((envelopes, more)),
            other => Err(unexpected(&request, &other).into()),
        }
    }

    pub async fn store_ack(
        &self,
        client: &mut IrpClient,
        envelope_ids: Vec<String>,
    ) -> Result<u64, DirError> {
        let request = Request::StoreAck { envelope_ids };
        match client.call(&request).await? {
            Response::StoreAck { deleted } => Ok(deleted),
            other => Err(unexpected(&request, &other).into()),
        }
    }
}

/// The two values a recovery code yields: what the DIR checks (it never
/// sees the code) and the PKCS#12 password (the DIR never sees either).
pub fn recovery_values(code: &str) -> (Zeroizing<String>, Zeroizing<String>) {
    let normalized: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let prk = sixchat_proto::keys::extract(b"sixchat recovery code", normalized.as_bytes());
    let derive = |name: &str| {
        Zeroizing::new(hex::encode(&*sixchat_proto::keys::label(
            prk.as_slice(),
            name,
            b"",
            32,
        )))
    };
    (derive("backup auth"), derive("backup key"))
}

/// A fresh recovery code: 32 random hex digits in groups of four.
pub fn new_recovery_code() -> Zeroizing<String> {
    let random = Zeroizing::new(uuid::Uuid::new_v4().simple().to_string());
    let grouped: Vec<&str> = (0..8).map(|i| &random[i * 4..i * 4 + 4]).collect();
    Zeroizing::new(grouped.join("-"))
}

/// Fetches a backup with a recovery secret (no client certificate).
pub async fn backup_get(
    dir_address: &str,
    trust: DirTrust<'_>,
    user_id: &UserId,
    recovery_secret: &str,
) -> Result<Vec<u8>, DirError> {
    let mut client = IrpClient::connect_with(dir_address, trust, None).await?;
    let request = Request::BackupGet {
        user_id: user_id.clone(),
        recovery_secret: recovery_secret.to_owned(),
    };
    let response = client.call(&request).await?;
    client.close().await;
    match response {
        Response::BackupGet { pkcs12 } => Ok(pkcs12),
        other => Err(unexpected(&request, &other).into()),
    }
}

/// Verifies a looked-up address record: signed by the key of the looked-up
/// certificate `leaf_spki_der`, about the same user, not expired.
pub fn verify_record(
    record: &SignedRecord,
    user_id: &UserId,
    leaf_spki_der: &[u8],
    now_unix: i64,
) -> Result<AddressRecord, String> {
    if !sixchat_pki::keys::verify_pss_sha256(
        leaf_spki_der,
        &AddressRecord::signed_data(&record.bytes),
        &record.signature,
    ) {
        return Err("the address record's signature does not verify (forged record)".into());
    }
    let parsed = record.record().map_err(|e| e.to_string())?;
    if &parsed.user_id != user_id {
        return Err(format!("the address record is for {}", parsed.user_id));
    }
    if !parsed.is_current(now_unix) {
        return Err("the address record has expired".into());
    }
    Ok(parsed)
}
