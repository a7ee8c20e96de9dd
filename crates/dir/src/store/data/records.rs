//! Address records: the newest one of each user, by sequence.

use rusqlite::{Connection, OptionalExtension as _, params};

/// A stored address record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub sequence: u64,
    pub expires_unix: i64,
    pub bytes: Vec<u8>,
    pub signature: Vec<u8>,
}

/// What `register` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    Stored,
    /// The stored record's sequence is equal or higher.
    Stale {
        stored_sequence: u64,
    },
}

/// Stores the record if its sequence is higher than the stored one (the
/// stored sequence is kept after its record expired, so a replay of an old
/// record is refused for ever).
pub fn put_record(
    conn: &Connection,
    user_id: &str,
    record: &RecordRow,
) -> rusqlite::Result<RecordOutcome> {
    if let Some(stored) = record_of(conn, user_id)? {
        if stored.sequence >= record.sequence {
            return Ok(RecordOutcome::Stale {
                stored_sequence: stored.sequence,
            });
        }
    }
    let sequence = i64::try_from(record.sequence)
        .map_err(|_| rusqlite::Error::ToSqlConversionFailure("sequence above 2^63".into()))?;
    conn.execute(
        "INSERT OR REPLACE INTO records (user_id, sequence, expires, bytes, signature)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            user_id,
            sequence,
            record.expires_unix,
            record.bytes,
            record.signature
        ],
    )?;
    Ok(RecordOutcome::Stored)
}

/// The stored record, expired or not.
pub fn record_of(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<RecordRow>> {
    conn.prepare_cached(
        "SELECT sequence, expires, bytes, signature FROM records WHERE user_id = ?1",
    )?
    .query_row([user_id], |row| {
        Ok(RecordRow {
            sequence: crate::store::uint(row.get(0)?),
            expires_unix: row.get(1)?,
            bytes: row.get(2)?,
            signature: row.get(3)?,
        })
    })
    .optional()
}
