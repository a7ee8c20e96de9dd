//! Certificate requests: enroll, issue (renewal, re-key), list, revoke, crl.

use std::sync::Arc;

use sixchat_pki::ca::{CsrInfo, LeafRequest, read_csr_info};
use sixchat_pki::cert::CertInfo;
use sixchat_pki::keys::ALLOWED_KEY_BITS;
use sixchat_proto::UserId;
use sixchat_proto::irp::{CertStatus, CertUsage, ErrorCode, Response, SignedRecord};

use super::{Caller, Dir, Fail, refuse};
use crate::secret::{new_serial, sha256};
use crate::store::certs::{self as cert_rows, NewCert, serial_hex};
use crate::store::data as data_rows;
use crate::store::users::{self, Approval, InviteState};
use crate::{crl as crl_ops, now_unix};

/// Reads and checks a CSR: signature, RSA size, and the UserID it names.
fn checked_csr(csr_der: &[u8], user_id: &UserId, mismatch: &str) -> Result<CsrInfo, Fail> {
    let info = read_csr_info(csr_der)
        .map_err(|_| refuse(ErrorCode::BadCsr, "badly formed certificate request"))?;
    if !info
        .key_bits
        .is_some_and(|bits| ALLOWED_KEY_BITS.contains(&bits))
    {
        return Err(refuse(
            ErrorCode::BadCsr,
            "the key must be RSA of 2048, 3072 or 4096 bits",
        ));
    }
    if &info.user_id != user_id {
        return Err(refuse(ErrorCode::UserIdMismatch, mismatch));
    }
    Ok(info)
}

fn key_reused() -> Fail {
    refuse(ErrorCode::KeyReused, "key already used")
}

/// Signs a leaf for the CSR's key and UserID on the blocking pool, with
/// `name` as its display name (CN); the row to store. The name is the
/// administrator's (`invite --name`), never the CSR's: a display name the
/// enrollee chose would let bob be certified as "Alice A".
async fn sign_leaf(
    dir: &Dir,
    info: CsrInfo,
    name: String,
    usage: CertUsage,
) -> Result<NewCert, Fail> {
    let serial = loop {
        let serial = new_serial()?;
        let taken = dir
            .db
            .read(move |c| cert_rows::serial_taken(c, serial).map_err(Fail::from))
            .await?;
        if !taken {
            break serial;
        }
    };
    let ca = Arc::clone(&dir.ca);
    let days = dir.cert_valid_days;
    let (der, info) = tokio::task::spawn_blocking(move || {
        let request = LeafRequest::Key {
            spki_der: &info.spki_der,
            user_id: &info.user_id,
            name: &name,
        };
        match usage {
            CertUsage::Identity => ca.issue_leaf(request, days, serial),
            CertUsage::Encryption => ca.issue_encryption(request, days, serial),
        }
        .map(|der| (der, info))
    })
    .await??;
    let issued = CertInfo::parse(&der).map_err(|e| Fail::Internal(format!("issued: {e}")))?;
    let spki_sha256 = sha256(&info.spki_der);
    Ok(NewCert {
        usage,
        serial,
        user_id: info.user_id.to_string(),
        ski_hex: issued
            .subject_key_id_hex
            .unwrap_or_else(|| hex::encode(&spki_sha256[..20])),
        spki_sha256,
        spki: info.spki_der,
        der,
        not_before_unix: issued.not_before_unix,
        not_after_unix: issued.not_after_unix,
    })
}

/// 1204 if any certificate was ever issued for this key (its SPKI's SHA-256).
async fn refuse_used_key(dir: &Dir, key: [u8; 32]) -> Result<(), Fail> {
    let used = dir
        .db
        .read(move |c| cert_rows::key_owners(c, &key).map_err(Fail::from))
        .await?;
    if used.is_empty() {
        Ok(())
    } else {
        Err(key_reused())
    }
}

/// The mail encryption key's request, checked like the identity's; its key
/// must be new (never certified, and not the identity key).
async fn checked_encryption_csr(
    dir: &Dir,
    csr_der: Option<Vec<u8>>,
    user_id: &UserId,
    identity_key: [u8; 32],
) -> Result<Option<CsrInfo>, Fail> {
    let Some(der) = csr_der else {
        return Ok(None);
    };
    let info = checked_csr(
        &der,
        user_id,
        "the encryption key's request names another UserID",
    )?;
    let key = sha256(&info.spki_der);
    if key == identity_key {
        return Err(refuse(
            ErrorCode::KeyReused,
            "the encryption key must not be the identity key",
        ));
    }
    refuse_used_key(dir, key).await?;
    Ok(Some(info))
}

/// Signs the encryption certificate asked for, if any.
async fn sign_encryption(
    dir: &Dir,
    info: Option<CsrInfo>,
    name: String,
) -> Result<Option<NewCert>, Fail> {
    match info {
        Some(info) => Ok(Some(
            sign_leaf(dir, info, name, CertUsage::Encryption).await?,
        )),
        None => Ok(None),
    }
}

/// Records a new encryption certificate, unless its key was certified meanwhile.
fn insert_encryption(
    tx: &rusqlite::Connection,
    cert: Option<&NewCert>,
    now: i64,
) -> Result<(), Fail> {
    if let Some(cert) = cert {
        if !cert_rows::key_owners(tx, &cert.spki_sha256)?.is_empty() {
            return Err(key_reused());
        }
        cert_rows::insert(tx, cert, now)?;
    }
    Ok(())
}

pub async fn enroll(
    dir: &Dir,
    user_id: &UserId,
    secret: &str,
    csr_der: Vec<u8>,
    encryption_csr_der: Option<Vec<u8>>,
) -> Result<Response, Fail> {
    let invite = sha256(secret.as_bytes());
    let now = now_unix();
    let user = user_id.to_string();
    let (state, name) = dir
        .db
        .read(move |c| {
            let state = users::invite_state(c, &invite, &user, now)?;
            Ok::<_, Fail>((state, users::invite_name(c, &invite)?))
        })
        .await?;
    if state != InviteState::Usable {
        return Err(refuse(ErrorCode::BadInvite, state.refusal()));
    }
    let name = name.ok_or_else(|| refuse(ErrorCode::BadInvite, InviteState::Unknown.refusal()))?;
    let info = checked_csr(
        &csr_der,
        user_id,
        "the request's UserID is not the invite's",
    )?;
    let key = sha256(&info.spki_der);
    refuse_used_key(dir, key).await?;
    let encryption_info = checked_encryption_csr(dir, encryption_csr_der, user_id, key).await?;
    if dir.require_approval {
        let user = user_id.to_string();
        let approval = dir
            .db
            .write(move |tx| {
                users::hold_for_approval(tx, &invite, &user, &key, now).map_err(Fail::from)
            })
            .await?;
        if approval == Approval::Waiting {
            return Err(refuse(
                ErrorCode::Pending,
                "enrollment waits for the administrator's approval",
            ));
        }
    }
    let cert = sign_leaf(dir, info, name.clone(), CertUsage::Identity).await?;
    let encryption = sign_encryption(dir, encryption_info, name.clone()).await?;
    let leaf = cert.der.clone();
    let encryption_certificate = encryption.as_ref().map(|c| c.der.clone());
    let user = user_id.to_string();
    dir.db
        .write(move |tx| {
            let now = now_unix();
            if !users::use_invite(tx, &invite, now)? {
                return Err(refuse(ErrorCode::BadInvite, "invite already used"));
            }
            if !cert_rows::key_owners(tx, &cert.spki_sha256)?.is_empty() {
                return Err(key_reused());
            }
            cert_rows::insert(tx, &cert, now)?;
            insert_encryption(tx, encryption.as_ref(), now)?;
            users::finish_enrollment(tx, &invite, &user, &name)?;
            Ok(())
        })
        .await?;
    dir.cache.forget_user(user_id.as_str());
    tracing::info!(user_id = %user_id, "enrolled");
    Ok(Response::Enroll {
        chain: vec![leaf, dir.root_der.clone()],
        root_der: dir.root_der.clone(),
        encryption_certificate,
    })
}

pub async fn issue(
    dir: &Dir,
    caller: &Caller,
    csr_der: Vec<u8>,
    encryption_csr_der: Option<Vec<u8>>,
) -> Result<Response, Fail> {
    let info = checked_csr(
        &csr_der,
        &caller.user_id,
        "the request's UserID is not the caller's",
    )?;
    let key = sha256(&info.spki_der);
    let same_key = key == sha256(&caller.spki);
    if !same_key {
        refuse_used_key(dir, key).await?;
    }
    let encryption_info =
        checked_encryption_csr(dir, encryption_csr_der, &caller.user_id, key).await?;
    // The name certified at enrolment (the administrator's), not the CSR's.
    let user = caller.user_id.to_string();
    let name = dir
        .db
        .read(move |c| Ok::<_, Fail>(users::user(c, &user)?.map(|row| row.name)))
        .await?
        .ok_or_else(|| refuse(ErrorCode::NotAuthorised, "unknown certificate"))?;
    let cert = sign_leaf(dir, info, name.clone(), CertUsage::Identity).await?;
    let encryption = sign_encryption(dir, encryption_info, name).await?;
    let leaf = cert.der.clone();
    let encryption_certificate = encryption.as_ref().map(|c| c.der.clone());
    dir.db
        .write(move |tx| {
            if !same_key && !cert_rows::key_owners(tx, &cert.spki_sha256)?.is_empty() {
                return Err(key_reused());
            }
            let now = now_unix();
            cert_rows::insert(tx, &cert, now)?;
            insert_encryption(tx, encryption.as_ref(), now)?;
            Ok(())
        })
        .await?;
    dir.cache.forget_user(caller.user_id.as_str());
    tracing::info!(user_id = %caller.user_id, rekey = !same_key, "issued");
    Ok(Response::Issue {
        chain: vec![leaf, dir.root_der.clone()],
        encryption_certificate,
    })
}

pub async fn list(dir: &Dir, caller: &Caller) -> Result<Response, Fail> {
    let user = caller.user_id.to_string();
    let now = now_unix();
    dir.db
        .read(move |c| {
            let certificates = cert_rows::of_user(c, &user)?
                .into_iter()
                .map(|row| CertStatus {
                    usage: row.usage,
                    serial_hex: serial_hex(row.serial),
                    ski_hex: row.ski_hex.clone(),
                    not_before_unix: row.not_before_unix,
                    not_after_unix: row.not_after_unix,
                    state: row.state(now),
                    der: row.der,
                })
                .collect();
            let record = data_rows::record_of(c, &user)?
                .filter(|r| r.expires_unix > now)
                .map(|r| SignedRecord {
                    bytes: r.bytes,
                    signature: r.signature,
                });
            Ok(Response::List {
                certificates,
                record,
                backup_stored: data_rows::has_backup(c, &user)?,
                waiting: data_rows::waiting(c, &user, now)?,
            })
        })
        .await
}

pub async fn revoke(
    dir: &Dir,
    caller: &Caller,
    ski_hex: String,
    reason: String,
) -> Result<Response, Fail> {
    let user = caller.user_id.to_string();
    let ca = Arc::clone(&dir.ca);
    let serials = dir
        .db
        .write(move |tx| {
            let now = now_unix();
            let Some(serials) = cert_rows::revoke_ski(tx, Some(&user), &ski_hex, &reason, now)?
            else {
                return Err(refuse(ErrorCode::NoSuchKey, "no such key"));
            };
            crl_ops::reissue(tx, &ca, now)?;
            Ok(serials)
        })
        .await?;
    dir.cache.clear();
    tracing::info!(user_id = %caller.user_id, count = serials.len(), "revoked by its owner");
    Ok(Response::Revoke {
        serial_hex: serials.first().map(|s| serial_hex(*s)).unwrap_or_default(),
    })
}

pub async fn crl(dir: &Dir) -> Result<Response, Fail> {
    let now = now_unix();
    let stored = dir
        .db
        .read(|c| cert_rows::crl(c).map_err(Fail::from))
        .await?;
    let current = match stored {
        Some(row) if !crl_ops::needs_refresh(Some(&row), now) => row,
        _ => {
            let ca = Arc::clone(&dir.ca);
            dir.db
                .write(move |tx| {
                    // Another request may have refreshed it meanwhile.
                    match cert_rows::crl(tx)? {
                        Some(row) if !crl_ops::needs_refresh(Some(&row), now) => Ok(row),
                        _ => crl_ops::reissue(tx, &ca, now).map_err(Fail::from),
                    }
                })
                .await?
        }
    };
    Ok(Response::Crl {
        crl_der: current.der,
        next_update_unix: current.next_update_unix,
    })
}
