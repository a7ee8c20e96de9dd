//! The certificate policy of handshake steps 5 and 8 (protocol.md,
//! "Certificate policy"), in the order the checks run:
//!
//! 1. The chain: 1 to 4 readable DER certificates.
//! 2. The leaf's identity: exactly one rfc822Name equal to the UserID, exactly
//!    one CN equal to the name.
//! 3. The leaf's key: RSA of exactly 2048, 3072 or 4096 bits.
//! 4. The leaf's usage: keyUsage (when present) allows digitalSignature;
//!    extendedKeyUsage (when present) includes clientAuth.
//! 5. The leaf's validity window.
//! 6. A pin for the UserID must match the leaf (constant-time compare).
//! 7. The chain's links: names chain, signatures verify, issuers are CAs
//!    allowed to sign certificates, within their validity and path length;
//!    no certificate carries a critical extension we do not understand.
//! 8. The anchor: the top of the chain is a trusted root, or was issued by
//!    one; a trusted root anywhere but the top is refused (a thief could
//!    otherwise hide a revoked leaf below a repeated root). A root trusted
//!    only for other domains is refused. Every certificate of the path below
//!    the root, the leaf always, is checked against its issuer's CRL: a root
//!    whose CRL is not held, or is past its nextUpdate, is refused (no CRL is
//!    a stale CRL); an intermediate CA's CRL is never held, so a path through
//!    an intermediate cannot be verified and is refused. A DIR-issued chain
//!    is exactly `[leaf]` or `[leaf, root]`.
//!
//! The level is `Verified` when step 8 anchored the chain for the UserID's
//! domain, else `Known` when a pin matched, else `New`.

use sixchat_proto::{CertRejection, Fingerprint, PeerCertificate, TrustLevel, UserId};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;

use super::{TrustStore, TrustedRoot};
use crate::keys::ALLOWED_KEY_BITS;
use crate::x509::{self, KeyKind, SignatureProblem, Single};

/// Most certificates accepted in a peer's chain, leaf included.
pub const MAX_CHAIN_LEN: usize = 4;

/// What the leaf is checked for (step 4 differs; every other step is the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A handshake identity: digitalSignature, clientAuth.
    Handshake,
    /// A mail signer (RFC 8550): digitalSignature or nonRepudiation,
    /// emailProtection.
    MailSignature,
    /// A mail recipient's key: keyEncipherment, emailProtection.
    MailEncryption,
}

pub(super) fn check_peer(
    store: &TrustStore,
    purpose: Purpose,
    user_id: &UserId,
    name: Option<&str>,
    chain: &[Vec<u8>],
    now_unix: i64,
) -> Result<PeerCertificate, CertRejection> {
    let Some(leaf_der) = chain.first() else {
        return Err(CertRejection::BadCertificate(
            "no certificate was presented".to_owned(),
        ));
    };
    if chain.len() > MAX_CHAIN_LEN {
        return Err(CertRejection::BadCertificate(format!(
            "a chain of {} certificates; at most {MAX_CHAIN_LEN} are accepted",
            chain.len()
        )));
    }
    let certs = chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            x509::parse_certificate(der).ok_or_else(|| {
                CertRejection::BadCertificate(format!(
                    "certificate {} of the chain is unreadable",
                    i + 1
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = &certs[0];
    check_identity(leaf, user_id, name)?;
    let key_bits = check_leaf_key(leaf)?;
    check_leaf_usage(leaf, purpose)?;
    check_validity(leaf, now_unix)?;
    for (i, cert) in certs.iter().enumerate() {
        check_critical_extensions(cert, i)?;
    }

    let fingerprint = Fingerprint::of_der(leaf_der);
    // A pin is on the identity certificate: an encryption certificate is
    // never pinned, so it is verified or refused by its anchor alone.
    let pinned = store
        .pinned(user_id)
        .filter(|_| purpose != Purpose::MailEncryption);
    if let Some(pin) = pinned {
        if !pin.ct_eq(&fingerprint) {
            return Err(CertRejection::PinMismatch(user_id.to_string()));
        }
    }

    check_links(&certs, now_unix)?;
    let self_issued = leaf.issuer().as_raw() == leaf.subject().as_raw();
    let self_signed = certs.len() == 1 && self_issued && x509::is_self_signed(leaf);
    if certs.len() == 1 && self_issued && !self_signed {
        return Err(CertRejection::BadCertificate(
            "its self-signature does not verify".to_owned(),
        ));
    }
    let verified = check_anchor(store, &certs, chain, user_id, now_unix)?;
    let level = if verified {
        TrustLevel::Verified
    } else if pinned.is_some() {
        TrustLevel::Known
    } else {
        TrustLevel::New
    };
    Ok(PeerCertificate {
        level,
        public_key_spki_der: leaf.public_key().raw.to_vec(),
        key_bits,
        fingerprint,
        self_signed,
        issuer: leaf.issuer().to_string(),
        not_before_unix: x509::unix(leaf.validity().not_before),
        not_after_unix: x509::unix(leaf.validity().not_after),
    })
}

fn check_identity(
    leaf: &X509Certificate<'_>,
    user_id: &UserId,
    name: Option<&str>,
) -> Result<(), CertRejection> {
    let mismatch = CertRejection::UserIdMismatch;
    match x509::single_rfc822_name(leaf) {
        Single::One(found) if found == user_id.as_str() => {}
        Single::One(found) => {
            return Err(mismatch(format!(
                "certificate is for {found}, not {user_id}"
            )));
        }
        Single::None => {
            return Err(mismatch(format!(
                "certificate names no UserID; expected {user_id}"
            )));
        }
        Single::Several(n) => {
            return Err(mismatch(format!(
                "certificate names {n} UserIDs; exactly one is allowed"
            )));
        }
        Single::Unreadable => {
            return Err(mismatch(
                "certificate's UserID could not be read".to_owned(),
            ));
        }
    }
    let Some(name) = name else {
        return Ok(());
    };
    match x509::single_common_name(leaf) {
        Single::One(found) if found == name => Ok(()),
        Single::One(found) => Err(mismatch(format!(
            "certificate is for the name {found:?}, not {name:?}"
        ))),
        Single::None => Err(mismatch(format!(
            "certificate has no common name; expected {name:?}"
        ))),
        Single::Several(n) => Err(mismatch(format!(
            "certificate has {n} common names; exactly one is allowed"
        ))),
        Single::Unreadable => Err(mismatch(
            "certificate's common name could not be read".to_owned(),
        )),
    }
}

fn check_leaf_key(leaf: &X509Certificate<'_>) -> Result<usize, CertRejection> {
    match x509::key_kind(leaf.public_key()) {
        KeyKind::Rsa(bits) if ALLOWED_KEY_BITS.contains(&bits) => Ok(bits),
        KeyKind::Rsa(bits) if bits < ALLOWED_KEY_BITS[0] => Err(CertRejection::KeyTooSmall(bits)),
        KeyKind::Rsa(bits) => Err(CertRejection::UnsupportedKey(format!(
            "an RSA key of {bits} bits; 2048, 3072 or 4096 bits are accepted"
        ))),
        KeyKind::Other(what) => Err(CertRejection::UnsupportedKey(format!(
            "{what}; SixChat identities are RSA"
        ))),
    }
}

fn check_leaf_usage(leaf: &X509Certificate<'_>, purpose: Purpose) -> Result<(), CertRejection> {
    let unreadable = |what: &str| {
        CertRejection::BadCertificate(format!("its {what} extension is duplicated or unreadable"))
    };
    let wrong = |what: &str| Err(CertRejection::WrongKeyUsage(what.to_owned()));
    match (leaf.key_usage(), purpose) {
        (Err(_), _) => return Err(unreadable("keyUsage")),
        (Ok(Some(ku)), Purpose::Handshake) if !ku.value.digital_signature() => {
            return wrong("keyUsage does not allow digitalSignature");
        }
        (Ok(Some(ku)), Purpose::MailSignature)
            if !ku.value.digital_signature() && !ku.value.non_repudiation() =>
        {
            return wrong("keyUsage does not allow digitalSignature");
        }
        (Ok(Some(ku)), Purpose::MailEncryption) if !ku.value.key_encipherment() => {
            return wrong("keyUsage does not allow keyEncipherment");
        }
        _ => {}
    }
    match (leaf.extended_key_usage(), purpose) {
        (Err(_), _) => Err(unreadable("extendedKeyUsage")),
        (Ok(Some(eku)), Purpose::Handshake) if !eku.value.client_auth => {
            wrong("extendedKeyUsage does not include clientAuth")
        }
        (Ok(Some(eku)), Purpose::MailSignature | Purpose::MailEncryption)
            if !eku.value.email_protection && !eku.value.any =>
        {
            wrong("extendedKeyUsage does not include emailProtection")
        }
        _ => Ok(()),
    }
}

fn check_validity(cert: &X509Certificate<'_>, now_unix: i64) -> Result<(), CertRejection> {
    if now_unix < x509::unix(cert.validity().not_before) {
        return Err(CertRejection::NotYetValid);
    }
    if now_unix > x509::unix(cert.validity().not_after) {
        return Err(CertRejection::Expired);
    }
    Ok(())
}

/// A critical extension we do not act on would change the certificate's
/// meaning behind our back (RFC 5280, 4.2): refuse it.
fn check_critical_extensions(
    cert: &X509Certificate<'_>,
    index: usize,
) -> Result<(), CertRejection> {
    for ext in cert.extensions() {
        let understood = matches!(
            ext.parsed_extension(),
            ParsedExtension::BasicConstraints(_)
                | ParsedExtension::KeyUsage(_)
                | ParsedExtension::ExtendedKeyUsage(_)
                | ParsedExtension::SubjectAlternativeName(_)
                | ParsedExtension::SubjectKeyIdentifier(_)
                | ParsedExtension::AuthorityKeyIdentifier(_)
        );
        if ext.critical && !understood {
            return Err(CertRejection::BadCertificate(format!(
                "certificate {} has a critical extension that is not understood ({})",
                index + 1,
                ext.oid
            )));
        }
    }
    Ok(())
}

/// Each certificate is issued by the next one in the chain.
fn check_links(certs: &[X509Certificate<'_>], now_unix: i64) -> Result<(), CertRejection> {
    for (i, pair) in certs.windows(2).enumerate() {
        let [child, parent] = pair else { continue };
        let (child_no, parent_no) = (i + 1, i + 2);
        if child.issuer().as_raw() != parent.subject().as_raw() {
            return Err(CertRejection::BadCertificate(format!(
                "certificate {child_no} was not issued by certificate {parent_no} of the chain"
            )));
        }
        check_issuer(parent, parent_no, i)?;
        check_signed_by(child, parent, child_no)?;
        check_validity(parent, now_unix)?;
    }
    Ok(())
}

/// `parent` may sign certificates, with `intermediates_below` CA certificates
/// between it and the leaf.
fn check_issuer(
    parent: &X509Certificate<'_>,
    number: usize,
    intermediates_below: usize,
) -> Result<(), CertRejection> {
    match parent.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {
            if let Some(max) = bc.value.path_len_constraint {
                if intermediates_below > max as usize {
                    return Err(CertRejection::BadCertificate(format!(
                        "certificate {number} allows {max} intermediate CAs below it, the chain has {intermediates_below}"
                    )));
                }
            }
        }
        _ => {
            return Err(CertRejection::BadCertificate(format!(
                "certificate {number} is not a CA but issued another"
            )));
        }
    }
    match parent.key_usage() {
        Ok(Some(ku)) if !ku.value.key_cert_sign() => Err(CertRejection::WrongKeyUsage(format!(
            "certificate {number} is not allowed to sign certificates (no keyCertSign)"
        ))),
        Ok(_) => Ok(()),
        Err(_) => Err(CertRejection::BadCertificate(format!(
            "certificate {number} has an unreadable keyUsage"
        ))),
    }
}

fn check_signed_by(
    child: &X509Certificate<'_>,
    parent: &X509Certificate<'_>,
    number: usize,
) -> Result<(), CertRejection> {
    match x509::verify_certificate_signature(child, parent.public_key()) {
        Ok(()) => Ok(()),
        Err(SignatureProblem::Invalid) => Err(CertRejection::BadCertificate(format!(
            "the signature on certificate {number} does not verify"
        ))),
        Err(SignatureProblem::Unsupported(what)) => Err(CertRejection::BadCertificate(format!(
            "certificate {number} is signed with an algorithm that is not accepted ({what})"
        ))),
    }
}

/// Finds the trusted root of the chain and applies the domain and CRL rules.
/// `Ok(false)` when no trusted root anchors the chain.
fn check_anchor(
    store: &TrustStore,
    certs: &[X509Certificate<'_>],
    chain: &[Vec<u8>],
    user_id: &UserId,
    now_unix: i64,
) -> Result<bool, CertRejection> {
    let (Some(top), Some(top_der)) = (certs.last(), chain.last()) else {
        return Ok(false);
    };
    let is_root = |der: &[u8]| {
        let fingerprint = Fingerprint::of_der(der);
        store.roots.iter().any(|r| r.fingerprint == fingerprint)
    };
    if let Some(index) = chain[..chain.len() - 1].iter().position(|der| is_root(der)) {
        return Err(CertRejection::BadCertificate(format!(
            "certificate {} of the chain is a trusted root; a root may stand only at the top",
            index + 1
        )));
    }
    // `below_root`: how many certificates of the chain the root vouches for
    // (all of them, or all but the root itself when it is in the chain).
    let (anchor, below_root) = if is_root(top_der) {
        (Fingerprint::of_der(top_der), certs.len() - 1)
    } else {
        match root_that_issued(store, top, now_unix)? {
            Some(fingerprint) => (fingerprint, certs.len()),
            None => return Ok(false),
        }
    };
    let for_anchor: Vec<&TrustedRoot> = store
        .roots
        .iter()
        .filter(|r| r.fingerprint == anchor)
        .collect();
    let domain = user_id.domain();
    let subject = for_anchor.first().map_or("?", |r| r.subject.as_str());
    if !for_anchor.iter().any(|r| r.domain == domain) {
        let domains: Vec<&str> = for_anchor.iter().map(|r| r.domain.as_str()).collect();
        return Err(CertRejection::CaNotTrustedForDomain(format!(
            "root {subject} is trusted for {}, not {domain}",
            domains.join(", ")
        )));
    }
    let Some(crl) = store.crl_for(&anchor) else {
        return Err(CertRejection::NoCrl(format!(
            "the root {subject} of {domain}"
        )));
    };
    if now_unix > crl.next_update_unix {
        return Err(CertRejection::StaleCrl(domain.to_owned()));
    }
    // From the top of the path down, so a revoked intermediate is named first.
    for index in (0..below_root).rev() {
        if index + 1 < below_root {
            return Err(CertRejection::NoCrl(format!(
                "the intermediate CA {}",
                certs[index + 1].subject()
            )));
        }
        let serial = x509::normalized_serial(certs[index].raw_serial());
        if crl
            .revoked_serials
            .iter()
            .any(|revoked| revoked.as_slice() == serial)
        {
            return Err(CertRejection::Revoked);
        }
    }
    Ok(true)
}

/// A trusted root (not in the chain) whose name and key issued `top`.
fn root_that_issued(
    store: &TrustStore,
    top: &X509Certificate<'_>,
    now_unix: i64,
) -> Result<Option<Fingerprint>, CertRejection> {
    for root in &store.roots {
        let Some(root_cert) = x509::parse_certificate(&root.cert_der) else {
            continue;
        };
        if root_cert.subject().as_raw() != top.issuer().as_raw() {
            continue;
        }
        if x509::verify_certificate_signature(top, root_cert.public_key()).is_ok() {
            check_validity(&root_cert, now_unix)?;
            return Ok(Some(root.fingerprint));
        }
    }
    Ok(None)
}
