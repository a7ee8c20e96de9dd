//! What the backend tells the UI. Every [`Event`] is applied to
//! [`super::state::AppState`] by `AppState::apply`.

pub use sixchat_agent::PeerCard;
pub use sixchat_agent::store::DeliveryState;

/// One message of a conversation, as the UI draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub id: String,
    pub outgoing: bool,
    /// When the sender wrote it (Unix seconds; 0 if the sender's clock said nonsense).
    pub sent_unix: i64,
    pub text: String,
    pub state: DeliveryState,
}

/// What is known of whether a contact can be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Presence {
    /// A session is live.
    Online,
    /// The directory holds a current address record.
    Reachable,
    Offline,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactInfo {
    pub user_id: String,
    pub name: String,
    pub always_accept: bool,
    pub last_seen_unix: Option<i64>,
    pub unread: usize,
    pub presence: Presence,
    /// Where the contact was last reached or was said to be (HOST:PORT).
    pub address: Option<String>,
}

/// The unlocked identity, for settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityInfo {
    pub user_id: String,
    pub name: String,
    pub issuer: String,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    pub fingerprint: String,
    pub self_signed: bool,
    /// The directory this profile enrolled with, if any.
    pub dir_address: Option<String>,
}

/// Roots per domain and pinned keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustInfo {
    /// (domain, SHA-256 fingerprint hex)
    pub roots: Vec<(String, String)>,
    /// (UserID, SHA-256 fingerprint hex)
    pub pins: Vec<(String, String)>,
}

/// How far "Connect to User" got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialStage {
    LookingUp,
    Connecting,
    Connected(PeerCard),
    /// Nobody answered; `count` messages wait at the peer's directory.
    Queued {
        count: usize,
    },
    Failed(Failure),
}

/// A peer that connected and waits for the person's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingChat {
    pub request: u64,
    pub card: PeerCard,
    pub addr: String,
}

/// Why something the person asked for did not work. The UI translates the
/// kind; `detail` is the library's own words, shown small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    WrongPassphrase,
    WrongPassword,
    NotPkcs12,
    /// The person typed something that is not valid (the detail says what).
    Invalid(String),
    /// The peer refused the session.
    Refused(String),
    /// Nobody answered and nothing could be left for later.
    Unreachable(String),
    NoAddress,
    NoDirectory,
    Other(String),
}

/// What a long operation is doing (the UI shows a spinner with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Creating,
    Importing,
    Enrolling,
    Unlocking,
    Renewing,
    Exporting,
    BackingUp,
}

/// Something the person should be told once (a toast).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Renewed {
        not_after_unix: i64,
    },
    Exported {
        path: String,
    },
    BackedUp {
        recovery_code: String,
    },
    Pinned {
        user_id: String,
    },
    ListenFallback {
        wanted: String,
        got: String,
    },
    /// The OS keyring could not keep the passphrase (the detail says why).
    KeyringFailed {
        detail: String,
    },
    PassphraseForgotten,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The profile has no identity: show the wizard.
    NeedsIdentity,
    /// The profile has an identity: ask for the passphrase.
    Locked {
        user_id: String,
        name: String,
    },
    Busy(Option<Task>),
    Failed {
        task: Option<Task>,
        failure: Failure,
    },
    /// The agent runs.
    Ready {
        identity: IdentityInfo,
        contacts: Vec<ContactInfo>,
        trust: TrustInfo,
    },
    Identity(IdentityInfo),
    Contacts(Vec<ContactInfo>),
    Trust(TrustInfo),
    History {
        user_id: String,
        messages: Vec<ChatMessage>,
    },
    /// A message was queued (outgoing) or arrived (incoming).
    Message {
        user_id: String,
        message: ChatMessage,
    },
    Delivery {
        user_id: String,
        id: String,
        state: DeliveryState,
    },
    Typing {
        user_id: String,
        active: bool,
    },
    Presence {
        user_id: String,
        presence: Presence,
        last_seen_unix: Option<i64>,
    },
    SessionStarted {
        card: PeerCard,
        inbound: bool,
    },
    /// The person accepted a `new` or `anonymous` peer after comparing the code.
    SessionConfirmed {
        user_id: String,
        pinned: bool,
    },
    /// The peer of a dialled session accepted it (its first message came).
    PeerAccepted {
        user_id: String,
    },
    SessionEnded {
        user_id: String,
        reason: String,
    },
    /// The person started a dial to `user_id` (what was shown of an
    /// earlier one is over).
    DialStarted {
        user_id: String,
    },
    /// How far a dial the person started got.
    Dial {
        user_id: String,
        stage: DialStage,
    },
    Incoming(IncomingChat),
    /// The incoming request ended (answered, or timed out).
    IncomingGone {
        request: u64,
    },
    Network {
        listening: Option<String>,
        /// Where others can reach this agent (every address of the machine
        /// with the listening port, or the one address it listens on).
        reachable: Vec<String>,
        registered: Vec<String>,
        dir_problem: Option<String>,
    },
    Notice(Notice),
    /// A folder of this machine, listed for the commander.
    LocalListing(Listing),
    /// A folder of a contact's shared folder.
    RemoteListing {
        user_id: String,
        listing: Listing,
    },
    /// The transfer queue, with progress (sent again as it changes).
    Queue(Vec<QueueRow>),
    /// A contact offers files: the person accepts or declines.
    Offer(OfferInfo),
    /// The offer was answered (or timed out).
    OfferGone {
        transfer: String,
    },
    /// The Mail screen's news.
    Mail(MailEvent),
}

/// The Mail screen's news (backend `mail`).
#[derive(Debug, Clone, PartialEq)]
pub enum MailEvent {
    /// A folder's mail, newest first (the search applied).
    Listed {
        folder: MailFolder,
        rows: Vec<MailSummary>,
    },
    Opened(Box<MailOpened>),
    /// The mail went (into Sent, and on its way).
    Sent {
        id: i64,
    },
    /// The mail did not go, and why (the compose window keeps it).
    NotSent {
        reason: String,
    },
}

pub use sixchat_agent::store::MailFolder;

/// One mail in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSummary {
    pub id: i64,
    pub unread: bool,
    pub from: String,
    pub to: String,
    pub subject: String,
    /// In words: "valid signature, verified sender; encrypted", ...
    pub status: String,
    pub date_unix: Option<i64>,
    pub attachments: usize,
    /// For sent mail: each recipient and how far it got.
    pub deliveries: Vec<(String, String)>,
}

/// An opened mail, read again now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailOpened {
    pub id: i64,
    pub status: String,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub date_unix: Option<i64>,
    pub message_id: Option<String>,
    pub body: String,
    /// Name and size of each attachment.
    pub attachments: Vec<(String, usize)>,
    pub deliveries: Vec<(String, String)>,
}

/// A file or folder in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub folder: bool,
    pub size: u64,
    /// Unix seconds.
    pub modified: i64,
}

/// One folder's entries (or why it could not be read).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    /// A local folder's full path, or a path in the peer's share (`""`: its top).
    pub path: String,
    pub entries: Vec<FileEntry>,
    pub error: Option<String>,
}

/// One operation of the queue panel.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub id: String,
    pub peer: String,
    /// `send`, `get` or `receive` (a contact's offer this side accepted).
    pub kind: String,
    pub source: String,
    pub destination: String,
    /// `waiting`, `running`, `paused`, `done`, `failed`, `cancelled`.
    pub state: String,
    pub files: u64,
    pub bytes: u64,
    pub verified: u64,
    /// Bytes per second while it runs.
    pub speed: f64,
    pub reason: String,
}

/// A contact's offer waiting for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferInfo {
    pub user_id: String,
    /// This side's key for the offer (not the peer's transfer id).
    pub transfer: String,
    pub files: u64,
    pub bytes: u64,
    /// The first few paths.
    pub names: Vec<String>,
}
