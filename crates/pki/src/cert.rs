//! Identity certificates: self-signed certificates and CSRs for a UserID,
//! reading certificates back ([`CertInfo`]), and PEM helpers.
//!
//! An identity certificate has subject CN = the display name, exactly one
//! subjectAltName rfc822Name = the UserID, extendedKeyUsage clientAuth and
//! emailProtection, keyUsage digitalSignature (critical), basicConstraints CA:false, a random
//! serial, and a sha256WithRSAEncryption signature.

use base64::Engine as _;
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SanType, SerialNumber,
};
use sixchat_proto::{Fingerprint, UserId};
use time::{Duration, OffsetDateTime};
use x509_parser::pem::Pem;

use crate::keys::IdentityKey;
use crate::x509::{self, KeyKind, Single};

/// Longest display name we put in a CN (X.520 ub-common-name).
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// Longest validity we issue, in days (about 27 years).
pub const MAX_VALID_DAYS: u32 = 10_000;

/// How far back `notBefore` is set, to tolerate peers whose clocks run slow.
pub(crate) const BACKDATE_SECS: i64 = 3600;

/// Why a certificate could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("the display name must be 1 to 64 characters without control characters")]
    BadDisplayName,
    #[error("validity must be 1 to 10000 days, not {0}")]
    BadValidity(u32),
    #[error("not a readable X.509 certificate")]
    Unparseable,
    #[error("the certificate names no UserID (no subjectAltName rfc822Name)")]
    NoUserId,
    #[error("the certificate names {0} UserIDs; an identity certificate names exactly one")]
    SeveralUserIds(usize),
    #[error("the certificate's UserID {0:?} is not a valid SixChat UserID")]
    BadUserId(String),
    #[error("the certificate has no common name")]
    NoCommonName,
    #[error("the certificate has {0} common names; an identity certificate has exactly one")]
    SeveralCommonNames(usize),
    #[error("the certificate's names could not be read")]
    UnreadableNames,
    #[error("the certificate's key is {0}, not RSA")]
    NotRsa(String),
    #[error("no certificate found in the data")]
    NoCertificate,
    #[error("a PEM block could not be decoded")]
    BadPem,
    #[error("could not build the certificate: {0}")]
    Build(String),
}

fn build_error(e: impl std::fmt::Display) -> CertError {
    CertError::Build(e.to_string())
}

/// Makes a self-signed identity certificate for `user_id`, valid from an hour
/// ago for `valid_days` days. Returns DER.
pub fn self_signed_identity(
    key: &IdentityKey,
    user_id: &UserId,
    display_name: &str,
    valid_days: u32,
) -> Result<Vec<u8>, CertError> {
    let now = OffsetDateTime::now_utc();
    let (not_before, not_after) = validity_from(now, valid_days)?;
    let params = identity_params(
        user_id,
        display_name,
        key.public_key_spki_der(),
        not_before,
        not_after,
        random_serial(),
    )?;
    Ok(params
        .self_signed(&RcgenSigner(key))
        .map_err(build_error)?
        .der()
        .to_vec())
}

/// Makes a PKCS#10 certificate signing request (DER) with the same subject
/// and subjectAltName as [`self_signed_identity`].
pub fn csr_for(
    key: &IdentityKey,
    user_id: &UserId,
    display_name: &str,
) -> Result<Vec<u8>, CertError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(display_name)?;
    params.subject_alt_names = vec![rfc822_san(user_id)?];
    Ok(params
        .serialize_request(&RcgenSigner(key))
        .map_err(build_error)?
        .der()
        .to_vec())
}

/// `now - BACKDATE_SECS` .. `now + valid_days`.
pub(crate) fn validity_from(
    now: OffsetDateTime,
    valid_days: u32,
) -> Result<(OffsetDateTime, OffsetDateTime), CertError> {
    if !(1..=MAX_VALID_DAYS).contains(&valid_days) {
        return Err(CertError::BadValidity(valid_days));
    }
    Ok((
        now - Duration::seconds(BACKDATE_SECS),
        now + Duration::days(i64::from(valid_days)),
    ))
}

/// The parameters of an identity (leaf) certificate.
pub(crate) fn identity_params(
    user_id: &UserId,
    display_name: &str,
    spki_der: &[u8],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    serial: SerialNumber,
) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(display_name)?;
    params.subject_alt_names = vec![rfc822_san(user_id)?];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // emailProtection too: the identity key signs mail, and OpenSSL's and
    // NSS's S/MIME checks refuse a signer whose EKU lacks it (mail.md).
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::EmailProtection,
    ];
    // No basicConstraints at all: an end entity's default. rcgen's
    // `ExplicitNoCa` spells out `cA FALSE`, a default value DER forbids, and
    // strict parsers refuse the certificate.
    params.is_ca = IsCa::NoCa;
    params.custom_extensions = vec![subject_key_identifier(spki_der)?];
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(serial);
    Ok(params)
}

/// The parameters of a mail encryption certificate (mail.md): as an
/// identity certificate, but keyUsage keyEncipherment only and
/// extendedKeyUsage emailProtection only, so the key can never sign a
/// handshake or a mail.
pub(crate) fn encryption_params(
    user_id: &UserId,
    display_name: &str,
    spki_der: &[u8],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    serial: SerialNumber,
) -> Result<CertificateParams, CertError> {
    let mut params = identity_params(
        user_id,
        display_name,
        spki_der,
        not_before,
        not_after,
        serial,
    )?;
    params.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
    Ok(params)
}

/// The subjectKeyIdentifier extension for an end entity (`id revoke` and the
/// DIR's `revoke SKI` name a key by it): the first 20 bytes of the SHA-256
/// of the key's SubjectPublicKeyInfo. rcgen writes it only together with
/// basicConstraints, which an end entity leaves out.
pub(crate) fn subject_key_identifier(spki_der: &[u8]) -> Result<CustomExtension, CertError> {
    use der::Encode as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(spki_der);
    let key_id = der::asn1::OctetStringRef::new(&digest[..20]).map_err(build_error)?;
    let value = key_id.to_der().map_err(build_error)?;
    Ok(CustomExtension::from_oid_content(&[2, 5, 29, 14], value))
}

pub(crate) fn common_name(display_name: &str) -> Result<DistinguishedName, CertError> {
    let count = display_name.chars().count();
    if count == 0 || count > MAX_DISPLAY_NAME_CHARS || display_name.chars().any(char::is_control) {
        return Err(CertError::BadDisplayName);
    }
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, display_name);
    Ok(name)
}

fn rfc822_san(user_id: &UserId) -> Result<SanType, CertError> {
    let ia5 = user_id.as_str().try_into().map_err(build_error)?;
    Ok(SanType::Rfc822Name(ia5))
}

/// A positive 128-bit random serial (RFC 5280: at most 20 octets).
pub(crate) fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    // SystemRandom only fails if the OS RNG is unavailable; fall back to a
    // time-derived serial rather than panicking (serials need uniqueness, not secrecy).
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        bytes = nanos.to_be_bytes();
    }
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

/// The identity key seen by rcgen: it signs sha256WithRSAEncryption through
/// the key's own aws-lc-rs key pair.
pub(crate) struct RcgenSigner<'a>(pub(crate) &'a IdentityKey);

impl rcgen::PublicKeyData for RcgenSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0.rsa_public_key_der()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

impl rcgen::SigningKey for RcgenSigner<'_> {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.0
            .sign_pkcs1_sha256(message)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// Whether mail may be encrypted to this certificate's key: keyUsage absent
/// or allowing keyEncipherment, extendedKeyUsage absent or emailProtection.
/// A DIR's encryption certificate qualifies; its identity certificate does
/// not. An imported certificate that allows both serves both (mail.md).
pub fn may_encrypt_to(cert_der: &[u8]) -> bool {
    x509::may_encrypt_to(cert_der)
}

/// What a certificate says, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The single subjectAltName rfc822Name.
    pub user_id: UserId,
    /// The single subject commonName (the display name).
    pub name: String,
    pub issuer: String,
    pub subject: String,
    /// The serial number in lowercase hex, without leading zero bytes.
    pub serial_hex: String,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    /// SHA-256 over the DER certificate.
    pub fingerprint: Fingerprint,
    /// RSA modulus size.
    pub key_bits: usize,
    /// Issuer equals subject and the certificate's own key verifies it.
    pub is_self_signed: bool,
    /// The subjectKeyIdentifier in lowercase hex, if present.
    pub subject_key_id_hex: Option<String>,
}

impl CertInfo {
    /// Reads an identity certificate (DER). Refuses one without exactly one
    /// rfc822Name and one CN, or with a key that is not RSA.
    pub fn parse(der: &[u8]) -> Result<Self, CertError> {
        let cert = x509::parse_certificate(der).ok_or(CertError::Unparseable)?;
        let user_id = match x509::single_rfc822_name(&cert) {
            Single::One(text) => UserId::parse(&text)
                .map_err(|_| CertError::BadUserId(text.chars().take(80).collect()))?,
            Single::None => return Err(CertError::NoUserId),
            Single::Several(n) => return Err(CertError::SeveralUserIds(n)),
            Single::Unreadable => return Err(CertError::UnreadableNames),
        };
        let name = match x509::single_common_name(&cert) {
            Single::One(text) => text,
            Single::None => return Err(CertError::NoCommonName),
            Single::Several(n) => return Err(CertError::SeveralCommonNames(n)),
            Single::Unreadable => return Err(CertError::UnreadableNames),
        };
        let key_bits = match x509::key_kind(cert.public_key()) {
            KeyKind::Rsa(bits) => bits,
            KeyKind::Other(what) => return Err(CertError::NotRsa(what)),
        };
        Ok(Self {
            user_id,
            name,
            issuer: cert.issuer().to_string(),
            subject: cert.subject().to_string(),
            serial_hex: hex::encode(x509::normalized_serial(cert.raw_serial())),
            not_before_unix: x509::unix(cert.validity().not_before),
            not_after_unix: x509::unix(cert.validity().not_after),
            fingerprint: Fingerprint::of_der(der),
            key_bits,
            is_self_signed: x509::is_self_signed(&cert),
            subject_key_id_hex: x509::subject_key_id(&cert).map(hex::encode),
        })
    }
}

/// The certificate's public key as a DER SubjectPublicKeyInfo.
pub fn public_key_spki_der(der: &[u8]) -> Result<Vec<u8>, CertError> {
    let cert = x509::parse_certificate(der).ok_or(CertError::Unparseable)?;
    Ok(cert.public_key().raw.to_vec())
}

/// Reads every certificate from PEM text (any `CERTIFICATE` blocks) or from a
/// single DER certificate. The certificates are checked to parse.
pub fn certificates_from_pem_or_der(bytes: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    if x509::parse_certificate(bytes).is_some() {
        return Ok(vec![bytes.to_vec()]);
    }
    let mut out = Vec::new();
    for block in Pem::iter_from_buffer(bytes) {
        let block = block.map_err(|_| CertError::BadPem)?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        if x509::parse_certificate(&block.contents).is_none() {
            return Err(CertError::Unparseable);
        }
        out.push(block.contents);
    }
    if out.is_empty() {
        return Err(CertError::NoCertificate);
    }
    Ok(out)
}

/// Reads the first certificate from PEM or DER bytes.
pub fn certificate_from_pem_or_der(bytes: &[u8]) -> Result<Vec<u8>, CertError> {
    certificates_from_pem_or_der(bytes)?
        .into_iter()
        .next()
        .ok_or(CertError::NoCertificate)
}

/// Encodes DER as a PEM block with `label` (e.g. `CERTIFICATE`, `X509 CRL`).
pub fn to_pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    let mut rest = body.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> IdentityKey {
        IdentityKey::from_pkcs8_der(include_bytes!("../tests/fixtures/keys/rsa2048-a.pk8"))
            .expect("fixture key is a valid RSA-2048 PKCS#8 key")
    }

    #[test]
    fn self_signed_identity_reads_back() {
        let key = key();
        let user = UserId::parse("alice@a.example").unwrap();
        let der = self_signed_identity(&key, &user, "Alice Liddell", 365).unwrap();
        let info = CertInfo::parse(&der).unwrap();
        assert_eq!(info.user_id, user);
        assert_eq!(info.name, "Alice Liddell");
        assert_eq!(info.key_bits, 2048);
        assert!(info.is_self_signed);
        assert_eq!(info.issuer, info.subject);
        assert_eq!(
            info.not_after_unix - info.not_before_unix,
            365 * 86_400 + BACKDATE_SECS
        );
        assert_eq!(info.fingerprint, Fingerprint::of_der(&der));
        assert!(info.subject_key_id_hex.is_some());
        assert_eq!(info.serial_hex.len(), 32);
    }

    #[test]
    fn bad_display_names_and_validity_are_refused() {
        let key = key();
        let user = UserId::parse("alice@a.example").unwrap();
        for name in ["", "tab\there", &"x".repeat(65)] {
            assert_eq!(
                self_signed_identity(&key, &user, name, 30),
                Err(CertError::BadDisplayName)
            );
        }
        assert_eq!(
            self_signed_identity(&key, &user, "A", 0),
            Err(CertError::BadValidity(0))
        );
    }

    #[test]
    fn pem_round_trip_of_one_and_many() {
        let key = key();
        let a = self_signed_identity(&key, &UserId::parse("a@x.example").unwrap(), "A", 1).unwrap();
        let b = self_signed_identity(&key, &UserId::parse("b@x.example").unwrap(), "B", 1).unwrap();
        let pem = format!(
            "junk before\n{}{}",
            to_pem("CERTIFICATE", &a),
            to_pem("CERTIFICATE", &b)
        );
        assert_eq!(
            certificates_from_pem_or_der(pem.as_bytes()).unwrap(),
            vec![a.clone(), b]
        );
        assert_eq!(certificate_from_pem_or_der(&a).unwrap(), a);
        assert_eq!(
            certificates_from_pem_or_der(b"nothing here"),
            Err(CertError::NoCertificate)
        );
        assert!(CertInfo::parse(b"\x30\x03\x02\x01\x01").is_err());
    }
}
