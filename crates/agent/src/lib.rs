//! sixchat-agent: the headless User Agent.
//!
//! A tokio listener and dialer drive `sixchat-proto` sessions over TCP, one
//! task per session; services beside them (chat today; transfers and mail
//! next) take what the sessions route to them; chats go through a SQLite
//! outbox so each is delivered exactly once; `sixchat-cli` is the same agent
//! from a terminal.
//!
//! # Layout
//!
//! - [`agent`]: the [`Agent`], its connection runtime (connect, accept, the
//!   live sessions, the session driver) and its events.
//! - [`services`]: what sessions route to by type: [`services::chat`].
//! - [`deliver`]: the one delivery rule (live, else dial, else the DIR store).
//! - [`reach`]: finding and dialling a peer (last address, DIR lookup, Happy Eyeballs).
//! - [`mailbox`]: the offline store at the DIR: sealing, fetching, dispatch by type.
//! - [`dirlink`]: the profile's own DIR as the agent holds it.
//! - [`files`]: file transfer's building blocks: BLAKE3 verified streaming into `.part` files.
//! - [`upkeep`]: what a running agent keeps up with its DIR: addresses,
//!   renewal, CRL, the mailbox and the outbox.
//! - [`launch`]: the one wiring of a profile's agent, listener and upkeep.
//! - [`job`]: long-running work with a stream of updates, aborted on drop.
//! - [`conn`]: a framed TCP connection and the handshake driver (deadline, alerts).
//! - [`dial`]: Happy Eyeballs over a peer's addresses.
//! - [`irp`]: the IRP client for the DIR (TLS 1.3), one function per request.
//! - [`limits`]: handshake caps, per-source failure limits, the new/anonymous budget.
//! - [`listen`]: a dual-stack listener (`[::]` also takes IPv4).
//! - [`log`]: the `tracing` writer that escapes peer-supplied controls.
//! - [`profile`]: the profile folder, the encrypted identity.
//! - [`store`]: SQLite by area: messages, trust, peers, contacts.
//! - [`trust`]: builds the PKI trust store from what the profile stored.

pub mod agent;
pub mod conn;
pub mod deliver;
pub mod dial;
pub mod dirlink;
pub mod files;
pub mod irp;
pub mod job;
pub mod launch;
pub mod limits;
pub mod listen;
pub mod log;
pub mod mailbox;
pub mod profile;
pub mod reach;
pub mod services;
pub mod store;
pub mod transfers;
pub mod trust;
pub mod upkeep;

pub use agent::{
    Agent, AgentEvent, AgentOptions, Answer, Answerer, ConnectError, IncomingRequest, PeerCard,
    SessionEnd, SessionHandle,
};
pub use deliver::{Delivery, Route};
pub use profile::{Profile, ProfileError, UnlockedIdentity};
pub use store::Store;
