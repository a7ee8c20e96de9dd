//! The ASN.1 types S/MIME needs beyond the `cms` crate's, derived with
//! `der` (never encoded by hand): RSAES-OAEP and RSASSA-PSS parameters
//! (RFC 4055), AES-GCM parameters (RFC 5084), and a SignedData whose
//! eContent is an OCTET STRING, so that BER's constructed chunks are joined
//! (the `cms` type keeps eContent as `Any`, which loses them).

use cms::cert::CertificateChoices;
use cms::content_info::CmsVersion;
use cms::revocation::RevocationInfoChoices;
use cms::signed_data::{DigestAlgorithmIdentifiers, SignerInfos};
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode as _, Sequence};
use spki::AlgorithmIdentifierOwned;

/// S/MIME capability and encryption-key-preference attributes (RFC 8551).
pub(super) const SMIME_CAPABILITIES: ObjectIdentifier = rfc5911::SMIME_CAPABILITIES;
pub(super) const ENCRYPTION_KEY_PREFERENCE: ObjectIdentifier = rfc5911::ID_AA_ENCRYP_KEY_PREF;

/// SHA-1 with NULL parameters (the RFC 4055 defaults name it).
const SHA1_DER: [u8; 11] = [
    0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00,
];

fn sha1_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: rfc5912::ID_SHA_1,
        parameters: Some(Any::null()),
    }
}

fn mgf1_sha1() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: rfc5912::ID_MGF_1,
        // A constant, well-formed DER value: decoding it cannot fail.
        parameters: Any::from_der(&SHA1_DER).ok(),
    }
}

fn p_specified_empty() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: rfc5912::ID_P_SPECIFIED,
        // An empty OCTET STRING: a constant, well-formed DER value.
        parameters: Any::from_der(&[0x04, 0x00]).ok(),
    }
}

fn salt_20() -> u32 {
    20
}

fn trailer_1() -> u32 {
    1
}

fn icv_12() -> u8 {
    12
}

/// RSAES-OAEP-params (RFC 4055 section 4.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(super) struct OaepParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", default = "sha1_alg")]
    pub hash: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", default = "mgf1_sha1")]
    pub mask_gen: AlgorithmIdentifierOwned,
    #[asn1(
        context_specific = "2",
        tag_mode = "EXPLICIT",
        default = "p_specified_empty"
    )]
    pub p_source: AlgorithmIdentifierOwned,
}

/// RSASSA-PSS-params (RFC 4055 section 3.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(super) struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", default = "sha1_alg")]
    pub hash: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", default = "mgf1_sha1")]
    pub mask_gen: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", default = "salt_20")]
    pub salt_length: u32,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", default = "trailer_1")]
    pub trailer: u32,
}

/// GCMParameters (RFC 5084 section 3.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(super) struct GcmParams {
    pub nonce: OctetString,
    #[asn1(default = "icv_12")]
    pub icv_len: u8,
}

/// EncapsulatedContentInfo with eContent read as an OCTET STRING.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(super) struct Encapsulated {
    pub econtent_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub econtent: Option<OctetString>,
}

/// SignedData (RFC 5652 section 5.1) as it is read: as `cms`'s, with
/// [`Encapsulated`].
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(super) struct SignedDataRead {
    pub version: CmsVersion,
    pub digest_algorithms: DigestAlgorithmIdentifiers,
    pub encap_content_info: Encapsulated,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub certificates: Option<SetOfVec<CertificateChoices>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub crls: Option<RevocationInfoChoices>,
    pub signer_infos: SignerInfos,
}

/// The hash a digest algorithm names, if it is one we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub(super) fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            rfc5912::ID_SHA_1 => Some(Self::Sha1),
            rfc5912::ID_SHA_256 => Some(Self::Sha256),
            rfc5912::ID_SHA_384 => Some(Self::Sha384),
            rfc5912::ID_SHA_512 => Some(Self::Sha512),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    pub(super) fn digest(self, data: &[u8]) -> Vec<u8> {
        use aws_lc_rs::digest;
        let algorithm = match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        };
        digest::digest(algorithm, data).as_ref().to_vec()
    }
}

/// The hash of an algorithm identifier's MGF1 parameters, if MGF1.
pub(super) fn mgf1_hash(mask_gen: &AlgorithmIdentifierOwned) -> Option<Hash> {
    if mask_gen.oid != rfc5912::ID_MGF_1 {
        return None;
    }
    let inner = mask_gen
        .parameters
        .as_ref()?
        .decode_as::<AlgorithmIdentifierOwned>()
        .ok()?;
    Hash::from_oid(&inner.oid)
}

/// An algorithm identifier without parameters (SHA-2, RFC 5754).
pub(super) fn bare(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

/// RSAES-OAEP with SHA-256 and MGF1-SHA-256, as we write it.
pub(super) fn oaep_sha256() -> der::Result<AlgorithmIdentifierOwned> {
    let params = OaepParams {
        hash: bare(rfc5912::ID_SHA_256),
        mask_gen: AlgorithmIdentifierOwned {
            oid: rfc5912::ID_MGF_1,
            parameters: Some(Any::encode_from(&bare(rfc5912::ID_SHA_256))?),
        },
        p_source: p_specified_empty(),
    };
    Ok(AlgorithmIdentifierOwned {
        oid: rfc5912::ID_RSAES_OAEP,
        parameters: Some(Any::encode_from(&params)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode as _;

    #[test]
    fn oaep_defaults_are_left_out_and_read_back() {
        let empty = OaepParams::from_der(&[0x30, 0x00]).unwrap();
        assert_eq!(empty.hash.oid, rfc5912::ID_SHA_1);
        assert_eq!(mgf1_hash(&empty.mask_gen), Some(Hash::Sha1));
        assert_eq!(empty.to_der().unwrap(), vec![0x30, 0x00]);
        let ours = oaep_sha256().unwrap();
        let params = ours.parameters.unwrap().decode_as::<OaepParams>().unwrap();
        assert_eq!(params.hash.oid, rfc5912::ID_SHA_256);
        assert_eq!(mgf1_hash(&params.mask_gen), Some(Hash::Sha256));
    }

    #[test]
    fn gcm_icv_length_defaults_to_twelve() {
        let nonce = OctetString::new(vec![7u8; 12]).unwrap();
        let der = GcmParams {
            nonce: nonce.clone(),
            icv_len: 12,
        }
        .to_der()
        .unwrap();
        assert_eq!(der.len(), 2 + 14, "the default is not written");
        let read = GcmParams::from_der(&der).unwrap();
        assert_eq!((read.nonce, read.icv_len), (nonce, 12));
    }
}
