//! Key backups: one PKCS#12 file per user and the slow hash of its
//! recovery secret.

use rusqlite::{Connection, OptionalExtension as _, params};

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
