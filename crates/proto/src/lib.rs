//! sixchat-proto: the Direct protocol v2 (protocol.md), sans-IO.
//!
//! No sockets, no clocks, no threads: bytes and `now` go in, bytes and events
//! come out. The agent crate drives these types over TCP.
//!
//! # Layout
//!
//! - [`frame`]: `kind ‖ u32 length ‖ body` framing and an incremental reader.
//! - [`xml`]: the strict XML parser and the compact writer.
//! - [`messages`]: handshake messages 1-12 and the plain Alert.
//! - [`handshake`]: the [`Initiator`] and [`Responder`] state machines.
//! - [`session`]: an established session's records, key update, SAS hold.
//! - [`app`]: application messages (chat, ack, read, typing, …).
//! - [`files`]: file transfer: paths on the wire, chunk ranges, `file-*` messages.
//! - [`mail`]: mail over a session: `mail-offer`, `mail-accept`, `mail-refuse`, `mail-stored`.
//! - [`keys`]: HKDF labels, the key schedule, transcript hash, SAS.
//! - [`record`]: AES-GCM and AES-CBC + HMAC-SHA256 records, key update.
//! - [`entropy`]: the randomness seam (OS CSPRNG, or injected in tests).
//! - [`identity`]: UserIDs, trust levels, fingerprints, and the two seams to
//!   the PKI ([`CertificatePolicy`], [`HandshakeSigner`]).
//! - [`alert`]: alert codes.
//! - [`text`]: peer-supplied text made safe to print ([`escape_controls`]) and
//!   the rule for control characters in chat bodies.
//! - [`irp`]: IRP (irp.md), the DIR protocol: framing, requests and
//!   responses, error codes, the signed address record.

pub mod alert;
pub mod app;
pub mod entropy;
pub mod files;
pub mod frame;
pub mod handshake;
pub mod identity;
pub mod irp;
pub mod keys;
pub mod mail;
pub mod messages;
pub mod record;
pub mod session;
pub mod source;
pub mod text;
pub mod xml;

pub use alert::AlertCode;
pub use app::AppMessage;
pub use entropy::{Entropy, OsEntropy, RandomPurpose};
pub use handshake::{
    Config, Established, HandshakeError, Initiator, LocalIdentity, PeerIdentity, Responder, Step,
};
pub use identity::{
    CertRejection, CertificatePolicy, Fingerprint, HandshakeSigner, InvalidUserId, PeerCertificate,
    SignError, TrustLevel, UserId,
};
pub use record::{CipherSuite, ContentType};
pub use session::{Session, SessionEvent};
pub use text::{escape_controls, escape_controls_multiline};
