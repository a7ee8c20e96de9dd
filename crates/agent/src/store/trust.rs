//! Trust: directory roots per domain, pinned certificates, the DIRs the
//! profile knows, and their CRLs.

use rusqlite::{OptionalExtension as _, params};

use super::{Store, StoreError, now_unix};

/// A directory root trusted for a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRoot {
    pub domain: String,
    pub der: Vec<u8>,
    /// SHA-256 of `der`, hex.
    pub fingerprint: String,
}

/// A certificate pinned for a UserID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub user_id: String,
    /// SHA-256 of the pinned certificate, hex.
    pub fingerprint: String,
}

/// A CRL held for a domain (checked against its root when fetched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCrl {
    pub domain: String,
    pub der: Vec<u8>,
}

/// The DIR of a domain, as the profile knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirRecord {
    pub domain: String,
    /// `host:port`.
    pub address: String,
    pub root_der: Vec<u8>,
}

impl Store {
    pub fn add_root(&self, domain: &str, der: &[u8], fingerprint: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO trust_roots (domain, der, fingerprint) VALUES (?1, ?2, ?3)",
            params![domain, der, fingerprint],
        )?;
        Ok(())
    }

    /// Every trusted root, by domain.
    pub fn roots(&self) -> Result<Vec<TrustRoot>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT domain, der, fingerprint FROM trust_roots ORDER BY domain, fingerprint",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(TrustRoot {
                domain: row.get(0)?,
                der: row.get(1)?,
                fingerprint: row.get(2)?,
            })
        })?;
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

    /// Every pin, by UserID.
    pub fn pins(&self) -> Result<Vec<Pin>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT user_id, fingerprint FROM pins ORDER BY user_id")?;
        let rows = stmt.query_map([], |row| {
            Ok(Pin {
                user_id: row.get(0)?,
                fingerprint: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

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

    /// Every stored CRL, by domain.
    pub fn crls(&self) -> Result<Vec<StoredCrl>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT domain, der FROM crls ORDER BY domain")?;
        let rows = stmt.query_map([], |row| {
            Ok(StoredCrl {
                domain: row.get(0)?,
                der: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
