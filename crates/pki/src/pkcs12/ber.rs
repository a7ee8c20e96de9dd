//! BER input. NSS (`pk12util`, Firefox, Thunderbird) writes the outer layers
//! of a PKCS#12 file in BER, with indefinite lengths and constructed OCTET
//! STRINGs, around SafeContents in DER. p12-keystore reads DER only, so these
//! layers are decoded here with the `der` crate's BER rules and written again
//! in DER:
//!
//! - the PFX and its authSafe (`data`, `[0]` OCTET STRING);
//! - the AuthenticatedSafe inside it, and each of its ContentInfos: `data`
//!   (`[0]` OCTET STRING) and `encryptedData` (EncryptedData, whose
//!   `[0] IMPLICIT` encrypted content NSS cuts into chunks).
//!
//! SafeContents, plain or after decryption, and algorithm parameters pass as
//! they are: NSS, OpenSSL, GnuTLS and Java write them in DER.
//!
//! The PKCS#12 MAC covers the AuthenticatedSafe as stored. When re-encoding
//! changed it, [`Normalised::stored_auth_safe`] keeps the stored bytes for the
//! MAC check (see `mac.rs`).
//!
//! Bounds: the caller caps the file size; `der` caps the nesting of
//! indefinite lengths (64) and checks every length against the input before
//! it allocates; the decoding below follows the fixed PKCS#12 structure and
//! does not recurse into anything else.

use der::asn1::{Any, ContextSpecific, ObjectIdentifier, OctetString};
use der::{Decode, Encode, EncodingRules, ErrorKind, Reader, SliceReader, Tag, TagNumber};
use pkcs12::MacData;
use pkcs12::cms::content_info::ContentInfo;
use pkcs12::cms::encrypted_data::EncryptedData;
use pkcs12::pfx::{Pfx, Version};

/// 1.2.840.113549.1.7.1 (pkcs7-data)
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// 1.2.840.113549.1.7.6 (pkcs7-encryptedData)
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum NormaliseError {
    /// The outer layer is not a PFX whose authSafe is `data`.
    NotPkcs12,
    /// A PFX, but its AuthenticatedSafe does not decode.
    Malformed(String),
}

/// A PFX with its AuthenticatedSafe in DER.
#[derive(Debug)]
pub(super) struct Normalised {
    /// The AuthenticatedSafe in DER.
    auth_safe: Vec<u8>,
    pub(super) mac_data: Option<MacData>,
    /// The AuthenticatedSafe as stored in the file, when that is not the DER
    /// above: the bytes the file's MAC covers.
    pub(super) stored_auth_safe: Option<Vec<u8>>,
}

impl Normalised {
    /// The PFX in DER, with the file's MacData or without any.
    pub(super) fn to_der(&self, with_mac: bool) -> der::Result<Vec<u8>> {
        Pfx {
            version: Version::V3,
            auth_safe: ContentInfo {
                content_type: ID_DATA,
                content: Any::encode_from(&OctetString::new(self.auth_safe.clone())?)?,
            },
            mac_data: if with_mac {
                self.mac_data.clone()
            } else {
                None
            },
        }
        .to_der()
    }
}

/// Decodes a PFX in BER (DER included) and re-encodes its AuthenticatedSafe in DER.
pub(super) fn normalise(bytes: &[u8]) -> Result<Normalised, NormaliseError> {
    let (stored, mac_data) = decode_pfx(bytes).map_err(|_| NormaliseError::NotPkcs12)?;
    let malformed = |e: der::Error| NormaliseError::Malformed(format!("authenticated safe: {e}"));
    let safes = Vec::<SafeInfo>::from_ber(&stored).map_err(malformed)?;
    let auth_safe = safes
        .into_iter()
        .map(SafeInfo::into_content_info)
        .collect::<der::Result<Vec<ContentInfo>>>()
        .and_then(|infos| infos.to_der())
        .map_err(malformed)?;
    let stored_auth_safe = (auth_safe != stored).then_some(stored);
    Ok(Normalised {
        auth_safe,
        mac_data,
        stored_auth_safe,
    })
}

/// PFX ::= SEQUENCE { version INTEGER {v3(3)}, authSafe ContentInfo, macData MacData OPTIONAL },
/// with authSafe of type `data`: returns the content of its OCTET STRING and the MacData.
fn decode_pfx(bytes: &[u8]) -> der::Result<(Vec<u8>, Option<MacData>)> {
    let mut reader = SliceReader::new_with_encoding_rules(bytes, EncodingRules::Ber)?;
    let parts = reader.sequence(|r| -> der::Result<_> {
        Version::decode(r)?;
        let auth_safe = r.sequence(|r| -> der::Result<OctetString> {
            if ObjectIdentifier::decode(r)? != ID_DATA {
                return Err(r.error(ErrorKind::Value {
                    tag: Tag::ObjectIdentifier,
                }));
            }
            explicit_0::<OctetString, _>(r)
        })?;
        let mac_data = Option::<MacData>::decode(r)?;
        Ok((auth_safe.into_bytes().into_vec(), mac_data))
    })?;
    reader.finish()?;
    Ok(parts)
}

/// The value inside a mandatory `[0] EXPLICIT` field.
fn explicit_0<'a, T, R>(reader: &mut R) -> der::Result<T>
where
    T: Decode<'a, Error = der::Error>,
    R: Reader<'a>,
{
    match ContextSpecific::<T>::decode_explicit(reader, TagNumber(0))? {
        Some(field) => Ok(field.value),
        None => Err(reader.error(ErrorKind::TagUnexpected {
            expected: Some(Tag::ContextSpecific {
                constructed: true,
                number: TagNumber(0),
            }),
            actual: Tag::peek(reader)?,
        })),
    }
}

/// One ContentInfo of an AuthenticatedSafe, its content decoded by type.
enum SafeInfo {
    Data(OctetString),
    Encrypted(EncryptedData),
    /// Anything else (envelopedData): p12-keystore refuses it by its type.
    Other(ObjectIdentifier, Any),
}

impl<'a> Decode<'a> for SafeInfo {
    type Error = der::Error;

    fn decode<R: Reader<'a>>(reader: &mut R) -> der::Result<Self> {
        reader.sequence(|r| -> der::Result<Self> {
            Ok(match ObjectIdentifier::decode(r)? {
                ID_DATA => Self::Data(explicit_0(r)?),
                ID_ENCRYPTED_DATA => Self::Encrypted(explicit_0(r)?),
                other => Self::Other(other, explicit_0(r)?),
            })
        })
    }
}

impl SafeInfo {
    fn into_content_info(self) -> der::Result<ContentInfo> {
        let (content_type, content) = match self {
            Self::Data(octets) => (ID_DATA, Any::encode_from(&octets)?),
            Self::Encrypted(data) => (ID_ENCRYPTED_DATA, Any::encode_from(&data)?),
            Self::Other(content_type, content) => (content_type, content),
        };
        Ok(ContentInfo {
            content_type,
            content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            (
                $name,
                &include_bytes!(concat!("../../tests/fixtures/", $name))[..],
            )
        };
    }

    #[test]
    fn der_files_come_out_byte_for_byte_the_same() {
        for (name, bytes) in [
            fixture!("openssl-default.p12"),
            fixture!("openssl-legacy.p12"),
            fixture!("openssl-chain.p12"),
            fixture!("keytool.p12"),
            fixture!("gnutls.p12"),
        ] {
            let normalised = normalise(bytes).unwrap();
            assert!(normalised.stored_auth_safe.is_none(), "{name}");
            assert_eq!(normalised.to_der(true).unwrap(), bytes, "{name}");
        }
    }

    #[test]
    fn nss_files_become_der_and_keep_the_stored_bytes_for_the_mac() {
        for (name, bytes) in [
            fixture!("nss-default.p12"),
            fixture!("nss-legacy.p12"),
            fixture!("nss-chain.p12"),
        ] {
            assert!(Pfx::from_der(bytes).is_err(), "{name} is BER");
            let normalised = normalise(bytes).unwrap();
            // The MAC covers the AuthenticatedSafe as NSS wrote it: BER too.
            let stored = normalised.stored_auth_safe.as_ref().unwrap();
            assert_eq!(stored[..2], [0x30, 0x80], "{name}");
            for with_mac in [true, false] {
                let der = normalised.to_der(with_mac).unwrap();
                let pfx = Pfx::from_der(&der).unwrap();
                assert_eq!(pfx.mac_data.is_some(), with_mac, "{name}");
                let octets = OctetString::from_der(&pfx.auth_safe.content.to_der().unwrap())
                    .unwrap()
                    .into_bytes();
                let safes = Vec::<ContentInfo>::from_der(&octets).unwrap();
                let types: Vec<_> = safes.iter().map(|s| s.content_type).collect();
                assert_eq!(types, [ID_DATA, ID_ENCRYPTED_DATA], "{name}");
                EncryptedData::from_der(&safes[1].content.to_der().unwrap()).unwrap();
            }
        }
    }
}
