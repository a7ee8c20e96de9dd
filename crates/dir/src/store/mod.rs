//! The DIR's SQLite database, `<data>/dir.db`: WAL with `synchronous=FULL`,
//! foreign keys on, versioned migrations ([`migrations`]).
//!
//! Every query is a free function over a [`rusqlite::Connection`], so that a
//! composite write (revoke, then reissue the CRL) runs in one transaction:
//! [`Store::write`] opens an `IMMEDIATE` transaction, commits when the closure
//! returns `Ok` and rolls back otherwise. A commit has reached the disk
//! (fsync of the WAL) when `write` returns, so a response sent after it can be
//! relied on even if the process is killed the next instant.

pub mod certs;
pub mod data;
pub mod migrations;
pub mod users;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension as _, TransactionBehavior, params};

/// A storage failure: a local fault, never the caller's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the database was written by a newer sixchat-dir (schema {0})")]
    TooNew(i64),
    #[error("the data folder has no initialised DIR (run `sixchat-dir init`)")]
    NotInitialised,
    #[error("the database is unavailable: {0}")]
    Unavailable(&'static str),
}

/// What `init` fixes for the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub domain: String,
    /// `host:port` written into invites.
    pub address: String,
    /// Enrollments wait for `sixchat-dir approve`.
    pub require_approval: bool,
    /// Validity of the identity certificates issued, in days.
    pub cert_valid_days: u32,
    /// The DIR root certificate (DER).
    pub root_der: Vec<u8>,
    pub created_unix: i64,
}

/// One open connection to the database.
pub struct Store {
    conn: Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::configure(&conn)?;
        let mut store = Self { conn };
        migrations::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// Opens an existing, already migrated database for reading only.
    pub fn open_reader(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Self::configure(&conn)?;
        conn.pragma_update(None, "query_only", true)?;
        // Readers map the file (no read syscall per page once it is in the
        // OS cache) and keep 64 MiB of pages each, so a lookup among a
        // million users stays a few memory reads.
        conn.pragma_update(None, "mmap_size", 8_i64 << 30)?;
        conn.pragma_update(None, "cache_size", -65_536_i64)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version != migrations::latest() {
            return Err(StoreError::Unavailable(
                "schema version differs from writer",
            ));
        }
        Ok(Self { conn })
    }

    fn configure(conn: &Connection) -> Result<(), StoreError> {
        conn.busy_timeout(Duration::from_secs(10))?;
        // journal_mode returns a row; pragma_update ignores it.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        Ok(())
    }

    /// Changes whenever another connection (of any process) commits.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))?)
    }

    /// The connection, for reads.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in an `IMMEDIATE` transaction; commits (durably) on `Ok`.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// The domain's settings, or [`StoreError::NotInitialised`].
    pub fn meta(&self) -> Result<Meta, StoreError> {
        read_meta(&self.conn)?.ok_or(StoreError::NotInitialised)
    }
}

/// A count, size or serial (all below 2^63) as SQLite's INTEGER.
pub(crate) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// An INTEGER column that holds a count, size or serial.
pub(crate) fn uint(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Reads the single `meta` row.
pub fn read_meta(conn: &Connection) -> Result<Option<Meta>, rusqlite::Error> {
    conn.query_row(
        "SELECT domain, address, require_approval, cert_valid_days, root_der, created
         FROM meta WHERE id = 1",
        [],
        |row| {
            Ok(Meta {
                domain: row.get(0)?,
                address: row.get(1)?,
                require_approval: row.get(2)?,
                cert_valid_days: row.get(3)?,
                root_der: row.get(4)?,
                created_unix: row.get(5)?,
            })
        },
    )
    .optional()
}

/// Writes the `meta` row (once, at `init`).
pub fn insert_meta(conn: &Connection, meta: &Meta) -> Result<(), rusqlite::Error> {
    conn.execute(
        "INSERT INTO meta (id, domain, address, require_approval, cert_valid_days, root_der, created)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            meta.domain,
            meta.address,
            meta.require_approval,
            meta.cert_valid_days,
            meta.root_der,
            meta.created_unix
        ],
    )?;
    Ok(())
}

/// Test helpers shared by the store's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Meta, Store, insert_meta};

    pub(crate) const NOW: i64 = 1_800_000_000;

    /// A fresh database in a temporary folder, with `example.org` set up.
    pub(crate) fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("dir.db")).unwrap();
        store
            .write(|tx| {
                insert_meta(
                    tx,
                    &Meta {
                        domain: "example.org".into(),
                        address: "example.org:4604".into(),
                        require_approval: false,
                        cert_valid_days: 365,
                        root_der: vec![1, 2, 3],
                        created_unix: NOW,
                    },
                )
            })
            .unwrap();
        (dir, store)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{NOW, store};
    use super::*;

    #[test]
    fn a_reopened_database_keeps_its_settings_and_schema() {
        let (dir, store) = store();
        let meta = store.meta().unwrap();
        drop(store);
        let again = Store::open(&dir.path().join("dir.db")).unwrap();
        assert_eq!(again.meta().unwrap(), meta);
        assert_eq!(meta.created_unix, NOW);
        let mode: String = again
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = again
            .conn()
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL, so a commit is on disk");
        let reader = Store::open_reader(&dir.path().join("dir.db")).unwrap();
        assert_eq!(reader.meta().unwrap().domain, "example.org");
        assert!(
            reader.conn().execute("DELETE FROM users", []).is_err(),
            "readers are query-only"
        );
    }

    #[test]
    fn an_empty_database_is_not_initialised() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("dir.db")).unwrap();
        assert!(matches!(store.meta(), Err(StoreError::NotInitialised)));
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let (_dir, mut store) = store();
        let result: Result<(), rusqlite::Error> = store.write(|tx| {
            tx.execute(
                "INSERT INTO users (user_id, name, status, created) VALUES ('a@example.org', 'A', 'invited', 1)",
                [],
            )?;
            Err(rusqlite::Error::InvalidQuery)
        });
        assert!(result.is_err());
        let count: i64 = store
            .conn()
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 0);
    }
}
