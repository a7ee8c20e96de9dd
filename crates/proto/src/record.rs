//! Records (protocol.md, "Records"): AES-GCM, or AES-CBC with HMAC-SHA256
//! encrypt-then-MAC, keyed from a traffic secret, one sequence number per
//! direction and key.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use cbc::cipher::{
    BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit as _, block_padding::Pkcs7,
};
use zeroize::Zeroizing;

use crate::entropy::{Entropy, RandomPurpose};
use crate::frame::{self, HEADER_BYTES, KIND_RECORD};
use crate::keys::{self, Secret};

/// Most content bytes in one record.
pub const MAX_CONTENT_BYTES: usize = 65_536;
/// A sender updates its key after this many records under one key…
pub const KEY_UPDATE_RECORDS: u64 = 1 << 20;
/// …or this many bytes.
pub const KEY_UPDATE_BYTES: u64 = 16 << 30;

const GCM_TAG_BYTES: usize = 16;
const CBC_IV_BYTES: usize = 16;
const CBC_TAG_BYTES: usize = 32;

/// The record cipher: the first cipher token of CryptoSuite_Accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    Aes256Gcm,
    Aes128Gcm,
    Aes256Cbc,
    Aes128Cbc,
}

impl CipherSuite {
    pub const ALL: [Self; 4] = [
        Self::Aes256Gcm,
        Self::Aes128Gcm,
        Self::Aes256Cbc,
        Self::Aes128Cbc,
    ];

    pub fn token(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "AES256GCM",
            Self::Aes128Gcm => "AES128GCM",
            Self::Aes256Cbc => "AES256CBC",
            Self::Aes128Cbc => "AES128CBC",
        }
    }

    pub fn from_token(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.token() == token)
    }

    pub fn is_cbc(self) -> bool {
        matches!(self, Self::Aes256Cbc | Self::Aes128Cbc)
    }

    fn key_bytes(self) -> usize {
        match self {
            Self::Aes256Gcm | Self::Aes256Cbc => 32,
            Self::Aes128Gcm | Self::Aes128Cbc => 16,
        }
    }
}

/// The inner content type of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Alert,
    Handshake,
    Application,
    Bulk,
    KeyUpdate,
}

impl ContentType {
    pub fn byte(self) -> u8 {
        match self {
            Self::Alert => 0x15,
            Self::Handshake => 0x16,
            Self::Application => 0x17,
            Self::Bulk => 0x18,
            Self::KeyUpdate => 0x19,
        }
    }

    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x15 => Some(Self::Alert),
            0x16 => Some(Self::Handshake),
            0x17 => Some(Self::Application),
            0x18 => Some(Self::Bulk),
            0x19 => Some(Self::KeyUpdate),
            _ => None,
        }
    }
}

/// A record could not be opened or sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Any failure to authenticate or decrypt: one error, so nothing leaks which.
    #[error("bad record MAC")]
    BadRecordMac,
    #[error("unknown record content type")]
    UnknownContentType,
    #[error("record content over 65536 bytes")]
    TooLarge,
    #[error("record sequence number exhausted")]
    SequenceExhausted,
}

/// Keys derived from one traffic secret.
enum Keys {
    Gcm {
        key: LessSafeKey,
        iv: [u8; 12],
    },
    Cbc {
        enc: Zeroizing<Vec<u8>>,
        mac: Secret,
    },
}

impl Keys {
    fn derive(suite: CipherSuite, secret: &Secret) -> Self {
        if suite.is_cbc() {
            let enc = keys::label(&secret[..], "cbc key", b"", suite.key_bytes());
            let mac = keys::label32(&secret[..], "mac key", b"");
            Self::Cbc { enc, mac }
        } else {
            let key = keys::label(&secret[..], "key", b"", suite.key_bytes());
            let iv_bytes = keys::label(&secret[..], "iv", b"", 12);
            let algorithm = if suite == CipherSuite::Aes256Gcm {
                &aead::AES_256_GCM
            } else {
                &aead::AES_128_GCM
            };
            // The key length is the algorithm's own (derived just above).
            let key = LessSafeKey::new(
                UnboundKey::new(algorithm, &key).expect("key length matches the suite"),
            );
            let mut iv = [0u8; 12];
            iv.copy_from_slice(&iv_bytes);
            Self::Gcm { key, iv }
        }
    }
}

fn gcm_nonce(iv: &[u8; 12], seq: u64) -> Nonce {
    let mut nonce = *iv;
    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    Nonce::assume_unique_for_key(nonce)
}

/// One direction's state: suite, current secret, keys, sequence number.
struct Direction {
    suite: CipherSuite,
    secret: Secret,
    keys: Keys,
    seq: u64,
    bytes_under_key: u64,
}

impl Direction {
    fn new(suite: CipherSuite, secret: Secret) -> Self {
        let keys = Keys::derive(suite, &secret);
        Self {
            suite,
            secret,
            keys,
            seq: 0,
            bytes_under_key: 0,
        }
    }

    fn update(&mut self) {
        self.secret = keys::label32(&self.secret[..], "traffic upd", b"");
        self.keys = Keys::derive(self.suite, &self.secret);
        self.seq = 0;
        self.bytes_under_key = 0;
    }

    fn next_seq(&mut self) -> Result<u64, RecordError> {
        let seq = self.seq;
        self.seq = seq.checked_add(1).ok_or(RecordError::SequenceExhausted)?;
        Ok(seq)
    }
}

/// Seals records in one direction.
pub struct RecordWriter(Direction);

impl RecordWriter {
    pub fn new(suite: CipherSuite, secret: Secret) -> Self {
        Self(Direction::new(suite, secret))
    }

    pub fn suite(&self) -> CipherSuite {
        self.0.suite
    }

    /// The sequence number the next record will carry.
    pub fn seq(&self) -> u64 {
        self.0.seq
    }

    /// True once this key has carried 2^20 records or 16 GiB.
    pub fn needs_key_update(&self) -> bool {
        self.0.seq >= KEY_UPDATE_RECORDS || self.0.bytes_under_key >= KEY_UPDATE_BYTES
    }

    /// Switches to the updated key (after sending a key update record under the old one).
    pub fn update_key(&mut self) {
        self.0.update();
    }

    /// Seals `content` as one whole frame (`0x17 ‖ len ‖ body`).
    pub fn seal(
        &mut self,
        content_type: ContentType,
        content: &[u8],
        entropy: &mut dyn Entropy,
    ) -> Result<Vec<u8>, RecordError> {
        self.seal_parts(content_type, &[content], entropy)
    }

    /// Seals the concatenation of `parts` as one whole frame, each part
    /// copied once, into the record (file data is not gathered first).
    pub fn seal_parts(
        &mut self,
        content_type: ContentType,
        parts: &[&[u8]],
        entropy: &mut dyn Entropy,
    ) -> Result<Vec<u8>, RecordError> {
        let content_len: usize = parts.iter().map(|p| p.len()).sum();
        if content_len > MAX_CONTENT_BYTES {
            return Err(RecordError::TooLarge);
        }
        let seq = self.0.next_seq()?;
        self.0.bytes_under_key += content_len as u64;
        let inner_len = content_len + 1;
        match &self.0.keys {
            Keys::Gcm { key, iv } => {
                let body_len = inner_len + GCM_TAG_BYTES;
                let mut out = Vec::with_capacity(HEADER_BYTES + body_len);
                let header = frame::header(KIND_RECORD, body_len);
                out.extend_from_slice(&header);
                for part in parts {
                    out.extend_from_slice(part);
                }
                out.push(content_type.byte());
                let tag = key
                    .seal_in_place_separate_tag(
                        gcm_nonce(iv, seq),
                        Aad::from(header),
                        &mut out[HEADER_BYTES..],
                    )
                    .map_err(|_| RecordError::BadRecordMac)?;
                out.extend_from_slice(tag.as_ref());
                Ok(out)
            }
            Keys::Cbc { enc, mac } => {
                let padded_len = (inner_len / 16 + 1) * 16;
                let body_len = CBC_IV_BYTES + padded_len + CBC_TAG_BYTES;
                let header = frame::header(KIND_RECORD, body_len);
                let mut iv = [0u8; CBC_IV_BYTES];
                entropy.fill(RandomPurpose::CbcIv, &mut iv);
                let mut out = Vec::with_capacity(HEADER_BYTES + body_len);
                out.extend_from_slice(&header);
                out.extend_from_slice(&iv);
                let c_start = out.len();
                for part in parts {
                    out.extend_from_slice(part);
                }
                out.push(content_type.byte());
                out.resize(c_start + padded_len, 0);
                cbc_encrypt(self.0.suite, enc, &iv, &mut out[c_start..], inner_len)?;
                let tag = keys::hmac(
                    &mac[..],
                    &[&seq.to_be_bytes(), &header, &out[HEADER_BYTES..]],
                );
                out.extend_from_slice(&tag);
                Ok(out)
            }
        }
    }
}

fn cbc_encrypt(
    suite: CipherSuite,
    key: &[u8],
    iv: &[u8; 16],
    buf: &mut [u8],
    msg_len: usize,
) -> Result<(), RecordError> {
    let result = if suite == CipherSuite::Aes256Cbc {
        cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(|_| RecordError::BadRecordMac)?
            .encrypt_padded_mut::<Pkcs7>(buf, msg_len)
            .map(|_| ())
    } else {
        cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| RecordError::BadRecordMac)?
            .encrypt_padded_mut::<Pkcs7>(buf, msg_len)
            .map(|_| ())
    };
    result.map_err(|_| RecordError::BadRecordMac)
}

fn cbc_decrypt(
    suite: CipherSuite,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Result<usize, RecordError> {
    let result = if suite == CipherSuite::Aes256Cbc {
        cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(|_| RecordError::BadRecordMac)?
            .decrypt_padded_mut::<Pkcs7>(buf)
            .map(<[u8]>::len)
    } else {
        cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| RecordError::BadRecordMac)?
            .decrypt_padded_mut::<Pkcs7>(buf)
            .map(<[u8]>::len)
    };
    result.map_err(|_| RecordError::BadRecordMac)
}

/// Opens records in one direction.
pub struct RecordReader(Direction);

impl RecordReader {
    pub fn new(suite: CipherSuite, secret: Secret) -> Self {
        Self(Direction::new(suite, secret))
    }

    /// Switches to the updated key after a key update record.
    pub fn update_key(&mut self) {
        self.0.update();
    }

    /// Opens the body of a 0x17 frame; returns the content type and content.
    pub fn open(&mut self, body: &[u8]) -> Result<(ContentType, Vec<u8>), RecordError> {
        let header = frame::header(KIND_RECORD, body.len());
        let seq = self.0.seq;
        let mut inner = match &self.0.keys {
            Keys::Gcm { key, iv } => {
                if body.len() < GCM_TAG_BYTES + 1 {
                    return Err(RecordError::BadRecordMac);
                }
                let mut buf = body.to_vec();
                let plain_len = key
                    .open_in_place(gcm_nonce(iv, seq), Aad::from(header), &mut buf)
                    .map_err(|_| RecordError::BadRecordMac)?
                    .len();
                buf.truncate(plain_len);
                buf
            }
            Keys::Cbc { enc, mac } => {
                let valid_len = body.len() >= CBC_IV_BYTES + 16 + CBC_TAG_BYTES
                    && (body.len() - CBC_IV_BYTES - CBC_TAG_BYTES) % 16 == 0;
                if !valid_len {
                    return Err(RecordError::BadRecordMac);
                }
                let (iv_and_c, tag) = body.split_at(body.len() - CBC_TAG_BYTES);
                let expected = keys::hmac(&mac[..], &[&seq.to_be_bytes(), &header, iv_and_c]);
                if !keys::ct_eq(&expected, tag) {
                    return Err(RecordError::BadRecordMac);
                }
                let (iv, ciphertext) = iv_and_c.split_at(CBC_IV_BYTES);
                let mut buf = ciphertext.to_vec();
                let plain_len = cbc_decrypt(self.0.suite, enc, iv, &mut buf)?;
                buf.truncate(plain_len);
                buf
            }
        };
        // Only an authenticated record moves the sequence number.
        self.0.next_seq()?;
        let type_byte = inner.pop().ok_or(RecordError::BadRecordMac)?;
        let content_type =
            ContentType::from_byte(type_byte).ok_or(RecordError::UnknownContentType)?;
        if inner.len() > MAX_CONTENT_BYTES {
            return Err(RecordError::TooLarge);
        }
        self.0.bytes_under_key += inner.len() as u64;
        Ok((content_type, inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::OsEntropy;

    fn pair(suite: CipherSuite) -> (RecordWriter, RecordReader) {
        let secret = Zeroizing::new([9u8; 32]);
        (
            RecordWriter::new(suite, secret.clone()),
            RecordReader::new(suite, secret),
        )
    }

    #[test]
    fn every_suite_round_trips_and_refuses_tampering() {
        for suite in CipherSuite::ALL {
            let (mut w, mut r) = pair(suite);
            for content in [
                &b""[..],
                b"x",
                &[5u8; 15],
                &[6u8; 16],
                &vec![7u8; MAX_CONTENT_BYTES],
            ] {
                let frame = w
                    .seal(ContentType::Application, content, &mut OsEntropy)
                    .unwrap();
                assert!(
                    frame.len() - HEADER_BYTES <= frame::MAX_RECORD_BYTES,
                    "{suite:?}"
                );
                let (kind, got) = r.open(&frame[HEADER_BYTES..]).unwrap();
                assert_eq!(
                    (kind, got.as_slice()),
                    (ContentType::Application, content),
                    "{suite:?}"
                );
            }
            let frame = w
                .seal(ContentType::Application, b"hello", &mut OsEntropy)
                .unwrap();
            for bit in [0, 7, 8 * (frame.len() - HEADER_BYTES) - 1] {
                let mut bad = frame[HEADER_BYTES..].to_vec();
                bad[bit / 8] ^= 1 << (bit % 8);
                assert_eq!(
                    r.open(&bad),
                    Err(RecordError::BadRecordMac),
                    "{suite:?} bit {bit}"
                );
            }
            // The good record still opens: a failure does not move the sequence.
            assert!(r.open(&frame[HEADER_BYTES..]).is_ok());
            // A replay does not.
            assert_eq!(
                r.open(&frame[HEADER_BYTES..]),
                Err(RecordError::BadRecordMac)
            );
        }
    }

    #[test]
    fn key_update_moves_both_sides() {
        for suite in CipherSuite::ALL {
            let (mut w, mut r) = pair(suite);
            let update = w.seal(ContentType::KeyUpdate, b"", &mut OsEntropy).unwrap();
            w.update_key();
            assert_eq!(
                r.open(&update[HEADER_BYTES..]).unwrap().0,
                ContentType::KeyUpdate
            );
            r.update_key();
            let frame = w
                .seal(ContentType::Application, b"after", &mut OsEntropy)
                .unwrap();
            assert_eq!(w.seq(), 1);
            assert_eq!(r.open(&frame[HEADER_BYTES..]).unwrap().1, b"after");
        }
    }

    #[test]
    fn cbc_lengths_are_checked_before_decrypting() {
        let (_, mut r) = pair(CipherSuite::Aes256Cbc);
        for len in [0, 16, 47, 63, 65, 16 + 16 + 31] {
            assert_eq!(
                r.open(&vec![0u8; len]),
                Err(RecordError::BadRecordMac),
                "len {len}"
            );
        }
    }
}
