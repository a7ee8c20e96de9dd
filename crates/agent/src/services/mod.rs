//! The services beside the connection runtime. The session driver
//! ([`crate::agent`]'s `driver`) routes each application message and each
//! bulk record to one of them by its type; each keeps its own per-session
//! state and writes through the session's `Wire`.
//!
//! - [`chat`]: the outbox, incoming chats, delivery and read receipts, typing.
//! - [`transfer`]: listings, offers, chunk-range requests, bulk records by
//!   stream id (files.md, docs/transfer.md).
//! - [`mail`]: S/MIME mail (mail.md): composing, delivering (over a live
//!   session, else into the recipient's DIR store), storing what comes in
//!   before reading it, receipts.
//! - [`mail_session`]: mail over one session: offers, inline mail, mail bulk
//!   streams (stream ids with the high bit set), `mail-stored`.

pub mod chat;
pub mod mail;
pub mod mail_session;
pub mod transfer;
