//! Every IRP request and response, with its XML shape.
//!
//! Bodies are flat: each field is one child element; binary values (DER,
//! PKCS#12, envelopes, signatures) are base64; times are Unix seconds. The
//! element names of each message are listed in ARCHITECTURE.md.

use super::record::SignedRecord;
use super::{Body, Header, IrpError, Writer, decode_base64, malformed, parse_envelope};
use crate::identity::UserId;
use crate::xml::{self, Element};

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
    /// `<user_id>`, `<secret>`, `<csr>` (base64 PKCS#10 DER).
    Enroll {
        user_id: UserId,
        secret: String,
        csr_der: Vec<u8>,
    },
    /// No body.
    List,
    /// `<csr>`: renewal (same key) or re-key (new key).
    Issue { csr_der: Vec<u8> },
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

/// One certificate in a `list_response`:
/// `<certificate serial=".." ski=".." not_before=".." not_after=".." status="..">base64 DER</certificate>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertStatus {
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
    /// `<certificate>` per chain element (leaf first), then `<root>`.
    Enroll {
        chain: Vec<Vec<u8>>,
        root_der: Vec<u8>,
    },
    /// `<certificate …>` per certificate, optional `<record>` + `<signature>`,
    /// `<backup>true|false</backup>`, `<waiting>`.
    List {
        certificates: Vec<CertStatus>,
        record: Option<SignedRecord>,
        backup_stored: bool,
        waiting: u64,
    },
    /// `<certificate>` per chain element.
    Issue {
        chain: Vec<Vec<u8>>,
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

impl Request {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Enroll { .. } => "enroll",
            Self::List => "list",
            Self::Issue { .. } => "issue",
            Self::Revoke { .. } => "revoke",
            Self::Register { .. } => "register",
            Self::Lookup { .. } => "lookup",
            Self::Crl => "crl",
            Self::BackupPut { .. } => "backup_put",
            Self::BackupGet { .. } => "backup_get",
            Self::StorePut { .. } => "store_put",
            Self::StoreFetch { .. } => "store_fetch",
            Self::StoreAck { .. } => "store_ack",
        }
    }

    /// The requests irp.md allows without a client certificate.
    pub fn allowed_anonymously(&self) -> bool {
        matches!(
            self,
            Self::Enroll { .. } | Self::BackupGet { .. } | Self::Lookup { .. } | Self::Crl
        )
    }

    pub fn to_xml(&self, header: &Header) -> Vec<u8> {
        let mut w = Writer::new(self.type_name(), header);
        match self {
            Self::Enroll {
                user_id,
                secret,
                csr_der,
            } => {
                w.text("user_id", user_id.as_str());
                w.text("secret", secret);
                w.base64("csr", csr_der);
            }
            Self::List | Self::Crl => {}
            Self::Issue { csr_der } => w.base64("csr", csr_der),
            Self::Revoke { ski_hex, reason } => {
                w.text("ski", ski_hex);
                w.text("reason", reason);
            }
            Self::Register { record } => record.write(&mut w),
            Self::Lookup { user_id } => w.text("user_id", user_id.as_str()),
            Self::BackupPut {
                pkcs12,
                recovery_secret,
            } => {
                w.base64("pkcs12", pkcs12);
                w.text("recovery_secret", recovery_secret);
            }
            Self::BackupGet {
                user_id,
                recovery_secret,
            } => {
                w.text("user_id", user_id.as_str());
                w.text("recovery_secret", recovery_secret);
            }
            Self::StorePut {
                to,
                envelope,
                expires_days,
            } => {
                w.text("to", to.as_str());
                w.base64("envelope", envelope);
                if let Some(days) = expires_days {
                    w.text("expires_days", &days.to_string());
                }
            }
            Self::StoreFetch { limit } => w.text("limit", &limit.to_string()),
            Self::StoreAck { envelope_ids } => {
                for id in envelope_ids {
                    w.text("envelope_id", id);
                }
            }
        }
        w.finish()
    }

    /// Parses a request. The error says which code to answer with.
    pub fn parse(bytes: &[u8]) -> Result<(Header, Self), IrpError> {
        Self::parse_answerable(bytes).map_err(|(_, error)| error)
    }

    /// Parses a request in one pass; a refusal comes with the header to
    /// answer it under: the envelope's if that much was good, else only
    /// the root's `id` if the XML was readable, else id "0". (A server
    /// needs no second parse to find out whom to answer.)
    pub fn parse_answerable(bytes: &[u8]) -> Result<(Header, Self), (Header, IrpError)> {
        let root = xml::parse(bytes).map_err(|e| (super::fallback_header(None), e.into()))?;
        let (kind, header) =
            super::read_envelope(&root).map_err(|e| (super::fallback_header(Some(&root)), e))?;
        match Self::read_body(&kind, &root) {
            Ok(request) => Ok((header, request)),
            Err(error) => Err((header, error)),
        }
    }

    fn read_body(kind: &str, root: &Element) -> Result<Self, IrpError> {
        let message: &'static str = match kind {
            "enroll" => "enroll",
            "list" => "list",
            "issue" => "issue",
            "revoke" => "revoke",
            "register" => "register",
            "lookup" => "lookup",
            "crl" => "crl",
            "backup_put" => "backup_put",
            "backup_get" => "backup_get",
            "store_put" => "store_put",
            "store_fetch" => "store_fetch",
            "store_ack" => "store_ack",
            _ => return Err(IrpError::UnknownType(kind.chars().take(32).collect())),
        };
        let body = Body { message, root };
        let request = match message {
            "enroll" => Self::Enroll {
                user_id: user_id(&body, "user_id")?,
                secret: short_text(&body, "secret")?,
                csr_der: body.base64("csr")?,
            },
            "list" => Self::List,
            "issue" => Self::Issue {
                csr_der: body.base64("csr")?,
            },
            "revoke" => {
                let ski_hex = body.text("ski")?.trim().to_ascii_lowercase();
                if ski_hex.is_empty()
                    || ski_hex.len() > 128
                    || !ski_hex.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    return Err(malformed(message, "<ski> is not hex"));
                }
                let reason = body.text("reason")?.trim().to_owned();
                if !REVOKE_REASONS.contains(&reason.as_str()) {
                    return Err(malformed(
                        message,
                        format!("<reason> must be one of {}", REVOKE_REASONS.join(", ")),
                    ));
                }
                Self::Revoke { ski_hex, reason }
            }
            "register" => Self::Register {
                record: SignedRecord::read(&body)?,
            },
            "lookup" => Self::Lookup {
                user_id: user_id(&body, "user_id")?,
            },
            "crl" => Self::Crl,
            "backup_put" => Self::BackupPut {
                pkcs12: body.base64("pkcs12")?,
                recovery_secret: short_text(&body, "recovery_secret")?,
            },
            "backup_get" => Self::BackupGet {
                user_id: user_id(&body, "user_id")?,
                recovery_secret: short_text(&body, "recovery_secret")?,
            },
            "store_put" => Self::StorePut {
                to: user_id(&body, "to")?,
                envelope: body.base64("envelope")?,
                expires_days: body.optional_number("expires_days")?,
            },
            "store_fetch" => Self::StoreFetch {
                limit: body
                    .optional_number::<u32>("limit")?
                    .unwrap_or(MAX_PAGE as u32)
                    .clamp(1, MAX_PAGE as u32),
            },
            _ => {
                let envelope_ids: Vec<String> = body
                    .all("envelope_id")
                    .map(|e| e.text.trim().to_owned())
                    .collect();
                if envelope_ids.len() > MAX_PAGE
                    || envelope_ids
                        .iter()
                        .any(|id| id.is_empty() || id.len() > super::MAX_ID_CHARS)
                {
                    return Err(malformed(message, "bad <envelope_id> list"));
                }
                Self::StoreAck { envelope_ids }
            }
        };
        Ok(request)
    }
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

impl Response {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Enroll { .. } => "enroll_response",
            Self::List { .. } => "list_response",
            Self::Issue { .. } => "issue_response",
            Self::Revoke { .. } => "revoke_response",
            Self::Register { .. } => "register_response",
            Self::Lookup(_) => "lookup_response",
            Self::Crl { .. } => "crl_response",
            Self::BackupPut => "backup_put_response",
            Self::BackupGet { .. } => "backup_get_response",
            Self::StorePut { .. } => "store_put_response",
            Self::StoreFetch { .. } => "store_fetch_response",
            Self::StoreAck { .. } => "store_ack_response",
            Self::Error(_) => "error_response",
        }
    }

    pub fn to_xml(&self, header: &Header) -> Vec<u8> {
        let mut w = Writer::new(self.type_name(), header);
        match self {
            Self::Enroll { chain, root_der } => {
                for der in chain {
                    w.base64("certificate", der);
                }
                w.base64("root", root_der);
            }
            Self::List {
                certificates,
                record,
                backup_stored,
                waiting,
            } => {
                for cert in certificates {
                    let not_before = cert.not_before_unix.to_string();
                    let not_after = cert.not_after_unix.to_string();
                    let encoded = {
                        use base64::Engine as _;
                        base64::engine::general_purpose::STANDARD.encode(&cert.der)
                    };
                    w.element(
                        "certificate",
                        &[
                            ("serial", &cert.serial_hex),
                            ("ski", &cert.ski_hex),
                            ("not_before", &not_before),
                            ("not_after", &not_after),
                            ("status", cert.state.as_str()),
                        ],
                        &encoded,
                    );
                }
                if let Some(record) = record {
                    record.write(&mut w);
                }
                w.text("backup", if *backup_stored { "true" } else { "false" });
                w.text("waiting", &waiting.to_string());
            }
            Self::Issue { chain } => {
                for der in chain {
                    w.base64("certificate", der);
                }
            }
            Self::Revoke { serial_hex } => w.text("serial", serial_hex),
            Self::Register {
                sequence,
                expires_unix,
            } => {
                w.text("sequence", &sequence.to_string());
                w.text("expires", &expires_unix.to_string());
            }
            Self::Lookup(found) => {
                w.text("user_id", found.user_id.as_str());
                w.text("name", &found.name);
                if let Some(email) = &found.email {
                    w.text("email", email);
                }
                for der in &found.chain {
                    w.base64("certificate", der);
                }
                w.text("status", found.state.as_str());
                if let Some(record) = &found.record {
                    record.write(&mut w);
                }
                if let Some(seen) = found.last_seen_unix {
                    w.text("last_seen", &seen.to_string());
                }
            }
            Self::Crl {
                crl_der,
                next_update_unix,
            } => {
                w.base64("crl", crl_der);
                w.text("next_update", &next_update_unix.to_string());
            }
            Self::BackupPut => {}
            Self::BackupGet { pkcs12 } => w.base64("pkcs12", pkcs12),
            Self::StorePut {
                envelope_id,
                expires_unix,
            } => {
                w.text("envelope_id", envelope_id);
                w.text("expires", &expires_unix.to_string());
            }
            Self::StoreFetch { envelopes, more } => {
                for envelope in envelopes {
                    use base64::Engine as _;
                    let encoded = base64::engine::general_purpose::STANDARD.encode(&envelope.data);
                    let received = envelope.received_unix.to_string();
                    w.element(
                        "envelope",
                        &[
                            ("id", &envelope.id),
                            ("from", &envelope.from),
                            ("received", &received),
                        ],
                        &encoded,
                    );
                }
                w.text("more", if *more { "true" } else { "false" });
            }
            Self::StoreAck { deleted } => w.text("deleted", &deleted.to_string()),
            Self::Error(error) => {
                w.text("status", &error.code.number().to_string());
                w.element("description", &[("xml:lang", "en")], &error.description);
                if let Some(secs) = error.retry_after_secs {
                    w.text("retry_after", &secs.to_string());
                }
            }
        }
        w.finish()
    }

    /// Parses a response.
    pub fn parse(bytes: &[u8]) -> Result<(Header, Self), IrpError> {
        let (kind, header, root) = parse_envelope(bytes)?;
        let message: &'static str = match kind.as_str() {
            "enroll_response" => "enroll_response",
            "list_response" => "list_response",
            "issue_response" => "issue_response",
            "revoke_response" => "revoke_response",
            "register_response" => "register_response",
            "lookup_response" => "lookup_response",
            "crl_response" => "crl_response",
            "backup_put_response" => "backup_put_response",
            "backup_get_response" => "backup_get_response",
            "store_put_response" => "store_put_response",
            "store_fetch_response" => "store_fetch_response",
            "store_ack_response" => "store_ack_response",
            "error_response" => "error_response",
            _ => return Err(IrpError::UnknownType(kind.chars().take(32).collect())),
        };
        let body = Body {
            message,
            root: &root,
        };
        let response = match message {
            "enroll_response" => Self::Enroll {
                chain: chain(&body)?,
                root_der: body.base64("root")?,
            },
            "list_response" => {
                let certificates = body
                    .all("certificate")
                    .map(|e| {
                        Ok(CertStatus {
                            serial_hex: attribute(&body, e, "serial")?.to_owned(),
                            ski_hex: attribute(&body, e, "ski")?.to_owned(),
                            not_before_unix: super::parse_number(
                                message,
                                "not_before",
                                attribute(&body, e, "not_before")?,
                            )?,
                            not_after_unix: super::parse_number(
                                message,
                                "not_after",
                                attribute(&body, e, "not_after")?,
                            )?,
                            state: state(&body, attribute(&body, e, "status")?)?,
                            der: decode_base64(message, "certificate", &e.text)?,
                        })
                    })
                    .collect::<Result<Vec<_>, IrpError>>()?;
                Self::List {
                    certificates,
                    record: SignedRecord::read_optional(&body)?,
                    backup_stored: boolean(&body, "backup")?,
                    waiting: body.number("waiting")?,
                }
            }
            "issue_response" => Self::Issue {
                chain: chain(&body)?,
            },
            "revoke_response" => Self::Revoke {
                serial_hex: body.text("serial")?.to_owned(),
            },
            "register_response" => Self::Register {
                sequence: body.number("sequence")?,
                expires_unix: body.number("expires")?,
            },
            "lookup_response" => Self::Lookup(Box::new(LookupResult {
                user_id: user_id(&body, "user_id")?,
                name: short_text(&body, "name")?,
                email: optional_short_text(&body, "email")?,
                chain: chain(&body)?,
                state: state(&body, body.text("status")?)?,
                record: SignedRecord::read_optional(&body)?,
                last_seen_unix: body.optional_number("last_seen")?,
            })),
            "crl_response" => Self::Crl {
                crl_der: body.base64("crl")?,
                next_update_unix: body.number("next_update")?,
            },
            "backup_put_response" => Self::BackupPut,
            "backup_get_response" => Self::BackupGet {
                pkcs12: body.base64("pkcs12")?,
            },
            "store_put_response" => Self::StorePut {
                envelope_id: body.text("envelope_id")?.to_owned(),
                expires_unix: body.number("expires")?,
            },
            "store_fetch_response" => {
                let envelopes = body
                    .all("envelope")
                    .map(|e| {
                        Ok(StoredEnvelope {
                            id: attribute(&body, e, "id")?.to_owned(),
                            from: attribute(&body, e, "from")?.to_owned(),
                            received_unix: super::parse_number(
                                message,
                                "received",
                                attribute(&body, e, "received")?,
                            )?,
                            data: decode_base64(message, "envelope", &e.text)?,
                        })
                    })
                    .collect::<Result<Vec<_>, IrpError>>()?;
                Self::StoreFetch {
                    envelopes,
                    more: boolean(&body, "more")?,
                }
            }
            "store_ack_response" => Self::StoreAck {
                deleted: body.number("deleted")?,
            },
            _ => {
                let number: u16 = body.number("status")?;
                let code = ErrorCode::from_number(number)
                    .ok_or_else(|| malformed(message, format!("unknown status {number}")))?;
                Self::Error(ErrorResponse {
                    code,
                    description: body
                        .optional("description")
                        .map(|e| e.text.chars().take(MAX_TEXT_CHARS).collect())
                        .unwrap_or_default(),
                    retry_after_secs: body.optional_number("retry_after")?,
                })
            }
        };
        Ok((header, response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header::new(Some("alice@example.org"), Some("example.org"), "r1")
    }

    fn alice() -> UserId {
        UserId::parse("alice@example.org").unwrap()
    }

    #[test]
    fn every_request_round_trips() {
        let record = SignedRecord {
            bytes: b"<address_record/>".to_vec(),
            signature: vec![9; 256],
        };
        let requests = vec![
            Request::Enroll {
                user_id: alice(),
                secret: "s3cret".into(),
                csr_der: vec![1, 2, 3],
            },
            Request::List,
            Request::Issue { csr_der: vec![4] },
            Request::Revoke {
                ski_hex: "abcd".into(),
                reason: "keyCompromise".into(),
            },
            Request::Register { record },
            Request::Lookup { user_id: alice() },
            Request::Crl,
            Request::BackupPut {
                pkcs12: vec![5; 40],
                recovery_secret: "a <b> & c".into(),
            },
            Request::BackupGet {
                user_id: alice(),
                recovery_secret: "x".into(),
            },
            Request::StorePut {
                to: alice(),
                envelope: vec![7; 100],
                expires_days: Some(3),
            },
            Request::StoreFetch { limit: 10 },
            Request::StoreAck {
                envelope_ids: vec!["e1".into(), "e2".into()],
            },
        ];
        for request in requests {
            let bytes = request.to_xml(&header());
            let (parsed_header, parsed) = Request::parse(&bytes).unwrap();
            assert_eq!(parsed_header, header());
            assert_eq!(parsed, request, "{}", String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn every_response_round_trips() {
        let record = SignedRecord {
            bytes: b"r".to_vec(),
            signature: vec![1],
        };
        let responses = vec![
            Response::Enroll {
                chain: vec![vec![1], vec![2]],
                root_der: vec![3],
            },
            Response::List {
                certificates: vec![CertStatus {
                    serial_hex: "0a".into(),
                    ski_hex: "bb".into(),
                    not_before_unix: 1,
                    not_after_unix: 2,
                    state: CertState::Revoked,
                    der: vec![8],
                }],
                record: Some(record.clone()),
                backup_stored: true,
                waiting: 3,
            },
            Response::Issue {
                chain: vec![vec![1]],
            },
            Response::Revoke {
                serial_hex: "0a".into(),
            },
            Response::Register {
                sequence: 4,
                expires_unix: 5,
            },
            Response::Lookup(Box::new(LookupResult {
                user_id: alice(),
                name: "Alice".into(),
                email: Some("alice@mail.example".into()),
                chain: vec![vec![1], vec![2]],
                state: CertState::Valid,
                record: Some(record),
                last_seen_unix: Some(6),
            })),
            Response::Crl {
                crl_der: vec![1],
                next_update_unix: 7,
            },
            Response::BackupPut,
            Response::BackupGet { pkcs12: vec![2] },
            Response::StorePut {
                envelope_id: "e1".into(),
                expires_unix: 8,
            },
            Response::StoreFetch {
                envelopes: vec![StoredEnvelope {
                    id: "e1".into(),
                    from: "bob@example.org".into(),
                    received_unix: 9,
                    data: vec![0; 3],
                }],
                more: false,
            },
            Response::StoreAck { deleted: 2 },
            Response::Error(ErrorResponse {
                code: ErrorCode::RateLimited,
                description: "slow down".into(),
                retry_after_secs: Some(30),
            }),
        ];
        for response in responses {
            let bytes = response.to_xml(&header().reply());
            let (_, parsed) = Response::parse(&bytes).unwrap();
            assert_eq!(parsed, response, "{}", String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn error_response_has_the_shape_irp_md_gives() {
        let bytes = Response::Error(ErrorResponse::new(ErrorCode::NoSuchUser, "no such user"))
            .to_xml(&Header::new(Some("example.org"), None, "q"));
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains(
            r#"<status>1201</status><description xml:lang="en">no such user</description>"#
        ));
    }

    #[test]
    fn bad_requests_name_their_fault() {
        let unknown = br#"<message xmlns="urn:sixchat:irp" version="1" type="launch" id="1"/>"#;
        assert_eq!(
            Request::parse(unknown).unwrap_err().code(),
            ErrorCode::UnknownRequest
        );
        let bad_reason = Request::Revoke {
            ski_hex: "ab".into(),
            reason: "because".into(),
        }
        .to_xml(&header());
        assert!(Request::parse(&bad_reason).is_err());
        let bad_base64 = br#"<message xmlns="urn:sixchat:irp" version="1" type="issue" id="1"><csr>!!</csr></message>"#;
        assert!(matches!(
            Request::parse(bad_base64),
            Err(IrpError::Malformed { .. })
        ));
    }

    #[test]
    fn a_refused_request_comes_with_the_header_to_answer_it_under() {
        let header_of = |bytes: &[u8]| Request::parse_answerable(bytes).unwrap_err().0;
        assert_eq!(header_of(b"garbage").id, "0");
        let version = br#"<message xmlns="urn:sixchat:irp" version="2" type="crl" id="v1" sender="a@b.org"/>"#;
        let (answer_to, error) = Request::parse_answerable(version).unwrap_err();
        assert_eq!((answer_to.id.as_str(), answer_to.sender), ("v1", None));
        assert_eq!(error.code(), ErrorCode::Version);
        let long_id = format!(
            r#"<message xmlns="urn:sixchat:irp" version="1" type="crl" id="{}"/>"#,
            "x".repeat(65)
        );
        assert_eq!(header_of(long_id.as_bytes()).id, "0");
        let bad_body = br#"<message xmlns="urn:sixchat:irp" version="1" sender="alice@example.org" recipient="example.org" type="lookup" id="r1"><user_id>nope</user_id></message>"#;
        let (answer_to, error) = Request::parse_answerable(bad_body).unwrap_err();
        assert_eq!(answer_to, header());
        assert!(matches!(error, IrpError::Malformed { .. }));
        let good = Request::Crl.to_xml(&header());
        assert_eq!(
            Request::parse_answerable(&good).unwrap(),
            (header(), Request::Crl)
        );
    }
}
