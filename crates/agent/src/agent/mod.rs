//! The agent: the connection runtime (a listener and a dialer, one task per
//! session) with the services beside it, and a bounded stream of
//! [`AgentEvent`]s for whoever drives it (sixchat-cli prints them; the
//! desktop app draws them).
//!
//! The graph is one-way: [`events`] (what is told) ← [`options`] and the
//! shared state here ← [`connect`], [`accept`] ← [`registry`] (live
//! sessions and their handles) ← [`driver`] (drives one session's records
//! and routes what arrives to the services in [`crate::services`]).

mod accept;
mod connect;
mod crl;
pub(crate) mod driver;
pub mod events;
mod options;
mod registry;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sixchat_host::lock;
use sixchat_proto::{AppMessage, Config, LocalIdentity, UserId};
use tokio::sync::mpsc;

pub use connect::ConnectError;
pub use events::{
    AgentEvent, Answer, INCOMING_ANSWER_TIMEOUT, IncomingRequest, PeerCard, SessionEnd,
};
pub use options::AgentOptions;
pub(crate) use registry::hand_over;
pub use registry::{Answerer, SessionCommand, SessionHandle};

use crate::dirlink::DirLink;
use crate::limits::{FailureLimiter, MinuteBudget, PendingHandshakes};
use crate::profile::UnlockedIdentity;
use crate::store::{Store, StoreError};

/// The current time as RFC 3339 UTC, to the second.
pub use sixchat_host::now_rfc3339;

struct Inner {
    store: Arc<Mutex<Store>>,
    config: std::sync::RwLock<Arc<Config>>,
    key: Arc<sixchat_pki::keys::IdentityKey>,
    options: AgentOptions,
    events: mpsc::Sender<AgentEvent>,
    /// The profile's own DIR, if it enrolled with one.
    dir: Option<Arc<DirLink>>,
    pending: PendingHandshakes,
    failures: Mutex<FailureLimiter>,
    unverified: Mutex<MinuteBudget>,
    live: Mutex<HashMap<UserId, mpsc::Sender<SessionCommand>>>,
    /// Every running session per peer, oldest first (bounded by
    /// `max_sessions_per_peer`; the total by `max_sessions`).
    sessions: Mutex<HashMap<UserId, VecDeque<registry::SessionEntry>>>,
    /// Per domain: when its CRL is next asked of its DIR before a
    /// handshake, and the fetch under way.
    crl_checks: Mutex<HashMap<String, crl::CrlCheck>>,
    /// Peers being dialled right now (so a second dial waits its turn).
    dialing: Mutex<HashMap<UserId, usize>>,
    /// The mail encryption keys, oldest first (docs/mail.md).
    mail_keys: std::sync::RwLock<Arc<Vec<sixchat_pki::pkcs12::EncryptionKey>>>,
    /// Bytes of mail being received over sessions right now (bounded by
    /// [`crate::services::mail_session::MAIL_BUDGET`]).
    mail_budget: Arc<std::sync::atomic::AtomicU64>,
}

/// Marks a peer as being dialled while it lives.
pub struct Dialing<'a> {
    agent: &'a Agent,
    peer: UserId,
}

impl<'a> Dialing<'a> {
    fn new(agent: &'a Agent, peer: &UserId) -> Self {
        *lock(&agent.inner.dialing).entry(peer.clone()).or_default() += 1;
        Self {
            agent,
            peer: peer.clone(),
        }
    }
}

impl Drop for Dialing<'_> {
    fn drop(&mut self) {
        let mut dialing = lock(&self.agent.inner.dialing);
        if let Some(count) = dialing.get_mut(&self.peer) {
            *count -= 1;
            if *count == 0 {
                dialing.remove(&self.peer);
            }
        }
    }
}

/// The headless User Agent. Cheap to clone.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

impl Agent {
    /// Builds an agent for an unlocked identity; returns it and its event
    /// stream. If the store knows the DIR of the identity's own domain, the
    /// agent reaches peers and leaves messages through it ([`Agent::dir`]).
    pub fn new(
        identity: UnlockedIdentity,
        store: Store,
        policy: Arc<dyn sixchat_proto::CertificatePolicy>,
        options: AgentOptions,
    ) -> (Self, mpsc::Receiver<AgentEvent>) {
        let key = Arc::new(identity.key);
        // Outboards of large shared or sent files, beside the store.
        if let Some(folder) = store.path().as_deref().and_then(std::path::Path::parent) {
            crate::files::verified::Outboard::keep_on_disk(folder.join("outboards"));
        }
        let own_dir = store.dir(identity.info.user_id.domain()).ok().flatten();
        let dir = own_dir.map(|dir| {
            Arc::new(DirLink::new(
                crate::irp::directory::Directory::new(dir, identity.chain.clone(), key.clone()),
                policy.clone(),
            ))
        });
        let local = LocalIdentity {
            user_id: identity.info.user_id.clone(),
            name: identity.info.name.clone(),
            chain: identity.chain,
            signer: key.clone(),
        };
        let mut config = Config::new(local, policy);
        // Chat, typing, file transfer (files.md) and mail receipts (mail.md).
        config.app_capabilities = ["chat", "typing", "file-transfer", "mail"]
            .map(str::to_owned)
            .to_vec();
        config.admit_new = options.admit_new;
        config.allow_anonymous_callers = options.allow_anonymous;
        let (events, receiver) = mpsc::channel(4096);
        let inner = Inner {
            store: Arc::new(Mutex::new(store)),
            config: std::sync::RwLock::new(Arc::new(config)),
            key,
            pending: PendingHandshakes::new(
                options.limits.max_pending_handshakes,
                options.limits.max_pending_per_source,
            ),
            options,
            events,
            dir,
            failures: Mutex::new(FailureLimiter::default()),
            unverified: Mutex::new(MinuteBudget::default()),
            live: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            crl_checks: Mutex::new(HashMap::new()),
            dialing: Mutex::new(HashMap::new()),
            mail_keys: std::sync::RwLock::new(Arc::new(identity.encryption)),
            mail_budget: Arc::default(),
        };
        (
            Self {
                inner: Arc::new(inner),
            },
            receiver,
        )
    }

    pub fn user_id(&self) -> UserId {
        self.config().identity.user_id.clone()
    }

    fn config(&self) -> Arc<Config> {
        self.inner
            .config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The identity key (for the DIR's TLS and for sealed envelopes).
    /// Where push offers wait for the person's answer, if anyone answers.
    pub(crate) fn offers_gate(
        &self,
    ) -> Option<&mpsc::Sender<crate::services::transfer::OfferRequest>> {
        self.inner.options.offers.as_ref()
    }

    pub fn key(&self) -> Arc<sixchat_pki::keys::IdentityKey> {
        self.inner.key.clone()
    }

    /// The certificate policy (the profile's trust store, as it is now).
    pub fn policy(&self) -> Arc<dyn sixchat_proto::CertificatePolicy> {
        self.config().policy.clone()
    }

    /// The mail encryption keys, oldest first.
    pub fn mail_keys(&self) -> Arc<Vec<sixchat_pki::pkcs12::EncryptionKey>> {
        self.inner
            .mail_keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Takes a new mail encryption key (after a renewal) beside the old ones.
    pub fn add_mail_key(&self, key: sixchat_pki::pkcs12::EncryptionKey) {
        let mut slot = self
            .inner
            .mail_keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut keys: Vec<_> = slot
            .iter()
            .filter_map(|held| {
                sixchat_pki::keys::IdentityKey::from_pkcs8_der(held.key.pkcs8_der())
                    .ok()
                    .map(|k| sixchat_pki::pkcs12::EncryptionKey {
                        key: k,
                        certificate: held.certificate.clone(),
                    })
            })
            .collect();
        keys.push(key);
        *slot = Arc::new(keys);
    }

    /// The certificate chain the agent presents, leaf first.
    pub fn chain(&self) -> Vec<Vec<u8>> {
        self.config().identity.chain.clone()
    }

    /// The profile's own DIR, if it enrolled with one.
    pub fn dir(&self) -> Option<&Arc<DirLink>> {
        self.inner.dir.as_ref()
    }

    /// Presents `chain` (a renewed certificate for the same key) from the
    /// next handshake on, to peers and to the DIR.
    pub fn replace_chain(&self, chain: Vec<Vec<u8>>) {
        if let Some(dir) = &self.inner.dir {
            dir.replace_chain(chain.clone());
        }
        let mut slot = self
            .inner
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut config = (**slot).clone();
        config.identity.chain = chain;
        *slot = Arc::new(config);
    }

    pub(crate) async fn emit(&self, event: AgentEvent) {
        let _ = self.inner.events.send(event).await;
    }

    /// Tells the person that something done with the DIR failed.
    pub(crate) async fn dir_problem(&self, what: &str, reason: &str) {
        self.emit(AgentEvent::DirProblem {
            what: what.to_owned(),
            reason: reason.to_owned(),
        })
        .await;
    }

    /// Stores a chat in the outbox (before anything goes out) and returns its id.
    pub fn queue_chat(&self, peer: &UserId, text: &str) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.inner.store).queue_outgoing(peer.as_str(), &id, &now_rfc3339(), text)?;
        Ok(id)
    }

    pub fn undelivered(&self, peer: &UserId) -> Result<usize, StoreError> {
        Ok(lock(&self.inner.store).undelivered(peer.as_str())?.len())
    }

    /// Runs `f` on the store, here (for reads and the person's own actions).
    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&lock(&self.inner.store))
    }

    /// Runs `f` on the store on the blocking pool: a `synchronous=FULL`
    /// write waits for the disk, and must not hold up an async worker.
    pub(crate) async fn write_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&lock(&store)))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    /// Tells a live session with `peer`, if there is one, to flush its outbox.
    pub async fn flush(&self, peer: &UserId) -> bool {
        self.command_live(peer, SessionCommand::Flush).await
    }

    /// Sends `message` on the live session with `peer`, if there is one.
    pub async fn send_live(&self, peer: &UserId, message: AppMessage) -> bool {
        self.command_live(peer, SessionCommand::Send(message)).await
    }

    /// Hands `command` to the live session with `peer`; false if there is none.
    async fn command_live(&self, peer: &UserId, command: SessionCommand) -> bool {
        let sender = lock(&self.inner.live).get(peer).cloned();
        match sender {
            // A session that does not take commands (its peer stopped
            // reading) must not hold up the caller for long.
            Some(sender) => registry::hand_over(&sender, command).await,
            None => false,
        }
    }

    /// The limits and options this agent runs with.
    pub(crate) fn options(&self) -> &AgentOptions {
        &self.inner.options
    }

    /// What mail coming in over sessions holds reserved now.
    pub(crate) fn mail_budget(&self) -> Arc<std::sync::atomic::AtomicU64> {
        Arc::clone(&self.inner.mail_budget)
    }

    /// The command channel of the live session with `peer`, if there is one.
    pub(crate) fn live_session(&self, peer: &UserId) -> Option<mpsc::Sender<SessionCommand>> {
        lock(&self.inner.live).get(peer).cloned()
    }

    /// Whether a session with `peer` is live.
    pub fn is_live(&self, peer: &UserId) -> bool {
        lock(&self.inner.live).contains_key(peer)
    }

    /// Claims the right to dial `peer` (held until the guard drops), unless a
    /// session with it is live or another dial holds it: a second dial would
    /// only make a second session (and ask the peer twice). Checked and taken at once.
    pub fn claim_dial(&self, peer: &UserId) -> Option<Dialing<'_>> {
        let mut dialing = lock(&self.inner.dialing);
        if dialing.contains_key(peer) || self.is_live(peer) {
            return None;
        }
        dialing.insert(peer.clone(), 1);
        Some(Dialing {
            agent: self,
            peer: peer.clone(),
        })
    }

    /// Keeps `handle`'s session until the outbox for its peer is empty, the
    /// session ends, or `limit` (if any) has passed; then closes it.
    pub async fn close_when_delivered(&self, handle: SessionHandle, limit: Option<Duration>) {
        let deadline = limit.map(|limit| tokio::time::Instant::now() + limit);
        while self.undelivered(&handle.peer).unwrap_or(0) > 0
            && !handle.is_finished()
            && deadline.is_none_or(|deadline| tokio::time::Instant::now() < deadline)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        handle.close().await;
    }
}
