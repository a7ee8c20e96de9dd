//! S/MIME 4.0 mail (RFC 8551), as `docs/design/mail.md` decides: written
//! with `mail-builder` and the `cms` types, read with `mail-parser` and
//! the same types (BER included); every primitive in aws-lc-rs.
//!
//! # Layout
//!
//! - `mod.rs`: [`compose`] (MIME entity with protected headers, then
//!   `multipart/signed`, then `application/pkcs7-mime`) and [`read`] (the
//!   layers peeled in turn, at most [`MAX_LAYERS`]).
//! - `sign.rs`: SignedData, made and checked.
//! - `envelope.rs`: EnvelopedData and AuthEnvelopedData, made and opened.
//! - `asn1.rs`: the parameter types the `cms` crate lacks.
//!
//! What is written: the inner entity carries From, To, Cc, Subject, Date,
//! Message-ID (and In-Reply-To) with `hp="cipher"` on its Content-Type
//! (RFC 9788 header protection), is signed detached with SHA-256 and RSA
//! PKCS#1 v1.5, and the `multipart/signed` is encrypted to every
//! certificate given (the recipients' and the sender's own) as
//! EnvelopedData (AES-256-CBC) or AuthEnvelopedData (AES-256-GCM, what the
//! agent writes to SixChat peers), with
//! RSA-OAEP-SHA256 key transport; the outer Subject is `[...]`.
//!
//! [`read`] never fails: what cannot be read is reported in words in
//! [`Reading`], so the caller can store the message as it came and show why.

mod asn1;
mod envelope;
mod sign;

pub use envelope::{Cipher, DecryptWith};
pub use sign::{SignWith, Signer};

use cms::content_info::ContentInfo;
use const_oid::db::rfc5911;
use der::{Decode as _, EncodingRules};
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;
use mail_parser::{Message, MessageParser, MimeHeaders as _};

use envelope::Opened;

/// Most S/MIME layers (signed, encrypted, signed again...) peeled.
pub const MAX_LAYERS: usize = 4;

/// The neutral outer Subject of an encrypted mail (RFC 9788).
pub const HIDDEN_SUBJECT: &str = "[...]";

/// Why a mail could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmimeError {
    #[error("the mail could not be made: {0}")]
    Build(String),
}

/// A person on a mail: address and, if known, display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub address: String,
    pub name: Option<String>,
}

/// A file carried by a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A mail to write.
#[derive(Debug, Clone)]
pub struct Draft {
    pub from: Party,
    pub to: Vec<Party>,
    pub cc: Vec<Party>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<Attachment>,
    /// Without angle brackets.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub date_unix: i64,
}

/// Encrypt to these certificates (DER; the sender's own among them, so
/// Sent stays readable) with this cipher.
#[derive(Debug, Clone, Copy)]
pub struct EncryptTo<'a> {
    pub certificates: &'a [Vec<u8>],
    pub cipher: Cipher,
}

fn address(party: &Party) -> Address<'static> {
    Address::new_address(party.name.clone(), party.address.clone())
}

fn addresses(parties: &[Party]) -> Address<'static> {
    Address::new_list(parties.iter().map(address).collect())
}

/// Headers every layer that shows them carries.
fn headed(draft: &Draft, subject: &str) -> MessageBuilder<'static> {
    let mut builder = MessageBuilder::new()
        .from(address(&draft.from))
        .subject(subject.to_owned())
        .date(draft.date_unix)
        .message_id(draft.message_id.clone());
    if !draft.to.is_empty() {
        builder = builder.to(addresses(&draft.to));
    }
    if !draft.cc.is_empty() {
        builder = builder.cc(addresses(&draft.cc));
    }
    if let Some(parent) = &draft.in_reply_to {
        builder = builder.in_reply_to(parent.clone());
    }
    builder
}

/// The content: the text, and the attachments beside it.
fn content(draft: &Draft, hp: Option<&'static str>) -> MimePart<'static> {
    let mut text_type = ContentType::new("text/plain").attribute("charset", "utf-8");
    if draft.attachments.is_empty() {
        if let Some(hp) = hp {
            text_type = text_type.attribute("hp", hp);
        }
        return MimePart::new(text_type, draft.body.clone());
    }
    let mut parts = vec![MimePart::new(text_type, draft.body.clone())];
    parts.extend(draft.attachments.iter().map(|a| {
        MimePart::new(ContentType::new(a.content_type.clone()), a.data.clone())
            .attachment(a.name.clone())
    }));
    let mut mixed = ContentType::new("multipart/mixed");
    if let Some(hp) = hp {
        mixed = mixed.attribute("hp", hp);
    }
    MimePart::new(mixed, parts)
}

#[allow(clippy::needless_pass_by_value)] // the shape `map_err` hands over
fn io(e: std::io::Error) -> SmimeError {
    SmimeError::Build(e.to_string())
}

/// A header value that would break out of its line (CR, LF or any other
/// control character) is refused, so no text can smuggle in a header or
/// start the body.
fn check_header_text(what: &str, text: &str) -> Result<(), SmimeError> {
    if text.chars().any(char::is_control) {
        return Err(SmimeError::Build(format!(
            "the {what} holds a control character"
        )));
    }
    Ok(())
}

fn check_headers(draft: &Draft) -> Result<(), SmimeError> {
    check_header_text("subject", &draft.subject)?;
    check_header_text("Message-ID", &draft.message_id)?;
    if let Some(parent) = &draft.in_reply_to {
        check_header_text("In-Reply-To", parent)?;
    }
    for party in std::iter::once(&draft.from)
        .chain(&draft.to)
        .chain(&draft.cc)
    {
        check_header_text("address", &party.address)?;
        if let Some(name) = &party.name {
            check_header_text("name", name)?;
        }
    }
    for a in &draft.attachments {
        check_header_text("attachment name", &a.name)?;
        check_header_text("attachment type", &a.content_type)?;
    }
    Ok(())
}

/// Writes a mail: signed when `sign` is given, encrypted when `encrypt`
/// is. Returns the whole RFC 5322 message, CRLF line ends.
pub fn compose(
    draft: &Draft,
    sign: Option<&SignWith<'_>>,
    encrypt: Option<&EncryptTo<'_>>,
) -> Result<Vec<u8>, SmimeError> {
    check_headers(draft)?;
    let hp = match (sign.is_some(), encrypt.is_some()) {
        (_, true) => Some("cipher"),
        (true, false) => Some("clear"),
        (false, false) => None,
    };
    let entity = headed(draft, &draft.subject)
        .body(content(draft, hp))
        .write_to_vec()
        .map_err(io)?;
    let inner = match sign {
        None => entity,
        Some(signer) => {
            let now = u64::try_from(draft.date_unix).unwrap_or(0);
            let signature = sign::sign_detached(&entity, signer, now)?;
            let signed = MimePart::new(
                ContentType::new("multipart/signed")
                    .attribute("protocol", "application/pkcs7-signature")
                    .attribute("micalg", "sha-256"),
                vec![
                    MimePart::raw(entity),
                    MimePart::new(
                        ContentType::new("application/pkcs7-signature")
                            .attribute("name", "smime.p7s"),
                        signature,
                    )
                    .attachment("smime.p7s"),
                ],
            );
            let mut bytes = Vec::new();
            signed.write_part(&mut bytes).map_err(io)?;
            bytes
        }
    };
    let Some(encrypt) = encrypt else {
        if sign.is_none() {
            return Ok(inner);
        }
        return headed(draft, &draft.subject)
            .body(MimePart::raw(inner))
            .write_to_vec()
            .map_err(io);
    };
    let sealed = envelope::seal(&inner, encrypt.certificates, encrypt.cipher)?;
    let smime_type = match encrypt.cipher {
        Cipher::Cbc => "enveloped-data",
        Cipher::Gcm => "authEnveloped-data",
    };
    let part = MimePart::new(
        ContentType::new("application/pkcs7-mime")
            .attribute("smime-type", smime_type)
            .attribute("name", "smime.p7m"),
        sealed,
    )
    .attachment("smime.p7m");
    headed(draft, HIDDEN_SUBJECT)
        .body(part)
        .write_to_vec()
        .map_err(io)
}

/// How the encryption layer went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// The mail was not encrypted.
    None,
    /// Decrypted; the content cipher ("AES-CBC", "AES-GCM").
    Decrypted { cipher: &'static str },
    /// Encrypted, but to none of our keys.
    NotForUs,
    /// Encrypted to us (or unreadable), and it did not open.
    CannotDecrypt(String),
}

/// How the signature layer went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// No signature was found.
    None,
    /// The signature verified against the certificate it names; whose
    /// certificate that is, is the caller's to judge (trust levels).
    Valid(Signer),
    /// A signature that does not count, and why.
    Invalid(String),
}

/// What the mail says, read from the innermost layer reached (its own
/// headers when it has them, protected by the layers around it), else
/// from the outer message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    pub from: Option<Party>,
    pub to: Vec<Party>,
    pub cc: Vec<Party>,
    pub subject: Option<String>,
    pub date_unix: Option<i64>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
}

/// What reading a mail found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub encryption: Encryption,
    pub signature: Signature,
    pub headers: Headers,
    /// The headers shown came from inside the signed or encrypted part.
    pub protected_headers: bool,
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// The message itself could not be read as MIME, or a layer was
    /// malformed (said in words).
    pub problem: Option<String>,
}

fn parties(address: Option<&mail_parser::Address<'_>>) -> Vec<Party> {
    address
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    Some(Party {
                        address: a.address()?.to_owned(),
                        name: a.name().map(str::to_owned),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn headers_of(message: &Message<'_>) -> Headers {
    Headers {
        from: parties(message.from()).into_iter().next(),
        to: parties(message.to()),
        cc: parties(message.cc()),
        subject: message.subject().map(str::to_owned),
        date_unix: message.date().map(mail_parser::DateTime::to_timestamp),
        message_id: message.message_id().map(str::to_owned),
        in_reply_to: message.in_reply_to().as_text().map(str::to_owned),
    }
}

fn has_headers(headers: &Headers) -> bool {
    headers.from.is_some() || headers.subject.is_some()
}

/// Canonical line ends (CRLF) for a signed entity that travelled with bare LF.
fn canonical(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let bare_lf = bytes
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'));
    if !bare_lf {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    std::borrow::Cow::Owned(out)
}

/// One S/MIME layer of a parsed message, if it is one.
enum Layer {
    Enveloped(Vec<u8>),
    Opaque(Vec<u8>),
    Detached { entity: Vec<u8>, signature: Vec<u8> },
    Leaf,
}

fn layer_of(message: &Message<'_>) -> Layer {
    let root = message.root_part();
    let Some(content_type) = root.content_type() else {
        return Layer::Leaf;
    };
    let subtype = content_type
        .subtype()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let ctype = content_type.ctype().to_ascii_lowercase();
    if ctype == "application" && (subtype == "pkcs7-mime" || subtype == "x-pkcs7-mime") {
        let smime_type = content_type
            .attribute("smime-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = root.contents().to_vec();
        return if smime_type == "signed-data" {
            Layer::Opaque(bytes)
        } else {
            Layer::Enveloped(bytes)
        };
    }
    if ctype == "multipart" && subtype == "signed" {
        let children = root.sub_parts().unwrap_or_default();
        let (Some(first), Some(second)) = (
            children.first().and_then(|id| message.part(*id)),
            children.get(1).and_then(|id| message.part(*id)),
        ) else {
            return Layer::Leaf;
        };
        let start = first.raw_header_offset() as usize;
        let end = first.raw_end_offset() as usize;
        let entity = message
            .raw_message
            .get(start..end)
            .map(|slice| canonical(slice).into_owned())
            .unwrap_or_default();
        return Layer::Detached {
            entity,
            signature: second.contents().to_vec(),
        };
    }
    Layer::Leaf
}

fn content_info(bytes: &[u8]) -> Result<ContentInfo, String> {
    ContentInfo::from_ber(bytes).map_err(|e| format!("malformed S/MIME data: {e}"))
}

fn signed_data(info: &ContentInfo) -> Result<asn1::SignedDataRead, String> {
    if info.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(format!("not signed data ({})", info.content_type));
    }
    info.content
        .decode_as_encoding::<asn1::SignedDataRead>(EncodingRules::Ber)
        .map_err(|e| format!("malformed signed data: {e}"))
}

/// The Message-ID of the outer message (what a receipt names), read
/// without opening any layer.
pub fn outer_message_id(message: &[u8]) -> Option<String> {
    std::panic::catch_unwind(|| {
        MessageParser::default()
            .parse(message)?
            .message_id()
            .map(str::to_owned)
    })
    .ok()
    .flatten()
}

/// Reads a mail (as received, RFC 5322 bytes), decrypting with `keys`.
/// A fault in a parser is caught and reported as a problem, never passed on.
pub fn read(message: &[u8], keys: &[DecryptWith<'_>]) -> Reading {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_layers(message, keys)))
        .unwrap_or_else(|_| Reading {
            encryption: Encryption::None,
            signature: Signature::None,
            headers: Headers::default(),
            protected_headers: false,
            text: String::new(),
            attachments: Vec::new(),
            problem: Some("the message could not be parsed".to_owned()),
        })
}

fn read_layers(message: &[u8], keys: &[DecryptWith<'_>]) -> Reading {
    let mut reading = Reading {
        encryption: Encryption::None,
        signature: Signature::None,
        headers: Headers::default(),
        protected_headers: false,
        text: String::new(),
        attachments: Vec::new(),
        problem: None,
    };
    let mut current: Vec<u8> = message.to_vec();
    for depth in 0..=MAX_LAYERS {
        let Some(parsed) = MessageParser::default().parse(&current) else {
            reading.problem = Some("the message is not readable as MIME".to_owned());
            return reading;
        };
        let headers = headers_of(&parsed);
        if depth == 0 {
            reading.headers = headers;
        } else if has_headers(&headers) {
            reading.headers = headers;
            reading.protected_headers = true;
        }
        let next = match layer_of(&parsed) {
            Layer::Leaf => {
                leaf(&parsed, &mut reading);
                return reading;
            }
            _ if depth == MAX_LAYERS => {
                reading.problem = Some(format!("more than {MAX_LAYERS} S/MIME layers"));
                return reading;
            }
            Layer::Enveloped(bytes) => peel_enveloped(&bytes, keys, &mut reading),
            Layer::Opaque(bytes) => peel_opaque(&bytes, &mut reading),
            Layer::Detached { entity, signature } => {
                peel_detached(&entity, &signature, &mut reading);
                Some(entity)
            }
        };
        match next {
            Some(bytes) => current = bytes,
            None => return reading,
        }
    }
    reading
}

fn peel_enveloped(
    bytes: &[u8],
    keys: &[DecryptWith<'_>],
    reading: &mut Reading,
) -> Option<Vec<u8>> {
    if reading.encryption != Encryption::None {
        reading.problem = Some("encrypted twice".to_owned());
        return None;
    }
    let info = match content_info(bytes) {
        Ok(info) => info,
        Err(why) => {
            reading.encryption = Encryption::CannotDecrypt(why);
            return None;
        }
    };
    match envelope::open(&info, keys) {
        Opened::Content { bytes, cipher } => {
            reading.encryption = Encryption::Decrypted { cipher };
            Some(bytes.to_vec())
        }
        Opened::NotForUs => {
            reading.encryption = Encryption::NotForUs;
            None
        }
        Opened::CannotDecrypt(why) => {
            reading.encryption = Encryption::CannotDecrypt(why);
            None
        }
    }
}

fn record_signature(result: Result<Signer, String>, reading: &mut Reading) {
    // The first (outermost) signature decides; an inner one never upgrades
    // an invalid outer one.
    if reading.signature == Signature::None {
        reading.signature = match result {
            Ok(signer) => Signature::Valid(signer),
            Err(why) => Signature::Invalid(why),
        };
    }
}

fn peel_opaque(bytes: &[u8], reading: &mut Reading) -> Option<Vec<u8>> {
    let signed = match content_info(bytes).and_then(|info| signed_data(&info)) {
        Ok(signed) => signed,
        Err(why) => {
            record_signature(Err(why), reading);
            return None;
        }
    };
    let Some(content) = signed.encap_content_info.econtent.as_ref() else {
        record_signature(Err("the signed content is missing".to_owned()), reading);
        return None;
    };
    let content = content.as_bytes().to_vec();
    record_signature(sign::verify(&signed, &content), reading);
    Some(content)
}

fn peel_detached(entity: &[u8], signature: &[u8], reading: &mut Reading) {
    let result = content_info(signature)
        .and_then(|info| signed_data(&info))
        .and_then(|signed| sign::verify(&signed, entity));
    record_signature(result, reading);
}

fn leaf(message: &Message<'_>, reading: &mut Reading) {
    reading.text = message
        .body_text(0)
        .map(std::borrow::Cow::into_owned)
        .unwrap_or_default();
    reading.attachments = message
        .attachments()
        .map(|part| Attachment {
            name: part.attachment_name().unwrap_or("attachment").to_owned(),
            content_type: part.content_type().map_or_else(
                || "application/octet-stream".to_owned(),
                |ct| match ct.subtype() {
                    Some(sub) => format!("{}/{sub}", ct.ctype()),
                    None => ct.ctype().to_owned(),
                },
            ),
            data: part.contents().to_vec(),
        })
        .collect();
}
