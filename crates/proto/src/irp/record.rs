//! The user-signed address record (irp.md, `register` and `lookup`).
//!
//! The record's canonical bytes are a small XML document written by
//! [`AddressRecord::to_bytes`]; they travel base64-encoded and verbatim, so
//! the signature is checked over exactly the bytes that were signed. The
//! signature is RSA-PSS / SHA-256 (salt 32) by the user's identity key over
//! [`SIGNATURE_LABEL`] ‖ bytes.

use std::net::{IpAddr, SocketAddr};

use super::{Body, IrpError, Writer, decode_base64, malformed};
use crate::identity::UserId;
use crate::xml;

/// The domain-separation prefix of the signed data.
pub const SIGNATURE_LABEL: &[u8] = b"sixchat address record v1\0";
/// Longest lifetime of a record (irp.md: at most 24 h).
pub const MAX_LIFETIME_SECS: i64 = 24 * 60 * 60;
/// Most addresses in one record.
pub const MAX_ADDRESSES: usize = 16;
/// Largest canonical record, in bytes.
pub const MAX_RECORD_BYTES: usize = 4096;

/// Where a user's agent can be reached now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRecord {
    pub user_id: UserId,
    /// Strictly increasing per user; the DIR refuses a lower or equal one.
    pub sequence: u64,
    pub expires_unix: i64,
    /// IPv6 first, then IPv4, as the agent listed them.
    pub addresses: Vec<SocketAddr>,
}

/// A record's canonical bytes and the signature over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRecord {
    pub bytes: Vec<u8>,
    pub signature: Vec<u8>,
}

/// How far an address reaches: `global`, `private` (ULA or RFC 1918),
/// `link` (link-local) or `loopback`.
pub fn scope_of(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V6(v6) if v6.is_loopback() => "loopback",
        IpAddr::V4(v4) if v4.is_loopback() => "loopback",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => "link",
        IpAddr::V4(v4) if v4.is_link_local() => "link",
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => "private",
        IpAddr::V4(v4) if v4.is_private() => "private",
        _ => "global",
    }
}

impl AddressRecord {
    /// The canonical bytes:
    /// `<address_record xmlns="urn:sixchat:irp" version="1"><user_id>…</user_id><sequence>…</sequence><expires>…</expires><address scope="…">[v6]:port</address>…</address_record>`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(256);
        out.push_str("<address_record xmlns=\"urn:sixchat:irp\" version=\"1\"><user_id>");
        xml::escape_into(&mut out, self.user_id.as_str());
        out.push_str("</user_id><sequence>");
        out.push_str(&self.sequence.to_string());
        out.push_str("</sequence><expires>");
        out.push_str(&self.expires_unix.to_string());
        out.push_str("</expires>");
        for address in &self.addresses {
            out.push_str("<address scope=\"");
            out.push_str(scope_of(address.ip()));
            out.push_str("\">");
            out.push_str(&address.to_string());
            out.push_str("</address>");
        }
        out.push_str("</address_record>");
        out.into_bytes()
    }

    /// Reads canonical bytes (the signature is checked separately, over the
    /// same bytes).
    pub fn parse(bytes: &[u8]) -> Result<Self, IrpError> {
        const WHAT: &str = "address_record";
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(malformed(WHAT, "too large"));
        }
        let root = xml::parse(bytes)?;
        if root.name != WHAT
            || root.attribute("xmlns") != Some(super::NAMESPACE)
            || root.attribute("version") != Some(super::VERSION)
        {
            return Err(malformed(WHAT, "not a version 1 address record"));
        }
        let body = Body {
            message: WHAT,
            root: &root,
        };
        let user_id = UserId::parse(body.text("user_id")?)
            .map_err(|_| malformed(WHAT, "<user_id> is not a UserID"))?;
        let addresses = body
            .all("address")
            .map(|e| {
                e.text
                    .parse::<SocketAddr>()
                    .map_err(|_| malformed(WHAT, "<address> is not ip:port"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if addresses.is_empty() || addresses.len() > MAX_ADDRESSES {
            return Err(malformed(WHAT, "no addresses, or too many"));
        }
        Ok(Self {
            user_id,
            sequence: body.number("sequence")?,
            expires_unix: body.number("expires")?,
            addresses,
        })
    }

    /// The bytes the user's key signs: [`SIGNATURE_LABEL`] ‖ canonical bytes.
    pub fn signed_data(canonical: &[u8]) -> Vec<u8> {
        let mut data = Vec::with_capacity(SIGNATURE_LABEL.len() + canonical.len());
        data.extend_from_slice(SIGNATURE_LABEL);
        data.extend_from_slice(canonical);
        data
    }

    /// True while the record may be used at `now_unix`.
    pub fn is_current(&self, now_unix: i64) -> bool {
        self.expires_unix > now_unix
    }
}

impl SignedRecord {
    pub(crate) fn write(&self, w: &mut Writer) {
        w.base64("record", &self.bytes);
        w.base64("signature", &self.signature);
    }

    pub(crate) fn read(body: &Body<'_>) -> Result<Self, IrpError> {
        let bytes = body.base64("record")?;
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(malformed(body.message, "<record> too large"));
        }
        let signature = body.base64("signature")?;
        if signature.len() > 1024 {
            return Err(malformed(body.message, "<signature> too large"));
        }
        Ok(Self { bytes, signature })
    }

    pub(crate) fn read_optional(body: &Body<'_>) -> Result<Option<Self>, IrpError> {
        match body.optional("record") {
            None => Ok(None),
            Some(e) => {
                decode_base64(body.message, "record", &e.text)?;
                Self::read(body).map(Some)
            }
        }
    }

    /// Parses the record inside.
    pub fn record(&self) -> Result<AddressRecord, IrpError> {
        AddressRecord::parse(&self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_round_trip_and_carry_scopes() {
        let record = AddressRecord {
            user_id: UserId::parse("alice@example.org").unwrap(),
            sequence: 3,
            expires_unix: 1_800_000_000,
            addresses: vec![
                "[2001:db8::1]:4605".parse().unwrap(),
                "[::1]:4605".parse().unwrap(),
                "192.168.1.4:4605".parse().unwrap(),
            ],
        };
        let bytes = record.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(r#"<address scope="global">[2001:db8::1]:4605</address>"#));
        assert!(text.contains(r#"<address scope="private">192.168.1.4:4605</address>"#));
        assert_eq!(AddressRecord::parse(&bytes).unwrap(), record);
        assert!(AddressRecord::signed_data(&bytes).starts_with(SIGNATURE_LABEL));
        assert!(record.is_current(1_700_000_000));
        assert!(!record.is_current(1_800_000_000));
    }

    #[test]
    fn records_without_addresses_or_with_junk_are_refused() {
        let empty = br#"<address_record xmlns="urn:sixchat:irp" version="1"><user_id>a@b.org</user_id><sequence>1</sequence><expires>2</expires></address_record>"#;
        assert!(AddressRecord::parse(empty).is_err());
        let junk = br#"<address_record xmlns="urn:sixchat:irp" version="1"><user_id>a@b.org</user_id><sequence>1</sequence><expires>2</expires><address>here</address></address_record>"#;
        assert!(AddressRecord::parse(junk).is_err());
    }
}
