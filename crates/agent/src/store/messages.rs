//! Conversations: the outbox with its delivery states, incoming messages
//! (each stored once), what was left at a DIR, and what the person has seen.

use rusqlite::params;

use super::{Store, StoreError, now_unix};

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

    /// The state a stored text names; an unknown one is an error (a newer
    /// build wrote it, or the file was damaged), never taken as `Queued`.
    fn parse(text: &str) -> Result<Self, UnknownState> {
        match text {
            "queued" => Ok(Self::Queued),
            "sent" => Ok(Self::Sent),
            "delivered" => Ok(Self::Delivered),
            "read" => Ok(Self::Read),
            other => Err(UnknownState(other.to_owned())),
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

/// A delivery state this build does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown delivery state {0:?} in the message store")]
pub struct UnknownState(String);

impl Store {
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
            let state = DeliveryState::parse(&state).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    4,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?;
            Ok(StoredMessage {
                peer: row.get(0)?,
                direction: if direction == "in" {
                    Direction::In
                } else {
                    Direction::Out
                },
                id: row.get(2)?,
                sent: row.get(3)?,
                state,
                body: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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

    /// Marks every incoming message from `peer` as seen; returns their ids
    /// (for read receipts).
    pub fn mark_seen(&self, peer: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "UPDATE messages SET seen = 1 WHERE peer = ?1 AND direction = 'in' AND seen = 0 RETURNING id",
        )?;
        let ids = stmt.query_map(params![peer], |row| row.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }
}
