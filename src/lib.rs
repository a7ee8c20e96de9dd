//! SixChat, the desktop User Agent: an egui window over the same agent as
//! `sixchat-cli`.
//!
//! # Layout
//!
//! - [`app`]: state, the `Command` and `Event` enums, and the backend thread
//!   that owns the agent (no egui).
//! - [`ui`]: egui only, one file per screen or window; colours and spacing
//!   in `ui::theme`.
//! - [`i18n`]: Fluent strings from `i18n/<lang>/sixchat.ftl`.
//! - [`demo`]: `sixchat demo`, a DIR on loopback and two enrolled profiles.
//! - [`startup`]: what is read before the window opens.

pub mod app;
pub mod demo;
pub mod i18n;
pub mod startup;
pub mod ui;
