//! Users, their invites, and enrollments waiting for approval.

use rusqlite::{Connection, OptionalExtension as _, params};

/// Where a user stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// Invited, no certificate yet.
    Invited,
    /// Enrolled, waiting for `sixchat-dir approve`.
    Pending,
    /// Holds (or held) a certificate.
    Active,
    /// Revoked by the administrator.
    Revoked,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "pending" => Self::Pending,
            "active" => Self::Active,
            "revoked" => Self::Revoked,
            _ => Self::Invited,
        }
    }
}

/// One row of `users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub user_id: String,
    pub name: String,
    pub email: Option<String>,
    pub status: UserStatus,
    pub created_unix: i64,
    pub last_seen_unix: Option<i64>,
}

/// What `users` prints for one user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserSummary {
    pub user_id: String,
    pub name: String,
    pub email: Option<String>,
    pub status: UserStatus,
    /// The newest certificate's serial (hex) and expiry.
    pub serial_hex: Option<String>,
    pub not_after_unix: Option<i64>,
    pub last_seen_unix: Option<i64>,
}

/// An invite secret's state for one UserID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteState {
    Usable,
    /// No invite with this secret for this user.
    Unknown,
    Used,
    Expired,
}

impl InviteState {
    /// The `error_response` description for a refused invite.
    pub fn refusal(self) -> &'static str {
        match self {
            Self::Usable => "invite usable",
            Self::Unknown => "invite invalid",
            Self::Used => "invite already used",
            Self::Expired => "invite expired",
        }
    }
}

/// Whether a held enrollment may proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    Approved,
    Waiting,
}

fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        user_id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
        status: UserStatus::parse(&row.get::<_, String>(3)?),
        created_unix: row.get(4)?,
        last_seen_unix: row.get(5)?,
    })
}

pub fn user(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<UserRow>> {
    conn.prepare_cached(
        "SELECT user_id, name, email, status, created, last_seen FROM users WHERE user_id = ?1",
    )?
    .query_row([user_id], user_row)
    .optional()
}

/// Every user with their newest certificate, ordered by UserID.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<UserSummary>> {
    let mut statement = conn.prepare(
        "SELECT u.user_id, u.name, u.email, u.status, u.last_seen, c.serial, c.not_after
         FROM users u
         LEFT JOIN certificates c ON c.serial = (
             SELECT serial FROM certificates WHERE user_id = u.user_id
             ORDER BY not_after DESC, issued DESC LIMIT 1)
         ORDER BY u.user_id",
    )?;
    statement
        .query_map([], |row| {
            Ok(UserSummary {
                user_id: row.get(0)?,
                name: row.get(1)?,
                email: row.get(2)?,
                status: UserStatus::parse(&row.get::<_, String>(3)?),
                last_seen_unix: row.get(4)?,
                serial_hex: row
                    .get::<_, Option<i64>>(5)?
                    .map(|s| super::certs::serial_hex(super::uint(s))),
                not_after_unix: row.get(6)?,
            })
        })?
        .collect()
}

/// Stores an invite (only the secret's SHA-256); creates the user if new.
/// Returns whether the user was created.
pub fn create_invite(
    conn: &Connection,
    user_id: &str,
    name: &str,
    email: Option<&str>,
    secret_sha256: &[u8; 32],
    expires_unix: i64,
    now_unix: i64,
) -> rusqlite::Result<bool> {
    let created = conn.execute(
        "INSERT OR IGNORE INTO users (user_id, name, email, status, created)
         VALUES (?1, ?2, ?3, 'invited', ?4)",
        params![user_id, name, email, now_unix],
    )? == 1;
    conn.execute(
        "INSERT INTO invites (secret_sha256, user_id, name, created, expires)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            secret_sha256.as_slice(),
            user_id,
            name,
            now_unix,
            expires_unix
        ],
    )?;
    Ok(created)
}

/// The display name to certify for an enrolment with this invite: the name
/// the administrator gave the invite, or (an invite made before invites had
/// names) the user's. Never the name the enrollee asks for.
pub fn invite_name(
    conn: &Connection,
    secret_sha256: &[u8; 32],
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT COALESCE(i.name, u.name) FROM invites i JOIN users u ON u.user_id = i.user_id
         WHERE i.secret_sha256 = ?1",
        [secret_sha256.as_slice()],
        |row| row.get(0),
    )
    .optional()
}

/// Checks an invite secret (by its hash) against the UserID it must be for.
pub fn invite_state(
    conn: &Connection,
    secret_sha256: &[u8; 32],
    user_id: &str,
    now_unix: i64,
) -> rusqlite::Result<InviteState> {
    let row: Option<(String, i64, Option<i64>)> = conn
        .query_row(
            "SELECT user_id, expires, used_at FROM invites WHERE secret_sha256 = ?1",
            [secret_sha256.as_slice()],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    Ok(match row {
        None => InviteState::Unknown,
        Some((owner, _, _)) if owner != user_id => InviteState::Unknown,
        Some((_, _, Some(_))) => InviteState::Used,
        Some((_, expires, None)) if expires <= now_unix => InviteState::Expired,
        Some(_) => InviteState::Usable,
    })
}

/// Consumes an invite. Returns false if it was no longer usable (a race
/// with another enrollment lost).
pub fn use_invite(
    conn: &Connection,
    secret_sha256: &[u8; 32],
    now_unix: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE invites SET used_at = ?2 WHERE secret_sha256 = ?1 AND used_at IS NULL AND expires > ?2",
        params![secret_sha256.as_slice(), now_unix],
    )? == 1)
}

/// Holds an enrollment for approval, or says it was approved. A request with
/// another key than the held one replaces it and needs approval again.
pub fn hold_for_approval(
    conn: &Connection,
    invite_sha256: &[u8; 32],
    user_id: &str,
    spki_sha256: &[u8; 32],
    now_unix: i64,
) -> rusqlite::Result<Approval> {
    let held: Option<(Vec<u8>, Option<i64>)> = conn
        .query_row(
            "SELECT spki_sha256, approved_at FROM pending WHERE invite_sha256 = ?1",
            [invite_sha256.as_slice()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    match held {
        Some((key, Some(_))) if key == spki_sha256 => return Ok(Approval::Approved),
        Some((key, None)) if key == spki_sha256 => return Ok(Approval::Waiting),
        _ => {}
    }
    conn.execute(
        "INSERT OR REPLACE INTO pending (invite_sha256, user_id, spki_sha256, requested)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            invite_sha256.as_slice(),
            user_id,
            spki_sha256.as_slice(),
            now_unix
        ],
    )?;
    conn.execute(
        "UPDATE users SET status = 'pending' WHERE user_id = ?1 AND status = 'invited'",
        [user_id],
    )?;
    Ok(Approval::Waiting)
}

/// Approves every held enrollment of the user. Returns how many.
pub fn approve(conn: &Connection, user_id: &str, now_unix: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE pending SET approved_at = ?2 WHERE user_id = ?1 AND approved_at IS NULL",
        params![user_id, now_unix],
    )
}

/// After a certificate was issued from an invite: the user is active, the
/// held request is gone, and the user's name is the one certified (so a
/// renewal certifies it again).
pub fn finish_enrollment(
    conn: &Connection,
    invite_sha256: &[u8; 32],
    user_id: &str,
    certified_name: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM pending WHERE invite_sha256 = ?1",
        [invite_sha256.as_slice()],
    )?;
    conn.execute(
        "UPDATE users SET status = 'active', name = ?2 WHERE user_id = ?1",
        params![user_id, certified_name],
    )?;
    Ok(())
}

/// The administrator revoked the user: unused invites and held requests are
/// cancelled too, so none of them can enroll the user again.
pub fn mark_revoked(conn: &Connection, user_id: &str, now_unix: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE invites SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
        params![user_id, now_unix],
    )?;
    conn.execute("DELETE FROM pending WHERE user_id = ?1", [user_id])?;
    conn.execute(
        "UPDATE users SET status = 'revoked' WHERE user_id = ?1",
        [user_id],
    )?;
    Ok(())
}

pub fn touch_last_seen(conn: &Connection, user_id: &str, now_unix: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET last_seen = ?2 WHERE user_id = ?1",
        params![user_id, now_unix],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{NOW, store};
    use super::*;

    const ALICE: &str = "alice@example.org";

    #[test]
    fn an_invite_works_once_and_only_for_its_user_and_only_in_time() {
        let (_dir, mut store) = store();
        let secret = [7u8; 32];
        store
            .write(|tx| create_invite(tx, ALICE, "Alice", None, &secret, NOW + 60, NOW))
            .unwrap();
        let c = store.conn();
        assert_eq!(
            invite_state(c, &secret, ALICE, NOW).unwrap(),
            InviteState::Usable
        );
        assert_eq!(
            invite_state(c, &secret, "bob@example.org", NOW).unwrap(),
            InviteState::Unknown,
            "an invite is for one UserID"
        );
        assert_eq!(
            invite_state(c, &[8; 32], ALICE, NOW).unwrap(),
            InviteState::Unknown
        );
        assert_eq!(
            invite_state(c, &secret, ALICE, NOW + 60).unwrap(),
            InviteState::Expired
        );
        assert!(store.write(|tx| use_invite(tx, &secret, NOW)).unwrap());
        assert!(
            !store.write(|tx| use_invite(tx, &secret, NOW)).unwrap(),
            "a second use loses"
        );
        assert_eq!(
            invite_state(store.conn(), &secret, ALICE, NOW).unwrap(),
            InviteState::Used
        );
    }

    #[test]
    fn a_second_invite_keeps_the_user_and_its_name() {
        let (_dir, mut store) = store();
        assert!(
            store
                .write(|tx| create_invite(
                    tx,
                    ALICE,
                    "Alice",
                    Some("a@mail"),
                    &[1; 32],
                    NOW + 9,
                    NOW
                ))
                .unwrap()
        );
        assert!(
            !store
                .write(|tx| create_invite(tx, ALICE, "Other", None, &[2; 32], NOW + 9, NOW))
                .unwrap()
        );
        let row = user(store.conn(), ALICE).unwrap().unwrap();
        assert_eq!(row.name, "Alice");
        assert_eq!(row.email.as_deref(), Some("a@mail"));
        assert_eq!(row.status, UserStatus::Invited);
        assert_eq!(list(store.conn()).unwrap().len(), 1);
        // Each invite certifies its own name; enrolling with one makes it the user's.
        assert_eq!(
            invite_name(store.conn(), &[2; 32]).unwrap().as_deref(),
            Some("Other")
        );
        assert_eq!(invite_name(store.conn(), &[3; 32]).unwrap(), None);
        store
            .write(|tx| finish_enrollment(tx, &[2; 32], ALICE, "Other"))
            .unwrap();
        let row = user(store.conn(), ALICE).unwrap().unwrap();
        assert_eq!(
            (row.name.as_str(), row.status),
            ("Other", UserStatus::Active)
        );
    }

    #[test]
    fn an_invite_made_before_invites_had_names_certifies_the_users_name() {
        let (_dir, mut store) = store();
        store
            .write(|tx| create_invite(tx, ALICE, "Alice", None, &[1; 32], NOW + 9, NOW))
            .unwrap();
        store
            .write(|tx| tx.execute("UPDATE invites SET name = NULL", []))
            .unwrap();
        assert_eq!(
            invite_name(store.conn(), &[1; 32]).unwrap().as_deref(),
            Some("Alice")
        );
    }

    #[test]
    fn approval_holds_a_request_until_approved_and_a_new_key_starts_over() {
        let (_dir, mut store) = store();
        let invite = [1u8; 32];
        store
            .write(|tx| create_invite(tx, ALICE, "Alice", None, &invite, NOW + 99, NOW))
            .unwrap();
        let hold = |store: &mut super::super::Store, key: [u8; 32]| {
            store
                .write(|tx| hold_for_approval(tx, &invite, ALICE, &key, NOW))
                .unwrap()
        };
        assert_eq!(hold(&mut store, [5; 32]), Approval::Waiting);
        assert_eq!(
            user(store.conn(), ALICE).unwrap().unwrap().status,
            UserStatus::Pending
        );
        assert_eq!(hold(&mut store, [5; 32]), Approval::Waiting);
        assert_eq!(store.write(|tx| approve(tx, ALICE, NOW)).unwrap(), 1);
        assert_eq!(hold(&mut store, [5; 32]), Approval::Approved);
        assert_eq!(hold(&mut store, [6; 32]), Approval::Waiting, "another key");
        assert_eq!(hold(&mut store, [5; 32]), Approval::Waiting);
    }

    #[test]
    fn revoking_a_user_cancels_its_open_invites() {
        let (_dir, mut store) = store();
        store
            .write(|tx| create_invite(tx, ALICE, "Alice", None, &[1; 32], NOW + 99, NOW))
            .unwrap();
        store.write(|tx| mark_revoked(tx, ALICE, NOW)).unwrap();
        assert_eq!(
            invite_state(store.conn(), &[1; 32], ALICE, NOW).unwrap(),
            InviteState::Used
        );
        assert_eq!(
            user(store.conn(), ALICE).unwrap().unwrap().status,
            UserStatus::Revoked
        );
    }
}
