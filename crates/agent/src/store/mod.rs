//! The profile's SQLite store, by area: [`messages`] (conversations and the
//! outbox), [`trust`] (roots, pins, DIRs, CRLs), [`peers`] (addresses,
//! record sequences, the agent's registration), [`contacts`] (the desktop
//! app's contacts and settings), [`transfers`] (auto-accept and the
//! transfer queue), [`mail`] (the mailbox and each sent mail's delivery), and the schema in [`migrations`]. Versioned
//! migrations; WAL with `synchronous=FULL`, so a write that returned
//! survives a crash. The agent runs writes on the blocking pool (a
//! `synchronous=FULL` commit waits for the disk); transfers and mail will
//! add modules and migrations of their own.

mod contacts;
mod mail;
mod messages;
mod migrations;
mod peers;
mod transfers;
mod trust;

use std::path::Path;

use rusqlite::Connection;

pub use contacts::Contact;
pub use mail::{MAX_LISTED, MailDelivery, MailFolder, MailIndex, MailRow};
pub use messages::{DeliveryState, Direction, StoredMessage, UnknownState};
pub use peers::Registration;
pub use sixchat_host::now_unix;
pub use transfers::{NewTransfer, QueuedTransfer, STALE_RUNNING_SECS, TransferKind, TransferState};
pub use trust::{DirRecord, Pin, StoredCrl, TrustRoot};

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
    /// The blocking task that ran the write failed.
    #[error("message store worker: {0}")]
    Worker(String),
}

/// The open store.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// The database file's path (`None` for one in memory).
    pub fn path(&self) -> Option<std::path::PathBuf> {
        self.conn
            .path()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
    }

    /// Opens (creating if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        sixchat_host::migrate::migrate(&mut conn, migrations::MIGRATIONS).map_err(|e| match e {
            sixchat_host::migrate::MigrateError::TooNew { found, .. } => StoreError::TooNew(found),
            sixchat_host::migrate::MigrateError::Sqlite(e) => StoreError::Sql(e),
        })?;
        Ok(Self { conn })
    }

    /// Changes when another connection commits (SQLite's `data_version`).
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "data_version", |row| row.get(0))?)
    }
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

    #[test]
    fn an_unknown_delivery_state_is_an_error_not_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&path).unwrap();
        store.queue_outgoing("b@x.org", "1", "t", "hello").unwrap();
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE messages SET state = 'bounced'", [])
            .unwrap();
        let read = store.history("b@x.org");
        assert!(
            read.as_ref()
                .is_err_and(|e| e.to_string().contains("unknown delivery state \"bounced\"")),
            "{read:?}"
        );
        // Nothing counts it as waiting to be sent again.
        assert!(store.undelivered("b@x.org").unwrap().is_empty());
    }

    #[test]
    fn trust_rows_are_typed_and_ordered() {
        let (_dir, store) = open();
        store.add_root("z.org", b"rootz", "ff").unwrap();
        store.add_root("a.org", b"roota", "aa").unwrap();
        store.pin("carol@x.org", "cc").unwrap();
        store.pin("bob@x.org", "bb").unwrap();
        store.set_crl("a.org", b"crl").unwrap();
        let roots = store.roots().unwrap();
        assert_eq!(
            roots,
            [
                TrustRoot {
                    domain: "a.org".into(),
                    der: b"roota".to_vec(),
                    fingerprint: "aa".into()
                },
                TrustRoot {
                    domain: "z.org".into(),
                    der: b"rootz".to_vec(),
                    fingerprint: "ff".into()
                },
            ]
        );
        assert_eq!(
            store.pins().unwrap(),
            [
                Pin {
                    user_id: "bob@x.org".into(),
                    fingerprint: "bb".into()
                },
                Pin {
                    user_id: "carol@x.org".into(),
                    fingerprint: "cc".into()
                },
            ]
        );
        assert_eq!(
            store.crls().unwrap(),
            [StoredCrl {
                domain: "a.org".into(),
                der: b"crl".to_vec()
            }]
        );
        assert!(store.remove_root("z.org", "ff").unwrap());
        assert!(store.unpin("bob@x.org").unwrap());
        assert_eq!(store.roots().unwrap().len(), 1);
        assert_eq!(store.pins().unwrap().len(), 1);
    }

    #[test]
    fn a_registration_keeps_its_addresses_as_a_list() {
        let (_dir, store) = open();
        assert_eq!(store.registration().unwrap(), None);
        let registration = Registration {
            sequence: 7,
            addresses: vec![
                "[2001:db8::1]:4605".parse().unwrap(),
                "192.0.2.1:4605".parse().unwrap(),
            ],
            expires_unix: 99,
        };
        store.set_registration(&registration).unwrap();
        assert_eq!(store.registration().unwrap(), Some(registration));
    }
}
