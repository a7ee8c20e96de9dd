//! The agent: a listener and a dialer, one task per session, the outbox with
//! exactly-once delivery, and a bounded stream of [`AgentEvent`]s for whoever
//! drives it (sixchat-cli prints them; the desktop app draws them).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sixchat_proto::session::{Role, SessionEvent};
use sixchat_proto::{
    AlertCode, AppMessage, Config, Established, HandshakeError, LocalIdentity, TrustLevel, UserId,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::conn::{self, Conn, ConnError};
use crate::limits::{FailureLimiter, Limits, MinuteBudget, PendingHandshakes, PendingTicket};
use crate::profile::UnlockedIdentity;
use crate::store::{DeliveryState, Store, StoreError};

/// Something that happened, for the person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AgentEvent {
    Listening {
        addr: String,
    },
    SessionStarted {
        #[serde(flatten)]
        card: PeerCard,
        addr: String,
        inbound: bool,
    },
    SessionEnded {
        peer: String,
        reason: String,
    },
    /// The person compared the code of a `new` or `anonymous` peer and
    /// accepted: data flows now (`pinned`: its key is pinned, it is `known`).
    SessionConfirmed {
        peer: String,
        pinned: bool,
    },
    /// The first message from the peer on a session this agent dialled: its
    /// person accepted (until then the peer may still be deciding).
    PeerAccepted {
        peer: String,
    },
    HandshakeFailed {
        addr: String,
        inbound: bool,
        reason: String,
    },
    Chat {
        from: String,
        id: String,
        sent: String,
        text: String,
    },
    /// An outbox message was written to a live session.
    Sent {
        to: String,
        id: String,
    },
    Delivered {
        to: String,
        id: String,
    },
    Read {
        to: String,
        id: String,
    },
    Typing {
        from: String,
        active: bool,
    },
    PeerError {
        from: String,
        reference: String,
        reason: String,
    },
    /// The agent's addresses were registered with its DIR.
    Registered {
        addresses: String,
        expires: i64,
    },
    /// The certificate was renewed by the DIR.
    Renewed {
        not_after: i64,
    },
    /// Messages for an unreachable peer were left in its DIR's store.
    Relayed {
        to: String,
        count: usize,
    },
    /// Something done with the DIR failed (it is retried later).
    DirProblem {
        what: String,
        reason: String,
    },
}

/// Who a session is with, as the person should see it before trusting it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerCard {
    pub peer: String,
    pub name: String,
    /// `verified`, `known`, `new` or `anonymous`.
    pub level: String,
    /// The short authentication string, `012 345`.
    pub sas: String,
    /// SHA-256 of the peer's leaf certificate, hex (empty when anonymous).
    pub fingerprint: String,
    pub issuer: String,
    /// Validity of the peer's certificate, Unix seconds (0 when anonymous).
    pub not_before: i64,
    pub not_after: i64,
    /// Whether data may flow: always for `verified` and `known`; for `new`
    /// and `anonymous` once the person compared the code and accepted.
    pub confirmed: bool,
}

impl PeerCard {
    /// `new` or `anonymous`: only the code the two people compare says who
    /// this is.
    pub fn needs_code_comparison(&self) -> bool {
        matches!(self.level.as_str(), "new" | "anonymous")
    }

    /// Whether the person must still compare the code before data flows.
    pub fn awaits_code(&self) -> bool {
        !self.confirmed && self.needs_code_comparison()
    }

    fn of(established: &Established) -> Self {
        let peer = &established.peer;
        let certificate = peer.certificate.as_ref();
        Self {
            peer: peer.user_id.to_string(),
            // The name and issuer are the peer's words, shown where the
            // person decides: no line breaks or bidi controls to forge lines.
            name: sixchat_proto::escape_controls(&peer.name).into_owned(),
            level: peer.level.to_string(),
            sas: established.sas.clone(),
            fingerprint: certificate
                .map(|c| c.fingerprint.to_hex())
                .unwrap_or_default(),
            issuer: certificate
                .map(|c| sixchat_proto::escape_controls(&c.issuer).into_owned())
                .unwrap_or_default(),
            not_before: certificate.map_or(0, |c| c.not_before_unix),
            not_after: certificate.map_or(0, |c| c.not_after_unix),
            confirmed: established.session.is_confirmed(),
        }
    }
}

/// A peer that completed the handshake as initiator and waits for the
/// person to accept the session ([`AgentOptions::incoming`]).
#[derive(Debug)]
pub struct IncomingRequest {
    pub card: PeerCard,
    pub addr: String,
    /// The person's answer; dropping it (or no answer within
    /// [`INCOMING_ANSWER_TIMEOUT`]) declines.
    pub decision: tokio::sync::oneshot::Sender<Answer>,
}

/// What the person said about a session: at an incoming request, or (for a
/// dialled `new` or `anonymous` peer) once they compared the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// End the session with `user_declined`.
    Decline,
    /// Take the session. For a `new` or `anonymous` peer this is "Accept
    /// once": the codes were compared, nothing is remembered.
    Accept,
    /// "The codes match": take the session and pin the peer's certificate
    /// for its UserID (a `new` peer becomes `known`). For other levels it is
    /// [`Answer::Accept`].
    AcceptAndPin,
}

/// How long an incoming session waits for the person's answer.
pub const INCOMING_ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a handshake waits, in all, for fresh CRLs (then the CRLs held count).
const CRL_WAIT_LIMIT: Duration = Duration::from_secs(2);
/// How long one CRL fetch before a handshake may take (it runs on after the
/// handshake stopped waiting for it).
const CRL_FETCH_LIMIT: Duration = Duration::from_secs(10);
/// A DIR that did not give its CRL is not asked again before a handshake for
/// this long (an agent offline from its DIR does not wait at every handshake;
/// the CRL held counts until its nextUpdate).
const CRL_RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// A running session as the caps count it.
struct SessionEntry {
    sender: mpsc::Sender<SessionCommand>,
    /// Asks the session to close (it still counts until it has ended).
    close: Arc<tokio::sync::Notify>,
    closing: bool,
}

/// A session's place among the running ones; dropping it (when the session
/// task ends or is aborted) takes the session off the live map and the caps.
struct Registration {
    agent: Agent,
    peer: UserId,
    sender: mpsc::Sender<SessionCommand>,
    close: Arc<tokio::sync::Notify>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.agent.unregister(&self.peer, &self.sender);
    }
}

/// Longest a caller waits for a session to take a command.
const COMMAND_WAIT: Duration = Duration::from_secs(1);

/// One domain's CRL freshness.
struct CrlCheck {
    /// No fetch starts before this.
    next_due: Instant,
    /// Becomes `true` when the fetch under way ends.
    in_flight: Option<tokio::sync::watch::Receiver<bool>>,
}

/// What the agent may be told to do with a live session.
#[derive(Debug)]
pub enum SessionCommand {
    /// Send what waits in the outbox for this peer (in order).
    Flush,
    /// Send one message that is not stored (typing, read receipts); dropped
    /// if the session did not agree its capability.
    Send(AppMessage),
    /// Say `bye` and close.
    Close,
    /// The person compared the code of a `new` or `anonymous` peer:
    /// [`Answer::Accept`] or [`Answer::AcceptAndPin`] lets data flow,
    /// [`Answer::Decline`] ends the session with `user_declined`.
    Answer(Answer),
}

/// Options a person sets.
#[derive(Debug, Clone, Default)]
pub struct AgentOptions {
    /// Let self-signed, unpinned peers through to the person (who compares the code).
    pub admit_new: bool,
    /// Accept anonymous callers.
    pub allow_anonymous: bool,
    pub limits: Limits,
    /// When set, every inbound session waits here for the person's answer
    /// before anything it sends is read (the desktop app's Incoming Chat).
    pub incoming: Option<mpsc::Sender<IncomingRequest>>,
}

/// Why a dial did not give a session.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot reach {addr}: {source}")]
    Unreachable {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(ConnError),
}

struct Inner {
    store: Mutex<Store>,
    config: std::sync::RwLock<Arc<Config>>,
    key: Arc<sixchat_pki::keys::IdentityKey>,
    options: AgentOptions,
    events: mpsc::Sender<AgentEvent>,
    pending: PendingHandshakes,
    failures: Mutex<FailureLimiter>,
    unverified: Mutex<MinuteBudget>,
    live: Mutex<HashMap<UserId, mpsc::Sender<SessionCommand>>>,
    /// Every running session per peer, oldest first (bounded by
    /// `max_sessions_per_peer`; the total by `max_sessions`).
    sessions: Mutex<HashMap<UserId, VecDeque<SessionEntry>>>,
    /// Per domain: when its CRL is next asked of its DIR before a
    /// handshake, and the fetch under way (see [`Agent::freshen_crls`]).
    crl_checks: Mutex<HashMap<String, CrlCheck>>,
    /// Peers being dialled right now (so a second dial waits its turn).
    dialing: Mutex<HashMap<UserId, usize>>,
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

/// A live outbound session; dropping it ends the session task.
pub struct SessionHandle {
    pub peer: UserId,
    pub level: TrustLevel,
    pub sas: String,
    commands: mpsc::Sender<SessionCommand>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SessionHandle {
    /// Asks the session to send what waits in the outbox.
    pub async fn flush(&self) {
        let _ = self.commands.send(SessionCommand::Flush).await;
    }

    /// Says `bye`, closes, and waits (briefly) for the task to end.
    pub async fn close(mut self) {
        let _ = self.commands.send(SessionCommand::Close).await;
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    pub fn is_finished(&self) -> bool {
        self.task
            .as_ref()
            .is_none_or(tokio::task::JoinHandle::is_finished)
    }

    /// Where the person's answer about this session's `new` or `anonymous`
    /// peer goes (cheap to clone; outlives no session).
    pub fn answerer(&self) -> Answerer {
        Answerer(self.commands.clone())
    }
}

/// Gives a dialled session the person's answer after they compared the code.
#[derive(Clone)]
pub struct Answerer(mpsc::Sender<SessionCommand>);

impl Answerer {
    /// Passes `answer` to the session; false if it has ended.
    pub async fn answer(&self, answer: Answer) -> bool {
        matches!(
            tokio::time::timeout(COMMAND_WAIT, self.0.send(SessionCommand::Answer(answer))).await,
            Ok(Ok(()))
        )
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Seals one application message for the session's peer and writes it.
async fn send_message(
    conn: &mut Conn,
    established: &mut Established,
    message: &AppMessage,
) -> Result<(), String> {
    let bytes = established
        .session
        .seal_application(&message.to_xml())
        .map_err(|e| e.to_string())?;
    conn.write(&bytes).await.map_err(|e| e.to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks is a bug; the data stays usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The current time as RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Agent {
    /// Builds an agent for an unlocked identity; returns it and its event stream.
    pub fn new(
        identity: UnlockedIdentity,
        store: Store,
        policy: Arc<dyn sixchat_proto::CertificatePolicy>,
        options: AgentOptions,
    ) -> (Self, mpsc::Receiver<AgentEvent>) {
        let key = Arc::new(identity.key);
        let local = LocalIdentity {
            user_id: identity.info.user_id.clone(),
            name: identity.info.name.clone(),
            chain: identity.chain,
            signer: key.clone(),
        };
        let mut config = Config::new(local, policy);
        config.admit_new = options.admit_new;
        config.allow_anonymous_callers = options.allow_anonymous;
        let (events, receiver) = mpsc::channel(4096);
        let inner = Inner {
            store: Mutex::new(store),
            config: std::sync::RwLock::new(Arc::new(config)),
            key,
            pending: PendingHandshakes::new(
                options.limits.max_pending_handshakes,
                options.limits.max_pending_per_source,
            ),
            options,
            events,
            failures: Mutex::new(FailureLimiter::default()),
            unverified: Mutex::new(MinuteBudget::default()),
            live: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            crl_checks: Mutex::new(HashMap::new()),
            dialing: Mutex::new(HashMap::new()),
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
    pub fn key(&self) -> Arc<sixchat_pki::keys::IdentityKey> {
        self.inner.key.clone()
    }

    /// The certificate chain the agent presents, leaf first.
    pub fn chain(&self) -> Vec<Vec<u8>> {
        self.config().identity.chain.clone()
    }

    /// Presents `chain` (a renewed certificate for the same key) from the
    /// next handshake on.
    pub fn replace_chain(&self, chain: Vec<Vec<u8>>) {
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

    /// Stores a chat in the outbox (before anything goes out) and returns its id.
    pub fn queue_chat(&self, peer: &UserId, text: &str) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.inner.store).queue_outgoing(peer.as_str(), &id, &now_rfc3339(), text)?;
        Ok(id)
    }

    pub fn undelivered(&self, peer: &UserId) -> Result<usize, StoreError> {
        Ok(lock(&self.inner.store).undelivered(peer.as_str())?.len())
    }

    /// Runs `f` on the store.
    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&lock(&self.inner.store))
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
            Some(sender) => matches!(
                tokio::time::timeout(COMMAND_WAIT, sender.send(command)).await,
                Ok(Ok(()))
            ),
            None => false,
        }
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

    /// Dials `addr`, completes the handshake as initiator to `peer`, and starts
    /// the session task (which first delivers the outbox, in order).
    pub async fn connect(&self, peer: &UserId, addr: &str) -> Result<SessionHandle, ConnectError> {
        let _dialing = Dialing::new(self, peer);
        let unreachable = |source| ConnectError::Unreachable {
            addr: addr.to_owned(),
            source,
        };
        let stream = tokio::time::timeout(
            self.inner.options.limits.handshake_timeout,
            TcpStream::connect(addr),
        )
        .await
        .map_err(|_| {
            unreachable(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            ))
        })?
        .map_err(unreachable)?;
        self.connect_stream(peer, stream, addr).await
    }

    /// Dials every address (IPv6 first, alternating families, each started
    /// [`crate::dial::ATTEMPT_DELAY`] after the last unless it failed sooner:
    /// Happy Eyeballs), keeps the first TCP connection, and runs the handshake
    /// on it.
    pub async fn connect_any(
        &self,
        peer: &UserId,
        addrs: &[SocketAddr],
    ) -> Result<SessionHandle, ConnectError> {
        let _dialing = Dialing::new(self, peer);
        let (stream, addr) =
            crate::dial::happy_eyeballs(addrs, self.inner.options.limits.handshake_timeout)
                .await
                .map_err(|source| ConnectError::Unreachable {
                    addr: addrs
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    source,
                })?;
        self.connect_stream(peer, stream, &addr.to_string()).await
    }

    /// Runs the initiator's handshake on a connected stream.
    pub async fn connect_stream(
        &self,
        peer: &UserId,
        stream: TcpStream,
        addr: &str,
    ) -> Result<SessionHandle, ConnectError> {
        let mut conn = Conn::new(stream);
        let deadlines = self.deadlines();
        let fresh_crls = self.freshen_crls(Some(peer.domain()));
        let initiated = conn::initiate(
            &mut conn,
            self.config(),
            peer.clone(),
            false,
            deadlines,
            fresh_crls,
        )
        .await;
        let established = match initiated {
            Ok(established) => established,
            Err(err) => {
                self.emit(AgentEvent::HandshakeFailed {
                    addr: addr.to_owned(),
                    inbound: false,
                    reason: err.to_string(),
                })
                .await;
                return Err(ConnectError::Failed(err));
            }
        };
        let level = established.peer.level;
        if !level.needs_sas_confirmation() {
            // A new peer's address is kept once the person accepted its code.
            let _ = lock(&self.inner.store).remember_address(peer.as_str(), addr);
        }
        let sas = established.sas.clone();
        let Some((registration, receiver)) = self.register(peer) else {
            let mut established = established;
            let _ = conn
                .write(&established.session.seal_alert(AlertCode::CloseNotify))
                .await;
            return Err(ConnectError::Failed(ConnError::Handshake(
                HandshakeError::local(AlertCode::CloseNotify, "too many sessions are open"),
            )));
        };
        self.announce(&established, addr, false).await;
        let agent = self.clone();
        let commands = registration.sender.clone();
        let task = tokio::spawn(async move {
            agent
                .run_session(conn, established, registration, receiver)
                .await;
        });
        Ok(SessionHandle {
            peer: peer.clone(),
            level,
            sas,
            commands,
            task: Some(task),
        })
    }

    async fn announce(&self, established: &Established, addr: &str, inbound: bool) {
        let _ = lock(&self.inner.store).touch_peer(established.peer.user_id.as_str());
        self.emit(AgentEvent::SessionStarted {
            card: PeerCard::of(established),
            addr: addr.to_owned(),
            inbound,
        })
        .await;
    }

    /// Asks the person (if the options say so) whether to take this session.
    /// With no one to ask, `known` and `verified` peers are taken and `new`
    /// or `anonymous` ones declined (nobody could compare their code).
    async fn ask(&self, established: &Established, source: SocketAddr) -> Answer {
        let Some(gate) = &self.inner.options.incoming else {
            return if established.peer.level.needs_sas_confirmation() {
                Answer::Decline
            } else {
                Answer::Accept
            };
        };
        let (decision, answer) = tokio::sync::oneshot::channel();
        let request = IncomingRequest {
            card: PeerCard::of(established),
            addr: source.to_string(),
            decision,
        };
        if gate.send(request).await.is_err() {
            return Answer::Decline;
        }
        match tokio::time::timeout(INCOMING_ANSWER_TIMEOUT, answer).await {
            Ok(Ok(answer)) => answer,
            _ => Answer::Decline,
        }
    }

    /// The person accepted a `new` or `anonymous` peer after comparing the
    /// code: pins its certificate if they said the codes match, and lets
    /// data flow. Returns what the peer sent meanwhile, and whether the key
    /// was pinned.
    fn confirm(
        &self,
        established: &mut Established,
        answer: Answer,
    ) -> Result<(Vec<SessionEvent>, bool), String> {
        let mut pinned = false;
        if answer == Answer::AcceptAndPin && established.peer.level == TrustLevel::New {
            if let Some(certificate) = &established.peer.certificate {
                let user = established.peer.user_id.as_str();
                let fingerprint = certificate.fingerprint.to_hex();
                let store = lock(&self.inner.store);
                // Another key pinned for this UserID since the handshake (a
                // second prompt answered first): this one does not replace it.
                let pinned_now = store
                    .pins()
                    .map_err(|e| format!("could not read the pins: {e}"))?
                    .into_iter()
                    .any(|(u, f)| u == user && f != fingerprint);
                if pinned_now {
                    return Err(format!("another key is pinned for {user} now"));
                }
                store
                    .pin(user, &fingerprint)
                    .map_err(|e| format!("could not pin the key: {e}"))?;
                drop(store);
                established.peer.level = TrustLevel::Known;
                pinned = true;
            }
        }
        Ok((established.session.confirm_peer(), pinned))
    }

    /// Accepts connections until `shutdown` completes, then ends every session.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        if let Ok(addr) = listener.local_addr() {
            self.emit(AgentEvent::Listening {
                addr: addr.to_string(),
            })
            .await;
        }
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => {
                    let Ok((stream, source)) = accepted else { continue };
                    if let Some((agent, ticket)) = self.admit(source) {
                        tasks.spawn(async move { agent.accept(stream, source, ticket).await });
                    }
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        let senders: Vec<_> = lock(&self.inner.live).values().cloned().collect();
        for sender in senders {
            let _ = sender.try_send(SessionCommand::Close);
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();
    }

    /// A handshake slot for a caller from `source`, unless it failed too
    /// often or its source holds too many (see [`PendingHandshakes`]).
    fn admit(&self, source: SocketAddr) -> Option<(Self, PendingTicket)> {
        let now = Instant::now();
        let blocked = lock(&self.inner.failures).is_blocked(
            source.ip(),
            self.inner.options.limits.max_failures_per_minute,
            now,
        );
        if blocked {
            return None;
        }
        let ticket = self.inner.pending.admit(source.ip(), now)?;
        Some((self.clone(), ticket))
    }

    fn deadlines(&self) -> conn::Deadlines {
        let limits = &self.inner.options.limits;
        conn::Deadlines {
            whole: limits.handshake_timeout,
            first_message: limits.first_message_timeout.min(limits.handshake_timeout),
            next_message: limits.message_timeout.min(limits.handshake_timeout),
        }
    }

    /// Fetches the CRL of every DIR the profile knows (their own DIR and the
    /// roots added with `--dir`), each within `limit`, and stores it; returns
    /// the domains that failed, with why. A failure leaves the CRL held
    /// before in place (it still counts until its nextUpdate).
    pub async fn refresh_crls(&self, limit: Duration) -> Vec<(String, String)> {
        let dirs = match lock(&self.inner.store).dirs() {
            Ok(dirs) => dirs,
            Err(e) => return vec![(String::new(), e.to_string())],
        };
        let mut failed = Vec::new();
        for dir in dirs {
            let stored =
                crate::irp::directory::fetch_and_store_crl(&self.inner.store, &dir, limit).await;
            match stored {
                Ok(()) => {
                    // Fresh now: the next handshake need not ask again.
                    let due = Instant::now() + self.inner.options.limits.crl_recheck_after;
                    lock(&self.inner.crl_checks)
                        .entry(dir.domain)
                        .and_modify(|check| check.next_due = check.next_due.max(due))
                        .or_insert(CrlCheck {
                            next_due: due,
                            in_flight: None,
                        });
                }
                Err(reason) => failed.push((dir.domain, reason)),
            }
        }
        failed
    }

    /// Revocation counts within seconds: when a handshake starts, the CRL of
    /// the peer's domain (of every known DIR for a caller, whose domain is
    /// not known yet) is asked of its DIR again if the one held is older than
    /// `crl_recheck_after`. The fetches run as tasks of their own, one per
    /// domain at a time and at most one per `crl_recheck_after` however many
    /// handshakes start (a caller that hangs up cancels nothing); the
    /// returned future resolves when they are done, and the handshake waits
    /// for it, at most [`CRL_WAIT_LIMIT`], before it judges the peer's
    /// certificate. A DIR that does not answer leaves the CRL held in force
    /// (it still counts until its nextUpdate) and is not asked again for
    /// [`CRL_RETRY_AFTER_FAILURE`].
    fn freshen_crls(&self, domain: Option<&str>) -> impl std::future::Future<Output = ()> + use<> {
        let dirs = {
            let store = lock(&self.inner.store);
            match domain {
                Some(domain) => store.dir(domain).ok().flatten().into_iter().collect(),
                None => store.dirs().unwrap_or_default(),
            }
        };
        let max_age = self.inner.options.limits.crl_recheck_after;
        let mut waits = Vec::new();
        {
            let mut checks = lock(&self.inner.crl_checks);
            let now = Instant::now();
            for dir in dirs {
                let check = checks.entry(dir.domain.clone()).or_insert(CrlCheck {
                    next_due: now,
                    in_flight: None,
                });
                if let Some(done) = check.in_flight.as_ref().filter(|done| !*done.borrow()) {
                    waits.push(done.clone());
                    continue;
                }
                if now < check.next_due {
                    continue;
                }
                let (finished, done) = tokio::sync::watch::channel(false);
                check.in_flight = Some(done.clone());
                check.next_due = now + max_age;
                waits.push(done);
                let agent = self.clone();
                tokio::spawn(async move {
                    let stored = crate::irp::directory::fetch_and_store_crl(
                        &agent.inner.store,
                        &dir,
                        CRL_FETCH_LIMIT,
                    )
                    .await;
                    if let Err(e) = stored {
                        tracing::info!(domain = %dir.domain, "CRL recheck failed: {e}");
                        if let Some(check) = lock(&agent.inner.crl_checks).get_mut(&dir.domain) {
                            check.next_due = Instant::now() + CRL_RETRY_AFTER_FAILURE;
                        }
                    }
                    let _ = finished.send(true);
                });
            }
        }
        async move {
            let _ = tokio::time::timeout(CRL_WAIT_LIMIT, async {
                for mut done in waits {
                    let _ = done.wait_for(|finished| *finished).await;
                }
            })
            .await;
        }
    }

    async fn accept(self, stream: TcpStream, source: SocketAddr, ticket: PendingTicket) {
        let mut conn = Conn::new(stream);
        let deadlines = self.deadlines();
        let fresh_crls = self.freshen_crls(None);
        let handshake = conn::respond(
            &mut conn,
            self.config(),
            deadlines,
            ticket.spoke(),
            fresh_crls,
        );
        let result = tokio::select! {
            result = handshake => result,
            () = ticket.evicted() => {
                // Evicted for a newcomer: it counts as a failure of its source.
                lock(&self.inner.failures).record_failure(source.ip(), Instant::now());
                tracing::debug!(%source, "silent caller evicted for a newcomer");
                return;
            }
        };
        drop(ticket);
        let established = match result {
            Ok(established) => established,
            Err(err) => {
                lock(&self.inner.failures).record_failure(source.ip(), Instant::now());
                tracing::info!(%source, "inbound handshake failed: {err}");
                self.emit(AgentEvent::HandshakeFailed {
                    addr: source.to_string(),
                    inbound: true,
                    reason: err.to_string(),
                })
                .await;
                return;
            }
        };
        if established.peer.level.needs_sas_confirmation() {
            let admitted = lock(&self.inner.unverified).try_take(
                self.inner.options.limits.max_unverified_sessions_per_minute,
                Instant::now(),
            );
            if !admitted {
                let mut established = established;
                let _ = conn
                    .write(&established.session.seal_alert(AlertCode::UserDeclined))
                    .await;
                return;
            }
        }
        let mut established = established;
        let answer = self.ask(&established, source).await;
        if answer == Answer::Decline {
            let _ = conn.write(&established.session.decline()).await;
            return;
        }
        let mut confirmed_now = None;
        if !established.session.is_confirmed() {
            // Nothing was read since the handshake: nothing is held.
            match self.confirm(&mut established, answer) {
                Ok((_, pinned)) => confirmed_now = Some(pinned),
                Err(e) => {
                    tracing::warn!("{e}");
                    let _ = conn
                        .write(&established.session.seal_alert(AlertCode::InternalError))
                        .await;
                    return;
                }
            }
        }
        let Some((registration, receiver)) = self.register(&established.peer.user_id) else {
            let mut established = established;
            let _ = conn
                .write(&established.session.seal_alert(AlertCode::CloseNotify))
                .await;
            return;
        };
        self.announce(&established, &source.to_string(), true).await;
        if let Some(pinned) = confirmed_now {
            self.emit(AgentEvent::SessionConfirmed {
                peer: established.peer.user_id.to_string(),
                pinned,
            })
            .await;
        }
        self.run_session(conn, established, registration, receiver)
            .await;
    }

    /// Makes a session's command channel and registers it as the live session
    /// with `peer`, so flushes from elsewhere (a queued chat, the desktop app)
    /// reach it. A peer over `max_sessions_per_peer` has its oldest session
    /// asked to close (it counts until it has ended); over `max_sessions` in
    /// all, the new one is refused (`None`).
    fn register(&self, peer: &UserId) -> Option<(Registration, mpsc::Receiver<SessionCommand>)> {
        let limits = &self.inner.options.limits;
        let per_peer = limits.max_sessions_per_peer.max(1);
        let (sender, receiver) = mpsc::channel(64);
        let close = Arc::new(tokio::sync::Notify::new());
        {
            let mut sessions = lock(&self.inner.sessions);
            let total: usize = sessions.values().map(VecDeque::len).sum();
            if total >= limits.max_sessions {
                return None;
            }
            let queue = sessions.entry(peer.clone()).or_default();
            queue.push_back(SessionEntry {
                sender: sender.clone(),
                close: close.clone(),
                closing: false,
            });
            let mut open = queue.iter().filter(|e| !e.closing).count();
            for entry in queue.iter_mut() {
                if open <= per_peer {
                    break;
                }
                if !entry.closing {
                    entry.closing = true;
                    entry.close.notify_one();
                    open -= 1;
                }
            }
        }
        lock(&self.inner.live).insert(peer.clone(), sender.clone());
        let registration = Registration {
            agent: self.clone(),
            peer: peer.clone(),
            sender,
            close,
        };
        Some((registration, receiver))
    }

    fn unregister(&self, peer: &UserId, own_sender: &mpsc::Sender<SessionCommand>) {
        // Unless a newer session with the same peer took the live slot.
        let mut live = lock(&self.inner.live);
        if live
            .get(peer)
            .is_some_and(|sender| sender.same_channel(own_sender))
        {
            live.remove(peer);
        }
        drop(live);
        let mut sessions = lock(&self.inner.sessions);
        if let Some(queue) = sessions.get_mut(peer) {
            queue.retain(|entry| !entry.sender.same_channel(own_sender));
            if queue.is_empty() {
                sessions.remove(peer);
            }
        }
    }

    /// One session: delivers the outbox, stores what arrives, answers receipts.
    async fn run_session(
        self,
        mut conn: Conn,
        mut established: Box<Established>,
        registration: Registration,
        mut commands: mpsc::Receiver<SessionCommand>,
    ) {
        let peer = established.peer.user_id.clone();
        let mut sent_here: HashSet<String> = HashSet::new();
        // A dialled peer's person may still be deciding; its first message says it accepted.
        let mut awaiting_peer = established.session.role() == Role::Initiator;
        let started = self
            .start_flow(&mut conn, &mut established, &mut sent_here, awaiting_peer)
            .await;
        // A dialled new or anonymous peer whose code the person does not
        // answer in time is declined: it holds the peer's live slot meanwhile.
        let answer_by = tokio::time::Instant::now() + INCOMING_ANSWER_TIMEOUT;
        let reason = if let Err(e) = started {
            e
        } else {
            let idle = self.inner.options.limits.idle_timeout;
            loop {
                let unanswered = !established.session.is_confirmed();
                let command = tokio::select! {
                    () = tokio::time::sleep_until(answer_by), if unanswered => {
                        let _ = conn.write(&established.session.decline()).await;
                        break "the code was not compared in time".into();
                    }
                    frame = tokio::time::timeout(idle, conn.next_frame()) => {
                        match frame {
                            Err(_) => {
                                let _ = conn.write(&established.session.seal_alert(AlertCode::CloseNotify)).await;
                                break "idle".into();
                            }
                            Ok(Ok(Some(frame))) => {
                                match self.on_frame(&mut conn, &mut established, &frame, &mut awaiting_peer).await {
                                    Ok(true) => continue,
                                    Ok(false) => break "the peer closed the session".into(),
                                    Err(e) => break e,
                                }
                            }
                            Ok(Ok(None)) => break "the peer closed the connection".into(),
                            Ok(Err(e)) => {
                                if matches!(e, ConnError::Frame(_)) {
                                    let _ = conn.write(&established.session.seal_alert(AlertCode::DecodeError)).await;
                                }
                                break e.to_string();
                            }
                        }
                    }
                    command = commands.recv() => command,
                    () = registration.close.notified() => Some(SessionCommand::Close),
                };
                match command {
                    Some(SessionCommand::Send(message)) => {
                        let agreed = message
                            .required_capabilities()
                            .iter()
                            .all(|c| established.session.has_capability(c));
                        if !agreed || !established.session.is_confirmed() {
                            continue;
                        }
                        if let Err(e) = send_message(&mut conn, &mut established, &message).await {
                            break e;
                        }
                    }
                    Some(SessionCommand::Flush) => {
                        if let Err(e) = self
                            .flush_outbox(&mut conn, &mut established, &mut sent_here)
                            .await
                        {
                            break e;
                        }
                    }
                    Some(SessionCommand::Answer(answer)) => {
                        match self
                            .on_answer(
                                &mut conn,
                                &mut established,
                                answer,
                                &mut sent_here,
                                &mut awaiting_peer,
                            )
                            .await
                        {
                            Ok(()) => {}
                            Err(e) => break e,
                        }
                    }
                    Some(SessionCommand::Close) | None => {
                        let bye = AppMessage::Bye {
                            id: uuid::Uuid::new_v4().to_string(),
                        };
                        if let Ok(bytes) = established.session.seal_application(&bye.to_xml()) {
                            let _ = conn.write(&bytes).await;
                        }
                        let _ = conn
                            .write(&established.session.seal_alert(AlertCode::CloseNotify))
                            .await;
                        break "closed".into();
                    }
                }
            }
        };
        conn.shutdown().await;
        drop(registration);
        let _ = lock(&self.inner.store).touch_peer(peer.as_str());
        self.emit(AgentEvent::SessionEnded {
            peer: peer.to_string(),
            reason,
        })
        .await;
    }

    /// Sends every outbox message for this peer not yet sent on this session, in order.
    async fn flush_outbox(
        &self,
        conn: &mut Conn,
        established: &mut Established,
        sent_here: &mut HashSet<String>,
    ) -> Result<(), String> {
        if !established.session.is_confirmed() || !established.session.has_capability("chat") {
            return Ok(());
        }
        let peer = established.peer.user_id.to_string();
        let pending = lock(&self.inner.store)
            .undelivered(&peer)
            .map_err(|e| e.to_string())?;
        let unsent: Vec<_> = pending
            .into_iter()
            .filter(|m| !sent_here.contains(&m.id))
            .collect();
        for message in unsent {
            let chat = AppMessage::Chat {
                id: message.id.clone(),
                sent: message.sent,
                body: message.body,
            };
            send_message(conn, established, &chat).await?;
            let moved = lock(&self.inner.store)
                .mark(&peer, &message.id, DeliveryState::Sent)
                .unwrap_or(false);
            if moved {
                self.emit(AgentEvent::Sent {
                    to: peer.clone(),
                    id: message.id.clone(),
                })
                .await;
            }
            sent_here.insert(message.id);
        }
        Ok(())
    }

    /// Once data may flow (at the start, or when the person confirmed the
    /// code): sends what waits in the outbox and, while the peer of a dialled
    /// session has not accepted, a `ping` (its `pong` says the peer accepted).
    async fn start_flow(
        &self,
        conn: &mut Conn,
        established: &mut Established,
        sent_here: &mut HashSet<String>,
        awaiting_peer: bool,
    ) -> Result<(), String> {
        self.flush_outbox(conn, established, sent_here).await?;
        if awaiting_peer && established.session.is_confirmed() {
            let ping = AppMessage::Ping {
                id: uuid::Uuid::new_v4().to_string(),
            };
            send_message(conn, established, &ping).await?;
        }
        Ok(())
    }

    /// The person's answer about a `new` or `anonymous` peer of this session.
    async fn on_answer(
        &self,
        conn: &mut Conn,
        established: &mut Established,
        answer: Answer,
        sent_here: &mut HashSet<String>,
        awaiting_peer: &mut bool,
    ) -> Result<(), String> {
        if established.session.is_confirmed() {
            // Already accepted (a repeated click): nothing more to do.
            return Ok(());
        }
        if answer == Answer::Decline {
            let _ = conn.write(&established.session.decline()).await;
            return Err("declined".into());
        }
        let (held, pinned) = match self.confirm(established, answer) {
            Ok(confirmed) => confirmed,
            Err(e) => {
                let _ = conn
                    .write(&established.session.seal_alert(AlertCode::InternalError))
                    .await;
                return Err(e);
            }
        };
        if let Some(addr) = conn.peer_addr() {
            let _ = lock(&self.inner.store)
                .remember_address(established.peer.user_id.as_str(), &addr.to_string());
        }
        self.emit(AgentEvent::SessionConfirmed {
            peer: established.peer.user_id.to_string(),
            pinned,
        })
        .await;
        for event in held {
            if !self
                .on_event(conn, established, event, awaiting_peer)
                .await?
            {
                return Err("the peer closed the session".into());
            }
        }
        self.start_flow(conn, established, sent_here, *awaiting_peer)
            .await
    }

    /// Handles one frame; `Ok(false)` when the peer ended the session cleanly.
    async fn on_frame(
        &self,
        conn: &mut Conn,
        established: &mut Established,
        frame: &sixchat_proto::frame::Frame,
        awaiting_peer: &mut bool,
    ) -> Result<bool, String> {
        let event = match established.session.handle(frame) {
            Ok(Some(event)) => event,
            Ok(None) => return Ok(true),
            Err(e) => {
                let _ = conn.write(&established.session.seal_alert(e.alert)).await;
                return Err(e.to_string());
            }
        };
        self.on_event(conn, established, event, awaiting_peer).await
    }

    /// Handles one event of the session; `Ok(false)` when the peer ended it cleanly.
    async fn on_event(
        &self,
        conn: &mut Conn,
        established: &mut Established,
        event: SessionEvent,
        awaiting_peer: &mut bool,
    ) -> Result<bool, String> {
        if *awaiting_peer && matches!(event, SessionEvent::Application(_)) {
            *awaiting_peer = false;
            self.emit(AgentEvent::PeerAccepted {
                peer: established.peer.user_id.to_string(),
            })
            .await;
        }
        match event {
            SessionEvent::Application(xml) => self.on_application(conn, established, &xml).await,
            SessionEvent::KeyUpdated | SessionEvent::Bulk { .. } => Ok(true),
            SessionEvent::Closed => Ok(false),
            SessionEvent::PeerAlert(alert) => {
                Err(format!("the peer ended the session: {}", alert.describe()))
            }
        }
    }

    /// Takes a chat or a receipt from `peer`, however it came (a session, or
    /// a sealed envelope from the DIR store). A chat is stored before its
    /// receipt is returned; a duplicate is acknowledged again, not delivered
    /// twice. Returns the receipt to send back, if any.
    pub async fn receive(
        &self,
        peer: &str,
        message: AppMessage,
    ) -> Result<Option<AppMessage>, String> {
        match message {
            AppMessage::Chat { id, sent, body } => {
                let fresh = lock(&self.inner.store)
                    .store_incoming(peer, &id, &sent, &body)
                    .map_err(|e| e.to_string())?;
                let ack = AppMessage::Ack {
                    id: uuid::Uuid::new_v4().to_string(),
                    reference: id.clone(),
                };
                if fresh {
                    self.emit(AgentEvent::Chat {
                        from: peer.to_owned(),
                        id,
                        sent,
                        text: body,
                    })
                    .await;
                }
                Ok(Some(ack))
            }
            AppMessage::Ack { reference, .. } => {
                if lock(&self.inner.store)
                    .mark(peer, &reference, DeliveryState::Delivered)
                    .map_err(|e| e.to_string())?
                {
                    self.emit(AgentEvent::Delivered {
                        to: peer.to_owned(),
                        id: reference,
                    })
                    .await;
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    async fn on_application(
        &self,
        conn: &mut Conn,
        established: &mut Established,
        xml: &[u8],
    ) -> Result<bool, String> {
        let peer = established.peer.user_id.to_string();
        let message = match AppMessage::parse(xml) {
            Ok(message) => message,
            Err(e) => {
                let error = AppMessage::Error {
                    id: uuid::Uuid::new_v4().to_string(),
                    reference: e.id.unwrap_or_default(),
                    reason: e.reason,
                };
                send_message(conn, established, &error).await?;
                return Ok(true);
            }
        };
        let missing = message
            .required_capabilities()
            .iter()
            .find(|c| !established.session.has_capability(c));
        if let Some(capability) = missing {
            let error = AppMessage::Error {
                id: uuid::Uuid::new_v4().to_string(),
                reference: message.id().to_owned(),
                reason: format!("{capability} was not agreed"),
            };
            send_message(conn, established, &error).await?;
            return Ok(true);
        }
        match message {
            AppMessage::Chat { .. } | AppMessage::Ack { .. } => {
                if let Some(receipt) = self.receive(&peer, message).await? {
                    send_message(conn, established, &receipt).await?;
                }
            }
            AppMessage::Read { reference, .. } => {
                if lock(&self.inner.store)
                    .mark(&peer, &reference, DeliveryState::Read)
                    .map_err(|e| e.to_string())?
                {
                    self.emit(AgentEvent::Read {
                        to: peer,
                        id: reference,
                    })
                    .await;
                }
            }
            AppMessage::Typing { active, .. } => {
                self.emit(AgentEvent::Typing { from: peer, active }).await;
            }
            AppMessage::Ping { id } => {
                let pong = AppMessage::Pong {
                    id: uuid::Uuid::new_v4().to_string(),
                    reference: id,
                };
                send_message(conn, established, &pong).await?;
            }
            AppMessage::Error {
                reference, reason, ..
            } => {
                self.emit(AgentEvent::PeerError {
                    from: peer,
                    reference,
                    reason,
                })
                .await;
            }
            AppMessage::Pong { .. } => {}
            AppMessage::Bye { .. } => return Ok(false),
        }
        Ok(true)
    }
}
