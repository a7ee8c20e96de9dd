//! One function per IRP request, and what they share: the server state
//! ([`Dir`]), who the caller is ([`Caller`]), and how a refusal becomes an
//! `error_response` ([`Fail`]).
//!
//! - [`certs`]: enroll, issue, list, revoke, crl.
//! - [`data`]: register, lookup, backup_put, backup_get, store_put,
//!   store_fetch, store_ack.

pub mod certs;
pub mod data;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use sixchat_pki::ca::{CaError, CertificateAuthority};
use sixchat_pki::cert::CertInfo;
use sixchat_proto::UserId;
use sixchat_proto::irp::{CertUsage, ErrorCode, ErrorResponse, Header, Request, Response};
use tokio::sync::Semaphore;

use crate::crl::CrlError;
use crate::db::Db;
use crate::limits::{Limits, RecoveryLimiter, Source, SourceBuckets};
use crate::secret::RandomUnavailable;
use crate::store::certs as cert_rows;
use crate::store::{Meta, StoreError};

/// What every connection shares.
pub struct Dir {
    pub domain: String,
    pub root_der: Vec<u8>,
    pub require_approval: bool,
    pub cert_valid_days: u32,
    pub ca: Arc<CertificateAuthority>,
    pub db: Db,
    pub limits: Limits,
    pub cache: crate::cache::Cache,
    recovery_attempts: Mutex<RecoveryLimiter>,
    /// Per source: requests that need a slow hash.
    slow_requests: SourceBuckets,
    slow_hashes: Semaphore,
}

impl std::fmt::Debug for Dir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dir")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl Dir {
    pub fn new(meta: Meta, ca: CertificateAuthority, db: Db, limits: Limits) -> Self {
        Self {
            domain: meta.domain,
            root_der: meta.root_der,
            require_approval: meta.require_approval,
            cert_valid_days: meta.cert_valid_days,
            ca: Arc::new(ca),
            db,
            cache: crate::cache::Cache::new(limits.cache),
            recovery_attempts: Mutex::new(RecoveryLimiter::new(&limits)),
            slow_requests: SourceBuckets::new(limits.slow_per_minute, limits.slow_burst),
            slow_hashes: Semaphore::new(limits.slow_hashes.max(1)),
            limits,
        }
    }

    /// Counts a recovery attempt on `user_id` from `source`, or says how
    /// long to wait.
    fn recovery_attempt(&self, source: Source, user_id: &str) -> Result<(), Fail> {
        let mut limiter = self
            .recovery_attempts
            .lock()
            .map_err(|_| Fail::Internal("recovery limiter poisoned".into()))?;
        limiter
            .try_attempt(source, user_id, Instant::now())
            .map_err(|wait| Fail::Refused(rate_limited(wait)))
    }

    /// Takes one of `source`'s tokens for a request that needs a slow hash,
    /// or says how long to wait.
    fn slow_request(&self, source: Source) -> Result<(), Fail> {
        self.slow_requests
            .try_take(source, Instant::now())
            .map_err(|wait| Fail::Refused(rate_limited(wait)))
    }

    /// A turn at the slow hash, or 1801 when the queue does not move within
    /// [`HASH_QUEUE_WAIT`] (a flood from many sources is turned away rather
    /// than making every real restore wait behind it).
    async fn hash_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Fail> {
        match tokio::time::timeout(HASH_QUEUE_WAIT, self.slow_hashes.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(Fail::Internal("hash limiter closed".into())),
            Err(_) => Err(Fail::Refused(rate_limited(HASH_QUEUE_WAIT))),
        }
    }
}

/// The client certificate a connection presented (already verified by TLS
/// to chain to the root and to be within its validity).
#[derive(Debug, Clone)]
pub struct Presented {
    der: Vec<u8>,
    serial: Option<u64>,
}

impl Presented {
    pub fn new(der: Vec<u8>) -> Self {
        let serial = CertInfo::parse(&der)
            .ok()
            .and_then(|info| cert_rows::parse_serial_hex(&info.serial_hex));
        Self { der, serial }
    }
}

/// A caller whose certificate is ours, unrevoked and unexpired right now.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub serial: u64,
    /// The certificate's key (DER SubjectPublicKeyInfo).
    pub spki: Vec<u8>,
}

/// Why a request was not carried out.
#[derive(Debug)]
pub enum Fail {
    /// Answered with this `error_response`.
    Refused(ErrorResponse),
    /// A local fault: logged, answered with 2001.
    Internal(String),
}

pub(crate) fn refuse(code: ErrorCode, description: &str) -> Fail {
    Fail::Refused(ErrorResponse::new(code, description))
}

/// Longest wait for a turn at the slow hash.
const HASH_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) fn rate_limited(wait: std::time::Duration) -> ErrorResponse {
    ErrorResponse {
        code: ErrorCode::RateLimited,
        description: "rate limited".into(),
        retry_after_secs: Some(crate::limits::retry_after_secs(wait)),
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(format!("database: {e}"))
    }
}

impl From<CaError> for Fail {
    fn from(e: CaError) -> Self {
        Self::Internal(format!("CA: {e}"))
    }
}

impl From<CrlError> for Fail {
    fn from(e: CrlError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<RandomUnavailable> for Fail {
    fn from(e: RandomUnavailable) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<tokio::task::JoinError> for Fail {
    fn from(_: tokio::task::JoinError) -> Self {
        Self::Internal("a blocking task failed".into())
    }
}

/// Empties the cache if the CRL changed since it was last looked at (every
/// revocation reissues it in the same transaction). Asked at most every
/// [`crate::cache::RECHECK`], so a revocation made through an admin command
/// counts within that time; the server's own revocations empty the cache at
/// once.
pub(crate) fn revalidate_cache(dir: &Dir) -> Result<(), Fail> {
    if !dir.cache.recheck_due() {
        return Ok(());
    }
    if let Some(crl) = dir.db.crl_if_changed()? {
        dir.cache.observe_crl(&crl);
    }
    Ok(())
}

/// Checks the presented certificate against the database: it must be one
/// we issued (same serial, same bytes), not revoked and not expired.
pub async fn authenticate(dir: &Dir, presented: &Presented) -> Result<Caller, Fail> {
    let not_ours = || refuse(ErrorCode::NotAuthorised, "unknown certificate");
    let serial = presented.serial.ok_or_else(not_ours)?;
    let now = crate::now_unix();
    revalidate_cache(dir)?;
    if let Some(caller) = dir.cache.caller(serial, &presented.der, now) {
        return Ok(caller);
    }
    let generation = dir.cache.generation();
    let row = dir
        .db
        .read(move |c| cert_rows::by_serial(c, serial).map_err(Fail::from))
        .await?
        .ok_or_else(not_ours)?;
    // A mail encryption certificate never authenticates a caller.
    if row.der != presented.der || row.usage != CertUsage::Identity {
        return Err(not_ours());
    }
    if row.revoked_unix.is_some() {
        return Err(refuse(ErrorCode::NotAuthorised, "certificate revoked"));
    }
    if row.not_after_unix <= crate::now_unix() {
        return Err(refuse(ErrorCode::NotAuthorised, "certificate expired"));
    }
    let user_id = UserId::parse(&row.user_id).map_err(|_| not_ours())?;
    let caller = Caller {
        user_id,
        serial,
        spki: row.spki,
    };
    dir.cache
        .put_caller(generation, &presented.der, row.not_after_unix, &caller);
    Ok(caller)
}

/// Answers one parsed request from a connection of `source`.
pub async fn handle(
    dir: &Dir,
    presented: Option<&Presented>,
    source: Source,
    header: &Header,
    request: Request,
) -> Response {
    match dispatch(dir, presented, source, header, request).await {
        Ok(response) => response,
        Err(Fail::Refused(error)) => Response::Error(error),
        Err(Fail::Internal(reason)) => {
            tracing::error!(%reason, "request failed");
            Response::Error(ErrorResponse::new(
                ErrorCode::Internal,
                "internal server error, request not performed",
            ))
        }
    }
}

async fn dispatch(
    dir: &Dir,
    presented: Option<&Presented>,
    source: Source,
    header: &Header,
    request: Request,
) -> Result<Response, Fail> {
    let needs_caller = !request.allowed_anonymously()
        || (matches!(request, Request::Lookup { .. }) && !dir.limits.public_lookup);
    // Only requests made as the caller look at the certificate; the others
    // (enroll, backup_get, crl, and lookup when public) go as anonymous.
    let caller = match presented {
        Some(presented) if needs_caller => Some(authenticate(dir, presented).await?),
        None if needs_caller => {
            return Err(refuse(ErrorCode::AuthRequired, "authentication required"));
        }
        _ => None,
    };
    if let (Some(caller), Some(sender)) = (&caller, &header.sender) {
        if sender != caller.user_id.as_str() {
            return Err(refuse(
                ErrorCode::UserIdMismatch,
                "sender does not match the client certificate",
            ));
        }
    }
    let need = || refuse(ErrorCode::AuthRequired, "authentication required");
    match request {
        Request::Enroll {
            user_id,
            secret,
            csr_der,
            encryption_csr_der,
        } => certs::enroll(dir, &user_id, &secret, csr_der, encryption_csr_der).await,
        Request::List => certs::list(dir, &caller.ok_or_else(need)?).await,
        Request::Issue {
            csr_der,
            encryption_csr_der,
        } => certs::issue(dir, &caller.ok_or_else(need)?, csr_der, encryption_csr_der).await,
        Request::Revoke { ski_hex, reason } => {
            certs::revoke(dir, &caller.ok_or_else(need)?, ski_hex, reason).await
        }
        Request::Crl => certs::crl(dir).await,
        Request::Register { record } => {
            data::register(dir, &caller.ok_or_else(need)?, record).await
        }
        Request::Lookup { user_id } => data::lookup(dir, &user_id).await,
        Request::BackupPut {
            pkcs12,
            recovery_secret,
        } => {
            let caller = caller.ok_or_else(need)?;
            data::backup_put(dir, &caller, source, pkcs12, recovery_secret).await
        }
        Request::BackupGet {
            user_id,
            recovery_secret,
        } => data::backup_get(dir, source, &user_id, recovery_secret).await,
        Request::StorePut {
            to,
            envelope,
            expires_days,
        } => data::store_put(dir, &caller.ok_or_else(need)?, &to, envelope, expires_days).await,
        Request::StoreFetch { limit } => {
            data::store_fetch(dir, &caller.ok_or_else(need)?, limit).await
        }
        Request::StoreAck { envelope_ids } => {
            data::store_ack(dir, &caller.ok_or_else(need)?, envelope_ids).await
        }
    }
}
