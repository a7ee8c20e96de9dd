//! The running agent: its tasks (the listener and DIR upkeep from
//! `sixchat_agent::launch`, the event pump, the Incoming Chat gate, contact
//! presence), the agent's events turned into the app's, and each feature's
//! commands handed to its file.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sixchat_agent::launch::{self, Started};
use sixchat_agent::store::DeliveryState;
use sixchat_agent::upkeep::{self, UpkeepOptions};
use sixchat_agent::{
    Agent, AgentEvent, AgentOptions, Answer, PeerCard, Profile, SessionHandle, UnlockedIdentity,
};
use sixchat_host::lock;
use sixchat_proto::TrustLevel;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use super::Sink;
use crate::app::command::Command;
use crate::app::event::{ChatMessage, Event, Failure, Notice, Presence};

/// Where the agent listens unless the settings say otherwise.
pub const DEFAULT_LISTEN: &str = "[::]:4605";

#[derive(Default)]
struct Network {
    listening: Option<String>,
    /// The listening address as bound (for the addresses others can use).
    bound: Option<SocketAddr>,
    registered: Vec<String>,
    dir_problem: Option<String>,
}

/// An Incoming Chat request waiting for the person.
pub(super) struct Waiting {
    pub(super) peer: String,
    pub(super) level: TrustLevel,
    pub(super) decision: oneshot::Sender<Answer>,
}

pub(crate) struct Running {
    pub(super) profile: Profile,
    pub(super) agent: Agent,
    pub(super) passphrase: Zeroizing<String>,
    pub(super) sink: Sink,
    /// Outbound sessions this app opened (dropping one ends it).
    pub(super) sessions: Mutex<HashMap<String, SessionHandle>>,
    /// Who each live session is with.
    pub(super) cards: Mutex<HashMap<String, PeerCard>>,
    pub(super) pending: Mutex<HashMap<u64, Waiting>>,
    pub(super) next_request: AtomicU64,
    pub(super) presence: Mutex<HashMap<String, Presence>>,
    network: Mutex<Network>,
    pub(super) stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The listener and the DIR upkeep.
    started: Mutex<Option<Started>>,
    /// Transfers under way, live speeds, offers waiting for the person.
    pub(super) files: super::files::FilesBackend,
}

pub(super) fn other(e: impl std::fmt::Display) -> Failure {
    Failure::Other(e.to_string())
}

/// Binds `wanted`; if someone else has the port (another profile, say),
/// any port on the same address, and says so (`true`).
fn bind(wanted: SocketAddr) -> Result<(tokio::net::TcpListener, bool), Failure> {
    match sixchat_agent::listen::bind(wanted) {
        Ok(listener) => Ok((listener, false)),
        Err(_) => sixchat_agent::listen::bind(SocketAddr::new(wanted.ip(), 0))
            .map(|listener| (listener, true))
            .map_err(|e| Failure::Other(format!("cannot listen on {wanted}: {e}"))),
    }
}

impl Running {
    pub(super) async fn start(
        profile: Profile,
        identity: UnlockedIdentity,
        passphrase: Zeroizing<String>,
        sink: Sink,
    ) -> Result<Arc<Self>, Failure> {
        let (gate, gate_rx) = mpsc::channel(16);
        let (offers, offers_rx) = mpsc::channel(50);
        let options = AgentOptions {
            // The person compares the code of a new peer in the Incoming Chat window.
            admit_new: true,
            incoming: Some(gate),
            // Contacts' offers wait for Accept or Decline in the conversation.
            offers: Some(offers),
            ..AgentOptions::default()
        };
        let (agent, events) = launch::open(&profile, identity, options).map_err(other)?;
        let wanted = agent
            .with_store(|s| s.setting("listen"))
            .ok()
            .flatten()
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let wanted_addr: SocketAddr = wanted.parse().map_err(|_| {
            Failure::Invalid(format!("the listen address {wanted:?} is not HOST:PORT"))
        })?;
        let (listener, fallback) = bind(wanted_addr)?;
        let started = launch::start(
            &agent,
            &profile,
            &passphrase,
            listener,
            UpkeepOptions::new(wanted_addr),
        );
        let listen = started.listening;
        if fallback && wanted_addr.port() != 0 {
            // Kept from now on, so the address contacts were given stays
            // right; the DIR learns it too.
            agent
                .with_store(|s| s.set_setting("listen", &listen.to_string()))
                .map_err(other)?;
        }
        let (stop, _) = watch::channel(false);
        let running = Arc::new(Self {
            profile,
            agent,
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
            started: Mutex::new(Some(started)),
            files: super::files::FilesBackend::default(),
        });
        {
            let mut tasks = lock(&running.tasks);
            tasks.push(tokio::spawn(running.clone().pump(events)));
            tasks.push(tokio::spawn(running.clone().gate(gate_rx)));
            tasks.push(tokio::spawn(running.clone().offers(offers_rx)));
            tasks.push(tokio::spawn(running.clone().retry_queue()));
            if running.agent.dir().is_some() {
                tasks.push(tokio::spawn(running.clone().poll_presence()));
            }
        }
        let identity = running.identity_info()?;
        running
            .sink
            .emit(Event::Ready {
                identity,
                contacts: running.contacts(),
                trust: running.trust_info(),
            })
            .await;
        running.emit_queue().await;
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

    pub(super) async fn stop(&self) {
        let _ = self.stop.send(true);
        lock(&self.sessions).clear();
        let started = lock(&self.started).take();
        if let Some(started) = started {
            started.stop(Duration::from_secs(3)).await;
        }
        let tasks: Vec<_> = lock(&self.tasks).drain(..).collect();
        let _ = tokio::time::timeout(Duration::from_secs(3), async {
            for task in tasks {
                task.abort();
                let _ = task.await;
            }
        })
        .await;
    }

    pub(super) fn set_setting(&self, key: &str, value: &str) -> Result<(), String> {
        self.agent
            .with_store(|s| s.set_setting(key, value))
            .map_err(|e| e.to_string())
    }

    async fn emit_network(&self) {
        let event = {
            let network = lock(&self.network);
            let reachable = network
                .bound
                .map(|bound| {
                    upkeep::current_addresses(bound)
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

    /// Handles one command of the running phase; each feature's go to its
    /// file. Network work goes to its own task so the next command is not
    /// held up.
    pub(super) async fn handle(self: &Arc<Self>, command: Command) {
        let handled = match command {
            Command::Contacts(command) => self.contact_command(command).await,
            Command::Chat(command) => self.chat_command(command).await,
            Command::Session(command) => self.session_command(command).await,
            Command::Identity(command) => self.identity_command(command).await,
            Command::Files(command) => self.file_command(command).await,
            Command::Mail(command) => self.mail_command(command).await,
            // Both phases' commands are handled by `backend::run`.
            Command::Setup(_) | Command::App(_) => Ok(()),
        };
        if let Err(failure) = handled {
            self.sink.fail(None, failure).await;
        }
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
                    self.session_started(card, inbound).await;
                    // A contact is reachable: what waits for it may start.
                    self.start_waiting();
                }
                AgentEvent::SessionConfirmed { peer, pinned } => {
                    self.session_confirmed(peer, pinned).await;
                }
                AgentEvent::PeerAccepted { peer } => {
                    self.sink.emit(Event::PeerAccepted { user_id: peer }).await;
                }
                AgentEvent::SessionEnded { peer, reason } => {
                    self.session_ended(peer, reason.to_string()).await;
                }
                AgentEvent::Chat {
                    from,
                    id,
                    sent,
                    text,
                } => self.chat_arrived(from, id, &sent, text).await,
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
                        network.registered = addresses.iter().map(ToString::to_string).collect();
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
                event @ (AgentEvent::TransferStarted { .. }
                | AgentEvent::TransferProgress { .. }
                | AgentEvent::TransferEnded { .. }) => self.receiving(event).await,
                AgentEvent::QueuedTransferEnded { .. } => self.emit_queue().await,
                AgentEvent::HandshakeFailed { .. }
                | AgentEvent::PeerError { .. }
                | AgentEvent::Relayed { .. }
                | AgentEvent::FileOffered { .. }
                | AgentEvent::FileReceived { .. } => {}
            }
        }
    }

    /// Starts waiting transfers now and then (a contact may have come
    /// online without a session with this agent).
    async fn retry_queue(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            self.start_waiting();
        }
    }

    /// A contact's offer this side accepted, as a row of the queue panel.
    async fn receiving(&self, event: AgentEvent) {
        {
            let mut receiving = lock(&self.files.receiving);
            match event {
                AgentEvent::TransferStarted {
                    peer,
                    transfer,
                    files,
                    bytes,
                    resumed,
                } => {
                    let incoming = self
                        .agent
                        .with_store(|s| s.setting("incoming"))
                        .ok()
                        .flatten()
                        .unwrap_or_default();
                    receiving.insert(
                        transfer.clone(),
                        crate::app::event::QueueRow {
                            id: transfer,
                            source: peer.clone(),
                            peer,
                            kind: "receive".into(),
                            destination: incoming,
                            state: "running".into(),
                            files,
                            bytes,
                            verified: resumed,
                            speed: 0.0,
                            reason: String::new(),
                        },
                    );
                }
                AgentEvent::TransferProgress {
                    transfer, verified, ..
                } => {
                    if let Some(row) = receiving.get_mut(&transfer) {
                        row.verified = verified;
                    }
                }
                AgentEvent::TransferEnded {
                    transfer,
                    complete,
                    reason,
                    ..
                } => {
                    if let Some(row) = receiving.get_mut(&transfer) {
                        row.state = if complete { "done" } else { "failed" }.into();
                        if complete {
                            row.verified = row.bytes;
                        }
                        row.reason = reason;
                    }
                }
                _ => {}
            }
        }
        self.emit_queue().await;
    }

    async fn delivery(&self, user_id: String, id: String, state: DeliveryState) {
        self.sink.emit(Event::Delivery { user_id, id, state }).await;
    }

    pub(super) async fn emit_message(&self, user_id: String, message: ChatMessage) {
        self.sink.emit(Event::Message { user_id, message }).await;
    }
}
