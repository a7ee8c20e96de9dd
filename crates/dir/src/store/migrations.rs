//! Schema migrations: `MIGRATIONS[i]` takes `PRAGMA user_version` from `i`
//! to `i + 1`, each in its own transaction.
//!
//! Times are Unix seconds. Certificate serials are random and below 2^63, so
//! they fit SQLite's INTEGER. Every lookup a request makes goes through a
//! primary key or an index: nothing scans a table that grows with the number
//! of users.

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        domain TEXT NOT NULL,
        address TEXT NOT NULL,
        require_approval INTEGER NOT NULL,
        cert_valid_days INTEGER NOT NULL,
        root_der BLOB NOT NULL,
        created INTEGER NOT NULL
     );
     CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT,
        status TEXT NOT NULL CHECK (status IN ('invited', 'pending', 'active', 'revoked')),
        created INTEGER NOT NULL,
        last_seen INTEGER
     ) WITHOUT ROWID;
     CREATE TABLE invites (
        secret_sha256 BLOB PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (user_id),
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        used_at INTEGER
     ) WITHOUT ROWID;
     CREATE INDEX invites_user ON invites (user_id);
     CREATE TABLE pending (
        invite_sha256 BLOB PRIMARY KEY REFERENCES invites (secret_sha256),
        user_id TEXT NOT NULL REFERENCES users (user_id),
        spki_sha256 BLOB NOT NULL,
        requested INTEGER NOT NULL,
        approved_at INTEGER
     ) WITHOUT ROWID;
     CREATE INDEX pending_user ON pending (user_id);
     CREATE TABLE certificates (
        serial INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (user_id),
        ski_hex TEXT NOT NULL,
        spki_sha256 BLOB NOT NULL,
        spki BLOB NOT NULL,
        der BLOB NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        issued INTEGER NOT NULL,
        revoked_at INTEGER,
        reason TEXT
     );
     CREATE INDEX certificates_user ON certificates (user_id, not_after);
     CREATE INDEX certificates_spki ON certificates (spki_sha256);
     CREATE INDEX certificates_ski ON certificates (ski_hex);
     CREATE INDEX certificates_revoked ON certificates (not_after) WHERE revoked_at IS NOT NULL;
     CREATE TABLE records (
        user_id TEXT PRIMARY KEY REFERENCES users (user_id),
        sequence INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        bytes BLOB NOT NULL,
        signature BLOB NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE backups (
        user_id TEXT PRIMARY KEY REFERENCES users (user_id),
        pkcs12 BLOB NOT NULL,
        salt BLOB NOT NULL,
        verifier BLOB NOT NULL,
        iterations INTEGER NOT NULL,
        stored INTEGER NOT NULL
     );
     CREATE TABLE store (
        id TEXT PRIMARY KEY,
        to_user TEXT NOT NULL REFERENCES users (user_id),
        from_user TEXT NOT NULL,
        received INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        size INTEGER NOT NULL,
        data BLOB NOT NULL
     );
     CREATE INDEX store_to ON store (to_user, received);
     CREATE INDEX store_expires ON store (expires);
     CREATE TABLE crl (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        der BLOB NOT NULL,
        this_update INTEGER NOT NULL,
        next_update INTEGER NOT NULL
     );",
    // 2: issue 9. The administrator's display name on each invite (the one
    // certified at enrolment; NULL for invites made before: the user's name
    // is used). The offline store's per-sender counts and its running total
    // (kept by triggers, so the disk budget is one row, not a scan).
    "ALTER TABLE invites ADD COLUMN name TEXT;
     CREATE INDEX store_from ON store (from_user, to_user, expires, size);
     CREATE TABLE store_usage (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        envelopes INTEGER NOT NULL,
        bytes INTEGER NOT NULL
     );
     INSERT INTO store_usage (id, envelopes, bytes)
        SELECT 1, COUNT(*), COALESCE(SUM(size), 0) FROM store;
     CREATE TRIGGER store_added AFTER INSERT ON store BEGIN
        UPDATE store_usage SET envelopes = envelopes + 1, bytes = bytes + NEW.size WHERE id = 1;
     END;
     CREATE TRIGGER store_removed AFTER DELETE ON store BEGIN
        UPDATE store_usage SET envelopes = envelopes - 1, bytes = bytes - OLD.size WHERE id = 1;
     END;",
    // 3: issue 13. What each certificate is for: the identity key, or the
    // mail encryption key (mail.md); every earlier one is an identity.
    "ALTER TABLE certificates ADD COLUMN usage TEXT NOT NULL DEFAULT 'identity'
        CHECK (usage IN ('identity', 'encryption'));",
];

/// The schema version this build writes.
pub fn latest() -> i64 {
    sixchat_host::migrate::latest(MIGRATIONS)
}

/// Brings the database up to [`latest`]; refuses a newer one.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    sixchat_host::migrate::migrate(conn, MIGRATIONS).map_err(|e| match e {
        sixchat_host::migrate::MigrateError::TooNew { found, .. } => StoreError::TooNew(found),
        sixchat_host::migrate::MigrateError::Sqlite(e) => StoreError::Sql(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_harmless_and_a_newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, latest());
        conn.pragma_update(None, "user_version", latest() + 1)
            .unwrap();
        assert!(matches!(migrate(&mut conn), Err(StoreError::TooNew(_))));
    }

    #[test]
    fn the_store_total_starts_from_what_a_version_1_database_holds() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(MIGRATIONS[0]).unwrap();
        tx.pragma_update(None, "user_version", 1).unwrap();
        tx.execute_batch(
            "INSERT INTO users (user_id, name, status, created) VALUES ('a@b.org', 'A', 'active', 1);
             INSERT INTO store (id, to_user, from_user, received, expires, size, data)
                VALUES ('e1', 'a@b.org', 'c@b.org', 1, 9, 5, x'0102030405'),
                       ('e2', 'a@b.org', 'c@b.org', 1, 9, 2, x'0102');",
        )
        .unwrap();
        tx.commit().unwrap();
        migrate(&mut conn).unwrap();
        let usage: (i64, i64) = conn
            .query_row("SELECT envelopes, bytes FROM store_usage", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(usage, (2, 7));
    }

    #[test]
    fn lookups_use_indexes_not_scans() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let queries = [
            "SELECT * FROM users WHERE user_id = 'a@b.org'",
            "SELECT * FROM certificates WHERE user_id = 'a@b.org' ORDER BY not_after DESC",
            "SELECT 1 FROM certificates WHERE spki_sha256 = x'00'",
            "SELECT * FROM certificates WHERE ski_hex = 'ab'",
            "SELECT serial FROM certificates WHERE revoked_at IS NOT NULL AND not_after > 5",
            "SELECT * FROM store WHERE to_user = 'a@b.org' AND expires > 5 ORDER BY received, rowid",
            "SELECT * FROM records WHERE user_id = 'a@b.org'",
            "SELECT COUNT(*), SUM(size) FROM store WHERE from_user = 'a@b.org' AND to_user = 'c@b.org' AND expires > 5",
            "SELECT COUNT(*), SUM(size) FROM store WHERE from_user = 'a@b.org' AND expires > 5",
            "SELECT COUNT(*), SUM(size) FROM store WHERE to_user = 'a@b.org' AND expires > 5",
            "SELECT bytes FROM store_usage WHERE id = 1",
            "SELECT i.name, u.name FROM invites i JOIN users u ON u.user_id = i.user_id WHERE i.secret_sha256 = x'00'",
        ];
        for query in queries {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN")),
                "{query}: {plan:?}"
            );
        }
    }
}
