//! The mailbox (docs/mail.md): every message kept verbatim as it came or
//! went, in Inbox, Sent, Drafts or Trash; what reading it found, as an
//! index beside it (searchable: sender, subject, body); and for what we
//! sent, each recipient's delivery (queued, relayed to the DIR, delivered,
//! read), which only ever moves forward.

use rusqlite::{OptionalExtension as _, params};

use super::{Store, StoreError, now_unix};

/// Most rows one listing returns.
pub const MAX_LISTED: usize = 500;

/// A mailbox folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailFolder {
    Inbox,
    Sent,
    Drafts,
    Trash,
}

impl MailFolder {
    pub const ALL: [Self; 4] = [Self::Inbox, Self::Sent, Self::Drafts, Self::Trash];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbox => "inbox",
            Self::Sent => "sent",
            Self::Drafts => "drafts",
            Self::Trash => "trash",
        }
    }

    /// Reads a folder name, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// How far a sent mail got to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MailDelivery {
    Queued,
    /// Left, still encrypted, in the recipient's DIR store.
    Relayed,
    Delivered,
    Read,
}

impl MailDelivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Relayed => "relayed",
            Self::Delivered => "delivered",
            Self::Read => "read",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "relayed" => Self::Relayed,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            _ => Self::Queued,
        }
    }
}

/// What reading a mail found, kept for listing and search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailIndex {
    /// The status in words ("valid signature, verified sender", ...).
    pub status: String,
    pub sender: String,
    pub recipients: String,
    pub subject: String,
    pub sent_at: Option<i64>,
    pub message_id: Option<String>,
    pub body: String,
    pub attachments: usize,
}

/// One stored mail, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRow {
    pub id: i64,
    pub folder: MailFolder,
    /// Who handed it over (the session's peer, or the DIR store's sender).
    pub came_from: Option<String>,
    pub received: i64,
    pub unread: bool,
    /// Whether it was read yet (the index below is empty until then).
    pub indexed: bool,
    pub index: MailIndex,
    /// For sent mail: each recipient and how far the mail got.
    pub deliveries: Vec<(String, MailDelivery)>,
}

const COLUMNS: &str = "id, folder, came_from, received, unread, indexed, status, sender, \
                       recipients, subject, sent_at, message_id, body, attachments";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MailRow> {
    let folder: String = r.get(1)?;
    Ok(MailRow {
        id: r.get(0)?,
        folder: MailFolder::parse(&folder).unwrap_or(MailFolder::Inbox),
        came_from: r.get(2)?,
        received: r.get(3)?,
        unread: r.get(4)?,
        indexed: r.get(5)?,
        index: MailIndex {
            status: r.get(6)?,
            sender: r.get(7)?,
            recipients: r.get(8)?,
            subject: r.get(9)?,
            sent_at: r.get(10)?,
            message_id: r.get(11)?,
            body: r.get(12)?,
            attachments: usize::try_from(r.get::<_, i64>(13)?).unwrap_or(0),
        },
        deliveries: Vec::new(),
    })
}

fn digest(raw: &[u8]) -> Vec<u8> {
    // SHA-256 of the bytes (what a fingerprint is).
    sixchat_proto::Fingerprint::of_der(raw).0.to_vec()
}

/// An FTS5 query that matches every word of `text` as a literal.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .take(16)
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

impl Store {
    /// Stores a mail that came in, byte for byte, before anything reads
    /// it. A copy already in the Inbox or Trash is not stored twice.
    /// Returns its id and whether it is new.
    pub fn store_incoming_mail(
        &self,
        raw: &[u8],
        came_from: Option<&str>,
    ) -> Result<(i64, bool), StoreError> {
        let digest = digest(raw);
        let existing: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM mail WHERE digest = ?1 AND folder IN ('inbox', 'trash')",
                [&digest],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            return Ok((id, false));
        }
        self.conn.execute(
            "INSERT INTO mail (folder, raw, digest, came_from, received) VALUES ('inbox', ?1, ?2, ?3, ?4)",
            params![raw, digest, came_from, now_unix()],
        )?;
        Ok((self.conn.last_insert_rowid(), true))
    }

    /// How many mails, and how many bytes, `peer` handed over since `since`
    /// (Unix seconds), in the Inbox or Trash.
    pub fn mail_from_since(&self, peer: &str, since: i64) -> Result<(usize, u64), StoreError> {
        let (count, bytes): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(length(raw)), 0) FROM mail
             WHERE came_from = ?1 AND received >= ?2 AND folder IN ('inbox', 'trash')",
            params![peer, since],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((
            usize::try_from(count).unwrap_or(usize::MAX),
            u64::try_from(bytes).unwrap_or(u64::MAX),
        ))
    }

    /// Stores a mail we sent (as sent, read already) with a queued
    /// delivery to each recipient, in one transaction.
    pub fn store_sent_mail(
        &self,
        raw: &[u8],
        index: &MailIndex,
        recipients: &[String],
    ) -> Result<i64, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let now = now_unix();
        tx.execute(
            "INSERT INTO mail (folder, raw, digest, received, unread, indexed) VALUES ('sent', ?1, ?2, ?3, 0, 0)",
            params![raw, digest(raw), now],
        )?;
        let id = tx.last_insert_rowid();
        for recipient in recipients {
            tx.execute(
                "INSERT OR IGNORE INTO mail_delivery (mail, recipient, state, updated) VALUES (?1, ?2, 'queued', ?3)",
                params![id, recipient, now],
            )?;
        }
        // In the same transaction: a kill never leaves it without its index.
        self.index_mail(id, index)?;
        tx.commit()?;
        Ok(id)
    }

    /// Keeps a draft (a plain MIME entity, never sent) in Drafts, in place
    /// of `replacing` if given. Returns its id.
    pub fn save_draft(
        &self,
        raw: &[u8],
        index: &MailIndex,
        replacing: Option<i64>,
    ) -> Result<i64, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        if let Some(old) = replacing {
            tx.execute(
                "DELETE FROM mail WHERE id = ?1 AND folder = 'drafts'",
                [old],
            )?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO mail (folder, raw, digest, received, unread, indexed) VALUES ('drafts', ?1, ?2, ?3, 0, 0)",
            params![raw, digest(raw), now_unix()],
        )?;
        let id = tx.last_insert_rowid();
        // In the same transaction: a kill never leaves it without its index.
        self.index_mail(id, index)?;
        tx.commit()?;
        Ok(id)
    }

    /// Removes a draft (it was sent).
    pub fn drop_draft(&self, id: i64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM mail WHERE id = ?1 AND folder = 'drafts'", [id])?;
        Ok(())
    }

    /// Stores a mail brought in from a file (`mail import`) in the Inbox.
    pub fn import_mail(&self, raw: &[u8]) -> Result<(i64, bool), StoreError> {
        self.store_incoming_mail(raw, None)
    }

    /// Records what reading a mail found.
    pub fn index_mail(&self, id: i64, index: &MailIndex) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE mail SET indexed = 1, status = ?2, sender = ?3, recipients = ?4, subject = ?5,
                    sent_at = ?6, message_id = ?7, body = ?8, attachments = ?9
             WHERE id = ?1",
            params![
                id,
                index.status,
                index.sender,
                index.recipients,
                index.subject,
                index.sent_at,
                index.message_id,
                index.body,
                i64::try_from(index.attachments).unwrap_or(i64::MAX)
            ],
        )?;
        Ok(())
    }

    /// Mail stored but not read yet (oldest first), with its bytes.
    pub fn unindexed_mail(&self, limit: usize) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, raw FROM mail WHERE indexed = 0 ORDER BY id LIMIT ?1")?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn deliveries(&self, id: i64) -> Result<Vec<(String, MailDelivery)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT recipient, state FROM mail_delivery WHERE mail = ?1 ORDER BY recipient",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                MailDelivery::parse(&r.get::<_, String>(1)?),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Mail in `folder` (every folder but Trash if `None`), newest first,
    /// optionally only what matches every word of `search`.
    pub fn mail_list(
        &self,
        folder: Option<MailFolder>,
        search: Option<&str>,
    ) -> Result<Vec<MailRow>, StoreError> {
        let query = search.and_then(fts_query);
        let sql = format!(
            "SELECT {COLUMNS} FROM mail
             WHERE (?1 IS NULL AND folder <> 'trash' OR folder = ?1)
               AND (?2 IS NULL OR id IN (SELECT rowid FROM mail_text WHERE mail_text MATCH ?2))
             ORDER BY received DESC, id DESC LIMIT {MAX_LISTED}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(params![folder.map(MailFolder::as_str), query], row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|mut r| {
                r.deliveries = self.deliveries(r.id)?;
                Ok(r)
            })
            .collect()
    }

    /// One mail and its bytes.
    pub fn mail(&self, id: i64) -> Result<Option<(MailRow, Vec<u8>)>, StoreError> {
        let found = self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS}, raw FROM mail WHERE id = ?1"),
                [id],
                |r| Ok((row(r)?, r.get::<_, Vec<u8>>(14)?)),
            )
            .optional()?;
        match found {
            Some((mut mail, raw)) => {
                mail.deliveries = self.deliveries(id)?;
                Ok(Some((mail, raw)))
            }
            None => Ok(None),
        }
    }

    /// Marks a mail read or unread. Returns whether it exists.
    pub fn set_mail_unread(&self, id: i64, unread: bool) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE mail SET unread = ?2 WHERE id = ?1",
            params![id, unread],
        )? > 0)
    }

    /// Deletes a mail: from any folder it goes to Trash; from Trash it is
    /// gone. Returns whether it existed.
    pub fn delete_mail(&self, id: i64) -> Result<bool, StoreError> {
        let moved = self.conn.execute(
            "UPDATE OR IGNORE mail SET folder = 'trash' WHERE id = ?1 AND folder <> 'trash'",
            [id],
        )?;
        if moved > 0 {
            return Ok(true);
        }
        Ok(self.conn.execute("DELETE FROM mail WHERE id = ?1", [id])? > 0)
    }

    /// Deliveries still to make (queued), oldest first:
    /// (mail id, recipient, state).
    pub fn mail_waiting(&self) -> Result<Vec<(i64, String, MailDelivery)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT mail, recipient, state FROM mail_delivery
             WHERE state = 'queued' ORDER BY mail LIMIT 256",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                MailDelivery::parse(&r.get::<_, String>(2)?),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The bytes of a mail we sent.
    pub fn sent_raw(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT raw FROM mail WHERE id = ?1 AND folder IN ('sent', 'trash')",
                [id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Moves one recipient's delivery forward (never back). Returns
    /// whether it moved.
    pub fn advance_delivery(
        &self,
        id: i64,
        recipient: &str,
        state: MailDelivery,
    ) -> Result<bool, StoreError> {
        let current: Option<String> = self
            .conn
            .query_row(
                "SELECT state FROM mail_delivery WHERE mail = ?1 AND recipient = ?2",
                params![id, recipient],
                |r| r.get(0),
            )
            .optional()?;
        let Some(current) = current else {
            return Ok(false);
        };
        if MailDelivery::parse(&current) >= state {
            return Ok(false);
        }
        self.conn.execute(
            "UPDATE mail_delivery SET state = ?3, updated = ?4 WHERE mail = ?1 AND recipient = ?2",
            params![id, recipient, state.as_str(), now_unix()],
        )?;
        Ok(true)
    }

    /// Moves forward the delivery of our sent mail `message_id` to
    /// `recipient` (a receipt names the mail by its Message-ID).
    pub fn advance_delivery_of(
        &self,
        message_id: &str,
        recipient: &str,
        state: MailDelivery,
    ) -> Result<bool, StoreError> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT m.id FROM mail m JOIN mail_delivery d ON d.mail = m.id
                 WHERE m.message_id = ?1 AND d.recipient = ?2 AND m.folder IN ('sent', 'trash')
                 ORDER BY m.id DESC LIMIT 1",
                params![message_id, recipient],
                |r| r.get(0),
            )
            .optional()?;
        match id {
            Some(id) => self.advance_delivery(id, recipient, state),
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let dir = std::env::temp_dir().join(format!("sixchat-mail-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Store::open(&dir.join("db")).unwrap()
    }

    #[test]
    fn a_second_copy_is_one_mail_search_finds_words_and_delivery_only_moves_forward() {
        let s = store();
        let (id, new) = s
            .store_incoming_mail(b"raw one", Some("bob@b.example"))
            .unwrap();
        assert!(new);
        assert_eq!(
            s.store_incoming_mail(b"raw one", None).unwrap(),
            (id, false)
        );
        s.index_mail(
            id,
            &MailIndex {
                status: "unsigned".into(),
                sender: "bob@b.example".into(),
                subject: "Lunch \"plans\"".into(),
                body: "Tuesday at noon".into(),
                ..MailIndex::default()
            },
        )
        .unwrap();
        let found = s.mail_list(None, Some("tuesday \"plans")).unwrap();
        assert_eq!(found.len(), 1);
        assert!(s.mail_list(None, Some("friday")).unwrap().is_empty());
        let sent = s
            .store_sent_mail(
                b"raw two",
                &MailIndex {
                    message_id: Some("m2@x".into()),
                    ..MailIndex::default()
                },
                &["bob@b.example".into()],
            )
            .unwrap();
        assert!(
            s.advance_delivery_of("m2@x", "bob@b.example", MailDelivery::Read)
                .unwrap()
        );
        assert!(
            !s.advance_delivery(sent, "bob@b.example", MailDelivery::Delivered)
                .unwrap()
        );
        let (row, raw) = s.mail(sent).unwrap().unwrap();
        assert_eq!(raw, b"raw two");
        assert_eq!(
            row.deliveries,
            vec![("bob@b.example".into(), MailDelivery::Read)]
        );
        assert!(s.delete_mail(id).unwrap());
        assert_eq!(s.mail_list(Some(MailFolder::Trash), None).unwrap().len(), 1);
        assert!(s.delete_mail(id).unwrap());
        assert!(s.mail(id).unwrap().is_none());
    }
}
