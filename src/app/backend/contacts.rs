//! The contact list and presence: adding (with an optional address),
//! removing, "always accept", and asking the DIR now and then which
//! contacts have a current address.

use std::sync::Arc;
use std::time::Duration;

use sixchat_host::lock;
use sixchat_proto::UserId;

use super::running::{Running, other};
use crate::app::command::ContactCommand;
use crate::app::event::{ContactInfo, Event, Failure, Presence};

/// How often contacts' presence is asked of the DIR.
const PRESENCE_SECS: u64 = 60;
/// At most this many contacts are looked up per round.
const PRESENCE_BATCH: usize = 64;

/// An address the person typed, if any (blank is none), read by
/// [`sixchat_agent::dial::parse_address`]; the error says what is wrong.
pub(super) fn typed_address(address: Option<String>) -> Result<Option<String>, String> {
    address
        .filter(|a| !a.trim().is_empty())
        .map(|a| sixchat_agent::dial::parse_address(&a))
        .transpose()
}

/// A UserID the person typed.
pub(super) fn typed_user(user_id: &str) -> Result<UserId, Failure> {
    UserId::parse(user_id.trim()).map_err(|e| Failure::Invalid(e.to_string()))
}

impl Running {
    pub(super) async fn contact_command(&self, command: ContactCommand) -> Result<(), Failure> {
        match command {
            ContactCommand::Add { user_id, address } => {
                let peer = typed_user(&user_id)?;
                let address = typed_address(address).map_err(Failure::Invalid)?;
                self.add_contact_at(&peer, address.as_deref()).await?;
            }
            ContactCommand::Remove { user_id } => {
                self.agent
                    .with_store(|s| s.remove_contact(&user_id))
                    .map_err(other)?;
                self.emit_contacts().await;
            }
            ContactCommand::SetAlwaysAccept { user_id, always } => {
                self.agent
                    .with_store(|s| s.set_always_accept(&user_id, always))
                    .map_err(other)?;
                self.emit_contacts().await;
            }
        }
        Ok(())
    }

    pub(super) fn contacts(&self) -> Vec<ContactInfo> {
        let stored = self
            .agent
            .with_store(sixchat_agent::Store::contacts)
            .unwrap_or_default();
        let presence = lock(&self.presence);
        stored
            .into_iter()
            .map(|c| ContactInfo {
                presence: presence.get(&c.user_id).copied().unwrap_or_default(),
                user_id: c.user_id,
                name: c.name,
                address: c.address,
                always_accept: c.always_accept,
                last_seen_unix: c.last_seen,
                unread: c.unread,
            })
            .collect()
    }

    pub(super) async fn emit_contacts(&self) {
        self.sink.emit(Event::Contacts(self.contacts())).await;
    }

    pub(super) async fn set_presence(
        &self,
        user_id: &str,
        presence: Presence,
        last_seen_unix: Option<i64>,
    ) {
        lock(&self.presence).insert(user_id.to_owned(), presence);
        self.sink
            .emit(Event::Presence {
                user_id: user_id.to_owned(),
                presence,
                last_seen_unix,
            })
            .await;
    }

    /// Adds `user_id` as a contact if it is not one (and with `certified`,
    /// gives it the name its certificate shows); emits the list if it changed.
    pub(super) async fn ensure_contact(&self, user_id: &str, name: &str, certified: bool) {
        let changed = self.agent.with_store(|s| {
            let added = s.add_contact(user_id, name).unwrap_or(false);
            let renamed =
                certified && !name.is_empty() && s.rename_contact(user_id, name).unwrap_or(false);
            added || renamed
        });
        if changed {
            self.emit_contacts().await;
        }
    }

    /// Marks `user_id` a contact whose sessions are taken without asking
    /// (while its key is verified or pinned).
    pub(super) async fn always_accept(&self, user_id: &str) -> Result<(), Failure> {
        self.agent
            .with_store(|s| {
                s.add_contact(user_id, "")?;
                s.set_always_accept(user_id, true)
            })
            .map_err(other)?;
        self.emit_contacts().await;
        Ok(())
    }

    /// Adds `peer` as a contact (named by its local part until a session
    /// says more), reachable at `address` if given; emits the list.
    pub(super) async fn add_contact_at(
        &self,
        peer: &UserId,
        address: Option<&str>,
    ) -> Result<(), Failure> {
        self.agent
            .with_store(|s| {
                s.add_contact(peer.as_str(), peer.local_part())?;
                match address {
                    Some(address) => s.set_address(peer.as_str(), address),
                    None => Ok(()),
                }
            })
            .map_err(other)?;
        self.emit_contacts().await;
        Ok(())
    }

    /// Asks the DIR, now and then, which contacts have a current address.
    pub(super) async fn poll_presence(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        let mut delay = Duration::from_secs(2);
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(delay) => {}
            }
            delay = Duration::from_secs(PRESENCE_SECS);
            let contacts = self.contacts();
            for contact in contacts
                .iter()
                .filter(|c| c.presence != Presence::Online)
                .take(PRESENCE_BATCH)
            {
                let Ok(peer) = UserId::parse(&contact.user_id) else {
                    continue;
                };
                if let Ok(found) = self.agent.lookup(&peer).await {
                    if self.agent.is_live(&peer) {
                        continue;
                    }
                    let presence = if found.result.record.is_some() {
                        Presence::Reachable
                    } else {
                        Presence::Offline
                    };
                    self.set_presence(&contact.user_id, presence, found.result.last_seen_unix)
                        .await;
                }
            }
        }
    }
}
