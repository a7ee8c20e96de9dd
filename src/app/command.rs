//! What a person asks for. The UI sends each [`Command`] down a channel and
//! returns at once; [`super::backend`] handles it and answers with
//! [`super::event::Event`]s.

use std::path::PathBuf;

pub use sixchat_agent::Answer;
use zeroize::Zeroizing;

/// One user action. "Handled by" names the backend function that does the work.
#[derive(Debug)]
pub enum Command {
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
    /// Forget the passphrase kept in the OS keyring. Handled by `Running::try_handle`.
    ForgetPassphrase,
    /// Contacts. Handled by `Running::try_handle`. `address` (HOST:PORT,
    /// an IPv6 or IPv4 address; the port defaults to 4605) is where the
    /// contact can be reached without a directory.
    AddContact {
        user_id: String,
        address: Option<String>,
    },
    RemoveContact {
        user_id: String,
    },
    SetAlwaysAccept {
        user_id: String,
        always: bool,
    },
    /// Load the conversation (the UI shows it when it arrives).
    OpenConversation {
        user_id: String,
    },
    /// The person saw every message from `user_id`: send read receipts.
    MarkSeen {
        user_id: String,
    },
    /// Queue a chat and deliver it (live session, dial, or the DIR's store).
    Send {
        user_id: String,
        text: String,
    },
    /// The person started or stopped typing to `user_id`.
    Typing {
        user_id: String,
        active: bool,
    },
    /// "Connect to User": dial and report each stage; at `address` if one
    /// is given (it is remembered), else where the contact was last reached
    /// or where its directory says.
    Dial {
        user_id: String,
        address: Option<String>,
    },
    /// The answer to an "Incoming Chat".
    AnswerIncoming {
        request: u64,
        answer: Answer,
    },
    /// The answer about a dialled `new` or `anonymous` peer, once the person
    /// compared the code in "Connect to User".
    AnswerSession {
        user_id: String,
        /// The code the person compared: the answer counts only for the
        /// session that showed it.
        sas: String,
        answer: Answer,
    },
    Unpin {
        user_id: String,
    },
    /// Stop trusting a directory root.
    RemoveRoot {
        domain: String,
        fingerprint: String,
    },
    /// Identity settings.
    Renew,
    ExportPkcs12 {
        path: PathBuf,
        password: Zeroizing<String>,
    },
    Backup,
    /// Persist one setting (language, theme, notifications, listen address).
    SetSetting {
        key: String,
        value: String,
    },
    /// Show a desktop notification (the window is not focused).
    Notify {
        title: String,
        body: String,
    },
}
