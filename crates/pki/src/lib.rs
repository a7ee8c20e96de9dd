//! sixchat-pki: identity keys, X.509 certificates and CSRs, PKCS#12, the
//! certificate policy (trust levels and path validation), and the CA
//! operations a directory server needs, and S/MIME mail.
//!
//! Knows nothing of tokio, egui or SQLite: bytes and `now` in, verdicts out.
//! The protocol crate reaches it only through two traits of
//! `sixchat_proto::identity`: [`keys::IdentityKey`] implements
//! [`HandshakeSigner`](sixchat_proto::HandshakeSigner), and
//! [`trust::TrustStore`] implements
//! [`CertificatePolicy`](sixchat_proto::CertificatePolicy).
//!
//! # Layout
//!
//! - [`keys`]: [`keys::IdentityKey`], an RSA key (2048, 3072 or
//!   4096 bits) generated with the `rsa` crate and used only through
//!   aws-lc-rs (constant-time; RUSTSEC-2023-0071 concerns the `rsa` crate's
//!   private-key operations). RSA-PSS/SHA-256 handshake signatures and
//!   [`verify_pss_sha256`](keys::verify_pss_sha256).
//! - [`cert`]: self-signed identity certificates, CSRs, [`CertInfo`](cert::CertInfo),
//!   PEM helpers.
//! - [`pkcs12`]: import (OpenSSL 3, OpenSSL `-legacy`, Java keytool) with an
//!   iteration cap checked before any KDF runs; export as PBES2 /
//!   AES-256-CBC / PBKDF2-HMAC-SHA256, 600 000 iterations; the identity and
//!   every mail encryption key ([`pkcs12::EncryptionKey`]) in one file.
//! - [`smime`]: S/MIME 4.0 mail written ([`smime::compose`]) and read
//!   ([`smime::read`]) with the `cms` types, `mail-builder` and
//!   `mail-parser`; every primitive in aws-lc-rs.
//! - [`protect`]: the on-disk form of a profile's identity (an encrypted
//!   PKCS#12); the private key never rests on disk unencrypted.
//! - [`trust`]: [`trust::TrustStore`]: roots per domain, pins per
//!   UserID, CRLs; the certificate policy of handshake steps 5 and 8, and
//!   for mail signers and recipients ([`trust::Purpose`]).
//! - [`ca`]: [`CertificateAuthority`](ca::CertificateAuthority): roots,
//!   intermediates, leaves from CSRs, CRLs.
//! - `x509` (private): strict parsing, names, key sizes, signature checks.
//!
//! # Certificate policy decisions
//!
//! The checks and their order are listed in `trust/policy.rs`. Where the
//! protocol left a choice, this crate decides:
//!
//! - **A pin is binding.** If a fingerprint is pinned for the UserID and the
//!   leaf does not match it, the peer is refused (`PinMismatch`) even when the
//!   chain verifies to a trusted root: a pinned UserID that presents another
//!   certificate gets `bad_certificate` (protocol.md). The user unpins to
//!   accept a renewed certificate. A matching pin with a verified chain gives
//!   `Verified` (the stronger level wins).
//! - **Path refusals beat pins.** A revoked serial, a stale CRL (past its
//!   nextUpdate: hard fail), a root trusted only for other domains, or a
//!   malformed chain (names that do not chain, a signature that does not
//!   verify, an issuer that is not a CA) is refused even when the leaf's pin
//!   matches.
//! - **Unknown issuers are not refusals.** A chain whose top no trusted root
//!   anchors gives level `New` (with `self_signed` true only for a single
//!   self-signed leaf); the protocol layer decides whether `New` is admitted.
//! - **keyUsage and extendedKeyUsage** are checked when present (RFC 5280: an
//!   absent extension does not restrict); when present they must allow
//!   digitalSignature and include clientAuth (a handshake), digitalSignature
//!   or nonRepudiation and emailProtection (a mail signer), keyEncipherment
//!   and emailProtection (a mail recipient's key).
//! - **CRLs** are accepted only when signed by a trusted root (so they cover
//!   certificates that root issued directly; a DIR issues leaves directly).
//!   An older CRL never replaces a newer one.
//! - Signatures accepted on certificates and CRLs: RSA PKCS#1 v1.5 with
//!   SHA-256/384/512, RSA-PSS with SHA-256/384/512; never SHA-1.

pub mod ca;
pub mod cert;
pub mod keys;
pub mod pkcs12;
pub mod protect;
pub mod sealed;
pub mod smime;
pub mod trust;
mod x509;

pub use keys::IdentityKey;
pub use trust::TrustStore;
