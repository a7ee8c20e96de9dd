//! Every IRP request and response, with its XML shape.
//!
//! Bodies are flat: each field is one child element; binary values (DER,
//! PKCS#12, envelopes, signatures) are base64; times are Unix seconds. The
//! element names of each message are listed in ARCHITECTURE.md.

mod requests;
mod responses;
#[cfg(test)]
mod tests;

use super::record::SignedRecord;
use super::{Body, IrpError, decode_base64, malformed};
use crate::identity::UserId;

/// Longest certificate chain carried (leaf first, root excluded or included).
pub const MAX_CHAIN: usize = 4;
/// Most envelopes in one `store_fetch_response` or ids in one `store_ack`.
pub const MAX_PAGE: usize = 256;
/// Longest free text (names, reasons, descriptions, secrets), in characters.
pub const MAX_TEXT_CHARS: usize = 256;

/// The revocation reasons a caller may give (RFC 5280 names).
pub const REVOKE_REASONS: &[&str] = &[
    "unspecified",
    "keyCompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
];

/// A request from a UA to a DIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `<user_id>`, `<secret>`, `<csr>` (base64 PKCS#10 DER), optional
    /// `<encryption_csr>` (the mail encryption key's request, mail.md).
    Enroll {
        user_id: UserId,
        secret: String,
        csr_der: Vec<u8>,
        encryption_csr_der: Option<Vec<u8>>,
    },
    /// No body.
    List,
    /// `<csr>`: renewal (same key) or re-key (new key); optional
    /// `<encryption_csr>`: a new mail encryption key to certify as well.
    Issue {
        csr_der: Vec<u8>,
        encryption_csr_der: Option<Vec<u8>>,
    },
    /// `<ski>` (hex) and `<reason>`.
    Revoke { ski_hex: String, reason: String },
    /// `<record>` and `<signature>`.
    Register { record: SignedRecord },
    /// `<user_id>`.
    Lookup { user_id: UserId },
    /// No body.
    Crl,
    /// `<pkcs12>` and `<recovery_secret>`.
    BackupPut {
        pkcs12: Vec<u8>,
        recovery_secret: String,
    },
    /// `<user_id>` and `<recovery_secret>`.
    BackupGet {
        user_id: UserId,
        recovery_secret: String,
    },
    /// `<to>`, `<envelope>` (base64), optional `<expires_days>`.
    StorePut {
        to: UserId,
        envelope: Vec<u8>,
        expires_days: Option<u32>,
    },
    /// Optional `<limit>` (default and most [`MAX_PAGE`]).
    StoreFetch { limit: u32 },
    /// One `<envelope_id>` per envelope to delete.
    StoreAck { envelope_ids: Vec<String> },
}

/// A certificate's state in the DIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertState {
    Valid,
    Revoked,
    Expired,
}

impl CertState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "valid" => Some(Self::Valid),
            "revoked" => Some(Self::Revoked),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// What a certificate is for (mail.md, "Two keys per person").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertUsage {
    /// The identity key: signs handshakes, IRP requests and mail.
    Identity,
    /// The mail encryption key: keyEncipherment only.
    Encryption,
}

impl CertUsage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Encryption => "encryption",
        }
    }

    /// An absent `usage` attribute means identity (what DIRs wrote before).
    pub(crate) fn parse(text: Option<&str>) -> Option<Self> {
        match text {
            None | Some("identity") => Some(Self::Identity),
            Some("encryption") => Some(Self::Encryption),
            Some(_) => None,
        }
    }
}

/// One certificate in a `list_response`:
/// `<certificate serial=".." ski=".." not_before=".." not_after=".." status=".." usage="..">base64 DER</certificate>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertStatus {
    pub usage: CertUsage,
    pub serial_hex: String,
    pub ski_hex: String,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    pub state: CertState,
    pub der: Vec<u8>,
}

/// What `lookup` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupResult {
    pub user_id: UserId,
    pub name: String,
    pub email: Option<String>,
    /// The newest valid certificate, leaf first, then the issuing chain.
    pub chain: Vec<Vec<u8>>,
    pub state: CertState,
    /// The newest valid mail encryption certificate, if one was issued
    /// (`<encryption_certificate>`; same issuer as the identity's).
    pub encryption_certificate: Option<Vec<u8>>,
    pub record: Option<SignedRecord>,
    pub last_seen_unix: Option<i64>,
}

/// One waiting envelope: `<envelope id=".." from=".." received="..">base64</envelope>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEnvelope {
    pub id: String,
    /// The UserID of the client certificate that left it (not end-to-end
    /// authenticated: the envelope's own signature is).
    pub from: String,
    pub received_unix: i64,
    pub data: Vec<u8>,
}

/// irp.md's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    AlreadyProcessing = 1101,
    Version = 1102,
    UnknownRequest = 1103,
    Pending = 1104,
    NoSuchUser = 1201,
    BadCsr = 1203,
    KeyReused = 1204,
    NoSuchKey = 1302,
    BadInvite = 1401,
    UserIdMismatch = 1402,
    AuthRequired = 1501,
    NotAuthorised = 1502,
    StaleRecord = 1601,
    QuotaExceeded = 1701,
    TooLarge = 1702,
    RateLimited = 1801,
    Internal = 2001,
}

impl ErrorCode {
    pub const ALL: [Self; 17] = [
        Self::AlreadyProcessing,
        Self::Version,
        Self::UnknownRequest,
        Self::Pending,
        Self::NoSuchUser,
        Self::BadCsr,
        Self::KeyReused,
        Self::NoSuchKey,
        Self::BadInvite,
        Self::UserIdMismatch,
        Self::AuthRequired,
        Self::NotAuthorised,
        Self::StaleRecord,
        Self::QuotaExceeded,
        Self::TooLarge,
        Self::RateLimited,
        Self::Internal,
    ];

    pub fn number(self) -> u16 {
        self as u16
    }

    pub fn from_number(number: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.number() == number)
    }
}

/// `<status>code</status><description xml:lang="en">…</description>`, and
/// `<retry_after>` seconds with 1801.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub code: ErrorCode,
    pub description: String,
    pub retry_after_secs: Option<u64>,
}

impl ErrorResponse {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after_secs: None,
        }
    }
}

impl std::fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.description, self.code.number())
    }
}

/// A response from the DIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `<certificate>` per chain element (leaf first), then `<root>`, then
    /// `<encryption_certificate>` when one was asked for.
    Enroll {
        chain: Vec<Vec<u8>>,
        root_der: Vec<u8>,
        encryption_certificate: Option<Vec<u8>>,
    },
    /// `<certificate …>` per certificate, optional `<record>` + `<signature>`,
    /// `<backup>true|false</backup>`, `<waiting>`.
    List {
        certificates: Vec<CertStatus>,
        record: Option<SignedRecord>,
        backup_stored: bool,
        waiting: u64,
    },
    /// `<certificate>` per chain element, then `<encryption_certificate>`
    /// when one was asked for.
    Issue {
        chain: Vec<Vec<u8>>,
        encryption_certificate: Option<Vec<u8>>,
    },
    /// `<serial>`.
    Revoke {
        serial_hex: String,
    },
    /// `<sequence>`, `<expires>`.
    Register {
        sequence: u64,
        expires_unix: i64,
    },
    /// `<user_id>`, `<name>`, optional `<email>`, `<certificate>`s,
    /// `<status>`, optional `<record>` + `<signature>`, optional `<last_seen>`.
    Lookup(Box<LookupResult>),
    /// `<crl>`, `<next_update>`.
    Crl {
        crl_der: Vec<u8>,
        next_update_unix: i64,
    },
    /// No body.
    BackupPut,
    /// `<pkcs12>`.
    BackupGet {
        pkcs12: Vec<u8>,
    },
    /// `<envelope_id>`, `<expires>`.
    StorePut {
        envelope_id: String,
        expires_unix: i64,
    },
    /// `<envelope …>` per envelope, `<more>true|false</more>`.
    StoreFetch {
        envelopes: Vec<StoredEnvelope>,
        more: bool,
    },
    /// `<deleted>`.
    StoreAck {
        deleted: u64,
    },
    Error(ErrorResponse),
}

fn user_id(body: &Body<'_>, name: &str) -> Result<UserId, IrpError> {
    UserId::parse(body.text(name)?.trim())
        .map_err(|_| malformed(body.message, format!("<{name}> is not a UserID")))
}

fn short_text(body: &Body<'_>, name: &str) -> Result<String, IrpError> {
    let text = body.text(name)?;
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(malformed(body.message, format!("<{name}> is too long")));
    }
    Ok(text.to_owned())
}

fn optional_short_text(body: &Body<'_>, name: &str) -> Result<Option<String>, IrpError> {
    body.optional(name)
        .map(|_| short_text(body, name))
        .transpose()
}

fn chain(body: &Body<'_>) -> Result<Vec<Vec<u8>>, IrpError> {
    let chain = body
        .all("certificate")
        .map(|e| decode_base64(body.message, "certificate", &e.text))
        .collect::<Result<Vec<_>, _>>()?;
    if chain.is_empty() || chain.len() > MAX_CHAIN {
        return Err(malformed(body.message, "certificate chain of a bad length"));
    }
    Ok(chain)
}

fn boolean(body: &Body<'_>, name: &str) -> Result<bool, IrpError> {
    match body.text(name)?.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(malformed(
            body.message,
            format!("<{name}> is not a boolean"),
        )),
    }
}

fn state(body: &Body<'_>, text: &str) -> Result<CertState, IrpError> {
    CertState::parse(text).ok_or_else(|| malformed(body.message, "unknown certificate status"))
}

fn attribute<'a>(
    body: &Body<'_>,
    element: &'a crate::xml::Element,
    name: &str,
) -> Result<&'a str, IrpError> {
    element.attribute(name).ok_or_else(|| {
        malformed(
            body.message,
            format!("<{}> has no {name} attribute", element.name),
        )
    })
}
