//! Who a peer is: UserIDs, trust levels, and the two seams through which the
//! handshake reaches the PKI without knowing it (certificate policy and signer).

use std::fmt;
use std::str::FromStr;

/// A SixChat UserID, `local@domain`, checked once at the edge (protocol.md,
/// "XML messages"): ASCII lowercase, a local part of 1-64 characters from
/// `a-z 0-9 . _ + -`, a domain that is a DNS name in A-label form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

/// Why a string is not a UserID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid UserID (local@domain, lowercase ASCII): {0:?}")]
pub struct InvalidUserId(pub String);

impl UserId {
    pub fn parse(text: &str) -> Result<Self, InvalidUserId> {
        let bad = || InvalidUserId(text.chars().take(80).collect());
        let (local, domain) = text.split_once('@').ok_or_else(bad)?;
        let local_ok = (1..=64).contains(&local.len())
            && local.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'_' | b'+' | b'-')
            });
        if !local_ok || !is_dns_name(domain) {
            return Err(bad());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or("", |(local, _)| local)
    }

    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, domain)| domain)
    }
}

/// A lowercase DNS name in A-label form: labels of 1-63 characters from
/// `a-z 0-9 -`, not starting or ending with `-`, at most 253 characters.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

impl FromStr for UserId {
    type Err = InvalidUserId;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

/// The four levels at which a peer is accepted (protocol.md, "Certificate policy").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrustLevel {
    /// No certificate: only the short authentication string says anything.
    Anonymous,
    /// Self-signed or from an unknown CA, not pinned: the person compares the code.
    New,
    /// Not verified, but its SHA-256 fingerprint is pinned for this UserID.
    Known,
    /// Chains to a directory root trusted for the UserID's domain.
    Verified,
}

impl TrustLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Known => "known",
            Self::New => "new",
            Self::Anonymous => "anonymous",
        }
    }

    /// New and anonymous sessions carry no application data until the person
    /// has compared the short authentication string and accepted.
    pub fn needs_sas_confirmation(self) -> bool {
        matches!(self, Self::New | Self::Anonymous)
    }
}

impl fmt::Display for TrustLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SHA-256 fingerprint over a DER certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of_der(der: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(sha2::Sha256::digest(der).into())
    }

    pub fn to_hex(&self) -> String {
        use fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    }

    /// Parses 64 hex digits, optionally separated by `:` (as OpenSSL prints them).
    pub fn parse_hex(text: &str) -> Option<Self> {
        let digits: Vec<u8> = text.bytes().filter(|b| *b != b':').collect();
        if digits.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Self(out))
    }

    /// Compares in constant time.
    pub fn ct_eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq as _;
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

/// What the certificate policy learned about an accepted peer certificate.
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    pub level: TrustLevel,
    /// The leaf's RSA public key as a DER SubjectPublicKeyInfo.
    pub public_key_spki_der: Vec<u8>,
    /// The leaf key's modulus size in bits.
    pub key_bits: usize,
    pub fingerprint: Fingerprint,
    /// True when the leaf is its own issuer (used to explain a refusal).
    pub self_signed: bool,
    /// The issuer's distinguished name, for display.
    pub issuer: String,
    /// Validity, as Unix seconds.
    pub not_before_unix: i64,
    pub not_after_unix: i64,
}

/// Why a peer certificate was refused, with the alert it maps to.
/// Each message is meant for a person and names the reason in plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertRejection {
    #[error("certificate expired")]
    Expired,
    #[error("certificate not yet valid")]
    NotYetValid,
    #[error("certificate revoked")]
    Revoked,
    #[error("unknown CA: {0}")]
    UnknownCa(String),
    #[error("CA not trusted for this domain: {0}")]
    CaNotTrustedForDomain(String),
    #[error("untrusted certificate: {0}")]
    NotTrusted(String),
    #[error("UserID mismatch: {0}")]
    UserIdMismatch(String),
    #[error("key too small: {0} bits")]
    KeyTooSmall(usize),
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    #[error("wrong key usage: {0}")]
    WrongKeyUsage(String),
    #[error("certificate does not match the key pinned for {0}")]
    PinMismatch(String),
    #[error("CRL for {0} is stale")]
    StaleCrl(String),
    /// No current revocation list is held for an issuer on the path, so the
    /// chain cannot be shown unrevoked (protocol.md: hard-fail).
    #[error("no revocation list is held for {0}, so revocation cannot be checked")]
    NoCrl(String),
    #[error("bad certificate: {0}")]
    BadCertificate(String),
}

impl CertRejection {
    /// The alert that tells the peer (protocol.md lists the certificate verdicts).
    pub fn alert(&self) -> crate::AlertCode {
        use crate::AlertCode as A;
        match self {
            Self::Expired | Self::NotYetValid => A::CertificateExpired,
            Self::Revoked => A::CertificateRevoked,
            Self::UnknownCa(_)
            | Self::CaNotTrustedForDomain(_)
            | Self::NotTrusted(_)
            | Self::StaleCrl(_)
            | Self::NoCrl(_) => A::UnknownCa,
            Self::UserIdMismatch(_) => A::UserIdMismatch,
            Self::KeyTooSmall(_)
            | Self::UnsupportedKey(_)
            | Self::WrongKeyUsage(_)
            | Self::PinMismatch(_)
            | Self::BadCertificate(_) => A::BadCertificate,
        }
    }
}

/// The certificate policy of steps 5 and 8, implemented by the PKI.
///
/// `chain` is DER, leaf first, at most 4. The implementation checks that the
/// leaf has exactly one SAN rfc822Name equal to `user_id` and one CN equal to
/// `name`, and returns the level it reached: `Verified` (path to a root trusted
/// for the domain, not revoked), `Known` (fingerprint pinned for the UserID),
/// or `New` (neither). A pinned UserID with another certificate is refused.
pub trait CertificatePolicy: Send + Sync {
    fn check_peer(
        &self,
        user_id: &UserId,
        name: &str,
        chain: &[Vec<u8>],
        now_unix: i64,
    ) -> Result<PeerCertificate, CertRejection>;

    /// The same policy for a mail: `for_encryption` false checks a signer
    /// (digitalSignature, emailProtection), true a recipient's encryption
    /// certificate (keyEncipherment, emailProtection, never pinned). The
    /// display name is not checked. Policies that know no mail refuse.
    fn check_mail(
        &self,
        user_id: &UserId,
        chain: &[Vec<u8>],
        for_encryption: bool,
        now_unix: i64,
    ) -> Result<PeerCertificate, CertRejection> {
        let _ = (user_id, chain, for_encryption, now_unix);
        Err(CertRejection::BadCertificate(
            "this policy does not check mail certificates".to_owned(),
        ))
    }
}

/// A private-key operation failed locally.
#[derive(Debug, Clone, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub String);

/// Signs the handshake proof with the local identity key: RSA-PSS, SHA-256,
/// MGF1-SHA-256, salt length 32. Network-reachable, so a constant-time
/// implementation (aws-lc-rs) is used in production.
pub trait HandshakeSigner: Send + Sync {
    fn sign_pss_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
    /// The modulus size in bits of the key (2048, 3072 or 4096).
    fn key_bits(&self) -> usize;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_follow_the_grammar() {
        assert!(UserId::parse("alice@example.org").is_ok());
        assert!(UserId::parse("a.b_c+d-e@xn--bcher-kva.example").is_ok());
        for bad in [
            "",
            "alice",
            "Alice@example.org",
            "alice@Example.org",
            "@example.org",
            "alice@",
            "al ice@x.org",
            "alice@-x.org",
            "alice@x..org",
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(UserId::parse(&format!("{}@x.org", "a".repeat(65))).is_err());
        let id = UserId::parse("bob@b.example").unwrap();
        assert_eq!((id.local_part(), id.domain()), ("bob", "b.example"));
    }

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let fp = Fingerprint::of_der(b"x");
        assert_eq!(Fingerprint::parse_hex(&fp.to_hex()), Some(fp));
        let colons: Vec<String> = fp.0.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(
            Fingerprint::parse_hex(&colons.join(":").to_lowercase()),
            Some(fp)
        );
        assert_eq!(Fingerprint::parse_hex("abcd"), None);
    }
}
