//! Capability and algorithm negotiation (protocol.md, "Capabilities", "Algorithms").

use crate::AlertCode;
use crate::record::CipherSuite;

use super::core::HandshakeError;

/// Application capabilities this implementation understands.
pub const APP_CAPABILITIES: [&str; 5] =
    ["chat", "mail", "file-transfer", "store-forward", "typing"];
/// Record ciphers in our default order of preference.
pub const ALL_CIPHERS: [CipherSuite; 4] = CipherSuite::ALL;

const WEAK: [&str; 2] = ["RSA1024", "SHA1"];
const RSA_SIZES: [(&str, usize); 3] = [("RSA2048", 2048), ("RSA3072", 3072), ("RSA4096", 4096)];

pub fn rsa_size_token(bits: usize) -> Option<&'static str> {
    RSA_SIZES.iter().find(|(_, b)| *b == bits).map(|(t, _)| *t)
}

/// The capabilities I offers: its mode, `dh-kex`, then its application capabilities.
pub fn capability_offer(anonymous: bool, app: &[String]) -> Vec<String> {
    let mut out = vec![
        if anonymous { "anonymous" } else { "cert-auth" }.to_owned(),
        "dh-kex".to_owned(),
    ];
    out.extend(
        app.iter()
            .filter(|c| {
                !matches!(
                    c.as_str(),
                    "dh-kex" | "cert-auth" | "anonymous" | "cert-kex"
                )
            })
            .cloned(),
    );
    out
}

/// R's answer to message 1: the offered capabilities it accepts, in the offer's order.
/// Returns the accepted list and whether the session is anonymous.
pub fn accept_capabilities(
    offer: &[String],
    app: &[String],
    allow_anonymous: bool,
) -> Result<(Vec<String>, bool), HandshakeError> {
    let cert_auth = offer.iter().any(|c| c == "cert-auth");
    let anonymous = offer.iter().any(|c| c == "anonymous");
    if cert_auth == anonymous {
        return Err(HandshakeError::local(
            AlertCode::HandshakeFailure,
            "offer must hold exactly one of cert-auth and anonymous",
        ));
    }
    if anonymous && !allow_anonymous {
        return Err(HandshakeError::local(
            AlertCode::HandshakeFailure,
            "anonymous callers are not allowed",
        ));
    }
    if !offer.iter().any(|c| c == "dh-kex") {
        return Err(HandshakeError::local(
            AlertCode::HandshakeFailure,
            "offer lacks dh-kex",
        ));
    }
    let accepted = offer
        .iter()
        .filter(|c| matches!(c.as_str(), "cert-auth" | "anonymous" | "dh-kex") || app.contains(c))
        .cloned()
        .collect();
    Ok((accepted, anonymous))
}

/// I's check of message 2 against its offer.
pub fn check_capability_accept(
    offer: &[String],
    accept: &[String],
    anonymous: bool,
) -> Result<(), HandshakeError> {
    if let Some(extra) = accept.iter().find(|c| !offer.contains(c)) {
        return Err(HandshakeError::local(
            AlertCode::HandshakeFailure,
            format!("peer accepted {extra:?}, which was not offered"),
        ));
    }
    let mode = if anonymous { "anonymous" } else { "cert-auth" };
    if !accept.iter().any(|c| c == mode) || !accept.iter().any(|c| c == "dh-kex") {
        return Err(HandshakeError::local(
            AlertCode::HandshakeFailure,
            format!("peer did not accept {mode} and dh-kex"),
        ));
    }
    Ok(())
}

/// The algorithms I offers, in its order of preference.
pub fn algorithm_offer(anonymous: bool, ciphers: &[CipherSuite]) -> Vec<String> {
    let mut out = vec!["X25519".to_owned(), "SHA256".to_owned()];
    if !anonymous {
        out.push("RSAPSS".to_owned());
        out.extend(RSA_SIZES.iter().map(|(t, _)| (*t).to_owned()));
    }
    out.extend(ciphers.iter().map(|c| c.token().to_owned()));
    if ciphers.iter().any(|c| c.is_cbc()) {
        out.push("HMACSHA256".to_owned());
    }
    out
}

/// R's answer to message 3: the offered algorithms it accepts, in its own order
/// of preference; weak names are dropped. Checks the result is usable for R.
pub fn accept_algorithms(
    offer: &[String],
    ciphers: &[CipherSuite],
    anonymous: bool,
    own_key_bits: usize,
) -> Result<(Vec<String>, CipherSuite), HandshakeError> {
    let offered = |t: &str| offer.iter().any(|o| o == t);
    let mut out = Vec::new();
    for token in ["X25519", "SHA256"] {
        if offered(token) {
            out.push(token.to_owned());
        }
    }
    if !anonymous && offered("RSAPSS") {
        out.push("RSAPSS".to_owned());
        out.extend(
            RSA_SIZES
                .iter()
                .filter(|(t, _)| offered(t))
                .map(|(t, _)| (*t).to_owned()),
        );
    }
    let hmac = offered("HMACSHA256");
    out.extend(
        ciphers
            .iter()
            .filter(|c| offered(c.token()) && (!c.is_cbc() || hmac))
            .map(|c| c.token().to_owned()),
    );
    if hmac && ciphers.iter().any(|c| c.is_cbc() && offered(c.token())) {
        out.push("HMACSHA256".to_owned());
    }
    let suite = check_usable(&out, anonymous, own_key_bits)?;
    Ok((out, suite))
}

/// I's check of message 4: a subset of the offer, nothing weak, usable.
pub fn check_algorithm_accept(
    offer: &[String],
    accept: &[String],
    anonymous: bool,
    own_key_bits: usize,
) -> Result<CipherSuite, HandshakeError> {
    if let Some(weak) = accept.iter().find(|a| WEAK.contains(&a.as_str())) {
        return Err(HandshakeError::local(
            AlertCode::InsufficientSecurity,
            format!("peer accepted the weak algorithm {weak}"),
        ));
    }
    if let Some(extra) = accept.iter().find(|a| !offer.contains(a)) {
        return Err(HandshakeError::local(
            AlertCode::HandshakeFailure,
            format!("peer accepted {extra:?}, which was not offered"),
        ));
    }
    check_usable(accept, anonymous, own_key_bits)
}

/// "Usable" (protocol.md): X25519, SHA256, a usable first cipher, and unless
/// anonymous RSAPSS and the size token of the side's own key.
fn check_usable(
    accept: &[String],
    anonymous: bool,
    own_key_bits: usize,
) -> Result<CipherSuite, HandshakeError> {
    let has = |t: &str| accept.iter().any(|a| a == t);
    let insufficient = |why: String| HandshakeError::local(AlertCode::InsufficientSecurity, why);
    if !has("X25519") || !has("SHA256") {
        return Err(insufficient("X25519 and SHA256 are required".into()));
    }
    let suite = accept
        .iter()
        .find_map(|a| CipherSuite::from_token(a))
        .ok_or_else(|| insufficient("no record cipher in common".into()))?;
    if suite.is_cbc() && !has("HMACSHA256") {
        return Err(insufficient(format!(
            "{} without HMACSHA256",
            suite.token()
        )));
    }
    if !anonymous {
        let own = rsa_size_token(own_key_bits)
            .ok_or_else(|| insufficient(format!("own key of {own_key_bits} bits is not usable")))?;
        if !has("RSAPSS") || !has(own) {
            return Err(insufficient(format!("RSAPSS with {own} is required")));
        }
    }
    Ok(suite)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn weak_algorithms_are_dropped_and_refused() {
        let offer = strings(&[
            "X25519",
            "SHA256",
            "SHA1",
            "RSAPSS",
            "RSA1024",
            "RSA2048",
            "AES256GCM",
        ]);
        let (accept, suite) = accept_algorithms(&offer, &ALL_CIPHERS, false, 2048).unwrap();
        assert_eq!(
            accept,
            strings(&["X25519", "SHA256", "RSAPSS", "RSA2048", "AES256GCM"])
        );
        assert_eq!(suite, CipherSuite::Aes256Gcm);
        let only_weak = strings(&["X25519", "SHA1", "RSAPSS", "RSA1024", "AES256GCM"]);
        assert_eq!(
            accept_algorithms(&only_weak, &ALL_CIPHERS, false, 2048)
                .unwrap_err()
                .alert,
            AlertCode::InsufficientSecurity
        );
        let err = check_algorithm_accept(
            &offer,
            &strings(&["X25519", "SHA256", "RSAPSS", "RSA1024", "AES256GCM"]),
            false,
            2048,
        )
        .unwrap_err();
        assert_eq!(err.alert, AlertCode::InsufficientSecurity);
    }

    #[test]
    fn cbc_only_with_hmac_and_own_size_required() {
        let offer = strings(&["X25519", "SHA256", "RSAPSS", "RSA2048", "AES256CBC"]);
        assert_eq!(
            accept_algorithms(&offer, &ALL_CIPHERS, false, 2048)
                .unwrap_err()
                .alert,
            AlertCode::InsufficientSecurity
        );
        let offer = strings(&["X25519", "SHA256", "RSAPSS", "RSA2048", "AES256GCM"]);
        assert_eq!(
            accept_algorithms(&offer, &ALL_CIPHERS, false, 4096)
                .unwrap_err()
                .alert,
            AlertCode::InsufficientSecurity
        );
        assert!(accept_algorithms(&offer, &ALL_CIPHERS, true, 0).is_ok());
    }

    #[test]
    fn capability_modes() {
        let both = strings(&["cert-auth", "anonymous", "dh-kex"]);
        assert!(accept_capabilities(&both, &[], true).is_err());
        let anon = strings(&["anonymous", "dh-kex", "chat"]);
        assert!(accept_capabilities(&anon, &strings(&["chat"]), false).is_err());
        let (accepted, is_anon) = accept_capabilities(&anon, &strings(&["chat"]), true).unwrap();
        assert_eq!((accepted, is_anon), (anon.clone(), true));
        let legacy = strings(&["cert-auth", "cert-kex", "dh-kex", "chat"]);
        assert_eq!(
            accept_capabilities(&legacy, &strings(&["chat"]), false)
                .unwrap()
                .0,
            strings(&["cert-auth", "dh-kex", "chat"])
        );
    }
}
