//! What users leave with the DIR: address records, key backups, and the
//! offline store of envelopes.

use rusqlite::{Connection, OptionalExtension as _, params};
use sixchat_proto::irp::StoredEnvelope;

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
            sequence: super::uint(row.get(0)?),
            expires_unix: row.get(1)?,
            bytes: row.get(2)?,
            signature: row.get(3)?,
        })
    })
    .optional()
}

/// A stored key backup and the slow hash of its recovery secret.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupRow {
    pub pkcs12: Vec<u8>,
    pub salt: Vec<u8>,
    pub verifier: Vec<u8>,
    pub iterations: u32,
}

impl std::fmt::Debug for BackupRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupRow")
            .field("pkcs12_bytes", &self.pkcs12.len())
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

pub fn put_backup(
    conn: &Connection,
    user_id: &str,
    backup: &BackupRow,
    now_unix: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO backups (user_id, pkcs12, salt, verifier, iterations, stored)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            user_id,
            backup.pkcs12,
            backup.salt,
            backup.verifier,
            backup.iterations,
            now_unix
        ],
    )?;
    Ok(())
}

pub fn backup_of(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<BackupRow>> {
    conn.query_row(
        "SELECT pkcs12, salt, verifier, iterations FROM backups WHERE user_id = ?1",
        [user_id],
        |row| {
            Ok(BackupRow {
                pkcs12: row.get(0)?,
                salt: row.get(1)?,
                verifier: row.get(2)?,
                iterations: row.get(3)?,
            })
        },
    )
    .optional()
}

pub fn has_backup(conn: &Connection, user_id: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM backups WHERE user_id = ?1",
            [user_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

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
    super::uint(count) >= max_envelopes || super::uint(bytes).saturating_add(size) > max_bytes
}

/// Bytes of every envelope in the store, expired or not (kept by triggers).
pub fn total_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT bytes FROM store_usage WHERE id = 1")?
        .query_row([], |row| row.get::<_, i64>(0))
        .optional()
        .map(|bytes| super::uint(bytes.unwrap_or(0)))
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
            super::int(size),
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
            |row| Ok((row.get(0)?, super::uint(row.get(1)?))),
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
    .map(super::uint)
}

/// Deletes expired envelopes; returns how many.
pub fn purge_expired(conn: &Connection, now_unix: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM store WHERE expires <= ?1", [now_unix])
}

#[cfg(test)]
mod tests {
    use super::super::testing::{NOW, store};
    use super::super::{Store, users};
    use super::*;

    const ALICE: &str = "alice@example.org";

    fn with_alice() -> (tempfile::TempDir, Store) {
        let (dir, mut store) = store();
        invite(&mut store, ALICE, "Alice", 1);
        (dir, store)
    }

    /// Makes `user_id` a user of the store, with an invite whose secret hash
    /// is all `secret` bytes.
    fn invite(store: &mut Store, user_id: &str, name: &str, secret: u8) {
        store
            .write(|tx| users::create_invite(tx, user_id, name, None, &[secret; 32], NOW + 9, NOW))
            .unwrap();
    }

    fn record(sequence: u64) -> RecordRow {
        RecordRow {
            sequence,
            expires_unix: NOW + 60,
            bytes: vec![u8::try_from(sequence % 256).unwrap()],
            signature: vec![0],
        }
    }

    #[test]
    fn a_record_with_an_equal_or_lower_sequence_is_stale() {
        let (_dir, mut store) = with_alice();
        let mut put = |r: RecordRow| store.write(|tx| put_record(tx, ALICE, &r)).unwrap();
        assert_eq!(put(record(5)), RecordOutcome::Stored);
        assert_eq!(put(record(5)), RecordOutcome::Stale { stored_sequence: 5 });
        assert_eq!(put(record(4)), RecordOutcome::Stale { stored_sequence: 5 });
        assert_eq!(put(record(6)), RecordOutcome::Stored);
        assert_eq!(
            record_of(store.conn(), ALICE).unwrap().unwrap().bytes,
            vec![6]
        );
    }

    /// A quota with room for everything but what a test looks at.
    fn roomy() -> Quota {
        Quota {
            max_envelopes: 1000,
            max_bytes: 1000,
            share_divisor: 1,
            sender_envelopes: 1000,
            sender_bytes: 1000,
            total_bytes: 1000,
        }
    }

    fn put(
        store: &mut Store,
        quota: Quota,
        (id, from, to): (&str, &str, &str),
        size: usize,
        expires: i64,
    ) -> PutOutcome {
        let data = vec![0u8; size];
        let envelope = NewEnvelope {
            id,
            to_user: to,
            from_user: from,
            data: &data,
            received_unix: NOW,
            expires_unix: expires,
        };
        store
            .write(|tx| put_envelope(tx, &envelope, quota))
            .unwrap()
    }

    #[test]
    fn the_quota_counts_envelopes_and_bytes_of_unexpired_mail_only() {
        let (_dir, mut store) = with_alice();
        let quota = Quota {
            max_envelopes: 2,
            max_bytes: 10,
            ..roomy()
        };
        let mut put = |id: &str, size: usize, expires: i64| {
            put(
                &mut store,
                quota,
                (id, "bob@example.org", ALICE),
                size,
                expires,
            )
        };
        assert_eq!(
            put("old", 10, NOW),
            PutOutcome::Stored,
            "expires now: does not count later"
        );
        assert_eq!(put("a", 6, NOW + 9), PutOutcome::Stored);
        assert_eq!(
            put("b", 5, NOW + 9),
            PutOutcome::RecipientFull,
            "11 bytes is over 10"
        );
        assert_eq!(put("c", 4, NOW + 9), PutOutcome::Stored);
        assert_eq!(
            put("d", 0, NOW + 9),
            PutOutcome::RecipientFull,
            "a third envelope is over 2"
        );
        assert_eq!(waiting(store.conn(), ALICE, NOW).unwrap(), 2);
        assert_eq!(store.write(|tx| purge_expired(tx, NOW)).unwrap(), 1);
    }

    #[test]
    fn one_sender_fills_only_its_share_of_a_recipient() {
        let (_dir, mut store) = with_alice();
        let quota = Quota {
            max_envelopes: 8,
            max_bytes: 400,
            share_divisor: 4,
            ..roomy()
        };
        assert_eq!((quota.share_envelopes(), quota.share_bytes()), (2, 100));
        let x = "x@example.org";
        let z = "z@example.org";
        assert_eq!(
            put(&mut store, quota, ("x1", x, ALICE), 1, NOW + 9),
            PutOutcome::Stored
        );
        assert_eq!(
            put(&mut store, quota, ("x2", x, ALICE), 1, NOW + 9),
            PutOutcome::Stored
        );
        assert_eq!(
            put(&mut store, quota, ("x3", x, ALICE), 1, NOW + 9),
            PutOutcome::ShareFull,
            "two envelopes are a quarter of eight"
        );
        assert_eq!(
            put(&mut store, quota, ("z1", z, ALICE), 100, NOW + 9),
            PutOutcome::Stored
        );
        assert_eq!(
            put(&mut store, quota, ("z2", z, ALICE), 1, NOW + 9),
            PutOutcome::ShareFull,
            "101 bytes is over a quarter of 400"
        );
        invite(&mut store, "carol@example.org", "Carol", 2);
        assert_eq!(
            put(
                &mut store,
                quota,
                ("x4", x, "carol@example.org"),
                1,
                NOW + 9
            ),
            PutOutcome::Stored,
            "a share is per recipient"
        );
    }

    #[test]
    fn a_sender_has_a_total_across_recipients() {
        let (_dir, mut store) = with_alice();
        invite(&mut store, "carol@example.org", "Carol", 2);
        let quota = Quota {
            sender_envelopes: 3,
            sender_bytes: 50,
            ..roomy()
        };
        let x = "x@example.org";
        assert_eq!(
            put(&mut store, quota, ("1", x, ALICE), 1, NOW + 9),
            PutOutcome::Stored
        );
        assert_eq!(
            put(&mut store, quota, ("2", x, "carol@example.org"), 1, NOW + 9),
            PutOutcome::Stored
        );
        assert_eq!(
            put(&mut store, quota, ("3", x, ALICE), 1, NOW + 9),
            PutOutcome::Stored
        );
        assert_eq!(
            put(&mut store, quota, ("4", x, "carol@example.org"), 1, NOW + 9),
            PutOutcome::SenderFull
        );
        assert_eq!(
            put(
                &mut store,
                quota,
                ("5", "z@example.org", ALICE),
                50,
                NOW + 9
            ),
            PutOutcome::Stored,
            "another sender is not held back"
        );
        assert_eq!(
            put(&mut store, quota, ("6", "z@example.org", ALICE), 1, NOW + 9),
            PutOutcome::SenderFull,
            "51 bytes is over 50"
        );
    }

    #[test]
    fn the_whole_store_has_a_disk_budget_kept_by_triggers() {
        let (_dir, mut store) = with_alice();
        let quota = Quota {
            total_bytes: 100,
            ..roomy()
        };
        assert_eq!(total_bytes(store.conn()).unwrap(), 0);
        assert_eq!(
            put(&mut store, quota, ("a", "x@example.org", ALICE), 60, NOW),
            PutOutcome::Stored
        );
        assert_eq!(
            put(
                &mut store,
                quota,
                ("b", "y@example.org", ALICE),
                40,
                NOW + 9
            ),
            PutOutcome::Stored
        );
        assert_eq!(total_bytes(store.conn()).unwrap(), 100);
        // Full; but "a" has expired: it is purged to make room.
        assert_eq!(
            put(
                &mut store,
                quota,
                ("c", "z@example.org", ALICE),
                60,
                NOW + 9
            ),
            PutOutcome::Stored
        );
        assert_eq!(total_bytes(store.conn()).unwrap(), 100);
        assert_eq!(
            put(&mut store, quota, ("d", "w@example.org", ALICE), 1, NOW + 9),
            PutOutcome::StoreFull
        );
        let ids = vec!["b".to_owned()];
        assert_eq!(store.write(|tx| ack_envelopes(tx, ALICE, &ids)).unwrap(), 1);
        assert_eq!(
            total_bytes(store.conn()).unwrap(),
            60,
            "a delete gives room back"
        );
        assert_eq!(
            put(
                &mut store,
                quota,
                ("d", "w@example.org", ALICE),
                40,
                NOW + 9
            ),
            PutOutcome::Stored
        );
    }

    #[test]
    fn fetch_pages_oldest_first_and_ack_deletes_only_ones_own() {
        let (_dir, mut store) = with_alice();
        for (i, id) in ["e1", "e2", "e3"].iter().enumerate() {
            let data = vec![7u8; 4];
            let envelope = NewEnvelope {
                id,
                to_user: ALICE,
                from_user: "bob@example.org",
                data: &data,
                received_unix: NOW + i64::try_from(i).unwrap(),
                expires_unix: NOW + 99,
            };
            assert_eq!(
                store
                    .write(|tx| put_envelope(tx, &envelope, Quota::default()))
                    .unwrap(),
                PutOutcome::Stored
            );
        }
        let (page, more) = fetch_envelopes(store.conn(), ALICE, 2, u64::MAX, NOW).unwrap();
        assert_eq!(
            page.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["e1", "e2"]
        );
        assert!(more);
        let (page, more) = fetch_envelopes(store.conn(), ALICE, 10, 5, NOW).unwrap();
        assert_eq!(page.len(), 1, "the byte budget cuts the page");
        assert!(more);
        assert_eq!(page[0].from, "bob@example.org");
        assert_eq!(page[0].data, vec![7u8; 4]);
        let ids = vec!["e1".to_owned(), "e2".to_owned(), "nope".to_owned()];
        assert_eq!(
            store
                .write(|tx| ack_envelopes(tx, "bob@example.org", &ids))
                .unwrap(),
            0,
            "bob cannot delete alice's mail"
        );
        assert_eq!(store.write(|tx| ack_envelopes(tx, ALICE, &ids)).unwrap(), 2);
        let (page, more) = fetch_envelopes(store.conn(), ALICE, 10, u64::MAX, NOW).unwrap();
        assert_eq!(page.len(), 1);
        assert!(!more);
        assert!(
            fetch_envelopes(store.conn(), ALICE, 10, u64::MAX, NOW + 99)
                .unwrap()
                .0
                .is_empty()
        );
    }

    #[test]
    fn a_backup_is_replaced_by_the_next_one() {
        let (_dir, mut store) = with_alice();
        assert!(!has_backup(store.conn(), ALICE).unwrap());
        for byte in [1u8, 2] {
            let backup = BackupRow {
                pkcs12: vec![byte],
                salt: vec![0; 16],
                verifier: vec![0; 32],
                iterations: 600_000,
            };
            store
                .write(|tx| put_backup(tx, ALICE, &backup, NOW))
                .unwrap();
        }
        assert_eq!(
            backup_of(store.conn(), ALICE).unwrap().unwrap().pkcs12,
            vec![2]
        );
        assert!(has_backup(store.conn(), ALICE).unwrap());
    }
}
