//! A pre-scan of a PKCS#12 file's DER (for a BER file, the DER that `ber`
//! made of it), before any password-based key
//! derivation runs: is it a PFX at all, and does it ask for more KDF
//! iterations than we are willing to spend? A hostile file could otherwise
//! name billions of iterations and stall the caller.
//!
//! It requires a MacData (without one a wrong password is found only after
//! every bag's key derivation, and nothing shows the file unchanged), reads
//! its iteration count, and every PBES2/PBKDF2 and PKCS#12 PBE parameter
//! block visible without decryption (key bags, encrypted-data algorithm
//! identifiers), descending into OCTET STRINGs that hold DER. PBES2 must use
//! PBKDF2 (not scrypt, which could ask for a gigabyte), and at most
//! [`MAX_DERIVATIONS`] derivations may be visible. Parameters inside
//! encrypted content are still bounded by p12-keystore's own cap, which is
//! the same number; they are reached only after the MAC matched.

use x509_parser::asn1_rs::{Any, Class, FromDer as _, Tag};

use crate::x509::single_der_element;

/// The most KDF iterations (PBKDF2 or PKCS#12 KDF) a file may ask for. Equal
/// to p12-keystore's own bound; above our export count of 600 000.
pub const MAX_KDF_ITERATIONS: u64 = 1_000_000;

/// 1.2.840.113549.1.7.1 (pkcs7-data)
const OID_PKCS7_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
/// 1.2.840.113549.1.5.12 (id-PBKDF2)
const OID_PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
/// 1.2.840.113549.1.5.13 (id-PBES2)
const OID_PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
/// 1.2.840.113549.1.12.1 (pkcs-12PbeIds), followed by one more arc.
const OID_PKCS12_PBE_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];

/// How deep the scan descends; real files nest about ten levels.
const MAX_DEPTH: usize = 24;

/// The most password-based key derivations visible in one file (the MAC's
/// not counted). Tools write one for the key and one for the certificates.
pub const MAX_DERIVATIONS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScanError {
    NotPkcs12,
    TooManyIterations(u64),
    /// No MacData: the file cannot be checked before its bags are decrypted.
    NoMac,
    /// PBES2 with a key-derivation function other than PBKDF2.
    UnsupportedKdf,
    TooManyDerivations,
}

/// Checks the outer PFX shape and every visible iteration count.
pub(super) fn prescan(bytes: &[u8]) -> Result<(), ScanError> {
    let pfx = single_der_element(bytes).ok_or(ScanError::NotPkcs12)?;
    if !is_sequence(&pfx) {
        return Err(ScanError::NotPkcs12);
    }
    let parts = children(pfx.data).ok_or(ScanError::NotPkcs12)?;
    let [version, auth_safe, rest @ ..] = parts.as_slice() else {
        return Err(ScanError::NotPkcs12);
    };
    if version.header.tag() != Tag::Integer || version.data != [3] || !is_sequence(auth_safe) {
        return Err(ScanError::NotPkcs12);
    }
    let content_type = children(auth_safe.data).and_then(|c| {
        c.first()
            .filter(|o| o.header.tag() == Tag::Oid)
            .map(|o| o.data)
    });
    if content_type != Some(OID_PKCS7_DATA) {
        return Err(ScanError::NotPkcs12);
    }
    let mac_data = rest.first().ok_or(ScanError::NoMac)?;
    check_mac_data(mac_data)?;
    let mut derivations = 0;
    walk(auth_safe, 0, &mut derivations)
}

/// MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }
fn check_mac_data(mac_data: &Any<'_>) -> Result<(), ScanError> {
    if !is_sequence(mac_data) {
        return Err(ScanError::NotPkcs12);
    }
    let fields = children(mac_data.data).ok_or(ScanError::NotPkcs12)?;
    if let Some(iterations) = fields.get(2) {
        check_count(iterations)?;
    }
    Ok(())
}

fn walk(node: &Any<'_>, depth: usize, derivations: &mut usize) -> Result<(), ScanError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    if node.header.is_constructed() {
        let Some(kids) = children(node.data) else {
            return Ok(()); // malformed: p12-keystore will say so
        };
        if is_sequence(node) && check_algorithm_identifier(&kids)? {
            *derivations += 1;
            if *derivations > MAX_DERIVATIONS {
                return Err(ScanError::TooManyDerivations);
            }
        }
        for kid in &kids {
            walk(kid, depth + 1, derivations)?;
        }
    } else if node.header.class() == Class::Universal && node.header.tag() == Tag::OctetString {
        if let Some(inner) = single_der_element(node.data) {
            walk(&inner, depth + 1, derivations)?;
        }
    }
    Ok(())
}

/// AlgorithmIdentifier { id-PBKDF2, PBKDF2-params { salt, iterationCount, ... } } or
/// AlgorithmIdentifier { pkcs-12PbeIds.n, pkcs-12PbeParams { salt, iterations } }:
/// checks the count and returns `true` (one key derivation). PBES2-params
/// { keyDerivationFunc, encryptionScheme } must name PBKDF2 (checked when
/// the walk reaches it).
fn check_algorithm_identifier(kids: &[Any<'_>]) -> Result<bool, ScanError> {
    let [oid, params, ..] = kids else {
        return Ok(false);
    };
    if oid.header.tag() != Tag::Oid {
        return Ok(false);
    }
    if oid.data == OID_PBES2 {
        let kdf = children(params.data)
            .and_then(|fields| fields.into_iter().next())
            .filter(is_sequence)
            .and_then(|kdf| children(kdf.data))
            .and_then(|fields| fields.into_iter().next())
            .filter(|o| o.header.tag() == Tag::Oid && o.data == OID_PBKDF2);
        return if kdf.is_some() {
            Ok(false)
        } else {
            Err(ScanError::UnsupportedKdf)
        };
    }
    let is_pbkdf2 = oid.data == OID_PBKDF2;
    let is_pkcs12_pbe = oid.data.len() == OID_PKCS12_PBE_PREFIX.len() + 1
        && oid.data.starts_with(OID_PKCS12_PBE_PREFIX);
    if !(is_pbkdf2 || is_pkcs12_pbe) || !is_sequence(params) {
        return Ok(false);
    }
    let fields = children(params.data).ok_or(ScanError::NotPkcs12)?;
    match fields.get(1) {
        Some(count) => check_count(count).map(|()| true),
        None => Err(ScanError::NotPkcs12),
    }
}

fn check_count(node: &Any<'_>) -> Result<(), ScanError> {
    if node.header.tag() != Tag::Integer {
        return Err(ScanError::NotPkcs12);
    }
    let count = integer_value(node.data).ok_or(ScanError::NotPkcs12)?;
    if count > MAX_KDF_ITERATIONS {
        return Err(ScanError::TooManyIterations(count));
    }
    Ok(())
}

/// A non-negative DER INTEGER, saturating at `u64::MAX`; `None` if negative or empty.
fn integer_value(data: &[u8]) -> Option<u64> {
    let first = *data.first()?;
    if first & 0x80 != 0 {
        return None;
    }
    let start = data.iter().position(|b| *b != 0).unwrap_or(data.len());
    let digits = &data[start..];
    if digits.len() > 8 {
        return Some(u64::MAX);
    }
    Some(
        digits
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
    )
}

fn is_sequence(node: &Any<'_>) -> bool {
    node.header.class() == Class::Universal
        && node.header.tag() == Tag::Sequence
        && node.header.is_constructed()
}

/// The elements of a constructed value's contents, or `None` if they do not parse.
fn children(mut data: &[u8]) -> Option<Vec<Any<'_>>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (rest, any) = Any::from_der(data).ok()?;
        out.push(any);
        data = rest;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER TLV with a short or long definite length.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }

    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }

    fn int(value: u64) -> Vec<u8> {
        let mut bytes: Vec<u8> = value
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        if bytes.first().is_none_or(|b| b & 0x80 != 0) {
            bytes.insert(0, 0);
        }
        tlv(0x02, &bytes)
    }

    /// A PFX whose single SafeContents holds one shrouded key bag with a
    /// PBES2/PBKDF2 parameter block of `kdf_iterations`, MAC over `mac_iterations`.
    fn pfx(kdf_iterations: u64, mac_iterations: u64) -> Vec<u8> {
        let pbkdf2 = seq(&[
            tlv(0x06, OID_PBKDF2),
            seq(&[tlv(0x04, &[1; 8]), int(kdf_iterations)]),
        ]);
        let pbes2_oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
        let pbes2 = seq(&[tlv(0x06, &pbes2_oid), seq(&[pbkdf2])]);
        let encrypted_key_info = seq(&[pbes2, tlv(0x04, &[0; 16])]);
        let shrouded_oid = [
            0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02,
        ];
        let bag = seq(&[tlv(0x06, &shrouded_oid), tlv(0xa0, &encrypted_key_info)]);
        let safe_contents = seq(&[bag]);
        let inner_info = seq(&[
            tlv(0x06, OID_PKCS7_DATA),
            tlv(0xa0, &tlv(0x04, &safe_contents)),
        ]);
        let auth_safe_seq = seq(&[inner_info]);
        let auth_safe = seq(&[
            tlv(0x06, OID_PKCS7_DATA),
            tlv(0xa0, &tlv(0x04, &auth_safe_seq)),
        ]);
        let sha256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
        let digest_info = seq(&[
            seq(&[tlv(0x06, &sha256), vec![0x05, 0x00]]),
            tlv(0x04, &[0; 32]),
        ]);
        let mac_data = seq(&[digest_info, tlv(0x04, &[2; 8]), int(mac_iterations)]);
        seq(&[int(3), auth_safe, mac_data])
    }

    #[test]
    fn ordinary_counts_pass() {
        assert_eq!(prescan(&pfx(2048, 2048)), Ok(()));
        assert_eq!(prescan(&pfx(600_000, 600_000)), Ok(()));
    }

    #[test]
    fn a_huge_kdf_count_inside_a_key_bag_is_found() {
        assert_eq!(
            prescan(&pfx(20_000_000, 2048)),
            Err(ScanError::TooManyIterations(20_000_000))
        );
    }

    #[test]
    fn a_huge_mac_count_is_found() {
        assert_eq!(
            prescan(&pfx(2048, u64::MAX)),
            Err(ScanError::TooManyIterations(u64::MAX))
        );
    }

    #[test]
    fn other_data_is_not_pkcs12() {
        for bad in [
            &b""[..],
            b"hello",
            &seq(&[int(3)]),
            &seq(&[int(2), seq(&[])]),
        ] {
            assert_eq!(prescan(bad), Err(ScanError::NotPkcs12), "{bad:?}");
        }
    }

    #[test]
    fn integers_are_read_as_unsigned_and_saturate() {
        assert_eq!(integer_value(&[0x00, 0x80]), Some(128));
        assert_eq!(integer_value(&[0x80]), None);
        assert_eq!(integer_value(&[0x01; 9]), Some(u64::MAX));
    }
}
