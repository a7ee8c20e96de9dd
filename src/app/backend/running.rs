//! The running agent: its tasks (listener, DIR duties, event pump, the
//! incoming-chat gate, contact presence) and the commands a person gives it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sixchat_agent::agent::INCOMING_ANSWER_TIMEOUT;
use sixchat_agent::irp::directory::{self, Directory};
use sixchat_agent::presence::{self, PresenceOptions};
use sixchat_agent::relay::{ReachError, Relay};
use sixchat_agent::store::{DeliveryState, Direction, StoredMessage};
use sixchat_agent::{
    Agent, AgentEvent, AgentOptions, Answer, ConnectError, IncomingRequest, PeerCard, Profile,
    SessionHandle, UnlockedIdentity, trust,
};
use sixchat_proto::{AppMessage, UserId};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use super::Sink;
use crate::app::command::Command;
use crate::app::event::{
    ChatMessage, ContactInfo, DialStage, Event, Failure, IdentityInfo, IncomingChat, Notice,
    Presence, Task, TrustInfo,
};

/// Where the agent listens unless the settings say otherwise.
pub const DEFAULT_LISTEN: &str = "[::]:4605";
/// How often contacts' presence is asked of the DIR.
const PRESENCE_SECS: u64 = 60;
/// At most this many contacts are looked up per round.
const PRESENCE_BATCH: usize = 64;
/// The longest chat the app sends (the rest of a frame is headroom).
const MAX_CHAT_BYTES: usize = 64 * 1024;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these is a bug; the data stays usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Default)]
struct Network {
    listening: Option<String>,
    /// The listening address as bound (for the addresses others can use).
    bound: Option<SocketAddr>,
    registered: Vec<String>,
    dir_problem: Option<String>,
}

/// An Incoming Chat request waiting for the person.
struct Waiting {
    peer: String,
    /// The peer's trust level (`verified`, `known`, `new`, `anonymous`).
    level: String,
    decision: oneshot::Sender<Answer>,
}

pub(crate) struct Running {
    profile: Profile,
    agent: Agent,
    relay: Option<Arc<Relay>>,
    passphrase: Zeroizing<String>,
    sink: Sink,
    /// Outbound sessions this app opened (dropping one ends it).
    sessions: Mutex<HashMap<String, SessionHandle>>,
    /// Who each live session is with.
    cards: Mutex<HashMap<String, PeerCard>>,
    pending: Mutex<HashMap<u64, Waiting>>,
    next_request: AtomicU64,
    presence: Mutex<HashMap<String, Presence>>,
    network: Mutex<Network>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

pub(crate) fn to_chat(message: StoredMessage) -> ChatMessage {
    ChatMessage {
        sent_unix: parse_time(&message.sent),
        outgoing: message.direction == Direction::Out,
        id: message.id,
        text: message.body,
        state: message.state,
    }
}

fn parse_time(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or(0, |t| t.timestamp())
}

/// An address the person typed, if any (blank is none), read by
/// [`sixchat_agent::dial::parse_address`]; the error says what is wrong.
fn typed_address(address: Option<String>) -> Result<Option<String>, String> {
    address
        .filter(|a| !a.trim().is_empty())
        .map(|a| sixchat_agent::dial::parse_address(&a))
        .transpose()
}

fn other(e: impl std::fmt::Display) -> Failure {
    Failure::Other(e.to_string())
}

impl Running {
    pub(super) async fn start(
        profile: Profile,
        identity: UnlockedIdentity,
        passphrase: Zeroizing<String>,
        sink: Sink,
    ) -> Result<Arc<Self>, Failure> {
        let store = profile.open_store().map_err(other)?;
        let policy: Arc<dyn sixchat_proto::CertificatePolicy> =
            Arc::new(trust::LiveTrust::new(profile.open_store().map_err(other)?).map_err(other)?);
        let (gate, gate_rx) = mpsc::channel(16);
        let options = AgentOptions {
            // The person compares the code of a new peer in the Incoming Chat window.
            admit_new: true,
            incoming: Some(gate),
            ..AgentOptions::default()
        };
        let domain = identity.info.user_id.domain().to_owned();
        let (agent, events) = Agent::new(identity, store, policy.clone(), options);
        let dir = agent.with_store(|s| s.dir(&domain)).map_err(other)?;
        let relay = dir.map(|dir| {
            let directory = Directory::new(dir, agent.chain(), agent.key());
            Arc::new(Relay::new(agent.clone(), directory, policy))
        });
        let wanted = agent
            .with_store(|s| s.setting("listen"))
            .ok()
            .flatten()
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let wanted_addr: SocketAddr = wanted.parse().map_err(|_| {
            Failure::Invalid(format!("the listen address {wanted:?} is not HOST:PORT"))
        })?;
        let (listener, fallback) = match sixchat_agent::listen::bind(wanted_addr) {
            Ok(listener) => (listener, false),
            // Someone else has the port (another profile, say): take any
            // port, and keep it from now on, so the address contacts were
            // given stays right; the DIR learns it too.
            Err(_) => (
                sixchat_agent::listen::bind(SocketAddr::new(wanted_addr.ip(), 0))
                    .map_err(|e| Failure::Other(format!("cannot listen on {wanted_addr}: {e}")))?,
                true,
            ),
        };
        let listen = listener.local_addr().unwrap_or(wanted_addr);
        if fallback && wanted_addr.port() != 0 {
            agent
                .with_store(|s| s.set_setting("listen", &listen.to_string()))
                .map_err(other)?;
        }
        let (stop, _) = watch::channel(false);
        let running = Arc::new(Self {
            profile,
            agent,
            relay,
            passphrase,
            sink,
            sessions: Mutex::default(),
            cards: Mutex::default(),
            pending: Mutex::default(),
            next_request: AtomicU64::new(1),
            presence: Mutex::default(),
            network: Mutex::default(),
            stop,
            tasks: Mutex::default(),
        });
        running.spawn_tasks(listener, listen, events, gate_rx);
        let identity = running.identity_info()?;
        running
            .sink
            .emit(Event::Ready {
                identity,
                contacts: running.contacts(),
                trust: running.trust_info(),
            })
            .await;
        if fallback {
            running
                .sink
                .emit(Event::Notice(Notice::ListenFallback {
                    wanted,
                    got: listen.to_string(),
                }))
                .await;
        }
        Ok(running)
    }

    fn spawn_tasks(
        self: &Arc<Self>,
        listener: tokio::net::TcpListener,
        listen: SocketAddr,
        events: mpsc::Receiver<AgentEvent>,
        gate: mpsc::Receiver<IncomingRequest>,
    ) {
        let mut tasks = lock(&self.tasks);
        let server = self.agent.clone();
        let mut stop = self.stop.subscribe();
        tasks.push(tokio::spawn(async move {
            server
                .serve(listener, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        }));
        // With a DIR of its own, the presence loop fetches every known DIR's
        // CRL at start and keeps it current; without one (a standalone
        // identity that trusts roots added with their DIR), it is fetched
        // here, once at start.
        if self.relay.is_none() {
            let agent = self.agent.clone();
            tasks.push(tokio::spawn(async move {
                for (domain, reason) in agent.refresh_crls(Duration::from_secs(10)).await {
                    tracing::warn!(%domain, "could not refresh the CRL: {reason}");
                }
            }));
        }
        if let Some(relay) = &self.relay {
            let profile = self.profile.clone();
            let key = self.agent.key();
            let passphrase = self.passphrase.clone();
            let persist: presence::PersistChain = Box::new(move |chain| {
                profile
                    .replace_identity(&key, chain, &passphrase)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
            let mut stop = self.stop.subscribe();
            tasks.push(tokio::spawn(presence::run(
                relay.clone(),
                PresenceOptions::new(listen),
                persist,
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            )));
            tasks.push(tokio::spawn(self.clone().poll_presence()));
        }
        tasks.push(tokio::spawn(self.clone().pump(events)));
        tasks.push(tokio::spawn(self.clone().gate(gate)));
    }

    pub(super) async fn stop(&self) {
        let _ = self.stop.send(true);
        lock(&self.sessions).clear();
        let tasks: Vec<_> = lock(&self.tasks).drain(..).collect();
        let _ = tokio::time::timeout(Duration::from_secs(3), async {
            for task in tasks {
                task.abort();
                let _ = task.await;
            }
        })
        .await;
    }

    fn identity_info(&self) -> Result<IdentityInfo, Failure> {
        let (_, info) = self.profile.public_identity().map_err(other)?;
        let dir_address = self
            .agent
            .with_store(|s| s.dir(info.user_id.domain()))
            .ok()
            .flatten()
            .map(|d| d.address);
        Ok(IdentityInfo {
            user_id: info.user_id.to_string(),
            name: info.name,
            issuer: info.issuer,
            not_before_unix: info.not_before_unix,
            not_after_unix: info.not_after_unix,
            fingerprint: info.fingerprint.to_hex(),
            self_signed: info.is_self_signed,
            dir_address,
        })
    }

    fn contacts(&self) -> Vec<ContactInfo> {
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

    fn trust_info(&self) -> TrustInfo {
        self.agent.with_store(|s| TrustInfo {
            roots: s
                .roots()
                .unwrap_or_default()
                .into_iter()
                .map(|(domain, _, fingerprint)| (domain, fingerprint))
                .collect(),
            pins: s.pins().unwrap_or_default(),
        })
    }

    async fn emit_network(&self) {
        let event = {
            let network = lock(&self.network);
            let reachable = network
                .bound
                .map(|bound| {
                    presence::current_addresses(bound)
                        .iter()
                        .map(ToString::to_string)
                        .collect()
                })
                .unwrap_or_default();
            Event::Network {
                listening: network.listening.clone(),
                reachable,
                registered: network.registered.clone(),
                dir_problem: network.dir_problem.clone(),
            }
        };
        self.sink.emit(event).await;
    }

    async fn set_presence(&self, user_id: &str, presence: Presence, last_seen_unix: Option<i64>) {
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
    async fn ensure_contact(&self, user_id: &str, name: &str, certified: bool) {
        let changed = self.agent.with_store(|s| {
            let added = s.add_contact(user_id, name).unwrap_or(false);
            let renamed =
                certified && !name.is_empty() && s.rename_contact(user_id, name).unwrap_or(false);
            added || renamed
        });
        if changed {
            self.sink.emit(Event::Contacts(self.contacts())).await;
        }
    }

    /// Marks `user_id` a contact whose sessions are taken without asking
    /// (while its key is verified or pinned).
    async fn always_accept(&self, user_id: &str) -> Result<(), Failure> {
        self.agent
            .with_store(|s| {
                s.add_contact(user_id, "")?;
                s.set_always_accept(user_id, true)
            })
            .map_err(other)?;
        self.sink.emit(Event::Contacts(self.contacts())).await;
        Ok(())
    }

    /// Adds `peer` as a contact (named by its local part until a session
    /// says more), reachable at `address` if given; emits the list.
    async fn add_contact_at(&self, peer: &UserId, address: Option<&str>) -> Result<(), Failure> {
        self.agent
            .with_store(|s| {
                s.add_contact(peer.as_str(), peer.local_part())?;
                match address {
                    Some(address) => s.set_address(peer.as_str(), address),
                    None => Ok(()),
                }
            })
            .map_err(other)?;
        self.sink.emit(Event::Contacts(self.contacts())).await;
        Ok(())
    }

    /// Turns agent events into app events.
    async fn pump(self: Arc<Self>, mut events: mpsc::Receiver<AgentEvent>) {
        while let Some(event) = events.recv().await {
            match event {
                AgentEvent::Listening { addr } => {
                    {
                        let mut network = lock(&self.network);
                        network.bound = addr.parse().ok();
                        network.listening = Some(addr);
                    }
                    self.emit_network().await;
                }
                AgentEvent::SessionStarted { card, inbound, .. } => {
                    lock(&self.cards).insert(card.peer.clone(), card.clone());
                    self.ensure_contact(&card.peer, &card.name, true).await;
                    self.set_presence(&card.peer, Presence::Online, None).await;
                    self.sink
                        .emit(Event::SessionStarted { card, inbound })
                        .await;
                }
                AgentEvent::SessionConfirmed { peer, pinned } => {
                    if pinned {
                        // Pinned after the codes matched: not asked again.
                        let _ = self.always_accept(&peer).await;
                        self.sink.emit(Event::Trust(self.trust_info())).await;
                        self.sink
                            .emit(Event::Notice(Notice::Pinned {
                                user_id: peer.clone(),
                            }))
                            .await;
                    }
                    if let Some(card) = lock(&self.cards).get_mut(&peer) {
                        card.confirmed = true;
                        if pinned {
                            "known".clone_into(&mut card.level);
                        }
                    }
                    self.sink
                        .emit(Event::SessionConfirmed {
                            user_id: peer,
                            pinned,
                        })
                        .await;
                }
                AgentEvent::PeerAccepted { peer } => {
                    self.sink.emit(Event::PeerAccepted { user_id: peer }).await;
                }
                AgentEvent::SessionEnded { peer, reason } => {
                    lock(&self.sessions).remove(&peer);
                    self.sink
                        .emit(Event::SessionEnded {
                            user_id: peer.clone(),
                            reason,
                        })
                        .await;
                    lock(&self.cards).remove(&peer);
                    let now = chrono::Utc::now().timestamp();
                    self.set_presence(&peer, Presence::Offline, Some(now)).await;
                }
                AgentEvent::Chat {
                    from,
                    id,
                    sent,
                    text,
                } => {
                    let local = from.split('@').next().unwrap_or_default().to_owned();
                    self.ensure_contact(&from, &local, false).await;
                    let message = ChatMessage {
                        id,
                        outgoing: false,
                        sent_unix: parse_time(&sent),
                        text,
                        state: DeliveryState::Delivered,
                    };
                    self.sink
                        .emit(Event::Message {
                            user_id: from,
                            message,
                        })
                        .await;
                }
                AgentEvent::Sent { to, id } => self.delivery(to, id, DeliveryState::Sent).await,
                AgentEvent::Delivered { to, id } => {
                    self.delivery(to, id, DeliveryState::Delivered).await;
                }
                AgentEvent::Read { to, id } => self.delivery(to, id, DeliveryState::Read).await,
                AgentEvent::Typing { from, active } => {
                    self.sink
                        .emit(Event::Typing {
                            user_id: from,
                            active,
                        })
                        .await;
                }
                AgentEvent::Registered { addresses, .. } => {
                    {
                        let mut network = lock(&self.network);
                        network.registered = addresses
                            .split(' ')
                            .filter(|a| !a.is_empty())
                            .map(str::to_owned)
                            .collect();
                        network.dir_problem = None;
                    }
                    self.emit_network().await;
                }
                AgentEvent::Renewed { .. } => {
                    if let Ok(identity) = self.identity_info() {
                        self.sink.emit(Event::Identity(identity)).await;
                    }
                }
                AgentEvent::DirProblem { what, reason } => {
                    lock(&self.network).dir_problem = Some(format!("{what}: {reason}"));
                    self.emit_network().await;
                }
                AgentEvent::HandshakeFailed { .. }
                | AgentEvent::PeerError { .. }
                | AgentEvent::Relayed { .. } => {}
            }
        }
    }

    async fn delivery(&self, user_id: String, id: String, state: DeliveryState) {
        self.sink.emit(Event::Delivery { user_id, id, state }).await;
    }

    /// Asks the person about each inbound session, unless the contact is
    /// always accepted (as it is once the person accepted it, or pinned its
    /// key) and its key is verified or pinned.
    async fn gate(self: Arc<Self>, mut requests: mpsc::Receiver<IncomingRequest>) {
        while let Some(request) = requests.recv().await {
            let peer = request.card.peer.clone();
            let trusted = matches!(request.card.level.as_str(), "verified" | "known");
            let always = self
                .agent
                .with_store(|s| s.always_accepts(&peer))
                .unwrap_or(false);
            if trusted && always {
                let _ = request.decision.send(Answer::Accept);
                continue;
            }
            let id = self.next_request.fetch_add(1, Ordering::Relaxed);
            lock(&self.pending).insert(
                id,
                Waiting {
                    peer,
                    level: request.card.level.clone(),
                    decision: request.decision,
                },
            );
            self.sink
                .emit(Event::Incoming(IncomingChat {
                    request: id,
                    card: request.card,
                    addr: request.addr,
                }))
                .await;
            let this = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(INCOMING_ANSWER_TIMEOUT).await;
                if lock(&this.pending).remove(&id).is_some() {
                    this.sink.emit(Event::IncomingGone { request: id }).await;
                }
            });
        }
    }

    /// Asks the DIR, now and then, which contacts have a current address.
    async fn poll_presence(self: Arc<Self>) {
        let Some(relay) = self.relay.clone() else {
            return;
        };
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
                if let Ok((result, _)) = relay.lookup(&peer).await {
                    if self.agent.is_live(&peer) {
                        continue;
                    }
                    let presence = if result.record.is_some() {
                        Presence::Reachable
                    } else {
                        Presence::Offline
                    };
                    self.set_presence(&contact.user_id, presence, result.last_seen_unix)
                        .await;
                }
            }
        }
    }

    /// Handles one command; network work goes to its own task so the next
    /// command is not held up.
    pub(super) async fn handle(self: &Arc<Self>, command: Command) {
        if let Err(failure) = self.try_handle(command).await {
            self.sink.fail(None, failure).await;
        }
    }

    async fn try_handle(self: &Arc<Self>, command: Command) -> Result<(), Failure> {
        let store =
            |f: &dyn Fn(&sixchat_agent::Store) -> Result<(), sixchat_agent::store::StoreError>| {
                self.agent.with_store(|s| f(s)).map_err(other)
            };
        match command {
            Command::AddContact { user_id, address } => {
                let peer =
                    UserId::parse(user_id.trim()).map_err(|e| Failure::Invalid(e.to_string()))?;
                let address = typed_address(address).map_err(Failure::Invalid)?;
                self.add_contact_at(&peer, address.as_deref()).await?;
            }
            Command::RemoveContact { user_id } => {
                store(&|s| s.remove_contact(&user_id).map(|_| ()))?;
                self.sink.emit(Event::Contacts(self.contacts())).await;
            }
            Command::SetAlwaysAccept { user_id, always } => {
                store(&|s| s.set_always_accept(&user_id, always))?;
                self.sink.emit(Event::Contacts(self.contacts())).await;
            }
            Command::OpenConversation { user_id } => {
                let messages = self
                    .agent
                    .with_store(|s| s.history(&user_id))
                    .map_err(other)?;
                let messages = messages.into_iter().map(to_chat).collect();
                self.sink
                    .emit(Event::History {
                        user_id: user_id.clone(),
                        messages,
                    })
                    .await;
            }
            Command::MarkSeen { user_id } => {
                let ids = self
                    .agent
                    .with_store(|s| s.mark_seen(&user_id))
                    .map_err(other)?;
                if !ids.is_empty() {
                    self.sink.emit(Event::Contacts(self.contacts())).await;
                    let Ok(peer) = UserId::parse(&user_id) else {
                        return Ok(());
                    };
                    let agent = self.agent.clone();
                    tokio::spawn(async move {
                        for reference in ids {
                            let read = AppMessage::Read {
                                id: uuid::Uuid::new_v4().to_string(),
                                reference,
                            };
                            if !agent.send_live(&peer, read).await {
                                break;
                            }
                        }
                    });
                }
            }
            Command::Send { user_id, text } => self.send(user_id, text).await?,
            Command::Typing { user_id, active } => {
                if let Ok(peer) = UserId::parse(&user_id) {
                    let agent = self.agent.clone();
                    tokio::spawn(async move {
                        let typing = AppMessage::Typing {
                            id: uuid::Uuid::new_v4().to_string(),
                            active,
                        };
                        agent.send_live(&peer, typing).await;
                    });
                }
            }
            Command::Dial { user_id, address } => {
                let peer =
                    UserId::parse(user_id.trim()).map_err(|e| Failure::Invalid(e.to_string()))?;
                let address = match typed_address(address) {
                    Ok(address) => address,
                    Err(problem) => {
                        self.sink
                            .emit(Event::Dial {
                                user_id: peer.to_string(),
                                stage: DialStage::Failed(Failure::Invalid(problem)),
                            })
                            .await;
                        return Ok(());
                    }
                };
                if address.is_some() {
                    self.add_contact_at(&peer, address.as_deref()).await?;
                }
                tokio::spawn(self.clone().deliver(peer, true, address));
            }
            Command::AnswerIncoming { request, answer } => {
                let Some(Waiting {
                    peer: user_id,
                    level,
                    decision,
                }) = lock(&self.pending).remove(&request)
                else {
                    return Ok(());
                };
                let _ = decision.send(answer);
                // A verified or pinned peer the person accepted is not asked
                // again (the contact's "always accept", which they can untick).
                // A new peer whose code matched is pinned by the agent, which
                // says so (`SessionConfirmed`), and is then treated the same.
                if answer == Answer::Accept && matches!(level.as_str(), "verified" | "known") {
                    self.always_accept(&user_id).await?;
                }
            }
            Command::AnswerSession {
                user_id,
                sas,
                answer,
            } => {
                // Only the session whose code the person compared.
                let answerer = lock(&self.sessions)
                    .get(&user_id)
                    .filter(|h| h.sas == sas)
                    .map(SessionHandle::answerer);
                // A declined session sends `user_declined` and ends; its end
                // (`SessionEnded`) takes it off the map.
                let answered = match answerer {
                    Some(answerer) => answerer.answer(answer).await,
                    None => false,
                };
                if !answered {
                    return Err(Failure::Other(
                        "that session has ended; connect again".to_owned(),
                    ));
                }
            }
            Command::Unpin { user_id } => {
                store(&|s| s.unpin(&user_id).map(|_| ()))?;
                self.sink.emit(Event::Trust(self.trust_info())).await;
            }
            Command::RemoveRoot {
                domain,
                fingerprint,
            } => {
                store(&|s| s.remove_root(&domain, &fingerprint).map(|_| ()))?;
                self.sink.emit(Event::Trust(self.trust_info())).await;
            }
            Command::Renew => {
                tokio::spawn(self.clone().renew());
            }
            Command::ExportPkcs12 { path, password } => {
                if password.chars().count() < 8 {
                    return Err(Failure::Invalid(
                        "the password needs at least 8 characters".into(),
                    ));
                }
                let (key, chain, sink) = (self.agent.key(), self.agent.chain(), self.sink.clone());
                sink.emit(Event::Busy(Some(Task::Exporting))).await;
                let written = tokio::task::spawn_blocking(move || {
                    let bytes =
                        sixchat_pki::pkcs12::export(&key, &chain, &password).map_err(other)?;
                    sixchat_agent::profile::write_atomically(&path, &bytes, 0o600)
                        .map_err(other)?;
                    Ok::<_, Failure>(path)
                })
                .await
                .map_err(other)?;
                match written {
                    Ok(path) => {
                        sink.emit(Event::Busy(None)).await;
                        sink.emit(Event::Notice(Notice::Exported {
                            path: path.display().to_string(),
                        }))
                        .await;
                    }
                    Err(failure) => sink.fail(Some(Task::Exporting), failure).await,
                }
            }
            Command::Backup => {
                tokio::spawn(self.clone().backup());
            }
            Command::SetSetting { key, value } => store(&|s| s.set_setting(&key, &value))?,
            Command::Notify { title, body } => {
                tokio::task::spawn_blocking(move || crate::app::notify::show(&title, &body));
            }
            Command::ForgetPassphrase => {
                let profile = self.profile.clone();
                let _ = tokio::task::spawn_blocking(move || crate::app::keyring::forget(&profile))
                    .await;
                self.sink
                    .emit(Event::Notice(Notice::PassphraseForgotten))
                    .await;
            }
            Command::CreateIdentity { .. }
            | Command::ImportPkcs12 { .. }
            | Command::Enroll { .. }
            | Command::Unlock { .. } => {}
        }
        Ok(())
    }

    async fn send(self: &Arc<Self>, user_id: String, text: String) -> Result<(), Failure> {
        let peer = UserId::parse(&user_id).map_err(|e| Failure::Invalid(e.to_string()))?;
        // Pasted Windows text ends its lines with CR LF; the protocol's line end is LF.
        let text = text.replace("\r\n", "\n").trim_end().to_owned();
        if text.trim().is_empty() {
            return Ok(());
        }
        if let Some(problem) = sixchat_proto::text::chat_body_problem(&text) {
            return Err(Failure::Invalid(problem));
        }
        if text.len() > MAX_CHAT_BYTES {
            return Err(Failure::Invalid(format!(
                "a message may hold at most {} KiB",
                MAX_CHAT_BYTES / 1024
            )));
        }
        let id = self.agent.queue_chat(&peer, &text).map_err(other)?;
        let message = ChatMessage {
            id,
            outgoing: true,
            sent_unix: chrono::Utc::now().timestamp(),
            text,
            state: DeliveryState::Queued,
        };
        self.sink.emit(Event::Message { user_id, message }).await;
        tokio::spawn(self.clone().deliver(peer, false, None));
        Ok(())
    }

    /// Delivers the outbox for `peer`: on its live session, else by dialling
    /// it (at `address` if the person gave one, else where its DIR says, else
    /// where it was last reached), else through its DIR's store. With
    /// `report`, each stage goes to the "Connect to User" window.
    async fn deliver(self: Arc<Self>, peer: UserId, report: bool, address: Option<String>) {
        let user_id = peer.to_string();
        let stage = |stage: DialStage| {
            let sink = self.sink.clone();
            let user_id = user_id.clone();
            async move {
                if report {
                    sink.emit(Event::Dial { user_id, stage }).await;
                }
            }
        };
        if self.agent.is_live(&peer) {
            self.agent.flush(&peer).await;
            let card = lock(&self.cards).get(&user_id).cloned();
            if let Some(card) = card {
                stage(DialStage::Connected(card)).await;
            }
            return;
        }
        let Some(_dialing) = self.agent.claim_dial(&peer) else {
            // A dial under way reports its own end; a live session was flushed above.
            return;
        };
        let last = self
            .agent
            .with_store(|s| s.last_address(&user_id))
            .ok()
            .flatten();
        let reached = if let (Some(relay), None) = (&self.relay, &address) {
            stage(DialStage::LookingUp).await;
            relay.reach(&peer).await
        } else if let Some(addr) = address.or(last) {
            stage(DialStage::Connecting).await;
            self.agent.connect(&peer, &addr).await.map_err(|e| match e {
                ConnectError::Unreachable { .. } => ReachError::Unreachable {
                    reason: e.to_string(),
                    peer_cert: None,
                },
                refused @ ConnectError::Failed(_) => ReachError::Refused(refused),
            })
        } else {
            stage(DialStage::Failed(Failure::NoAddress)).await;
            return;
        };
        match reached {
            // The window learns the peer's card from the session's start.
            Ok(handle) => {
                lock(&self.sessions).insert(user_id.clone(), handle);
            }
            Err(ReachError::Refused(e)) => {
                stage(DialStage::Failed(Failure::Refused(e.to_string()))).await;
            }
            Err(ReachError::Unreachable { reason, peer_cert }) => {
                let waiting = self.agent.undelivered(&peer).unwrap_or(0);
                let relayed = match (&self.relay, waiting) {
                    (Some(relay), 1..) => {
                        let cert = match peer_cert {
                            Some(cert) => Some(cert),
                            None => relay.lookup(&peer).await.ok().map(|(_, leaf)| leaf),
                        };
                        match cert {
                            Some(cert) => relay.relay_outbox(&peer, &cert).await.is_ok(),
                            None => false,
                        }
                    }
                    _ => false,
                };
                if relayed {
                    stage(DialStage::Queued { count: waiting }).await;
                } else {
                    stage(DialStage::Failed(Failure::Unreachable(reason))).await;
                }
            }
        }
    }

    fn directory(&self) -> Result<Directory, Failure> {
        self.relay
            .as_ref()
            .map(|r| r.directory())
            .ok_or(Failure::NoDirectory)
    }

    async fn renew(self: Arc<Self>) {
        self.sink.emit(Event::Busy(Some(Task::Renewing))).await;
        let result = async {
            let directory = self.directory()?;
            let identity = self.identity_info()?;
            let key = self.agent.key();
            let chain = directory.renew(&key, &identity.name).await.map_err(other)?;
            let info = self
                .profile
                .replace_identity(&key, &chain, &self.passphrase)
                .map_err(other)?;
            self.agent.replace_chain(chain.clone());
            if let Some(relay) = &self.relay {
                relay.replace_chain(chain);
            }
            Ok::<_, Failure>(info.not_after_unix)
        }
        .await;
        match result {
            Ok(not_after_unix) => {
                self.sink.emit(Event::Busy(None)).await;
                if let Ok(identity) = self.identity_info() {
                    self.sink.emit(Event::Identity(identity)).await;
                }
                self.sink
                    .emit(Event::Notice(Notice::Renewed { not_after_unix }))
                    .await;
            }
            Err(failure) => self.sink.fail(Some(Task::Renewing), failure).await,
        }
    }

    async fn backup(self: Arc<Self>) {
        self.sink.emit(Event::Busy(Some(Task::BackingUp))).await;
        let result = async {
            let directory = self.directory()?;
            let code = directory::new_recovery_code();
            let (auth, password) = directory::recovery_values(&code);
            let (key, chain) = (self.agent.key(), self.agent.chain());
            let bytes = tokio::task::spawn_blocking(move || {
                sixchat_pki::pkcs12::export(&key, &chain, &password)
            })
            .await
            .map_err(other)?
            .map_err(other)?;
            directory.backup_put(bytes, &auth).await.map_err(other)?;
            Ok::<_, Failure>(code)
        }
        .await;
        match result {
            Ok(code) => {
                self.sink.emit(Event::Busy(None)).await;
                self.sink
                    .emit(Event::Notice(Notice::BackedUp {
                        recovery_code: code.to_string(),
                    }))
                    .await;
            }
            Err(failure) => self.sink.fail(Some(Task::BackingUp), failure).await,
        }
    }
}
