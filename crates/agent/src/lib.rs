//! sixchat-agent: the headless User Agent.
//!
//! A tokio listener and dialer drive `sixchat-proto` sessions over TCP, one
//! task per session; chats go through a SQLite outbox so each is delivered
//! exactly once; `sixchat-cli` is the same agent from a terminal.
//!
//! # Layout
//!
//! - [`agent`]: the [`Agent`]: listener, dialer, session tasks, outbox, events.
//! - [`conn`]: a framed TCP connection and the handshake driver (deadline, alerts).
//! - [`dial`]: Happy Eyeballs over a peer's addresses.
//! - [`irp`]: the IRP client for the DIR (TLS 1.3), one function per request.
//! - [`relay`]: reaching a peer through its DIR record, and store-and-forward
//!   of sealed envelopes when it is offline.
//! - [`presence`]: what `run` keeps up with the DIR: addresses, renewal, CRL,
//!   the store, the outbox.
//! - [`limits`]: handshake caps, per-source failure limits, the new/anonymous budget.
//! - [`listen`]: a dual-stack listener (`[::]` also takes IPv4).
//! - [`log`]: the `tracing` writer that escapes peer-supplied controls.
//! - [`profile`]: the profile folder, the encrypted identity.
//! - [`store`]: SQLite: messages, outbox, trust roots, pins, peer addresses,
//!   DIRs, CRLs, the last registration.
//! - [`trust`]: builds the PKI trust store from what the profile stored.

pub mod agent;
pub mod conn;
pub mod dial;
pub mod irp;
pub mod limits;
pub mod listen;
pub mod log;
pub mod presence;
pub mod profile;
pub mod relay;
pub mod store;
pub mod trust;

pub use agent::{
    Agent, AgentEvent, AgentOptions, Answer, Answerer, ConnectError, IncomingRequest, PeerCard,
    SessionHandle,
};
pub use profile::{Profile, ProfileError, UnlockedIdentity};
pub use store::Store;
