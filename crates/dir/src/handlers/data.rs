//! Requests about what users leave with the DIR: address records (register,
//! lookup), key backups, and the offline store.

use sixchat_pki::cert::CertInfo;
use sixchat_pki::keys::verify_pss_sha256;
use sixchat_proto::UserId;
use sixchat_proto::irp::record::MAX_LIFETIME_SECS;
use sixchat_proto::irp::{AddressRecord, ErrorCode, LookupResult, Response, SignedRecord};

use super::{Caller, Dir, Fail, refuse};
use crate::limits::Source;
use crate::now_unix;
use crate::secret::{new_envelope_id, recovery_secret_matches, recovery_verifier};
use crate::store::data::{
    self as rows, BackupRow, NewEnvelope, PutOutcome, RecordOutcome, RecordRow,
};
use crate::store::{certs as cert_rows, users};

/// Clock difference tolerated on a record's expiry.
pub const CLOCK_SKEW_SECS: i64 = 300;
/// Largest stored PKCS#12.
pub const MAX_BACKUP_BYTES: usize = 1 << 20;
/// Largest envelope: small enough that, base64-encoded in a
/// `store_fetch_response`, it still fits one 64 MiB frame.
pub const MAX_ENVELOPE_BYTES: usize = (48 << 20) - (64 << 10);
/// Data in one `store_fetch_response` page (unless one envelope is larger).
pub const MAX_FETCH_BYTES: u64 = 40 << 20;
/// Default and longest time an envelope is kept, in days.
pub const STORE_DAYS: u32 = 30;

fn no_such_user() -> Fail {
    refuse(ErrorCode::NoSuchUser, "no such user")
}

pub async fn register(dir: &Dir, caller: &Caller, signed: SignedRecord) -> Result<Response, Fail> {
    let record = signed
        .record()
        .map_err(|e| refuse(e.code(), "malformed address record"))?;
    if record.user_id != caller.user_id {
        return Err(refuse(
            ErrorCode::UserIdMismatch,
            "the record is for another UserID",
        ));
    }
    let signed_data = AddressRecord::signed_data(&signed.bytes);
    if !verify_pss_sha256(&caller.spki, &signed_data, &signed.signature) {
        return Err(refuse(ErrorCode::NotAuthorised, "bad signature"));
    }
    let now = now_unix();
    if record.expires_unix <= now || record.expires_unix > now + MAX_LIFETIME_SECS + CLOCK_SKEW_SECS
    {
        return Err(refuse(
            ErrorCode::StaleRecord,
            "the record must expire in the future and within 24 hours",
        ));
    }
    if i64::try_from(record.sequence).is_err() {
        return Err(refuse(ErrorCode::StaleRecord, "sequence out of range"));
    }
    let user = caller.user_id.to_string();
    let row = RecordRow {
        sequence: record.sequence,
        expires_unix: record.expires_unix,
        bytes: signed.bytes,
        signature: signed.signature,
    };
    dir.db
        .write(move |tx| match rows::put_record(tx, &user, &row)? {
            RecordOutcome::Stored => {
                users::touch_last_seen(tx, &user, now)?;
                Ok(user)
            }
            RecordOutcome::Stale { .. } => Err(refuse(
                ErrorCode::StaleRecord,
                "stale record: the sequence number must increase",
            )),
        })
        .await
        .map(|user| dir.cache.forget_user(&user))?;
    Ok(Response::Register {
        sequence: record.sequence,
        expires_unix: record.expires_unix,
    })
}

pub async fn lookup(dir: &Dir, user_id: &UserId) -> Result<Response, Fail> {
    if user_id.domain() != dir.domain {
        return Err(no_such_user());
    }
    super::revalidate_cache(dir)?;
    if let Some(found) = dir.cache.lookup(user_id.as_str()) {
        return Ok(Response::Lookup(Box::new(found)));
    }
    let generation = dir.cache.generation();
    let user = user_id.clone();
    let root = dir.root_der.clone();
    let now = now_unix();
    let response = dir
        .db
        .read(move |c| {
            let Some(row) = users::user(c, user.as_str())? else {
                return Err(no_such_user());
            };
            let Some(cert) = cert_rows::current(c, user.as_str(), now)? else {
                return Err(no_such_user());
            };
            let encryption = cert_rows::current_encryption(c, user.as_str(), now)?;
            let record = rows::record_of(c, user.as_str())?
                .filter(|r| r.expires_unix > now)
                .map(|r| SignedRecord {
                    bytes: r.bytes,
                    signature: r.signature,
                });
            // The name the certificate carries, so the two always agree;
            // the administrator's name for the user if it cannot be read.
            let name = CertInfo::parse(&cert.der).map_or(row.name, |info| info.name);
            Ok(Response::Lookup(Box::new(LookupResult {
                user_id: user,
                name,
                email: row.email,
                state: cert.state(now),
                chain: vec![cert.der, root],
                encryption_certificate: encryption.map(|row| row.der),
                record,
                last_seen_unix: row.last_seen_unix,
            })))
        })
        .await?;
    if let Response::Lookup(found) = &response {
        dir.cache.put_lookup(generation, found);
    }
    Ok(response)
}

pub async fn backup_put(
    dir: &Dir,
    caller: &Caller,
    source: Source,
    pkcs12: Vec<u8>,
    recovery_secret: String,
) -> Result<Response, Fail> {
    if pkcs12.len() > MAX_BACKUP_BYTES {
        return Err(refuse(ErrorCode::TooLarge, "backup too large"));
    }
    if pkcs12.is_empty() || recovery_secret.is_empty() {
        return Err(refuse(
            ErrorCode::UnknownRequest,
            "empty backup or recovery secret",
        ));
    }
    dir.slow_request(source)?;
    let _permit = dir.hash_turn().await?;
    let (salt, verifier, iterations) =
        tokio::task::spawn_blocking(move || recovery_verifier(&recovery_secret)).await??;
    let user = caller.user_id.to_string();
    let backup = BackupRow {
        pkcs12,
        salt,
        verifier,
        iterations,
    };
    dir.db
        .write(move |tx| rows::put_backup(tx, &user, &backup, now_unix()).map_err(Fail::from))
        .await?;
    Ok(Response::BackupPut)
}

/// Checks, in this order and before any slow work: the UserID is of this
/// DIR's domain (else 1201 at once: no backup of ours to protect), the
/// source has slow-request budget left, and the attempt limits (per source
/// and UserID, per UserID) allow another guess. Only then the PBKDF2 hash,
/// which runs even when there is no backup, so the answer does not tell.
pub async fn backup_get(
    dir: &Dir,
    source: Source,
    user_id: &UserId,
    recovery_secret: String,
) -> Result<Response, Fail> {
    if user_id.domain() != dir.domain {
        return Err(no_such_user());
    }
    dir.slow_request(source)?;
    dir.recovery_attempt(source, user_id.as_str())?;
    let user = user_id.to_string();
    let backup = dir
        .db
        .read_blocking(move |c| rows::backup_of(c, &user).map_err(Fail::from))
        .await?;
    let _permit = dir.hash_turn().await?;
    let (matches, backup) = tokio::task::spawn_blocking(move || {
        (
            recovery_secret_matches(&recovery_secret, backup.as_ref()),
            backup,
        )
    })
    .await?;
    match backup {
        Some(backup) if matches => Ok(Response::BackupGet {
            pkcs12: backup.pkcs12,
        }),
        _ => Err(refuse(ErrorCode::NotAuthorised, "not authorised")),
    }
}

pub async fn store_put(
    dir: &Dir,
    caller: &Caller,
    to: &UserId,
    envelope: Vec<u8>,
    expires_days: Option<u32>,
) -> Result<Response, Fail> {
    if to.domain() != dir.domain {
        return Err(no_such_user());
    }
    if envelope.len() > MAX_ENVELOPE_BYTES {
        return Err(refuse(ErrorCode::TooLarge, "message too large"));
    }
    let days = expires_days.unwrap_or(STORE_DAYS).clamp(1, STORE_DAYS);
    let id = new_envelope_id()?;
    let now = now_unix();
    let expires_unix = now + i64::from(days) * 86_400;
    let to_user = to.to_string();
    let from_user = caller.user_id.to_string();
    let quota = dir.limits.quota;
    let envelope_id = id.clone();
    dir.db
        .write(move |tx| {
            // Only an active user fetches: an envelope for anyone else would
            // sit on the sender's share until it expires.
            match users::user(tx, &to_user)? {
                Some(user) if user.status == users::UserStatus::Active => {}
                _ => return Err(no_such_user()),
            }
            let new = NewEnvelope {
                id: &envelope_id,
                to_user: &to_user,
                from_user: &from_user,
                data: &envelope,
                received_unix: now,
                expires_unix,
            };
            let refusal = match rows::put_envelope(tx, &new, quota)? {
                PutOutcome::Stored => return Ok(()),
                PutOutcome::RecipientFull => "store quota exceeded: the recipient's store is full",
                PutOutcome::ShareFull => {
                    "store quota exceeded: you hold your share of the recipient's store"
                }
                PutOutcome::SenderFull => {
                    "store quota exceeded: you hold as much as one sender may"
                }
                PutOutcome::StoreFull => "store quota exceeded: the DIR's store is full",
            };
            Err(refuse(ErrorCode::QuotaExceeded, refusal))
        })
        .await?;
    Ok(Response::StorePut {
        envelope_id: id,
        expires_unix,
    })
}

pub async fn store_fetch(dir: &Dir, caller: &Caller, limit: u32) -> Result<Response, Fail> {
    let user = caller.user_id.to_string();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let now = now_unix();
    let (envelopes, more) = dir
        .db
        .read_blocking(move |c| {
            rows::fetch_envelopes(c, &user, limit, MAX_FETCH_BYTES, now).map_err(Fail::from)
        })
        .await?;
    Ok(Response::StoreFetch { envelopes, more })
}

pub async fn store_ack(
    dir: &Dir,
    caller: &Caller,
    envelope_ids: Vec<String>,
) -> Result<Response, Fail> {
    let user = caller.user_id.to_string();
    let deleted = dir
        .db
        .write(move |tx| rows::ack_envelopes(tx, &user, &envelope_ids).map_err(Fail::from))
        .await?;
    Ok(Response::StoreAck { deleted })
}
