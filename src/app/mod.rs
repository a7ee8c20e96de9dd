//! The app's state and its loop with the agent; no egui here.
//!
//! - [`command`]: what a person asks for ([`command::Command`]).
//! - [`event`]: what the backend answers ([`event::Event`]).
//! - [`state`]: what the UI draws ([`state::AppState`]), changed only by events.
//! - [`backend`]: the thread that owns the agent.
//! - [`notify`]: desktop notifications.
//! - [`keyring`]: the passphrase in the OS keyring, if the person asks.

pub mod backend;
pub mod command;
pub mod event;
pub mod keyring;
pub mod notify;
pub mod state;
