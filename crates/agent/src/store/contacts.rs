//! The desktop app's contacts (with "always accept") and settings.

use rusqlite::{OptionalExtension as _, params};

use super::{Store, StoreError, now_unix};

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

impl Store {
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
}
