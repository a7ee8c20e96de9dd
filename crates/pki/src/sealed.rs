//! Sealed envelopes: what an agent leaves in a DIR's store for a peer who is
//! offline (irp.md, `store_put`). Signed by the sender, then encrypted to the
//! recipient's certificate, so the DIR holds only opaque bytes.
//!
//! Inner document, signed: `<signed xmlns="urn:sixchat:sealed" version="1">`
//! with the sender's chain as `<certificate>` elements (leaf first), the
//! `<content>` (base64) and a `<signature>`: RSA-PSS / SHA-256 (salt 32) over
//! [`SIGN_LABEL`] ‖ recipient UserID ‖ 0x00 ‖ content. Binding the recipient
//! stops a recipient from passing a message on as if it had been sent to
//! someone else.
//!
//! Outer document: `<sealed xmlns="urn:sixchat:sealed" version="1">` with
//! `<to>`, `<key_id>` (SHA-256 of the recipient's certificate, hex),
//! `<wrapped_key>` (a fresh AES-256 key under RSA-OAEP / SHA-256 / MGF1-SHA-256
//! to the recipient's key), `<nonce>` and `<ciphertext>` (AES-256-GCM of the
//! inner document; the additional data is [`AAD_LABEL`] ‖ to ‖ 0x00 ‖ key_id).
//! Decryption runs in aws-lc-rs (constant time).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rsa::{
    OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sixchat_proto::xml::{self, escape_into};
use sixchat_proto::{Fingerprint, HandshakeSigner, UserId};
use zeroize::Zeroizing;

use crate::keys::{IdentityKey, verify_pss_sha256};
use crate::x509;

/// The namespace of both documents.
pub const NAMESPACE: &str = "urn:sixchat:sealed";
/// Domain separation for the sender's signature.
pub const SIGN_LABEL: &[u8] = b"sixchat sealed envelope v1 signature\0";
/// Domain separation for the AEAD's additional data.
pub const AAD_LABEL: &[u8] = b"sixchat sealed envelope v1\0";
/// Largest content sealed or opened.
pub const MAX_CONTENT_BYTES: usize = 48 << 20;

/// Why an envelope could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the recipient's certificate has no usable RSA key")]
    RecipientKey,
    #[error("the envelope is for {0}, not for this identity")]
    NotForUs(String),
    #[error("the envelope is malformed: {0}")]
    Malformed(&'static str),
    #[error("the envelope does not decrypt with this identity's key")]
    Decrypt,
    #[error("the content is too large")]
    TooLarge,
    #[error("a local cryptographic operation failed: {0}")]
    Local(String),
}

/// An envelope decrypted for its recipient. The caller checks the sender's
/// chain with its certificate policy, then [`Opened::signature_valid`] with
/// the leaf key the policy returned.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The sender's chain, leaf first, as it claims it.
    pub sender_chain: Vec<Vec<u8>>,
    pub content: Vec<u8>,
    signed_data: Vec<u8>,
    signature: Vec<u8>,
}

impl Opened {
    /// True if the sender's signature verifies under `sender_spki_der`.
    pub fn signature_valid(&self, sender_spki_der: &[u8]) -> bool {
        verify_pss_sha256(sender_spki_der, &self.signed_data, &self.signature)
    }
}

fn signed_data(to: &UserId, content: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(SIGN_LABEL.len() + to.as_str().len() + 1 + content.len());
    data.extend_from_slice(SIGN_LABEL);
    data.extend_from_slice(to.as_str().as_bytes());
    data.push(0);
    data.extend_from_slice(content);
    data
}

fn aad(to: &UserId, key_id: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(AAD_LABEL.len() + to.as_str().len() + 1 + key_id.len());
    data.extend_from_slice(AAD_LABEL);
    data.extend_from_slice(to.as_str().as_bytes());
    data.push(0);
    data.extend_from_slice(key_id.as_bytes());
    data
}

fn push_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn open_document(out: &mut String, root: &str) {
    out.push('<');
    out.push_str(root);
    out.push_str(" xmlns=\"");
    out.push_str(NAMESPACE);
    out.push_str("\" version=\"1\">");
}

/// Signs `content` for `to` with `sender_key`, then encrypts it to the
/// certificate `to_cert_der`.
pub fn seal(
    sender_key: &IdentityKey,
    sender_chain: &[Vec<u8>],
    to: &UserId,
    to_cert_der: &[u8],
    content: &[u8],
) -> Result<Vec<u8>, SealError> {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(SealError::TooLarge);
    }
    let signature = sender_key
        .sign_pss_sha256(&signed_data(to, content))
        .map_err(|e| SealError::Local(e.0))?;
    let mut inner = String::with_capacity(content.len() * 4 / 3 + 4096);
    open_document(&mut inner, "signed");
    for der in sender_chain {
        push_element(&mut inner, "certificate", &BASE64.encode(der));
    }
    push_element(&mut inner, "content", &BASE64.encode(content));
    push_element(&mut inner, "signature", &BASE64.encode(&signature));
    inner.push_str("</signed>");

    let cert = x509::parse_certificate(to_cert_der).ok_or(SealError::RecipientKey)?;
    let public = PublicEncryptingKey::from_der(cert.public_key().raw)
        .map_err(|_| SealError::RecipientKey)?;
    let oaep = OaepPublicEncryptingKey::new(public).map_err(|_| SealError::RecipientKey)?;
    let mut content_key = Zeroizing::new([0u8; 32]);
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(content_key.as_mut_slice())
        .and_then(|()| aws_lc_rs::rand::fill(&mut nonce))
        .map_err(|_| SealError::Local("no randomness".into()))?;
    let mut wrapped = vec![0u8; oaep.ciphertext_size()];
    let wrapped_len = oaep
        .encrypt(
            &OAEP_SHA256_MGF1SHA256,
            content_key.as_slice(),
            &mut wrapped,
            None,
        )
        .map_err(|_| SealError::RecipientKey)?
        .len();
    wrapped.truncate(wrapped_len);

    let key_id = Fingerprint::of_der(to_cert_der).to_hex();
    let aead = aead_key(&content_key)?;
    let mut ciphertext = inner.into_bytes();
    aead.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(to, &key_id)),
        &mut ciphertext,
    )
    .map_err(|_| SealError::Local("encryption failed".into()))?;

    let mut outer = String::with_capacity(ciphertext.len() * 4 / 3 + 1024);
    open_document(&mut outer, "sealed");
    push_element(&mut outer, "to", to.as_str());
    push_element(&mut outer, "key_id", &key_id);
    push_element(&mut outer, "wrapped_key", &BASE64.encode(&wrapped));
    push_element(&mut outer, "nonce", &BASE64.encode(nonce));
    push_element(&mut outer, "ciphertext", &BASE64.encode(&ciphertext));
    outer.push_str("</sealed>");
    Ok(outer.into_bytes())
}

fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| SealError::Local("bad AEAD key".into()))
}

fn field<'a>(root: &'a xml::Element, name: &'static str) -> Result<&'a str, SealError> {
    root.child(name)
        .map(|e| e.text.as_str())
        .ok_or(SealError::Malformed(name))
}

fn base64_field(root: &xml::Element, name: &'static str) -> Result<Vec<u8>, SealError> {
    BASE64
        .decode(field(root, name)?.trim())
        .map_err(|_| SealError::Malformed(name))
}

fn document(bytes: &[u8], root_name: &'static str) -> Result<xml::Element, SealError> {
    let root = xml::parse(bytes).map_err(|_| SealError::Malformed("not XML"))?;
    if root.name != root_name
        || root.attribute("xmlns") != Some(NAMESPACE)
        || root.attribute("version") != Some("1")
    {
        return Err(SealError::Malformed(root_name));
    }
    Ok(root)
}

/// Decrypts an envelope addressed to `me` with `my_key`. The sender is not
/// yet authenticated: see [`Opened`].
pub fn open(my_key: &IdentityKey, me: &UserId, sealed: &[u8]) -> Result<Opened, SealError> {
    if sealed.len() > MAX_CONTENT_BYTES * 2 {
        return Err(SealError::TooLarge);
    }
    let outer = document(sealed, "sealed")?;
    let to = field(&outer, "to")?;
    if to != me.as_str() {
        return Err(SealError::NotForUs(to.chars().take(80).collect()));
    }
    let key_id = field(&outer, "key_id")?;
    let wrapped = base64_field(&outer, "wrapped_key")?;
    let nonce: [u8; NONCE_LEN] = base64_field(&outer, "nonce")?
        .try_into()
        .map_err(|_| SealError::Malformed("nonce"))?;
    let mut ciphertext = base64_field(&outer, "ciphertext")?;

    let private =
        PrivateDecryptingKey::from_pkcs8(my_key.pkcs8_der()).map_err(|_| SealError::Decrypt)?;
    let oaep = OaepPrivateDecryptingKey::new(private).map_err(|_| SealError::Decrypt)?;
    let mut content_key = Zeroizing::new(vec![0u8; oaep.min_output_size()]);
    let key_len = oaep
        .decrypt(&OAEP_SHA256_MGF1SHA256, &wrapped, &mut content_key, None)
        .map_err(|_| SealError::Decrypt)?
        .len();
    let key: [u8; 32] = content_key
        .get(..key_len)
        .and_then(|k| k.try_into().ok())
        .ok_or(SealError::Decrypt)?;
    let key = Zeroizing::new(key);
    let inner_len = aead_key(&key)?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(me, key_id)),
            &mut ciphertext,
        )
        .map_err(|_| SealError::Decrypt)?
        .len();
    ciphertext.truncate(inner_len);

    let inner = document(&ciphertext, "signed")?;
    let sender_chain = inner
        .children
        .iter()
        .filter(|c| c.name == "certificate")
        .map(|c| {
            BASE64
                .decode(c.text.trim())
                .map_err(|_| SealError::Malformed("certificate"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if sender_chain.is_empty() || sender_chain.len() > 4 {
        return Err(SealError::Malformed("certificate"));
    }
    let content = base64_field(&inner, "content")?;
    let signature = base64_field(&inner, "signature")?;
    Ok(Opened {
        sender_chain,
        signed_data: signed_data(me, &content),
        content,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::self_signed_identity;

    fn identity(fixture: &[u8], user: &str) -> (IdentityKey, UserId, Vec<u8>) {
        let key = IdentityKey::from_pkcs8_der(fixture).unwrap();
        let user_id = UserId::parse(user).unwrap();
        let cert = self_signed_identity(&key, &user_id, user, 30).unwrap();
        (key, user_id, cert)
    }

    #[test]
    fn sealed_content_opens_only_for_its_recipient_and_the_signature_binds_it() {
        let (alice_key, alice, alice_cert) = identity(
            include_bytes!("../tests/fixtures/keys/rsa2048-a.pk8"),
            "alice@example.org",
        );
        let (bob_key, bob, bob_cert) = identity(
            include_bytes!("../tests/fixtures/keys/rsa2048-b.pk8"),
            "bob@example.org",
        );
        let sealed = seal(
            &bob_key,
            std::slice::from_ref(&bob_cert),
            &alice,
            &alice_cert,
            b"hello alice",
        )
        .unwrap();
        assert!(!sealed.windows(11).any(|w| w == b"hello alice"));

        let opened = open(&alice_key, &alice, &sealed).unwrap();
        assert_eq!(opened.content, b"hello alice");
        assert_eq!(opened.sender_chain, vec![bob_cert.clone()]);
        assert!(opened.signature_valid(bob_key.public_key_spki_der()));
        assert!(!opened.signature_valid(alice_key.public_key_spki_der()));

        // Bob cannot open it, even claiming to be Alice.
        assert_eq!(
            open(&bob_key, &alice, &sealed).unwrap_err(),
            SealError::Decrypt
        );
        assert!(matches!(
            open(&bob_key, &bob, &sealed),
            Err(SealError::NotForUs(_))
        ));

        // One flipped ciphertext byte is refused.
        let text = String::from_utf8(sealed).unwrap();
        let start = text.find("<ciphertext>").unwrap() + "<ciphertext>".len();
        let mut tampered = text.into_bytes();
        tampered[start + 10] = if tampered[start + 10] == b'A' {
            b'B'
        } else {
            b'A'
        };
        assert!(open(&alice_key, &alice, &tampered).is_err());
        assert!(open(&alice_key, &alice, b"<sealed/>").is_err());
    }
}
