//! The profile's SQLite store: conversations (with the outbox), trust roots
//! and pins, and known peer addresses. Versioned migrations; WAL with
//! `synchronous=FULL`, so a write that returned survives a crash.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension as _, params};

/// Direction of a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// Delivery state of an outgoing message (incoming ones are `Delivered` once stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Stored in the outbox, not yet written to a session.
    Queued,
    /// Written to a session, no receipt yet.
    Sent,
    /// The peer stored it and sent its `ack`.
    Delivered,
    /// The peer showed it to its person.
    Read,
}

impl DeliveryState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            _ => Self::Queued,
        }
    }
}

/// One stored chat message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredMessage {
    pub peer: String,
    pub direction: Direction,
    pub id: String,
    /// RFC 3339, as the sender wrote it.
    pub sent: String,
    pub state: DeliveryState,
    pub body: String,
}

/// A storage failure (a local fault, never the peer's).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("message store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("message store was written by a newer SixChat (schema {0})")]
    TooNew(i64),
    /// A chat body with a control character other than tab and newline.
    #[error("not sent: {0}")]
    Unsendable(String),
}

/// Each migration takes the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        peer TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        id TEXT NOT NULL,
        sent TEXT NOT NULL,
        stored_at INTEGER NOT NULL,
        state TEXT NOT NULL,
        body TEXT NOT NULL,
        UNIQUE (peer, direction, id)
     );
     CREATE INDEX messages_outbox ON messages (peer, direction, state);
     CREATE TABLE trust_roots (domain TEXT NOT NULL, der BLOB NOT NULL, fingerprint TEXT NOT NULL, PRIMARY KEY (domain, fingerprint));
     CREATE TABLE pins (user_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL);
     CREATE TABLE peers (user_id TEXT PRIMARY KEY, last_addr TEXT, last_seen INTEGER);",
    // Version 2: the DIR of each domain the profile enrolled with, CRLs, the
    // last address registration, and which outgoing messages were left in a
    // peer's DIR store.
    "CREATE TABLE dirs (domain TEXT PRIMARY KEY, address TEXT NOT NULL, root_der BLOB NOT NULL);
     CREATE TABLE crls (domain TEXT PRIMARY KEY, der BLOB NOT NULL, fetched INTEGER NOT NULL);
     CREATE TABLE registration (id INTEGER PRIMARY KEY CHECK (id = 1), sequence INTEGER NOT NULL, addresses TEXT NOT NULL, expires INTEGER NOT NULL);
     ALTER TABLE messages ADD COLUMN relayed_at INTEGER;",
    // Version 3: the desktop app's contacts and settings, and which incoming
    // messages the person has seen (earlier ones count as seen).
    "CREATE TABLE contacts (user_id TEXT PRIMARY KEY, name TEXT NOT NULL, added_at INTEGER NOT NULL, always_accept INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     ALTER TABLE messages ADD COLUMN seen INTEGER NOT NULL DEFAULT 1;
     CREATE INDEX messages_unseen ON messages (peer) WHERE direction = 'in' AND seen = 0;",
    // Version 4: the highest address-record sequence seen per peer and the
    // certificate it came with (irp.md: an older record is a replay).
    "ALTER TABLE peers ADD COLUMN record_sequence INTEGER;
     ALTER TABLE peers ADD COLUMN record_cert TEXT;",
];

/// A contact in the desktop app's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub user_id: String,
    /// The name the peer's certificate gave, or the local part until a session.
    pub name: String,
    /// Sessions from this contact need no question.
    pub always_accept: bool,
    /// When a session with it last ended or began (Unix seconds).
    pub last_seen: Option<i64>,
    /// Incoming messages the person has not seen.
    pub unread: usize,
    /// Where it was last reached, or the address the person gave for it.
    pub address: Option<String>,
}

/// The open store.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Self { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?;
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version > known {
            return Err(StoreError::TooNew(version));
        }
        for (index, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(
                None,
                "user_version",
                i64::try_from(index + 1).unwrap_or(i64::MAX),
            )?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Puts an outgoing message in the outbox (state `queued`) before it goes out.
    pub fn queue_outgoing(
        &self,
        peer: &str,
        id: &str,
        sent: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        // No peer would accept it (protocol.md's chat as ARCHITECTURE.md reads it).
        if let Some(problem) = sixchat_proto::text::chat_body_problem(body) {
            return Err(StoreError::Unsendable(problem));
        }
        self.conn.execute(
            "INSERT INTO messages (peer, direction, id, sent, stored_at, state, body) VALUES (?1, 'out', ?2, ?3, ?4, 'queued', ?5)",
            params![peer, id, sent, now_unix(), body],
        )?;
        Ok(())
    }

    /// Outgoing messages to `peer` not yet acknowledged, oldest first.
    pub fn undelivered(&self, peer: &str) -> Result<Vec<StoredMessage>, StoreError> {
        self.select(
            "WHERE peer = ?1 AND direction = 'out' AND state IN ('queued', 'sent') ORDER BY seq",
            params![peer],
        )
    }

    /// Peers with messages waiting in the outbox.
    pub fn peers_with_outbox(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT peer FROM messages WHERE direction = 'out' AND state IN ('queued', 'sent') ORDER BY peer")?;
        let rows = stmt.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Moves an outgoing message forward (never backward) in its delivery state.
    pub fn mark(&self, peer: &str, id: &str, state: DeliveryState) -> Result<bool, StoreError> {
        let allowed_from = match state {
            DeliveryState::Queued | DeliveryState::Sent => "('queued')",
            DeliveryState::Delivered => "('queued', 'sent')",
            DeliveryState::Read => "('queued', 'sent', 'delivered')",
        };
        let changed = self.conn.execute(
            &format!("UPDATE messages SET state = ?3 WHERE peer = ?1 AND direction = 'out' AND id = ?2 AND state IN {allowed_from}"),
            params![peer, id, state.as_str()],
        )?;
        Ok(changed > 0)
    }

    /// Stores an incoming chat; false if this id from this peer is already held
    /// (a duplicate, to be acknowledged again but not delivered twice).
    pub fn store_incoming(
        &self,
        peer: &str,
        id: &str,
        sent: &str,
        body: &str,
    ) -> Result<bool, StoreError> {
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO messages (peer, direction, id, sent, stored_at, state, body, seen) VALUES (?1, 'in', ?2, ?3, ?4, 'delivered', ?5, 0)",
            params![peer, id, sent, now_unix(), body],
        )?;
        Ok(inserted > 0)
    }

    /// The conversation with `peer`, in the order it was stored.
    pub fn history(&self, peer: &str) -> Result<Vec<StoredMessage>, StoreError> {
        self.select("WHERE peer = ?1 ORDER BY seq", params![peer])
    }

    fn select(
        &self,
        clause: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT peer, direction, id, sent, state, body FROM messages {clause}"
        ))?;
        let rows = stmt.query_map(params, |row| {
            let direction: String = row.get(1)?;
            let state: String = row.get(4)?;
            Ok(StoredMessage {
                peer: row.get(0)?,
                direction: if direction == "in" {
                    Direction::In
                } else {
                    Direction::Out
                },
                id: row.get(2)?,
                sent: row.get(3)?,
                state: DeliveryState::parse(&state),
                body: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Changes when another connection commits (SQLite's `data_version`).
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "data_version", |row| row.get(0))?)
    }

    pub fn add_root(&self, domain: &str, der: &[u8], fingerprint: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO trust_roots (domain, der, fingerprint) VALUES (?1, ?2, ?3)",
            params![domain, der, fingerprint],
        )?;
        Ok(())
    }

    /// (domain, DER, fingerprint hex) of every trusted root.
    pub fn roots(&self) -> Result<Vec<(String, Vec<u8>, String)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT domain, der, fingerprint FROM trust_roots ORDER BY domain, fingerprint",
        )?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn pin(&self, user_id: &str, fingerprint_hex: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO pins (user_id, fingerprint) VALUES (?1, ?2)",
            params![user_id, fingerprint_hex],
        )?;
        Ok(())
    }

    /// Stops trusting one root of `domain`. Returns whether it was there.
    pub fn remove_root(&self, domain: &str, fingerprint: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM trust_roots WHERE domain = ?1 AND fingerprint = ?2",
            params![domain, fingerprint],
        )? > 0)
    }

    pub fn unpin(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM pins WHERE user_id = ?1", params![user_id])?
            > 0)
    }

    /// (UserID, fingerprint hex) of every pin.
    pub fn pins(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT user_id, fingerprint FROM pins ORDER BY user_id")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Remembers the address at which `peer` was last reached.
    pub fn remember_address(&self, peer: &str, addr: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO peers (user_id, last_addr, last_seen) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE SET last_addr = excluded.last_addr, last_seen = excluded.last_seen",
            params![peer, addr, now_unix()],
        )?;
        Ok(())
    }

    /// Sets the address at which to reach `peer` (one the person gave),
    /// leaving when it was last seen as it was.
    pub fn set_address(&self, peer: &str, addr: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO peers (user_id, last_addr) VALUES (?1, ?2)
             ON CONFLICT (user_id) DO UPDATE SET last_addr = excluded.last_addr",
            params![peer, addr],
        )?;
        Ok(())
    }

    /// Takes `sequence` as the address-record sequence of `peer` under the
    /// certificate `cert` (its fingerprint) unless a higher one was seen
    /// under the same certificate (then the record is a replay:
    /// `Ok(Some(highest))`). The same sequence again is fine: the DIR serves
    /// one record many times. A new certificate (renewed, re-enrolled,
    /// restored on a new device) starts afresh, so a record signed with a
    /// stolen key before its revocation cannot shut out the rightful owner.
    pub fn check_record_sequence(
        &self,
        peer: &str,
        cert: &str,
        sequence: u64,
    ) -> Result<Option<u64>, StoreError> {
        let sequence = i64::try_from(sequence).unwrap_or(i64::MAX);
        let tx = self.conn.unchecked_transaction()?;
        let seen: Option<(Option<i64>, Option<String>)> = tx
            .query_row(
                "SELECT record_sequence, record_cert FROM peers WHERE user_id = ?1",
                params![peer],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if let Some((Some(highest), Some(seen_cert))) = seen {
            if seen_cert == cert && highest > sequence {
                return Ok(Some(u64::try_from(highest).unwrap_or(0)));
            }
        }
        tx.execute(
            "INSERT INTO peers (user_id, record_sequence, record_cert) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE
             SET record_sequence = excluded.record_sequence, record_cert = excluded.record_cert",
            params![peer, sequence, cert],
        )?;
        tx.commit()?;
        Ok(None)
    }

    /// Records that a session with `peer` was live just now.
    pub fn touch_peer(&self, peer: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO peers (user_id, last_seen) VALUES (?1, ?2)
             ON CONFLICT (user_id) DO UPDATE SET last_seen = excluded.last_seen",
            params![peer, now_unix()],
        )?;
        Ok(())
    }

    /// Every contact with its unread count and when it was last seen, by name.
    pub fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT c.user_id, c.name, c.always_accept, p.last_seen,
                    (SELECT count(*) FROM messages m WHERE m.peer = c.user_id AND m.direction = 'in' AND m.seen = 0),
                    p.last_addr
             FROM contacts c LEFT JOIN peers p ON p.user_id = c.user_id
             ORDER BY lower(c.name), c.user_id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(Contact {
                user_id: row.get(0)?,
                name: row.get(1)?,
                always_accept: row.get(2)?,
                last_seen: row.get(3)?,
                unread: usize::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
                address: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds a contact; an existing one is left as it is. Returns whether it is new.
    pub fn add_contact(&self, user_id: &str, name: &str) -> Result<bool, StoreError> {
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO contacts (user_id, name, added_at) VALUES (?1, ?2, ?3)",
            params![user_id, name, now_unix()],
        )?;
        Ok(inserted > 0)
    }

    /// Gives a contact the name its certificate shows. Returns whether it changed.
    pub fn rename_contact(&self, user_id: &str, name: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE contacts SET name = ?2 WHERE user_id = ?1 AND name <> ?2",
            params![user_id, name],
        )? > 0)
    }

    /// Removes a contact (its conversation stays). Returns whether there was one.
    pub fn remove_contact(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM contacts WHERE user_id = ?1", params![user_id])?
            > 0)
    }

    pub fn set_always_accept(&self, user_id: &str, always: bool) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE contacts SET always_accept = ?2 WHERE user_id = ?1",
            params![user_id, always],
        )?;
        Ok(())
    }

    /// Whether sessions from `user_id` are accepted without asking.
    pub fn always_accepts(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT always_accept FROM contacts WHERE user_id = ?1",
                params![user_id],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(false))
    }

    /// Marks every incoming message from `peer` as seen; returns their ids
    /// (for read receipts).
    pub fn mark_seen(&self, peer: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "UPDATE messages SET seen = 1 WHERE peer = ?1 AND direction = 'in' AND seen = 0 RETURNING id",
        )?;
        let ids = stmt.query_map(params![peer], |row| row.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn last_address(&self, peer: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT last_addr FROM peers WHERE user_id = ?1",
                params![peer],
                |row| row.get(0),
            )
            .optional()?
            .flatten())
    }
}

/// The DIR of a domain, as the profile knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirRecord {
    pub domain: String,
    /// `host:port`.
    pub address: String,
    pub root_der: Vec<u8>,
}

/// The last address registration the agent made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub sequence: u64,
    /// The addresses, space-separated, as registered.
    pub addresses: String,
    pub expires_unix: i64,
}

impl Store {
    /// Records (or replaces) the DIR of `domain`.
    pub fn set_dir(&self, dir: &DirRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO dirs (domain, address, root_der) VALUES (?1, ?2, ?3)",
            params![dir.domain, dir.address, dir.root_der],
        )?;
        Ok(())
    }

    /// Every DIR the profile knows, by domain.
    pub fn dirs(&self) -> Result<Vec<DirRecord>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT domain, address, root_der FROM dirs ORDER BY domain")?;
        let rows = statement.query_map([], |row| {
            Ok(DirRecord {
                domain: row.get(0)?,
                address: row.get(1)?,
                root_der: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn dir(&self, domain: &str) -> Result<Option<DirRecord>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT domain, address, root_der FROM dirs WHERE domain = ?1",
                params![domain],
                |row| {
                    Ok(DirRecord {
                        domain: row.get(0)?,
                        address: row.get(1)?,
                        root_der: row.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Stores a CRL already checked against the domain's root.
    pub fn set_crl(&self, domain: &str, der: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO crls (domain, der, fetched) VALUES (?1, ?2, ?3)
             ON CONFLICT (domain) DO UPDATE SET der = excluded.der, fetched = excluded.fetched
             WHERE crls.der != excluded.der",
            params![domain, der, now_unix()],
        )?;
        Ok(())
    }

    /// (domain, DER) of every stored CRL.
    pub fn crls(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT domain, der FROM crls ORDER BY domain")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn registration(&self) -> Result<Option<Registration>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT sequence, addresses, expires FROM registration WHERE id = 1",
                [],
                |row| {
                    Ok(Registration {
                        sequence: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                        addresses: row.get(1)?,
                        expires_unix: row.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn set_registration(&self, registration: &Registration) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO registration (id, sequence, addresses, expires) VALUES (1, ?1, ?2, ?3)",
            params![
                i64::try_from(registration.sequence).unwrap_or(i64::MAX),
                registration.addresses,
                registration.expires_unix
            ],
        )?;
        Ok(())
    }

    /// Outgoing messages to `peer` still queued and not yet left in its DIR store.
    pub fn unrelayed(&self, peer: &str) -> Result<Vec<StoredMessage>, StoreError> {
        self.select(
            "WHERE peer = ?1 AND direction = 'out' AND state = 'queued' AND relayed_at IS NULL ORDER BY seq",
            params![peer],
        )
    }

    /// Notes that a queued message now waits in the peer's DIR store.
    pub fn mark_relayed(&self, peer: &str, id: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE messages SET relayed_at = ?3 WHERE peer = ?1 AND direction = 'out' AND id = ?2",
            params![peer, id, now_unix()],
        )?;
        Ok(())
    }
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_address_record_is_a_replay() {
        let (_dir, store) = open();
        let bob = |cert: &str, sequence: u64| {
            store
                .check_record_sequence("bob@b.example", cert, sequence)
                .unwrap()
        };
        assert_eq!(bob("c1", 1000), None);
        assert_eq!(bob("c1", 1000), None);
        assert_eq!(bob("c1", 2000), None);
        assert_eq!(bob("c1", 1500), Some(2000));
        // Per peer, and kept with the peer's other facts.
        assert_eq!(
            store
                .check_record_sequence("carol@b.example", "c9", 1)
                .unwrap(),
            None
        );
        store
            .remember_address("bob@b.example", "[::1]:4605")
            .unwrap();
        assert_eq!(bob("c1", 1999), Some(2000));
        // A new certificate starts afresh (a thief's far-future record under
        // the revoked one shuts nobody out).
        assert_eq!(bob("c1", u64::MAX), None);
        assert_eq!(bob("c2", 3000), None);
        assert_eq!(bob("c2", 2999), Some(3000));
    }

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn outbox_moves_forward_only() {
        let (_dir, store) = open();
        store.queue_outgoing("b@x.org", "1", "t", "one").unwrap();
        store.queue_outgoing("b@x.org", "2", "t", "two").unwrap();
        assert_eq!(store.undelivered("b@x.org").unwrap().len(), 2);
        assert!(store.mark("b@x.org", "1", DeliveryState::Sent).unwrap());
        assert!(
            store
                .mark("b@x.org", "1", DeliveryState::Delivered)
                .unwrap()
        );
        assert!(!store.mark("b@x.org", "1", DeliveryState::Sent).unwrap());
        let left = store.undelivered("b@x.org").unwrap();
        assert_eq!(
            left.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["two"]
        );
        assert_eq!(store.peers_with_outbox().unwrap(), ["b@x.org"]);
    }

    #[test]
    fn the_outbox_refuses_control_characters_but_tab_and_newline() {
        let (_dir, store) = open();
        let refused = store.queue_outgoing("b@x.org", "1", "t", "pay\x1b[2K here");
        assert!(
            matches!(refused, Err(StoreError::Unsendable(_))),
            "{refused:?}"
        );
        assert!(store.queue_outgoing("b@x.org", "2", "t", "a\r\nb").is_err());
        store
            .queue_outgoing("b@x.org", "3", "t", "line one\n\tline two")
            .unwrap();
        assert_eq!(store.undelivered("b@x.org").unwrap().len(), 1);
    }

    #[test]
    fn contacts_count_unread_until_seen() {
        let (_dir, store) = open();
        assert!(store.add_contact("b@x.org", "Bob").unwrap());
        assert!(!store.add_contact("b@x.org", "b").unwrap());
        assert!(!store.rename_contact("b@x.org", "Bob").unwrap());
        store.store_incoming("b@x.org", "1", "t", "hi").unwrap();
        store.store_incoming("b@x.org", "2", "t", "there").unwrap();
        store.queue_outgoing("b@x.org", "3", "t", "mine").unwrap();
        let contacts = store.contacts().unwrap();
        assert_eq!(contacts.len(), 1);
        assert_eq!((contacts[0].name.as_str(), contacts[0].unread), ("Bob", 2));
        assert_eq!(store.mark_seen("b@x.org").unwrap().len(), 2);
        assert!(store.mark_seen("b@x.org").unwrap().is_empty());
        assert_eq!(store.contacts().unwrap()[0].unread, 0);
        store.set_always_accept("b@x.org", true).unwrap();
        assert!(store.always_accepts("b@x.org").unwrap());
        assert!(!store.always_accepts("c@x.org").unwrap());
        store.set_setting("language", "de").unwrap();
        store.set_setting("language", "zh-CN").unwrap();
        assert_eq!(store.setting("language").unwrap().as_deref(), Some("zh-CN"));
        assert!(store.remove_contact("b@x.org").unwrap());
        assert_eq!(store.history("b@x.org").unwrap().len(), 3);
    }

    #[test]
    fn incoming_duplicates_are_stored_once() {
        let (_dir, store) = open();
        assert!(store.store_incoming("a@x.org", "m1", "t", "hi").unwrap());
        assert!(!store.store_incoming("a@x.org", "m1", "t", "hi").unwrap());
        assert_eq!(store.history("a@x.org").unwrap().len(), 1);
    }

    #[test]
    fn reopening_keeps_everything_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        Store::open(&path)
            .unwrap()
            .queue_outgoing("b@x.org", "1", "t", "kept")
            .unwrap();
        assert_eq!(
            Store::open(&path).unwrap().history("b@x.org").unwrap()[0].body,
            "kept"
        );
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew(99))));
    }
}
