//! The offline store of envelopes: quotas, pages, acknowledgements and
//! expiry.

use rusqlite::{Connection, OptionalExtension as _, params};
use sixchat_proto::irp::StoredEnvelope;

/// The limits of the offline store. Envelopes count while unexpired
/// (the total also counts expired ones not yet purged; they are purged
/// before a put is refused for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Envelopes waiting for one recipient.
    pub max_envelopes: u64,
    /// Bytes waiting for one recipient.
    pub max_bytes: u64,
    /// One sender may hold at most 1/`share_divisor` of a recipient's
    /// envelopes and of its bytes, so one sender cannot fill someone's
    /// store for everyone else.
    pub share_divisor: u64,
    /// Envelopes one sender holds for all recipients together.
    pub sender_envelopes: u64,
    /// Bytes one sender holds for all recipients together.
    pub sender_bytes: u64,
    /// Bytes of envelopes in the whole store: the disk budget.
    pub total_bytes: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            max_envelopes: 1000,
            max_bytes: 256 << 20,
            share_divisor: 4,
            sender_envelopes: 2000,
            sender_bytes: 512 << 20,
            total_bytes: 8 << 30,
        }
    }
}

impl Quota {
    /// Envelopes one sender may hold for one recipient.
    pub fn share_envelopes(&self) -> u64 {
        (self.max_envelopes / self.share_divisor.max(1)).max(1)
    }

    /// Bytes one sender may hold for one recipient.
    pub fn share_bytes(&self) -> u64 {
        self.max_bytes / self.share_divisor.max(1)
    }
}

/// What `put_envelope` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// The recipient's store is full.
    RecipientFull,
    /// This sender's share of the recipient's store is full.
    ShareFull,
    /// This sender holds as much as a sender may for all recipients.
    SenderFull,
    /// The store as a whole is at its disk budget.
    StoreFull,
}

/// An envelope to leave for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnvelope<'a> {
    pub id: &'a str,
    pub to_user: &'a str,
    pub from_user: &'a str,
    pub data: &'a [u8],
    pub received_unix: i64,
    pub expires_unix: i64,
}

fn over(count: i64, bytes: i64, size: u64, max_envelopes: u64, max_bytes: u64) -> bool {
    crate::store::uint(count) >= max_envelopes
        || crate::store::uint(bytes).saturating_add(size) > max_bytes
}

/// Bytes of every envelope in the store, expired or not (kept by triggers).
pub fn total_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT bytes FROM store_usage WHERE id = 1")?
        .query_row([], |row| row.get::<_, i64>(0))
        .optional()
        .map(|bytes| crate::store::uint(bytes.unwrap_or(0)))
}

/// Stores the envelope unless it would pass a limit of the quota: the
/// recipient's, the sender's share of it, the sender's own, or the whole
/// store's. Each count uses an index and reads only that recipient's or
/// sender's rows (at most a quota's worth); the total is one row.
pub fn put_envelope(
    conn: &Connection,
    envelope: &NewEnvelope<'_>,
    quota: Quota,
) -> rusqlite::Result<PutOutcome> {
    let now = envelope.received_unix;
    let size = envelope.data.len() as u64;
    let (count, bytes): (i64, i64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM store WHERE to_user = ?1 AND expires > ?2",
        )?
        .query_row(params![envelope.to_user, now], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    if over(count, bytes, size, quota.max_envelopes, quota.max_bytes) {
        return Ok(PutOutcome::RecipientFull);
    }
    let (count, bytes): (i64, i64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM store
             WHERE from_user = ?1 AND to_user = ?2 AND expires > ?3",
        )?
        .query_row(params![envelope.from_user, envelope.to_user, now], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    if over(
        count,
        bytes,
        size,
        quota.share_envelopes(),
        quota.share_bytes(),
    ) {
        return Ok(PutOutcome::ShareFull);
    }
    let (count, bytes): (i64, i64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM store
             WHERE from_user = ?1 AND expires > ?2",
        )?
        .query_row(params![envelope.from_user, now], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    if over(
        count,
        bytes,
        size,
        quota.sender_envelopes,
        quota.sender_bytes,
    ) {
        return Ok(PutOutcome::SenderFull);
    }
    if total_bytes(conn)?.saturating_add(size) > quota.total_bytes {
        // Expired envelopes still take room until purged: purge, look again.
        purge_expired(conn, now)?;
        if total_bytes(conn)?.saturating_add(size) > quota.total_bytes {
            return Ok(PutOutcome::StoreFull);
        }
    }
    conn.execute(
        "INSERT INTO store (id, to_user, from_user, received, expires, size, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            envelope.id,
            envelope.to_user,
            envelope.from_user,
            envelope.received_unix,
            envelope.expires_unix,
            crate::store::int(size),
            envelope.data
        ],
    )?;
    Ok(PutOutcome::Stored)
}

/// The user's unexpired envelopes, oldest first: at most `limit`, and no
/// more than `max_bytes` of data unless the first alone is larger. Returns
/// the page and whether more wait.
pub fn fetch_envelopes(
    conn: &Connection,
    to_user: &str,
    limit: usize,
    max_bytes: u64,
    now_unix: i64,
) -> rusqlite::Result<(Vec<StoredEnvelope>, bool)> {
    let heads: Vec<(i64, u64)> = conn
        .prepare_cached(
            "SELECT rowid, size FROM store WHERE to_user = ?1 AND expires > ?2
             ORDER BY received, rowid LIMIT ?3",
        )?
        .query_map(
            params![
                to_user,
                now_unix,
                i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1)
            ],
            |row| Ok((row.get(0)?, crate::store::uint(row.get(1)?))),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut taken = Vec::new();
    let mut total = 0u64;
    for (rowid, size) in heads.iter().take(limit) {
        if !taken.is_empty() && total.saturating_add(*size) > max_bytes {
            break;
        }
        total = total.saturating_add(*size);
        taken.push(*rowid);
    }
    let more = heads.len() > taken.len();
    let mut statement =
        conn.prepare_cached("SELECT id, from_user, received, data FROM store WHERE rowid = ?1")?;
    let envelopes = taken
        .iter()
        .map(|rowid| {
            statement.query_row([rowid], |row| {
                Ok(StoredEnvelope {
                    id: row.get(0)?,
                    from: row.get(1)?,
                    received_unix: row.get(2)?,
                    data: row.get(3)?,
                })
            })
        })
        .collect::<rusqlite::Result<_>>()?;
    Ok((envelopes, more))
}

/// Deletes the user's own envelopes among `ids`; returns how many.
pub fn ack_envelopes(conn: &Connection, to_user: &str, ids: &[String]) -> rusqlite::Result<u64> {
    let mut statement = conn.prepare_cached("DELETE FROM store WHERE id = ?1 AND to_user = ?2")?;
    let mut deleted = 0u64;
    for id in ids {
        deleted += statement.execute(params![id, to_user])? as u64;
    }
    Ok(deleted)
}

/// How many unexpired envelopes wait for the user.
pub fn waiting(conn: &Connection, to_user: &str, now_unix: i64) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT COUNT(*) FROM store WHERE to_user = ?1 AND expires > ?2",
        params![to_user, now_unix],
        |row| row.get::<_, i64>(0),
    )
    .map(crate::store::uint)
}

/// Deletes expired envelopes; returns how many.
pub fn purge_expired(conn: &Connection, now_unix: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM store WHERE expires <= ?1", [now_unix])
}
