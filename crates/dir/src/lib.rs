//! sixchat-dir: the Domain Identity Registry (irp.md). One server per domain:
//! its certificate authority, its user directory, the registry of each
//! user's current addresses, a key-backup vault, and the store that keeps
//! envelopes for users who are offline. Agents speak IRP to it over TLS 1.3.
//!
//! The library holds everything; `src/main.rs` is only the admin command
//! line (`init`, `invite`, `users`, `revoke`, `approve`, `serve`).
//!
//! # Layout
//!
//! - [`store`]: SQLite (`<data>/dir.db`, WAL, `synchronous=FULL`), the
//!   migrations, and one module of queries per area (users and invites,
//!   certificates and the CRL, records/backups/envelopes).
//! - [`db`]: the async face of the store: one writer connection and a small
//!   pool of readers, each used on tokio's blocking pool, never on a runtime
//!   thread.
//! - [`files`]: the data folder, and the key files (PKCS#12, mode 0600,
//!   sealed with the administrator's passphrase).
//! - [`crl`]: reissuing the CRL from the revoked certificates.
//! - [`secret`]: invite secrets, and the slow verifier of recovery secrets.
//! - [`limits`]: the server's limits, the token buckets (per connection;
//!   per source for requests that need a slow hash), the limits on backup
//!   recovery attempts (per source and UserID, per UserID), and the
//!   sources (IPv4 address, IPv6 /64) the per-source connection cap counts.
//! - [`tls`]: the rustls server configuration (TLS 1.3, optional client
//!   certificates from the domain root).
//! - [`server`]: the accept loop, the connection caps (in all, per
//!   source), periodic work, and the clean shutdown.
//! - `conn` (private): one connection: handshake deadline, frames (body
//!   deadline, the large-frame budget taken as bytes arrive, one parse, on
//!   the blocking pool when large), rate limit, who the caller is.
//! - [`cache`]: in-memory callers and lookup answers, emptied when the CRL
//!   changes and per user on that user's writes.
//! - [`handlers`]: one function per IRP request.
//! - [`admin`]: what the admin commands do.
//!
//! # Durability
//!
//! A handler that changes anything commits its transaction (WAL fsync)
//! before its response is written, so a response is never ahead of the
//! disk. The admin commands write to the same database while `serve` runs;
//! the server reads certificate status from the database on every request
//! that needs a caller, so a revocation counts at once.

pub mod admin;
pub mod cache;
mod conn;
pub mod crl;
pub mod db;
pub mod files;
pub mod handlers;
pub mod limits;
pub mod secret;
pub mod server;
pub mod store;
pub mod tls;

/// The default lifetime of an invite, in days (irp.md).
pub const DEFAULT_INVITE_DAYS: u32 = 7;
/// The default validity of an issued identity certificate, in days.
pub const DEFAULT_CERT_DAYS: u32 = 365;
/// How long a CRL is good for.
pub const CRL_LIFETIME_SECS: i64 = 7 * 24 * 3600;

pub use sixchat_host::now_unix;
