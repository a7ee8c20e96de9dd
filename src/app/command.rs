//! What a person asks for. The UI sends each [`Command`] down a channel and
//! returns at once; [`super::backend`] handles it and answers with
//! [`super::event::Event`]s. Commands are grouped by feature, each group
//! with its handler; [`SetupCommand`]s belong to the phase before the
//! identity is unlocked, the rest to the phase after (a command sent in the
//! other phase is answered with a failure, not dropped).

use std::path::PathBuf;

pub use sixchat_agent::Answer;
use zeroize::Zeroizing;

/// One user action, by feature.
#[derive(Debug)]
pub enum Command {
    /// Handled by `backend::setup`, before the identity is unlocked.
    Setup(SetupCommand),
    /// Handled by `backend::contacts`.
    Contacts(ContactCommand),
    /// Handled by `backend::chat`.
    Chat(ChatCommand),
    /// Handled by `backend::sessions`.
    Session(SessionCommand),
    /// Handled by `backend::identity`.
    Identity(IdentityCommand),
    /// Handled by `backend::files`.
    Files(FileCommand),
    /// Handled by `backend::mail`.
    Mail(MailCommand),
    /// Handled by `backend::run` in either phase.
    App(AppCommand),
}

/// The wizard's three ways in, and unlocking.
#[derive(Debug)]
pub enum SetupCommand {
    /// Wizard, standalone: a new key and a self-signed certificate.
    /// Handled by `setup::create`.
    CreateIdentity {
        user_id: String,
        name: String,
        passphrase: Zeroizing<String>,
    },
    /// Wizard: import a PKCS#12 file; the profile is then protected by
    /// `passphrase`. Handled by `setup::import`.
    ImportPkcs12 {
        path: PathBuf,
        password: Zeroizing<String>,
        passphrase: Zeroizing<String>,
    },
    /// Wizard: join a directory with an invite string (key, CSR, enroll).
    /// Handled by `setup::enroll`.
    Enroll {
        invite: String,
        name: String,
        passphrase: Zeroizing<String>,
    },
    /// Unlock the identity and start the agent; with `remember`, keep the
    /// passphrase in the OS keyring (without, forget one kept there).
    /// Handled by `setup::unlock`.
    Unlock {
        passphrase: Zeroizing<String>,
        remember: bool,
    },
}

/// The contact list. Handled by `contacts::handle`.
#[derive(Debug)]
pub enum ContactCommand {
    /// `address` (HOST:PORT, an IPv6 or IPv4 address; the port defaults to
    /// 4605) is where the contact can be reached without a directory.
    Add {
        user_id: String,
        address: Option<String>,
    },
    Remove {
        user_id: String,
    },
    SetAlwaysAccept {
        user_id: String,
        always: bool,
    },
}

/// Conversations. Handled by `chat::handle`.
#[derive(Debug)]
pub enum ChatCommand {
    /// Load the conversation (the UI shows it when it arrives).
    Open { user_id: String },
    /// The person saw every message from `user_id`: send read receipts.
    MarkSeen { user_id: String },
    /// Queue a chat and deliver it (live session, dial, or the DIR's store).
    Send { user_id: String, text: String },
    /// The person started or stopped typing to `user_id`.
    Typing { user_id: String, active: bool },
}

/// Sessions: dialling and the person's answers. Handled by `sessions::handle`.
#[derive(Debug)]
pub enum SessionCommand {
    /// "Connect to User": dial and report each stage; at `address` if one
    /// is given (it is remembered), else where the contact was last reached
    /// or where its directory says.
    Dial {
        user_id: String,
        address: Option<String>,
    },
    /// The answer to an "Incoming Chat".
    AnswerIncoming { request: u64, answer: Answer },
    /// The answer about a dialled `new` or `anonymous` peer, once the person
    /// compared the code in "Connect to User".
    AnswerSession {
        user_id: String,
        /// The code the person compared: the answer counts only for the
        /// session that showed it.
        sas: String,
        answer: Answer,
    },
}

/// The identity and its trust settings. Handled by `identity::handle`.
#[derive(Debug)]
pub enum IdentityCommand {
    Renew,
    ExportPkcs12 {
        path: PathBuf,
        password: Zeroizing<String>,
    },
    Backup,
    Unpin {
        user_id: String,
    },
    /// Stop trusting a directory root.
    RemoveRoot {
        domain: String,
        fingerprint: String,
    },
    /// Forget the passphrase kept in the OS keyring.
    ForgetPassphrase,
}

/// The Mail screen. Handled by `mail::mail_command`.
#[derive(Debug)]
pub enum MailCommand {
    /// List a folder, only what matches every word of `search` (if any).
    List {
        folder: super::event::MailFolder,
        search: String,
    },
    /// Read a mail again (decrypt, verify, judge the signer now); marks it read.
    Open {
        id: i64,
    },
    Send(Box<MailDraft>),
    /// Keep it in Drafts, unsent.
    SaveDraft(Box<MailDraft>),
    /// To Trash; from Trash, gone.
    Delete {
        id: i64,
    },
    /// Write a mail's attachments into `folder`.
    SaveAttachments {
        id: i64,
        folder: PathBuf,
    },
    /// Fetch what waits at the DIR, leave queued mail at the recipients'
    /// DIRs, read what came; then list `folder` again.
    Fetch {
        folder: super::event::MailFolder,
        search: String,
    },
}

/// What the compose window sends.
#[derive(Debug, Clone, Default)]
pub struct MailDraft {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<PathBuf>,
    pub in_reply_to: Option<String>,
    pub sign: bool,
    pub encrypt: bool,
    /// The draft this was opened from (removed once sent, replaced when saved).
    pub draft: Option<i64>,
}

/// The commander, the transfer queue and offers. Handled by `files::handle`.
#[derive(Debug)]
pub enum FileCommand {
    /// List a folder of this machine (the UI touches no disk).
    ListLocal {
        path: PathBuf,
    },
    /// List a folder of a contact's shared folder (`""`: its top).
    ListRemote {
        user_id: String,
        path: String,
    },
    /// Make a folder on this machine.
    MakeFolder {
        path: PathBuf,
    },
    /// Offer files and folders to a contact, into `to_folder` beneath its
    /// incoming folder.
    Send {
        user_id: String,
        paths: Vec<PathBuf>,
        to_folder: Option<String>,
    },
    /// Fetch from a contact's shared folder into a local folder.
    Get {
        user_id: String,
        remote: String,
        into: PathBuf,
    },
    Pause {
        id: String,
    },
    /// Run a paused, waiting or failed transfer again (from what was verified).
    Resume {
        id: String,
    },
    Cancel {
        id: String,
    },
    /// The answer to a contact's offer.
    AnswerOffer {
        transfer: String,
        accept: bool,
    },
}

/// What works in either phase. Handled by `backend::app_command`.
#[derive(Debug)]
pub enum AppCommand {
    /// Persist one setting (language, theme, notifications, listen address).
    SetSetting { key: String, value: String },
    /// Show a desktop notification (the window is not focused).
    Notify { title: String, body: String },
}
