//! The CRL: reissued inside the transaction that revokes (so the stored CRL
//! never lags the certificates table), and refreshed well before its
//! nextUpdate.

use rusqlite::Connection;
use sixchat_pki::ca::{CaError, CertificateAuthority};

use crate::CRL_LIFETIME_SECS;
use crate::store::certs::{self, CrlRow};

/// Reissue when less than this is left before nextUpdate.
pub const REFRESH_BEFORE_SECS: i64 = 24 * 3600;

/// Why the CRL could not be reissued.
#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("signing the CRL: {0}")]
    Ca(#[from] CaError),
}

/// Signs a CRL of every revoked, unexpired serial, dated `now` (or one
/// second after the stored CRL, so a newer CRL always has a later
/// thisUpdate and CRL number), valid for [`CRL_LIFETIME_SECS`], and stores it.
pub fn reissue(
    conn: &Connection,
    ca: &CertificateAuthority,
    now_unix: i64,
) -> Result<CrlRow, CrlError> {
    let serials = certs::revoked_serials(conn, now_unix)?;
    let this_update_unix = match certs::crl(conn)? {
        Some(old) if old.this_update_unix >= now_unix => old.this_update_unix + 1,
        _ => now_unix,
    };
    let next_update_unix = this_update_unix + CRL_LIFETIME_SECS;
    let der = ca.issue_crl(&serials, this_update_unix, next_update_unix)?;
    let row = CrlRow {
        der,
        this_update_unix,
        next_update_unix,
    };
    certs::put_crl(conn, &row)?;
    Ok(row)
}

/// True when there is no CRL or its nextUpdate is near.
pub fn needs_refresh(crl: Option<&CrlRow>, now_unix: i64) -> bool {
    crl.is_none_or(|c| c.next_update_unix - now_unix < REFRESH_BEFORE_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{NOW, store};
    use sixchat_pki::IdentityKey;

    #[test]
    fn each_reissue_is_newer_and_a_fresh_crl_is_not_refreshed() {
        let (_dir, mut store) = store();
        let ca =
            CertificateAuthority::new_root("example.org", IdentityKey::generate(2048).unwrap(), 30)
                .unwrap();
        let first = store.write(|tx| reissue(tx, &ca, NOW)).unwrap();
        let second = store.write(|tx| reissue(tx, &ca, NOW)).unwrap();
        assert_eq!(first.this_update_unix, NOW);
        assert_eq!(second.this_update_unix, NOW + 1, "same second: still newer");
        assert_eq!(second.next_update_unix, NOW + 1 + CRL_LIFETIME_SECS);
        assert_eq!(certs::crl(store.conn()).unwrap(), Some(second.clone()));
        assert!(!needs_refresh(Some(&second), NOW));
        assert!(needs_refresh(Some(&second), NOW + CRL_LIFETIME_SECS - 3600));
        assert!(needs_refresh(None, NOW));
    }
}
