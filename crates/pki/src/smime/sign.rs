//! SignedData (RFC 5652 section 5, RFC 8551): made detached over a MIME
//! entity with SHA-256 and RSA PKCS#1 v1.5 through aws-lc-rs, with the
//! signer's certificates, signingTime, SMIMECapabilities and the
//! encryption-key preference; checked for SHA-256/384/512 with RSA PKCS#1
//! v1.5 or PSS. A SHA-1 signature counts as invalid.

use std::time::Duration;

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec, UtcTime};
use der::{Any, Decode as _, Encode as _, Tag, TagNumber, Tagged as _};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use super::SmimeError;
use super::asn1::{self, Hash, PssParams, SignedDataRead};
use crate::keys::IdentityKey;

/// Who signs: the identity key, its chain (leaf first) and, if any, the
/// encryption certificate named as the preferred key for answers.
#[derive(Debug, Clone, Copy)]
pub struct SignWith<'a> {
    pub key: &'a IdentityKey,
    pub chain: &'a [Vec<u8>],
    pub encryption_certificate: Option<&'a [u8]>,
}

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The signer's certificate first, then the others the message carried.
    pub chain: Vec<Vec<u8>>,
    /// The signingTime attribute, if present.
    pub signing_time_unix: Option<i64>,
    /// The certificate the encryption-key preference names, if it came along.
    pub encryption_certificate: Option<Vec<u8>>,
    /// The signer's capabilities list AES-GCM.
    pub offers_gcm: bool,
    /// "SHA-256", ...
    pub hash: &'static str,
}

fn bad(what: impl std::fmt::Display) -> SmimeError {
    SmimeError::Build(what.to_string())
}

pub(super) fn certificate(der: &[u8]) -> Result<Certificate, SmimeError> {
    Certificate::from_der(der).map_err(|e| bad(format!("a certificate: {e}")))
}

pub(super) fn issuer_and_serial(cert: &Certificate) -> IssuerAndSerialNumber {
    let tbs = cert.tbs_certificate();
    IssuerAndSerialNumber {
        issuer: tbs.issuer().clone(),
        serial_number: tbs.serial_number().clone(),
    }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> der::Result<Attribute> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

/// The signed attributes of a mail signature over `digest` (SHA-256).
fn signed_attributes(
    digest: &[u8],
    now_unix: u64,
    preferred: Option<&Certificate>,
) -> der::Result<SetOfVec<Attribute>> {
    let time =
        x509_cert::time::Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(now_unix))?);
    let capabilities: Vec<AlgorithmIdentifierOwned> = vec![
        asn1::bare(rfc5911::ID_AES_256_GCM),
        asn1::bare(rfc5911::ID_AES_256_CBC),
        asn1::oaep_sha256()?,
    ];
    let mut attributes = vec![
        attribute(
            rfc5911::ID_CONTENT_TYPE,
            Any::encode_from(&rfc5911::ID_DATA)?,
        )?,
        attribute(rfc5911::ID_SIGNING_TIME, Any::from_der(&time.to_der()?)?)?,
        attribute(
            rfc5911::ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest)?)?,
        )?,
        attribute(
            asn1::SMIME_CAPABILITIES,
            Any::from_der(&capabilities.to_der()?)?,
        )?,
    ];
    if let Some(cert) = preferred {
        // SMIMEEncryptionKeyPreference: issuerAndSerialNumber [0] IMPLICIT.
        let isn = Any::from_der(&issuer_and_serial(cert).to_der()?)?;
        let tagged = Any::new(
            Tag::ContextSpecific {
                constructed: true,
                number: TagNumber(0),
            },
            isn.value(),
        )?;
        attributes.push(attribute(asn1::ENCRYPTION_KEY_PREFERENCE, tagged)?);
    }
    SetOfVec::try_from(attributes)
}

/// A detached signature (DER ContentInfo of SignedData) over `content`.
pub(super) fn sign_detached(
    content: &[u8],
    signer: &SignWith<'_>,
    now_unix: u64,
) -> Result<Vec<u8>, SmimeError> {
    let chain = signer
        .chain
        .iter()
        .map(|der| certificate(der))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = chain.first().ok_or_else(|| bad("no signer certificate"))?;
    let preferred = signer.encryption_certificate.map(certificate).transpose()?;
    let digest = Hash::Sha256.digest(content);
    let attributes = signed_attributes(&digest, now_unix, preferred.as_ref()).map_err(bad)?;
    let to_sign = attributes.to_der().map_err(bad)?;
    let signature = signer
        .key
        .sign_pkcs1_sha256(&to_sign)
        .map_err(|e| bad(e.0))?;
    let info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(issuer_and_serial(leaf)),
        digest_alg: asn1::bare(rfc5912::ID_SHA_256),
        signed_attrs: Some(attributes),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        signature: OctetString::new(signature).map_err(bad)?,
        unsigned_attrs: None,
    };
    let mut certificates: Vec<CertificateChoices> = chain
        .into_iter()
        .map(CertificateChoices::Certificate)
        .collect();
    certificates.extend(preferred.map(CertificateChoices::Certificate));
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![asn1::bare(rfc5912::ID_SHA_256)])
            .map_err(bad)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: rfc5911::ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(certificates).map_err(bad)?,
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![info]).map_err(bad)?),
    };
    ContentInfo {
        content_type: rfc5911::ID_SIGNED_DATA,
        content: Any::encode_from(&signed).map_err(bad)?,
    }
    .to_der()
    .map_err(bad)
}

/// Whether `cert` is the one `sid` names.
fn names(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => *isn == issuer_and_serial(cert),
        SignerIdentifier::SubjectKeyIdentifier(ski) => subject_key_id(cert).as_ref() == Some(ski),
    }
}

pub(super) fn subject_key_id(cert: &Certificate) -> Option<SubjectKeyIdentifier> {
    cert.tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>()
        .ok()
        .flatten()
        .map(|(_, ski)| ski)
}

fn first_value<'a>(attributes: &'a SetOfVec<Attribute>, oid: &ObjectIdentifier) -> Option<&'a Any> {
    attributes
        .iter()
        .find(|a| a.oid == *oid)
        .and_then(|a| a.values.get(0))
}

/// The verifier for a signature algorithm, given the digest algorithm's hash.
fn verifier(
    algorithm: &AlgorithmIdentifierOwned,
    digest: Hash,
) -> Result<&'static dyn VerificationAlgorithm, String> {
    let hash = match algorithm.oid {
        rfc5912::RSA_ENCRYPTION => digest,
        rfc5912::SHA_256_WITH_RSA_ENCRYPTION => Hash::Sha256,
        rfc5912::SHA_384_WITH_RSA_ENCRYPTION => Hash::Sha384,
        rfc5912::SHA_512_WITH_RSA_ENCRYPTION => Hash::Sha512,
        rfc5912::SHA_1_WITH_RSA_ENCRYPTION => Hash::Sha1,
        rfc5912::ID_RSASSA_PSS => return pss_verifier(algorithm),
        other => return Err(format!("signed with an unknown algorithm ({other})")),
    };
    match hash {
        Hash::Sha1 => Err("signed with SHA-1, which no longer counts".to_owned()),
        Hash::Sha256 => Ok(&signature::RSA_PKCS1_2048_8192_SHA256),
        Hash::Sha384 => Ok(&signature::RSA_PKCS1_2048_8192_SHA384),
        Hash::Sha512 => Ok(&signature::RSA_PKCS1_2048_8192_SHA512),
    }
}

fn pss_verifier(
    algorithm: &AlgorithmIdentifierOwned,
) -> Result<&'static dyn VerificationAlgorithm, String> {
    let unusual = || "signed with RSA-PSS parameters we do not check".to_owned();
    let params = algorithm
        .parameters
        .as_ref()
        .ok_or_else(unusual)?
        .decode_as::<PssParams>()
        .map_err(|_| unusual())?;
    let hash = Hash::from_oid(&params.hash.oid).ok_or_else(unusual)?;
    if asn1::mgf1_hash(&params.mask_gen) != Some(hash) || params.trailer != 1 {
        return Err(unusual());
    }
    let (verifier, salt): (&'static dyn VerificationAlgorithm, u32) = match hash {
        Hash::Sha1 => return Err("signed with SHA-1, which no longer counts".to_owned()),
        Hash::Sha256 => (&signature::RSA_PSS_2048_8192_SHA256, 32),
        Hash::Sha384 => (&signature::RSA_PSS_2048_8192_SHA384, 48),
        Hash::Sha512 => (&signature::RSA_PSS_2048_8192_SHA512, 64),
    };
    if params.salt_length != salt {
        return Err(unusual());
    }
    Ok(verifier)
}

/// Checks the first signer of `signed` over `content` (the detached
/// entity, or the eContent). The error is the reason, in words.
#[allow(clippy::too_many_lines)] // the checks of RFC 5652 section 5.6, in their order
pub(super) fn verify(signed: &SignedDataRead, content: &[u8]) -> Result<Signer, String> {
    let certificates: Vec<Certificate> = signed
        .certificates
        .iter()
        .flat_map(|set| set.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(cert) => Some(cert.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let info = signed
        .signer_infos
        .0
        .get(0)
        .ok_or_else(|| "the signature has no signer".to_owned())?;
    let cert = certificates
        .iter()
        .find(|c| names(&info.sid, c))
        .ok_or_else(|| "the signer's certificate is not in the message".to_owned())?;
    let digest = Hash::from_oid(&info.digest_alg.oid)
        .ok_or_else(|| format!("an unknown digest algorithm ({})", info.digest_alg.oid))?;
    if digest == Hash::Sha1 {
        return Err("signed with SHA-1, which no longer counts".to_owned());
    }
    let verifier = verifier(&info.signature_algorithm, digest)?;
    let mut signing_time_unix = None;
    let mut encryption_certificate = None;
    let mut offers_gcm = false;
    let to_verify = match &info.signed_attrs {
        None => content.to_vec(),
        Some(attributes) => {
            let content_type = first_value(attributes, &rfc5911::ID_CONTENT_TYPE)
                .and_then(|v| v.decode_as::<ObjectIdentifier>().ok());
            if content_type != Some(signed.encap_content_info.econtent_type) {
                return Err("the signed content type does not match".to_owned());
            }
            let stated = first_value(attributes, &rfc5911::ID_MESSAGE_DIGEST)
                .and_then(|v| v.decode_as::<OctetString>().ok())
                .ok_or_else(|| "the signature has no message digest".to_owned())?;
            if stated.as_bytes() != digest.digest(content).as_slice() {
                return Err("the message was changed after it was signed".to_owned());
            }
            signing_time_unix = first_value(attributes, &rfc5911::ID_SIGNING_TIME)
                .and_then(|v| v.to_der().ok())
                .and_then(|der| x509_cert::time::Time::from_der(&der).ok())
                .and_then(|t| i64::try_from(t.to_unix_duration().as_secs()).ok());
            encryption_certificate = first_value(attributes, &asn1::ENCRYPTION_KEY_PREFERENCE)
                .and_then(|v| preferred(v, &certificates))
                .and_then(|c| c.to_der().ok());
            offers_gcm = first_value(attributes, &asn1::SMIME_CAPABILITIES)
                .and_then(|v| v.decode_as::<Vec<AlgorithmIdentifierOwned>>().ok())
                .is_some_and(|caps| {
                    caps.iter().any(|c| {
                        c.oid == rfc5911::ID_AES_256_GCM || c.oid == rfc5911::ID_AES_128_GCM
                    })
                });
            attributes
                .to_der()
                .map_err(|e| format!("unreadable signed attributes: {e}"))?
        }
    };
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| format!("the signer's key: {e}"))?;
    UnparsedPublicKey::new(verifier, &spki)
        .verify(&to_verify, info.signature.as_bytes())
        .map_err(|_| "the signature does not verify".to_owned())?;
    let chain = issuer_path(cert, &certificates)
        .iter()
        .map(|c| c.to_der().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Signer {
        chain,
        signing_time_unix,
        encryption_certificate,
        offers_gcm,
        hash: digest.name(),
    })
}

/// The signer's certificate, then its issuers by name among `certs` (the
/// others a message carries, such as an encryption certificate, are left
/// out), at most four in all.
fn issuer_path<'a>(leaf: &'a Certificate, certs: &'a [Certificate]) -> Vec<&'a Certificate> {
    let mut path = vec![leaf];
    while path.len() < 4 {
        let current = path[path.len() - 1].tbs_certificate();
        if current.issuer() == current.subject() {
            break;
        }
        let next = certs
            .iter()
            .find(|c| c.tbs_certificate().subject() == current.issuer() && !path.contains(c));
        match next {
            Some(next) => path.push(next),
            None => break,
        }
    }
    path
}

/// The certificate an SMIMEEncryptionKeyPreference names, among `certs`.
fn preferred<'a>(value: &Any, certs: &'a [Certificate]) -> Option<&'a Certificate> {
    let isn_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(0),
    };
    if value.tag() != isn_tag {
        return None;
    }
    let isn = Any::new(Tag::Sequence, value.value())
        .ok()?
        .decode_as::<IssuerAndSerialNumber>()
        .ok()?;
    certs.iter().find(|c| issuer_and_serial(c) == isn)
}
