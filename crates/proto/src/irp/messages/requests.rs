//! [`Request`]: its name, XML body and parsing.

use super::{MAX_PAGE, REVOKE_REASONS, Request, short_text, user_id};
use crate::irp::record::SignedRecord;
use crate::irp::{Body, Header, IrpError, Writer, malformed};
use crate::xml::{self, Element};

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
                encryption_csr_der,
            } => {
                w.text("user_id", user_id.as_str());
                w.text("secret", secret);
                w.base64("csr", csr_der);
                if let Some(der) = encryption_csr_der {
                    w.base64("encryption_csr", der);
                }
            }
            Self::List | Self::Crl => {}
            Self::Issue {
                csr_der,
                encryption_csr_der,
            } => {
                w.base64("csr", csr_der);
                if let Some(der) = encryption_csr_der {
                    w.base64("encryption_csr", der);
                }
            }
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
        let root = xml::parse(bytes).map_err(|e| (crate::irp::fallback_header(None), e.into()))?;
        let (kind, header) = crate::irp::read_envelope(&root)
            .map_err(|e| (crate::irp::fallback_header(Some(&root)), e))?;
        match Self::read_body(&kind, &root) {
            Ok(request) => Ok((header, request)),
            Err(error) => Err((header, error)),
        }
    }

    #[allow(clippy::too_many_lines)] // one arm per IRP request type; the arms are the table of irp.md
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
                encryption_csr_der: body.optional_base64("encryption_csr")?,
            },
            "list" => Self::List,
            "issue" => Self::Issue {
                csr_der: body.base64("csr")?,
                encryption_csr_der: body.optional_base64("encryption_csr")?,
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
                        .any(|id| id.is_empty() || id.len() > crate::irp::MAX_ID_CHARS)
                {
                    return Err(malformed(message, "bad <envelope_id> list"));
                }
                Self::StoreAck { envelope_ids }
            }
        };
        Ok(request)
    }
}
