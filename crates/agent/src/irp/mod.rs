//! The agent's side of IRP (irp.md): a TLS 1.3 client for the DIR, and one
//! function per request with the checks the agent makes on each answer.
//!
//! - [`tls`]: rustls client configs; the DIR root pinned by fingerprint
//!   (from an invite) or held as a certificate.
//! - [`client`]: [`IrpClient`], one connection carrying framed requests.
//! - [`directory`]: enrolment, and [`Directory`] for everything done with
//!   the profile's certificate.

pub mod client;
pub mod directory;
pub mod tls;

pub use client::{IrpClient, IrpClientError};
pub use directory::{DirError, Directory, Enrolled};
pub use tls::{ClientAuth, DirTrust};
