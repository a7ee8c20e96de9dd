//! EnvelopedData (AES-CBC) and AuthEnvelopedData (AES-GCM, RFC 5083/5084)
//! with RSA key transport, every primitive in aws-lc-rs.
//!
//! Written: AES-256 with a fresh key, RSA-OAEP with SHA-256 to every
//! certificate given. Read: RSA-OAEP (SHA-1, SHA-256) and RSA PKCS#1 v1.5
//! key transport; AES-128/192/256-CBC in EnvelopedData, AES-128/256-GCM in
//! AuthEnvelopedData. A PKCS#1 v1.5 unwrap that fails goes on with a
//! random content key of the right size (RFC 3218), and ends in the same
//! "does not decrypt" as any other failure of the unwrap or the content;
//! only what the message itself shows (an algorithm we do not read) is
//! named otherwise.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, Algorithm, DecryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    Pkcs1PrivateDecryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use cms::authenveloped_data::AuthEnvelopedData;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{
    EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo,
    RecipientInfos,
};
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode as _, Encode as _, EncodingRules};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::SmimeError;
use super::asn1::{self, GcmParams, Hash, OaepParams};
use super::sign::{certificate, issuer_and_serial, subject_key_id};
use crate::keys::IdentityKey;

/// A key we may decrypt with, and its certificate (to match recipients).
#[derive(Debug, Clone, Copy)]
pub struct DecryptWith<'a> {
    pub key: &'a IdentityKey,
    pub certificate: &'a [u8],
}

/// The content cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    /// EnvelopedData, AES-256-CBC: what every S/MIME reader reads.
    Cbc,
    /// AuthEnvelopedData, AES-256-GCM: to readers that list it.
    Gcm,
}

/// How opening went.
#[derive(Debug)]
pub(super) enum Opened {
    Content {
        bytes: Zeroizing<Vec<u8>>,
        cipher: &'static str,
    },
    NotForUs,
    CannotDecrypt(String),
}

/// Most recipient infos read in one message.
pub const MAX_RECIPIENT_INFOS: usize = 1024;

/// The one outcome of a key or content that does not decrypt, whichever
/// step failed.
const DOES_NOT_DECRYPT: &str = "the message does not decrypt with our key";

fn bad(what: impl std::fmt::Display) -> SmimeError {
    SmimeError::Build(what.to_string())
}

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, SmimeError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    aws_lc_rs::rand::fill(bytes.as_mut()).map_err(|_| bad("no randomness"))?;
    Ok(bytes)
}

/// One recipient: the content key wrapped with RSA-OAEP-SHA256.
fn recipient(cert: &Certificate, content_key: &[u8]) -> Result<RecipientInfo, SmimeError> {
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(bad)?;
    let public = PublicEncryptingKey::from_der(&spki)
        .map_err(|_| bad("a recipient's key is not an RSA key"))?;
    let oaep = OaepPublicEncryptingKey::new(public).map_err(|_| bad("a recipient's key"))?;
    let mut wrapped = vec![0u8; oaep.ciphertext_size()];
    let len = oaep
        .encrypt(&OAEP_SHA256_MGF1SHA256, content_key, &mut wrapped, None)
        .map_err(|_| bad("wrapping the content key"))?
        .len();
    wrapped.truncate(len);
    Ok(RecipientInfo::Ktri(KeyTransRecipientInfo {
        version: CmsVersion::V0,
        rid: RecipientIdentifier::IssuerAndSerialNumber(issuer_and_serial(cert)),
        key_enc_alg: asn1::oaep_sha256().map_err(bad)?,
        enc_key: OctetString::new(wrapped).map_err(bad)?,
    }))
}

/// Encrypts `content` to every certificate in `recipients` (DER).
pub(super) fn seal(
    content: &[u8],
    recipients: &[Vec<u8>],
    cipher: Cipher,
) -> Result<Vec<u8>, SmimeError> {
    if recipients.is_empty() {
        return Err(bad("no one to encrypt to"));
    }
    let content_key = random::<32>()?;
    let infos = recipients
        .iter()
        .map(|der| recipient(&certificate(der)?, content_key.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    let recip_infos = RecipientInfos(SetOfVec::try_from(infos).map_err(bad)?);
    let (content_type, body) = match cipher {
        Cipher::Gcm => seal_gcm(content, content_key.as_ref(), recip_infos)?,
        Cipher::Cbc => seal_cbc(content, content_key.as_ref(), recip_infos)?,
    };
    ContentInfo {
        content_type,
        content: body,
    }
    .to_der()
    .map_err(bad)
}

/// AuthEnvelopedData with AES-256-GCM (a 16-byte tag) around `content`.
fn seal_gcm(
    content: &[u8],
    content_key: &[u8],
    recip_infos: RecipientInfos,
) -> Result<(der::asn1::ObjectIdentifier, Any), SmimeError> {
    let mut data = content.to_vec();

    let nonce = random::<NONCE_LEN>()?;
    let key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, content_key).map_err(|_| bad("AES key"))?);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::empty(),
            &mut data,
        )
        .map_err(|_| bad("AES-GCM"))?;
    let params = GcmParams {
        nonce: OctetString::new(nonce.to_vec()).map_err(bad)?,
        icv_len: 16,
    };
    let enveloped = AuthEnvelopedData {
        version: CmsVersion::V0,
        originator_info: None,
        recip_infos,
        auth_encrypted_content_info: EncryptedContentInfo {
            content_type: rfc5911::ID_DATA,
            content_enc_alg: AlgorithmIdentifierOwned {
                oid: rfc5911::ID_AES_256_GCM,
                parameters: Some(Any::encode_from(&params).map_err(bad)?),
            },
            encrypted_content: Some(OctetString::new(data).map_err(bad)?),
        },
        auth_attrs: None,
        mac: OctetString::new(tag.as_ref()).map_err(bad)?,
        unauth_attrs: None,
    };
    Ok((
        rfc5911::ID_CT_AUTH_ENVELOPED_DATA,
        Any::encode_from(&enveloped).map_err(bad)?,
    ))
}

/// EnvelopedData with AES-256-CBC around `content`.
fn seal_cbc(
    content: &[u8],
    content_key: &[u8],
    recip_infos: RecipientInfos,
) -> Result<(der::asn1::ObjectIdentifier, Any), SmimeError> {
    let mut data = content.to_vec();

    let key = PaddedBlockEncryptingKey::cbc_pkcs7(
        UnboundCipherKey::new(&AES_256, content_key).map_err(|_| bad("AES key"))?,
    )
    .map_err(|_| bad("AES-CBC"))?;
    let context = key.encrypt(&mut data).map_err(|_| bad("AES-CBC"))?;
    let iv: &[u8] = (&context).try_into().map_err(|_| bad("AES-CBC IV"))?;
    let enveloped = EnvelopedData {
        version: CmsVersion::V0,
        originator_info: None,
        recip_infos,
        encrypted_content: EncryptedContentInfo {
            content_type: rfc5911::ID_DATA,
            content_enc_alg: AlgorithmIdentifierOwned {
                oid: rfc5911::ID_AES_256_CBC,
                parameters: Some(
                    Any::encode_from(&OctetString::new(iv).map_err(bad)?).map_err(bad)?,
                ),
            },
            encrypted_content: Some(OctetString::new(data).map_err(bad)?),
        },
        unprotected_attrs: None,
    };
    Ok((
        rfc5911::ID_ENVELOPED_DATA,
        Any::encode_from(&enveloped).map_err(bad)?,
    ))
}

/// The content cipher an algorithm identifier names, with its key length.
enum ContentCipher {
    Cbc(&'static Algorithm, usize, [u8; 16]),
    Gcm(&'static aws_lc_rs::aead::Algorithm, usize, [u8; NONCE_LEN]),
}

fn content_cipher(alg: &AlgorithmIdentifierOwned, auth: bool) -> Result<ContentCipher, String> {
    let unknown = || format!("encrypted with an algorithm we do not read ({})", alg.oid);
    if auth {
        let (aead, len) = match alg.oid {
            rfc5911::ID_AES_128_GCM => (&AES_128_GCM, 16),
            rfc5911::ID_AES_256_GCM => (&AES_256_GCM, 32),
            _ => return Err(unknown()),
        };
        let params = alg
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<GcmParams>().ok())
            .ok_or_else(|| "unreadable AES-GCM parameters".to_owned())?;
        if params.icv_len != 16 {
            return Err(format!(
                "an AES-GCM tag of {} bytes (16 are read)",
                params.icv_len
            ));
        }
        let nonce = <[u8; NONCE_LEN]>::try_from(params.nonce.as_bytes())
            .map_err(|_| "an AES-GCM nonce that is not 12 bytes".to_owned())?;
        return Ok(ContentCipher::Gcm(aead, len, nonce));
    }
    let (cbc, len) = match alg.oid {
        rfc5911::ID_AES_128_CBC => (&AES_128, 16),
        rfc5911::ID_AES_192_CBC => (&AES_192, 24),
        rfc5911::ID_AES_256_CBC => (&AES_256, 32),
        _ => return Err(unknown()),
    };
    let iv = alg
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<OctetString>().ok())
        .and_then(|iv| <[u8; 16]>::try_from(iv.as_bytes()).ok())
        .ok_or_else(|| "an AES-CBC IV that is not 16 bytes".to_owned())?;
    Ok(ContentCipher::Cbc(cbc, len, iv))
}

/// Whether `rid` names `cert`.
fn names(rid: &RecipientIdentifier, cert: &Certificate) -> bool {
    match rid {
        RecipientIdentifier::IssuerAndSerialNumber(isn) => *isn == issuer_and_serial(cert),
        RecipientIdentifier::SubjectKeyIdentifier(ski) => {
            subject_key_id(cert).as_ref() == Some(ski)
        }
    }
}

/// The content key from one recipient info for our key. `Err` for OAEP
/// failures and unknown algorithms; a PKCS#1 v1.5 failure gives a random
/// key and `false`.
fn unwrap_key(
    ktri: &KeyTransRecipientInfo,
    key: &IdentityKey,
    key_len: usize,
) -> Result<(Zeroizing<Vec<u8>>, bool), String> {
    let private = PrivateDecryptingKey::from_pkcs8(key.pkcs8_der())
        .map_err(|_| DOES_NOT_DECRYPT.to_owned())?;
    let wrapped = ktri.enc_key.as_bytes();
    match ktri.key_enc_alg.oid {
        rfc5912::RSA_ENCRYPTION => {
            let pkcs1 =
                Pkcs1PrivateDecryptingKey::new(private).map_err(|_| DOES_NOT_DECRYPT.to_owned())?;
            let mut out = Zeroizing::new(vec![0u8; pkcs1.min_output_size()]);
            let unwrapped = pkcs1
                .decrypt(wrapped, &mut out)
                .ok()
                .map(|plain| plain.len())
                .filter(|len| *len == key_len);
            if let Some(len) = unwrapped {
                out.truncate(len);
                return Ok((out, true));
            }
            // RFC 3218: go on as if it worked, with a key nobody knows.
            let mut random = Zeroizing::new(vec![0u8; key_len]);
            aws_lc_rs::rand::fill(&mut random).map_err(|_| "no randomness".to_owned())?;
            Ok((random, false))
        }
        rfc5912::ID_RSAES_OAEP => {
            let params = match &ktri.key_enc_alg.parameters {
                None => OaepParams::from_der(&[0x30, 0x00]).map_err(|e| e.to_string())?,
                Some(p) => p
                    .decode_as::<OaepParams>()
                    .map_err(|_| "unreadable RSA-OAEP parameters".to_owned())?,
            };
            let hash = Hash::from_oid(&params.hash.oid);
            let algorithm = match (hash, asn1::mgf1_hash(&params.mask_gen)) {
                (Some(Hash::Sha1), Some(Hash::Sha1)) => &OAEP_SHA1_MGF1SHA1,
                (Some(Hash::Sha256), Some(Hash::Sha256)) => &OAEP_SHA256_MGF1SHA256,
                _ => return Err("RSA-OAEP parameters we do not read".to_owned()),
            };
            let oaep =
                OaepPrivateDecryptingKey::new(private).map_err(|_| DOES_NOT_DECRYPT.to_owned())?;
            let mut out = Zeroizing::new(vec![0u8; oaep.min_output_size()]);
            let len = oaep
                .decrypt(algorithm, wrapped, &mut out, None)
                .map_err(|_| DOES_NOT_DECRYPT.to_owned())?
                .len();
            out.truncate(len);
            Ok((out, true))
        }
        other => Err(format!("a key transport we do not read ({other})")),
    }
}

/// The recipient infos and encrypted content of either kind.
struct Parts {
    infos: Vec<KeyTransRecipientInfo>,
    content: EncryptedContentInfo,
    auth: Option<(Vec<u8>, Vec<u8>)>,
}

fn parts(info: &ContentInfo) -> Result<Parts, String> {
    let malformed = |e: der::Error| format!("malformed encrypted data: {e}");
    let ktris = |infos: &RecipientInfos| {
        infos
            .0
            .iter()
            .filter_map(|ri| match ri {
                RecipientInfo::Ktri(ktri) => Some(ktri.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    match info.content_type {
        rfc5911::ID_ENVELOPED_DATA => {
            let data = info
                .content
                .decode_as_encoding::<EnvelopedData>(EncodingRules::Ber)
                .map_err(malformed)?;
            Ok(Parts {
                infos: ktris(&data.recip_infos),
                content: data.encrypted_content,
                auth: None,
            })
        }
        rfc5911::ID_CT_AUTH_ENVELOPED_DATA => {
            let data = info
                .content
                .decode_as_encoding::<AuthEnvelopedData>(EncodingRules::Ber)
                .map_err(malformed)?;
            let aad = match &data.auth_attrs {
                Some(attrs) => attrs.to_der().map_err(malformed)?,
                None => Vec::new(),
            };
            Ok(Parts {
                infos: ktris(&data.recip_infos),
                content: data.auth_encrypted_content_info,
                auth: Some((data.mac.as_bytes().to_vec(), aad)),
            })
        }
        other => Err(format!("not encrypted data ({other})")),
    }
}

/// Opens an EnvelopedData or AuthEnvelopedData ContentInfo (BER or DER).
pub(super) fn open(info: &ContentInfo, keys: &[DecryptWith<'_>]) -> Opened {
    let parts = match parts(info) {
        Ok(parts) => parts,
        Err(why) => return Opened::CannotDecrypt(why),
    };
    let cipher = match content_cipher(&parts.content.content_enc_alg, parts.auth.is_some()) {
        Ok(cipher) => cipher,
        Err(why) => return Opened::CannotDecrypt(why),
    };
    let key_len = match &cipher {
        ContentCipher::Cbc(_, len, _) | ContentCipher::Gcm(_, len, _) => *len,
    };
    if parts.infos.len() > MAX_RECIPIENT_INFOS {
        return Opened::CannotDecrypt(format!("more than {MAX_RECIPIENT_INFOS} recipients"));
    }
    let mut matched = false;
    let mut last_problem = None;
    // At most one recipient info per key of ours: the work is bounded by
    // our keys, not by what the sender lists.
    for held in keys {
        let Ok(cert) = Certificate::from_der(held.certificate) else {
            continue;
        };
        let Some(ktri) = parts.infos.iter().find(|k| names(&k.rid, &cert)) else {
            continue;
        };
        matched = true;
        match unwrap_key(ktri, held.key, key_len) {
            Ok((content_key, unwrapped)) => {
                let result = decrypt_content(&parts, &cipher, &content_key);
                match (result, unwrapped) {
                    (Ok((bytes, name)), true) => {
                        return Opened::Content {
                            bytes,
                            cipher: name,
                        };
                    }
                    _ => last_problem = Some(DOES_NOT_DECRYPT.to_owned()),
                }
            }
            Err(why) => last_problem = Some(why),
        }
    }
    if matched {
        Opened::CannotDecrypt(last_problem.unwrap_or_else(|| DOES_NOT_DECRYPT.to_owned()))
    } else {
        Opened::NotForUs
    }
}

fn decrypt_content(
    parts: &Parts,
    cipher: &ContentCipher,
    content_key: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, &'static str), ()> {
    let mut data = Zeroizing::new(
        parts
            .content
            .encrypted_content
            .as_ref()
            .ok_or(())?
            .as_bytes()
            .to_vec(),
    );
    match cipher {
        ContentCipher::Cbc(algorithm, _, iv) => {
            let key = PaddedBlockDecryptingKey::cbc_pkcs7(
                UnboundCipherKey::new(algorithm, content_key).map_err(|_| ())?,
            )
            .map_err(|_| ())?;
            let context = DecryptionContext::Iv128(FixedLength::from(*iv));
            let len = key.decrypt(&mut data, context).map_err(|_| ())?.len();
            data.truncate(len);
            Ok((data, "AES-CBC"))
        }
        ContentCipher::Gcm(algorithm, _, nonce) => {
            let (mac, aad) = parts.auth.as_ref().ok_or(())?;
            let key = LessSafeKey::new(UnboundKey::new(algorithm, content_key).map_err(|_| ())?);
            data.extend_from_slice(mac);
            let len = key
                .open_in_place(
                    Nonce::assume_unique_for_key(*nonce),
                    Aad::from(aad.as_slice()),
                    &mut data,
                )
                .map_err(|_| ())?
                .len();
            data.truncate(len);
            Ok((data, "AES-GCM"))
        }
    }
}
