//! [`Response`]: its name, XML body and parsing.

use super::{
    CertStatus, CertUsage, ErrorCode, ErrorResponse, LookupResult, MAX_TEXT_CHARS, Response,
    StoredEnvelope, attribute, boolean, chain, optional_short_text, short_text, state, user_id,
};
use crate::irp::record::SignedRecord;
use crate::irp::{Body, Header, IrpError, Writer, decode_base64, malformed, parse_envelope};

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

    #[allow(clippy::too_many_lines)] // one arm per IRP response type; the arms are the table of irp.md
    pub fn to_xml(&self, header: &Header) -> Vec<u8> {
        let mut w = Writer::new(self.type_name(), header);
        match self {
            Self::Enroll {
                chain,
                root_der,
                encryption_certificate,
            } => {
                for der in chain {
                    w.base64("certificate", der);
                }
                w.base64("root", root_der);
                if let Some(der) = encryption_certificate {
                    w.base64("encryption_certificate", der);
                }
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
                            ("usage", cert.usage.as_str()),
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
            Self::Issue {
                chain,
                encryption_certificate,
            } => {
                for der in chain {
                    w.base64("certificate", der);
                }
                if let Some(der) = encryption_certificate {
                    w.base64("encryption_certificate", der);
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
                if let Some(der) = &found.encryption_certificate {
                    w.base64("encryption_certificate", der);
                }
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
    #[allow(clippy::too_many_lines)] // one arm per IRP response type; the arms are the table of irp.md
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
                encryption_certificate: body.optional_base64("encryption_certificate")?,
            },
            "list_response" => {
                let certificates = body
                    .all("certificate")
                    .map(|e| {
                        Ok(CertStatus {
                            usage: CertUsage::parse(e.attribute("usage"))
                                .ok_or_else(|| malformed(message, "unknown certificate usage"))?,
                            serial_hex: attribute(&body, e, "serial")?.to_owned(),
                            ski_hex: attribute(&body, e, "ski")?.to_owned(),
                            not_before_unix: crate::irp::parse_number(
                                message,
                                "not_before",
                                attribute(&body, e, "not_before")?,
                            )?,
                            not_after_unix: crate::irp::parse_number(
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
                encryption_certificate: body.optional_base64("encryption_certificate")?,
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
                encryption_certificate: body.optional_base64("encryption_certificate")?,
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
                            received_unix: crate::irp::parse_number(
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
