//! Peers: where each was last reached (or the address the person gave),
//! when it was last seen, the address-record sequence seen from it, and the
//! agent's own last registration.

use std::net::SocketAddr;

use rusqlite::{OptionalExtension as _, params};

use super::{Store, StoreError, now_unix};

/// The last address registration the agent made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub sequence: u64,
    /// The addresses, as registered.
    pub addresses: Vec<SocketAddr>,
    pub expires_unix: i64,
}

impl Store {
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

    pub fn registration(&self) -> Result<Option<Registration>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT sequence, addresses, expires FROM registration WHERE id = 1",
                [],
                |row| {
                    let addresses: String = row.get(1)?;
                    Ok(Registration {
                        sequence: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                        // Written by `set_registration`; a word that is not an
                        // address only makes the next check register again.
                        addresses: addresses
                            .split(' ')
                            .filter_map(|a| a.parse().ok())
                            .collect(),
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
                crate::agent::events::addresses_text(&registration.addresses),
                registration.expires_unix
            ],
        )?;
        Ok(())
    }
}
