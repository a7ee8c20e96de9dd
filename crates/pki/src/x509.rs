//! Crate-private X.509 helpers shared by `cert`, `trust` and `ca`: strict
//! parsing, names, RSA key sizes, and signature checks through aws-lc-rs.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::{Any, FromDer as _};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS, OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA,
    OID_PKCS1_SHA512WITHRSA,
};
use x509_parser::public_key::PublicKey;
use x509_parser::signature_algorithm::SignatureAlgorithm;
use x509_parser::time::ASN1Time;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

/// Parses one DER certificate, refusing trailing bytes.
pub(crate) fn parse_certificate(der: &[u8]) -> Option<X509Certificate<'_>> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Some(cert),
        _ => None,
    }
}

/// What kind of public key a SubjectPublicKeyInfo holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa(usize),
    Other(String),
}

/// A mail encryption certificate: its keyUsage allows keyEncipherment and
/// not digitalSignature (so it can never stand for the identity).
pub(crate) fn encryption_only(cert: &X509Certificate<'_>) -> bool {
    matches!(cert.key_usage(), Ok(Some(ku))
        if ku.value.key_encipherment() && !ku.value.digital_signature())
}

/// Whether a key with this certificate may receive mail (RSA key transport):
/// keyUsage absent or allowing keyEncipherment, and extendedKeyUsage absent
/// or naming emailProtection or anyExtendedKeyUsage.
pub(crate) fn may_encrypt_to(cert_der: &[u8]) -> bool {
    let Some(cert) = parse_certificate(cert_der) else {
        return false;
    };
    let usage = match cert.key_usage() {
        Ok(None) => true,
        Ok(Some(ku)) => ku.value.key_encipherment(),
        Err(_) => false,
    };
    let extended = match cert.extended_key_usage() {
        Ok(None) => true,
        Ok(Some(eku)) => eku.value.email_protection || eku.value.any,
        Err(_) => false,
    };
    usage && extended
}

pub(crate) fn key_kind(spki: &SubjectPublicKeyInfo<'_>) -> KeyKind {
    if spki.algorithm.algorithm != OID_PKCS1_RSAENCRYPTION {
        let name = match spki.parsed() {
            Ok(PublicKey::EC(_)) => "an elliptic-curve key".to_owned(),
            Ok(PublicKey::DSA(_)) => "a DSA key".to_owned(),
            _ => format!("a key of type {}", spki.algorithm.algorithm),
        };
        return KeyKind::Other(name);
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => KeyKind::Rsa(modulus_bits(rsa.modulus)),
        _ => KeyKind::Other("a malformed RSA key".to_owned()),
    }
}

/// The exact bit length of a big-endian modulus (leading zero bytes ignored).
fn modulus_bits(modulus: &[u8]) -> usize {
    let trimmed = match modulus.iter().position(|b| *b != 0) {
        Some(start) => &modulus[start..],
        None => return 0,
    };
    (trimmed.len() - 1) * 8 + (8 - trimmed[0].leading_zeros() as usize)
}

/// The RSA modulus size of a DER SubjectPublicKeyInfo, if it is RSA.
pub(crate) fn rsa_bits_of_spki_der(spki_der: &[u8]) -> Option<usize> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).ok()?;
    match key_kind(&spki) {
        KeyKind::Rsa(bits) => Some(bits),
        KeyKind::Other(_) => None,
    }
}

/// The single value of a set of names, or why there is not exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Single {
    One(String),
    None,
    Several(usize),
    Unreadable,
}

/// The certificate's rfc822Name subject alternative names.
pub(crate) fn single_rfc822_name(cert: &X509Certificate<'_>) -> Single {
    let Ok(san) = cert.subject_alternative_name() else {
        return Single::Unreadable;
    };
    let names: Vec<&str> = san
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::RFC822Name(email) => Some(*email),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    single(names.into_iter().map(|s| Some(s.to_owned())))
}

/// The subject's commonName attributes.
pub(crate) fn single_common_name(cert: &X509Certificate<'_>) -> Single {
    single(
        cert.subject()
            .iter_common_name()
            .map(|cn| cn.as_str().ok().map(str::to_owned)),
    )
}

fn single(values: impl Iterator<Item = Option<String>>) -> Single {
    let values: Vec<Option<String>> = values.collect();
    match values.as_slice() {
        [] => Single::None,
        [Some(one)] => Single::One(one.clone()),
        [None] => Single::Unreadable,
        many => Single::Several(many.len()),
    }
}

/// The subject key identifier, if the extension is present.
pub(crate) fn subject_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
}

/// Seconds since the Unix epoch.
pub(crate) fn unix(time: ASN1Time) -> i64 {
    time.timestamp()
}

/// A serial number with leading zero bytes removed, for comparisons.
pub(crate) fn normalized_serial(raw: &[u8]) -> &[u8] {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    &raw[start..]
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignatureProblem {
    /// An algorithm we do not verify (SHA-1, ECDSA, unusual PSS parameters...).
    Unsupported(String),
    /// The signature does not verify with the key.
    Invalid,
}

/// Verifies `signature_bits` over `signed` with the signer's SubjectPublicKeyInfo.
/// Accepts RSA PKCS#1 v1.5 with SHA-256/384/512 and RSA-PSS with SHA-256/384/512
/// (MGF1 with the same hash, salt the hash length); nothing with SHA-1.
pub(crate) fn verify_signature(
    signer_spki: &SubjectPublicKeyInfo<'_>,
    algorithm: &AlgorithmIdentifier<'_>,
    signature_bits: &[u8],
    signed: &[u8],
) -> Result<(), SignatureProblem> {
    let verifier = verification_algorithm(algorithm)?;
    UnparsedPublicKey::new(verifier, signer_spki.raw)
        .verify(signed, signature_bits)
        .map_err(|_| SignatureProblem::Invalid)
}

fn verification_algorithm(
    algorithm: &AlgorithmIdentifier<'_>,
) -> Result<&'static dyn VerificationAlgorithm, SignatureProblem> {
    let oid = &algorithm.algorithm;
    if *oid == OID_PKCS1_SHA256WITHRSA {
        return Ok(&signature::RSA_PKCS1_2048_8192_SHA256);
    }
    if *oid == OID_PKCS1_SHA384WITHRSA {
        return Ok(&signature::RSA_PKCS1_2048_8192_SHA384);
    }
    if *oid == OID_PKCS1_SHA512WITHRSA {
        return Ok(&signature::RSA_PKCS1_2048_8192_SHA512);
    }
    if *oid == OID_PKCS1_RSASSAPSS {
        return pss_algorithm(algorithm);
    }
    Err(SignatureProblem::Unsupported(format!(
        "signature algorithm {oid}"
    )))
}

fn pss_algorithm(
    algorithm: &AlgorithmIdentifier<'_>,
) -> Result<&'static dyn VerificationAlgorithm, SignatureProblem> {
    use x509_parser::oid_registry::{
        OID_NIST_HASH_SHA256, OID_NIST_HASH_SHA384, OID_NIST_HASH_SHA512,
    };
    let unsupported = || SignatureProblem::Unsupported("RSA-PSS parameters".to_owned());
    let Ok(SignatureAlgorithm::RSASSA_PSS(params)) = SignatureAlgorithm::try_from(algorithm) else {
        return Err(unsupported());
    };
    let hash = params.hash_algorithm_oid();
    let mgf_hash_matches = params
        .mask_gen_algorithm()
        .is_ok_and(|mgf| mgf.hash == *hash);
    let (verifier, salt): (&'static dyn VerificationAlgorithm, u32) =
        if *hash == OID_NIST_HASH_SHA256 {
            (&signature::RSA_PSS_2048_8192_SHA256, 32)
        } else if *hash == OID_NIST_HASH_SHA384 {
            (&signature::RSA_PSS_2048_8192_SHA384, 48)
        } else if *hash == OID_NIST_HASH_SHA512 {
            (&signature::RSA_PSS_2048_8192_SHA512, 64)
        } else {
            return Err(unsupported());
        };
    if !mgf_hash_matches || params.salt_length() != salt {
        return Err(unsupported());
    }
    Ok(verifier)
}

/// Checks that `cert` was signed by the holder of `issuer_spki`.
pub(crate) fn verify_certificate_signature(
    cert: &X509Certificate<'_>,
    issuer_spki: &SubjectPublicKeyInfo<'_>,
) -> Result<(), SignatureProblem> {
    if cert.signature_algorithm != cert.tbs_certificate.signature {
        return Err(SignatureProblem::Invalid);
    }
    verify_signature(
        issuer_spki,
        &cert.signature_algorithm,
        &cert.signature_value.data,
        cert.tbs_certificate.as_ref(),
    )
}

/// True when the certificate names itself as issuer and its own key verifies it.
pub(crate) fn is_self_signed(cert: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == cert.subject().as_raw()
        && verify_certificate_signature(cert, cert.public_key()).is_ok()
}

/// Decodes one DER element, refusing trailing bytes (used by the PKCS#12 pre-scan).
pub(crate) fn single_der_element(bytes: &[u8]) -> Option<Any<'_>> {
    match Any::from_der(bytes) {
        Ok(([], any)) => Some(any),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_ignores_leading_zeros_and_counts_top_bits() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(modulus_bits(&[0x01, 0x00]), 9);
        assert_eq!(modulus_bits(&[0x00, 0x00]), 0);
        let mut m = vec![0x00, 0xC0];
        m.extend_from_slice(&[0u8; 255]);
        assert_eq!(modulus_bits(&m), 2048);
    }

    #[test]
    fn serial_normalisation_strips_leading_zeros() {
        assert_eq!(normalized_serial(&[0, 0, 0x10, 0]), &[0x10, 0]);
        assert_eq!(normalized_serial(&[0]), &[] as &[u8]);
    }
}
