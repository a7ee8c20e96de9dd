//! File transfers: whose offers are accepted unasked, and the queue of
//! sends and gets (docs/transfer.md). A queued transfer keeps what to do
//! (the local paths of a send, the remote path of a get) so it can start
//! again after a restart; the data already verified lives in the `.part`
//! files on the receiving side, not here.

use rusqlite::{OptionalExtension as _, params};

use super::{Store, StoreError, now_unix};
pub use crate::services::transfer::OnConflict;

/// What a queued transfer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferKind {
    /// Offer local files to the peer (`send`).
    Send,
    /// Fetch from the peer's share (`get`).
    Get,
}

/// Where a queued transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferState {
    /// Waiting for the peer to be reachable (starts by itself).
    Waiting,
    /// Under way in a session.
    Running,
    /// Paused by the person: starts only when resumed.
    Paused,
    /// Every file complete and verified.
    Done,
    /// Ended by an error or a refusal (the reason says which); can be retried.
    Failed,
    /// Cancelled by the person or the peer.
    Cancelled,
}

impl TransferState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Waiting,
            Self::Running,
            Self::Paused,
            Self::Done,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether it is over (done or cancelled): nothing more happens to it.
    pub fn is_over(self) -> bool {
        matches!(self, Self::Done | Self::Cancelled)
    }
}

/// Seconds without a heartbeat after which a `running` row is taken to
/// belong to a process that died (a process running a transfer touches its
/// row every second).
pub const STALE_RUNNING_SECS: i64 = 10;

/// One row of the queue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueuedTransfer {
    pub id: String,
    pub peer: String,
    pub kind: TransferKind,
    /// The local paths of a send, or the one remote path of a get.
    pub sources: Vec<String>,
    /// The folder beneath the peer's incoming folder (a send; empty for
    /// none), or the local folder a get writes into.
    pub target: String,
    /// The address the person gave (`--addr`), if any.
    pub addr: Option<String>,
    pub state: TransferState,
    pub files: u64,
    pub bytes: u64,
    pub verified: u64,
    pub reason: String,
    pub created: i64,
    pub updated: i64,
    pub on_conflict: OnConflict,
}

impl QueuedTransfer {
    /// Whether a process may start it now: it waits, or it was left
    /// running by a process that died (silent for [`STALE_RUNNING_SECS`]).
    pub fn may_start(&self) -> bool {
        match self.state {
            TransferState::Waiting => true,
            TransferState::Running => now_unix() - self.updated > STALE_RUNNING_SECS,
            _ => false,
        }
    }
}

/// A new queue row: what to do, with whom.
#[derive(Debug, Clone)]
pub struct NewTransfer<'a> {
    pub id: &'a str,
    pub peer: &'a str,
    pub kind: TransferKind,
    pub sources: &'a [String],
    pub target: &'a str,
    pub addr: Option<&'a str>,
    pub state: TransferState,
    /// For a get: what a name taken by other content does.
    pub on_conflict: OnConflict,
}

const COLUMNS: &str = "id, peer, kind, sources, target, addr, state, files, bytes, verified, reason, created, updated, on_conflict";

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<QueuedTransfer> {
    let kind: String = row.get(2)?;
    let sources: String = row.get(3)?;
    let state: String = row.get(6)?;
    let on_conflict: String = row.get(13)?;
    let bad = |column: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            format!("unknown {what}").into(),
        )
    };
    let number = |i: usize| row.get::<_, i64>(i).map(|n| u64::try_from(n).unwrap_or(0));
    Ok(QueuedTransfer {
        id: row.get(0)?,
        peer: row.get(1)?,
        kind: match kind.as_str() {
            "send" => TransferKind::Send,
            "get" => TransferKind::Get,
            _ => return Err(bad(2, "transfer kind")),
        },
        sources: serde_json::from_str(&sources).map_err(|_| bad(3, "list of paths"))?,
        target: row.get(4)?,
        addr: row.get(5)?,
        state: TransferState::parse(&state).ok_or_else(|| bad(6, "transfer state"))?,
        files: number(7)?,
        bytes: number(8)?,
        verified: number(9)?,
        reason: row.get(10)?,
        created: row.get(11)?,
        updated: row.get(12)?,
        on_conflict: OnConflict::parse(&on_conflict).ok_or_else(|| bad(13, "conflict choice"))?,
    })
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Sets whether offers from `user_id` are accepted without asking.
    pub fn set_auto_accept(&self, user_id: &str, on: bool) -> Result<(), StoreError> {
        if on {
            self.conn.execute(
                "INSERT OR IGNORE INTO file_auto_accept (user_id) VALUES (?1)",
                params![user_id],
            )?;
        } else {
            self.conn.execute(
                "DELETE FROM file_auto_accept WHERE user_id = ?1",
                params![user_id],
            )?;
        }
        Ok(())
    }

    /// Whether offers from `user_id` are accepted without asking.
    pub fn auto_accepts(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM file_auto_accept WHERE user_id = ?1",
                params![user_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Every contact whose offers are accepted without asking.
    pub fn auto_accepted(&self) -> Result<Vec<String>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT user_id FROM file_auto_accept ORDER BY user_id")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds a transfer to the queue.
    pub fn queue_transfer(&self, new: &NewTransfer<'_>) -> Result<(), StoreError> {
        let now = now_unix();
        let sources = serde_json::to_string(new.sources)
            .map_err(|e| StoreError::Worker(format!("paths: {e}")))?;
        self.conn.execute(
            "INSERT INTO transfers (id, peer, kind, sources, target, addr, state, created, updated, on_conflict)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
            params![
                new.id,
                new.peer,
                match new.kind {
                    TransferKind::Send => "send",
                    TransferKind::Get => "get",
                },
                sources,
                new.target,
                new.addr,
                new.state.as_str(),
                now,
                new.on_conflict.as_str()
            ],
        )?;
        Ok(())
    }

    /// The queue, oldest first.
    pub fn transfers(&self) -> Result<Vec<QueuedTransfer>, StoreError> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM transfers ORDER BY seq"))?;
        let rows = statement.query_map([], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One transfer by its id, or by a unique prefix of it (as the person
    /// types it from `transfers`).
    pub fn transfer(&self, id: &str) -> Result<Option<QueuedTransfer>, StoreError> {
        let matching: Vec<QueuedTransfer> = self
            .transfers()?
            .into_iter()
            .filter(|t| t.id.starts_with(id) && !id.is_empty())
            .collect();
        Ok(match <[QueuedTransfer; 1]>::try_from(matching) {
            Ok([one]) => Some(one),
            Err(_) => None,
        })
    }

    /// Sets a transfer's state (and why, for a failure).
    pub fn set_transfer_state(
        &self,
        id: &str,
        state: TransferState,
        reason: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE transfers SET state = ?2, reason = ?3, updated = ?4 WHERE id = ?1",
            params![id, state.as_str(), reason, now_unix()],
        )? > 0)
    }

    /// Takes a waiting transfer to run it here: `false` if another process
    /// (or task) runs it already, or it is no longer waiting. A row left
    /// `running` by a process that died (no progress recorded for
    /// [`STALE_RUNNING_SECS`]) is taken too.
    pub fn claim_transfer(&self, id: &str) -> Result<bool, StoreError> {
        let now = now_unix();
        Ok(self.conn.execute(
            "UPDATE transfers SET state = 'running', reason = '', updated = ?2
             WHERE id = ?1 AND (state = 'waiting' OR (state = 'running' AND updated < ?3))",
            params![id, now, now - STALE_RUNNING_SECS],
        )? > 0)
    }

    /// Records how a transfer this process ran ended, unless the person
    /// paused or cancelled it meanwhile (that state stays).
    pub fn end_transfer(
        &self,
        id: &str,
        state: TransferState,
        reason: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE transfers SET state = ?2, reason = ?3, updated = ?4
             WHERE id = ?1 AND state = 'running'",
            params![id, state.as_str(), reason, now_unix()],
        )? > 0)
    }

    /// Puts a paused or failed transfer back to waiting; `false` for one in
    /// any other state (running, waiting, done, cancelled).
    pub fn resume_transfer(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE transfers SET state = 'waiting', reason = '', updated = ?2
             WHERE id = ?1 AND state IN ('paused', 'failed')",
            params![id, now_unix()],
        )? > 0)
    }

    /// The heartbeat of a transfer this process runs.
    pub fn touch_transfer(&self, id: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE transfers SET updated = ?2 WHERE id = ?1 AND state = 'running'",
            params![id, now_unix()],
        )?;
        Ok(())
    }

    /// Records how far a transfer got.
    pub fn set_transfer_progress(
        &self,
        id: &str,
        files: u64,
        bytes: u64,
        verified: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE transfers SET files = ?2, bytes = ?3, verified = ?4, updated = ?5 WHERE id = ?1",
            params![id, signed(files), signed(bytes), signed(verified), now_unix()],
        )?;
        Ok(())
    }

    /// Removes finished and cancelled transfers from the queue; returns how many.
    pub fn clear_finished_transfers(&self) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM transfers WHERE state IN ('done', 'cancelled')",
            [],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn auto_accept_is_per_contact_and_can_be_turned_off() {
        let (_dir, store) = open();
        store.set_auto_accept("bob@b.example", true).unwrap();
        store.set_auto_accept("bob@b.example", true).unwrap();
        assert!(store.auto_accepts("bob@b.example").unwrap());
        assert!(!store.auto_accepts("carol@b.example").unwrap());
        assert_eq!(store.auto_accepted().unwrap(), vec!["bob@b.example"]);
        store.set_auto_accept("bob@b.example", false).unwrap();
        assert!(!store.auto_accepts("bob@b.example").unwrap());
    }

    #[test]
    fn a_queued_send_keeps_its_paths_and_state_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let sources = vec!["/tmp/a b\nc".to_owned(), "/tmp/d".to_owned()];
        {
            let store = Store::open(&path).unwrap();
            store
                .queue_transfer(&NewTransfer {
                    id: "0d1c-aa",
                    peer: "bob@b.example",
                    kind: TransferKind::Send,
                    sources: &sources,
                    target: "photos",
                    addr: None,
                    state: TransferState::Waiting,
                    on_conflict: OnConflict::Rename,
                })
                .unwrap();
            store.set_transfer_progress("0d1c-aa", 2, 10, 4).unwrap();
        }
        let store = Store::open(&path).unwrap();
        let row = store.transfer("0d1c").unwrap().unwrap();
        assert_eq!(row.sources, sources);
        assert_eq!(
            (row.state, row.files, row.bytes, row.verified),
            (TransferState::Waiting, 2, 10, 4)
        );
        assert!(
            store
                .set_transfer_state("0d1c-aa", TransferState::Done, "")
                .unwrap()
        );
        assert!(
            !store
                .set_transfer_state("nope", TransferState::Done, "")
                .unwrap()
        );
        assert_eq!(store.clear_finished_transfers().unwrap(), 1);
        assert!(store.transfers().unwrap().is_empty());
    }

    #[test]
    fn a_transfer_is_run_by_one_process_and_a_pause_outlasts_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let (here, there) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
        let sources = vec!["/tmp/a".to_owned()];
        here.queue_transfer(&NewTransfer {
            id: "77",
            peer: "bob@b.example",
            kind: TransferKind::Send,
            sources: &sources,
            target: "",
            addr: None,
            state: TransferState::Waiting,
            on_conflict: OnConflict::Skip,
        })
        .unwrap();
        assert!(here.claim_transfer("77").unwrap());
        assert!(!there.claim_transfer("77").unwrap(), "taken twice");
        assert!(!there.resume_transfer("77").unwrap(), "a running one");
        // The person pauses it from another process; the runner's end
        // does not overwrite that.
        there
            .set_transfer_state("77", TransferState::Paused, "by the person")
            .unwrap();
        assert!(!here.end_transfer("77", TransferState::Done, "").unwrap());
        assert_eq!(
            there.transfer("77").unwrap().unwrap().state,
            TransferState::Paused
        );
        assert!(
            !there.claim_transfer("77").unwrap(),
            "paused is not waiting"
        );
        assert!(there.resume_transfer("77").unwrap());
        assert!(there.claim_transfer("77").unwrap());
        // A runner that died: its row goes silent and is taken again.
        here.conn
            .execute(
                "UPDATE transfers SET updated = updated - 60 WHERE id = '77'",
                [],
            )
            .unwrap();
        assert!(here.claim_transfer("77").unwrap(), "a stale running row");
        assert!(here.end_transfer("77", TransferState::Done, "").unwrap());
        assert!(!here.resume_transfer("77").unwrap(), "a done one");
    }
}
