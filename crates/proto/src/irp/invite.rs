//! The invite string (irp.md, "Invites"):
//! `sixchat-invite:1:<dir host:port>:<user id>:<one-time secret>:<root sha256 hex>`.
//!
//! The DIR address may be an IPv6 literal in brackets (`[::1]:4604`), so the
//! string is read from both ends: the prefix, then the last three fields; what
//! is left is the address.

use crate::identity::{Fingerprint, UserId};

/// The fixed start of every invite.
pub const PREFIX: &str = "sixchat-invite:1:";

/// A parsed invite.
#[derive(Clone, PartialEq, Eq)]
pub struct Invite {
    /// `host:port` of the DIR, as written (a DNS name, an IPv4 address or a
    /// bracketed IPv6 address).
    pub dir_address: String,
    pub user_id: UserId,
    /// The one-time secret (URL-safe characters only).
    pub secret: String,
    /// SHA-256 of the domain's DIR root certificate.
    pub root_fingerprint: Fingerprint,
}

impl std::fmt::Debug for Invite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invite")
            .field("dir_address", &self.dir_address)
            .field("user_id", &self.user_id)
            .field("root_fingerprint", &self.root_fingerprint)
            .finish_non_exhaustive()
    }
}

/// Why an invite string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("not a SixChat invite (it must start with {PREFIX})")]
    Prefix,
    #[error("the invite is cut short or has extra fields")]
    Fields,
    #[error("the invite's DIR address {0:?} is not host:port")]
    Address(String),
    #[error("the invite's UserID is not valid: {0}")]
    UserId(String),
    #[error("the invite's secret is empty or has characters an invite cannot carry")]
    Secret,
    #[error("the invite's root fingerprint is not 64 hex digits")]
    Fingerprint,
}

impl Invite {
    pub fn parse(text: &str) -> Result<Self, InviteError> {
        let rest = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(InviteError::Prefix)?;
        let mut fields = rest.rsplitn(4, ':');
        let (Some(root), Some(secret), Some(user), Some(address)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(InviteError::Fields);
        };
        let root_fingerprint = Fingerprint::parse_hex(root).ok_or(InviteError::Fingerprint)?;
        if secret.is_empty()
            || secret.len() > 128
            || !secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(InviteError::Secret);
        }
        let user_id = UserId::parse(user).map_err(|e| InviteError::UserId(e.to_string()))?;
        if !valid_address(address) {
            return Err(InviteError::Address(address.chars().take(80).collect()));
        }
        Ok(Self {
            dir_address: address.to_owned(),
            user_id,
            secret: secret.to_owned(),
            root_fingerprint,
        })
    }

    /// The DIR host without the port (brackets removed from IPv6).
    pub fn dir_host(&self) -> &str {
        host_of(&self.dir_address)
    }
}

impl std::fmt::Display for Invite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{PREFIX}{}:{}:{}:{}",
            self.dir_address,
            self.user_id,
            self.secret,
            self.root_fingerprint.to_hex()
        )
    }
}

/// The host part of `host:port` (brackets removed from an IPv6 literal).
pub fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn valid_address(address: &str) -> bool {
    let Some((host, port)) = address.rsplit_once(':') else {
        return false;
    };
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return false;
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    host.parse::<std::net::Ipv4Addr>().is_ok() || crate::identity::is_dns_name(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn invites_with_every_kind_of_address_round_trip() {
        for address in ["dir.example.org:4604", "127.0.0.1:4604", "[::1]:14604"] {
            let text = format!("sixchat-invite:1:{address}:alice@example.org:Sec-ret_1:{ROOT}");
            let invite = Invite::parse(&text).unwrap();
            assert_eq!(invite.dir_address, address);
            assert_eq!(invite.user_id.as_str(), "alice@example.org");
            assert_eq!(invite.secret, "Sec-ret_1");
            assert_eq!(invite.to_string(), text);
            assert!(!format!("{invite:?}").contains("Sec-ret_1"));
        }
        let v6 = Invite::parse(&format!("sixchat-invite:1:[::1]:4604:a@b.org:s:{ROOT}")).unwrap();
        assert_eq!(v6.dir_host(), "::1");
    }

    #[test]
    fn broken_invites_say_what_is_wrong() {
        let cases = [
            ("hello", InviteError::Prefix),
            ("sixchat-invite:1:a@b.org:s", InviteError::Fields),
            (
                "sixchat-invite:1:h.org:4604:a@b.org:s:abcd",
                InviteError::Fingerprint,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Invite::parse(text).unwrap_err(), expected, "{text}");
        }
        let bad_port = format!("sixchat-invite:1:h.org:0:a@b.org:s:{ROOT}");
        assert!(matches!(
            Invite::parse(&bad_port),
            Err(InviteError::Address(_))
        ));
        let bad_secret = format!("sixchat-invite:1:h.org:1:a@b.org:s s:{ROOT}");
        assert_eq!(Invite::parse(&bad_secret).unwrap_err(), InviteError::Secret);
    }
}
