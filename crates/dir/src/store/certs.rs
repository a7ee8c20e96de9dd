//! Issued certificates, their revocation, and the current CRL.

use rusqlite::{Connection, OptionalExtension as _, params};
use sixchat_proto::irp::{CertState, CertUsage};

/// A certificate to record at issuance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCert {
    pub usage: CertUsage,
    pub serial: u64,
    pub user_id: String,
    pub ski_hex: String,
    pub spki_sha256: [u8; 32],
    /// The DER SubjectPublicKeyInfo, kept to verify the user's signatures.
    pub spki: Vec<u8>,
    pub der: Vec<u8>,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
}

/// One row of `certificates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRow {
    pub usage: CertUsage,
    pub serial: u64,
    pub user_id: String,
    pub ski_hex: String,
    pub spki: Vec<u8>,
    pub der: Vec<u8>,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    pub revoked_unix: Option<i64>,
    pub reason: Option<String>,
}

impl CertRow {
    /// Revoked wins over expired.
    pub fn state(&self, now_unix: i64) -> CertState {
        if self.revoked_unix.is_some() {
            CertState::Revoked
        } else if self.not_after_unix <= now_unix {
            CertState::Expired
        } else {
            CertState::Valid
        }
    }
}

/// The serial as [`sixchat_pki::cert::CertInfo`] writes it: lowercase hex of
/// the big-endian bytes without leading zero bytes.
pub fn serial_hex(serial: u64) -> String {
    let bytes = serial.to_be_bytes();
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    hex::encode(&bytes[start..])
}

/// Reads a serial written by [`serial_hex`] (or by `CertInfo`).
pub fn parse_serial_hex(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 16 {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

const COLUMNS: &str =
    "serial, user_id, ski_hex, spki, der, not_before, not_after, revoked_at, reason, usage";

fn usage_of(text: &str) -> CertUsage {
    // The column's CHECK allows these two words only.
    if text == "encryption" {
        CertUsage::Encryption
    } else {
        CertUsage::Identity
    }
}

fn cert_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CertRow> {
    Ok(CertRow {
        usage: usage_of(&row.get::<_, String>(9)?),
        serial: super::uint(row.get(0)?),
        user_id: row.get(1)?,
        ski_hex: row.get(2)?,
        spki: row.get(3)?,
        der: row.get(4)?,
        not_before_unix: row.get(5)?,
        not_after_unix: row.get(6)?,
        revoked_unix: row.get(7)?,
        reason: row.get(8)?,
    })
}

/// Records an issued certificate. Fails (constraint) on a serial collision.
pub fn insert(conn: &Connection, cert: &NewCert, now_unix: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO certificates
         (serial, user_id, ski_hex, spki_sha256, spki, der, not_before, not_after, issued, usage)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            super::int(cert.serial),
            cert.user_id,
            cert.ski_hex,
            cert.spki_sha256.as_slice(),
            cert.spki,
            cert.der,
            cert.not_before_unix,
            cert.not_after_unix,
            now_unix,
            cert.usage.as_str()
        ],
    )?;
    Ok(())
}

/// The users a key (SHA-256 of its SPKI) was certified for, if any.
pub fn key_owners(conn: &Connection, spki_sha256: &[u8; 32]) -> rusqlite::Result<Vec<String>> {
    let mut statement =
        conn.prepare_cached("SELECT DISTINCT user_id FROM certificates WHERE spki_sha256 = ?1")?;
    statement
        .query_map([spki_sha256.as_slice()], |row| row.get(0))?
        .collect()
}

pub fn serial_taken(conn: &Connection, serial: u64) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM certificates WHERE serial = ?1",
            [super::int(serial)],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn by_serial(conn: &Connection, serial: u64) -> rusqlite::Result<Option<CertRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM certificates WHERE serial = ?1"
    ))?
    .query_row([super::int(serial)], cert_row)
    .optional()
}

/// The user's certificates, newest expiry first.
pub fn of_user(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<CertRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM certificates WHERE user_id = ?1
         ORDER BY not_after DESC, issued DESC LIMIT 64"
    ))?
    .query_map([user_id], cert_row)?
    .collect()
}

/// The identity certificate `lookup` shows: the newest valid one, else the
/// newest.
pub fn current(
    conn: &Connection,
    user_id: &str,
    now_unix: i64,
) -> rusqlite::Result<Option<CertRow>> {
    let all: Vec<CertRow> = of_user(conn, user_id)?
        .into_iter()
        .filter(|c| c.usage == CertUsage::Identity)
        .collect();
    let valid = all
        .iter()
        .find(|c| c.state(now_unix) == CertState::Valid)
        .cloned();
    Ok(valid.or_else(|| all.into_iter().next()))
}

/// The newest valid mail encryption certificate, if any.
pub fn current_encryption(
    conn: &Connection,
    user_id: &str,
    now_unix: i64,
) -> rusqlite::Result<Option<CertRow>> {
    Ok(of_user(conn, user_id)?
        .into_iter()
        .find(|c| c.usage == CertUsage::Encryption && c.state(now_unix) == CertState::Valid))
}

/// Revokes the certificates with this SKI (those of `owner` only, when
/// given). `None` if no certificate matched; otherwise the serials matched,
/// already revoked ones included.
pub fn revoke_ski(
    conn: &Connection,
    owner: Option<&str>,
    ski_hex: &str,
    reason: &str,
    now_unix: i64,
) -> rusqlite::Result<Option<Vec<u64>>> {
    let serials: Vec<u64> = conn
        .prepare_cached(
            "SELECT serial FROM certificates WHERE ski_hex = ?1 AND (?2 IS NULL OR user_id = ?2)
             ORDER BY not_after DESC",
        )?
        .query_map(params![ski_hex, owner], |row| row.get::<_, i64>(0))?
        .map(|serial| serial.map(super::uint))
        .collect::<rusqlite::Result<_>>()?;
    if serials.is_empty() {
        return Ok(None);
    }
    conn.execute(
        "UPDATE certificates SET revoked_at = ?3, reason = ?4
         WHERE ski_hex = ?1 AND (?2 IS NULL OR user_id = ?2) AND revoked_at IS NULL",
        params![ski_hex, owner, now_unix, reason],
    )?;
    Ok(Some(serials))
}

/// Revokes every unrevoked certificate of the user; returns their serials.
pub fn revoke_user(
    conn: &Connection,
    user_id: &str,
    reason: &str,
    now_unix: i64,
) -> rusqlite::Result<Vec<u64>> {
    let serials: Vec<u64> = conn
        .prepare_cached(
            "SELECT serial FROM certificates WHERE user_id = ?1 AND revoked_at IS NULL",
        )?
        .query_map([user_id], |row| row.get::<_, i64>(0))?
        .map(|serial| serial.map(super::uint))
        .collect::<rusqlite::Result<_>>()?;
    conn.execute(
        "UPDATE certificates SET revoked_at = ?2, reason = ?3 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user_id, now_unix, reason],
    )?;
    Ok(serials)
}

/// Serials the CRL must list: revoked and not yet expired.
pub fn revoked_serials(conn: &Connection, now_unix: i64) -> rusqlite::Result<Vec<u64>> {
    conn.prepare_cached(
        "SELECT serial FROM certificates WHERE revoked_at IS NOT NULL AND not_after > ?1 ORDER BY serial",
    )?
    .query_map([now_unix], |row| row.get::<_, i64>(0))?
    .map(|serial| serial.map(super::uint))
    .collect()
}

/// The stored CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlRow {
    pub der: Vec<u8>,
    pub this_update_unix: i64,
    pub next_update_unix: i64,
}

pub fn crl(conn: &Connection) -> rusqlite::Result<Option<CrlRow>> {
    conn.query_row(
        "SELECT der, this_update, next_update FROM crl WHERE id = 1",
        [],
        |row| {
            Ok(CrlRow {
                der: row.get(0)?,
                this_update_unix: row.get(1)?,
                next_update_unix: row.get(2)?,
            })
        },
    )
    .optional()
}

pub fn put_crl(conn: &Connection, crl: &CrlRow) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO crl (id, der, this_update, next_update) VALUES (1, ?1, ?2, ?3)",
        params![crl.der, crl.this_update_unix, crl.next_update_unix],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{NOW, store};
    use super::super::users;
    use super::*;

    fn cert(serial: u64, user: &str, key: u8, not_after: i64) -> NewCert {
        NewCert {
            usage: CertUsage::Identity,
            serial,
            user_id: user.into(),
            ski_hex: format!("{key:02x}"),
            spki_sha256: [key; 32],
            spki: vec![key],
            der: vec![key, 0],
            not_before_unix: NOW - 10,
            not_after_unix: not_after,
        }
    }

    fn with_users(store: &mut super::super::Store) {
        for (i, user) in ["alice@example.org", "bob@example.org"].iter().enumerate() {
            let secret = [u8::try_from(i).unwrap(); 32];
            store
                .write(|tx| users::create_invite(tx, user, "X", None, &secret, NOW + 9, NOW))
                .unwrap();
        }
    }

    #[test]
    fn serials_print_as_cert_info_prints_them() {
        assert_eq!(serial_hex(0x0102), "0102");
        assert_eq!(serial_hex(0x7fff_ffff_ffff_ffff), "7fffffffffffffff");
        assert_eq!(serial_hex(5), "05");
        assert_eq!(parse_serial_hex("0102"), Some(0x0102));
        assert_eq!(parse_serial_hex("ffffffffffffffffff"), None);
        assert_eq!(parse_serial_hex("zz"), None);
    }

    #[test]
    fn a_key_once_certified_is_known_and_a_serial_is_unique() {
        let (_dir, mut store) = store();
        with_users(&mut store);
        store
            .write(|tx| insert(tx, &cert(10, "alice@example.org", 1, NOW + 100), NOW))
            .unwrap();
        assert_eq!(
            key_owners(store.conn(), &[1; 32]).unwrap(),
            vec!["alice@example.org".to_owned()]
        );
        assert!(key_owners(store.conn(), &[2; 32]).unwrap().is_empty());
        assert!(
            store
                .write(|tx| insert(tx, &cert(10, "bob@example.org", 2, NOW + 100), NOW))
                .is_err()
        );
        assert!(serial_taken(store.conn(), 10).unwrap());
    }

    #[test]
    fn revoking_by_ski_touches_only_the_owners_keys_and_feeds_the_crl() {
        let (_dir, mut store) = store();
        with_users(&mut store);
        store
            .write(|tx| {
                insert(tx, &cert(1, "alice@example.org", 1, NOW + 100), NOW)?;
                insert(tx, &cert(2, "alice@example.org", 2, NOW + 200), NOW)?;
                insert(tx, &cert(3, "bob@example.org", 3, NOW + 100), NOW)
            })
            .unwrap();
        let c = store.conn();
        assert_eq!(
            current(c, "alice@example.org", NOW)
                .unwrap()
                .unwrap()
                .serial,
            2
        );
        assert_eq!(
            store
                .write(|tx| revoke_ski(tx, Some("alice@example.org"), "03", "keyCompromise", NOW))
                .unwrap(),
            None,
            "bob's key is not alice's to revoke"
        );
        assert_eq!(
            store
                .write(|tx| revoke_ski(tx, Some("alice@example.org"), "02", "superseded", NOW))
                .unwrap(),
            Some(vec![2])
        );
        let c = store.conn();
        assert_eq!(revoked_serials(c, NOW).unwrap(), vec![2]);
        assert_eq!(
            current(c, "alice@example.org", NOW)
                .unwrap()
                .unwrap()
                .serial,
            1,
            "lookup falls back to the valid certificate"
        );
        assert_eq!(
            by_serial(c, 2).unwrap().unwrap().state(NOW),
            CertState::Revoked
        );
        assert_eq!(
            revoked_serials(c, NOW + 300).unwrap(),
            Vec::<u64>::new(),
            "expired certificates leave the CRL"
        );
        let all = store
            .write(|tx| revoke_user(tx, "alice@example.org", "unspecified", NOW))
            .unwrap();
        assert_eq!(all, vec![1]);
        assert_eq!(revoked_serials(store.conn(), NOW).unwrap(), vec![1, 2]);
    }
}
