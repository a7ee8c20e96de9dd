use super::strict::b64;
use super::*;

#[test]
fn handshake_messages_round_trip() {
    let offer = CapabilitiesOffer {
        capabilities: vec!["cert-auth".into(), "dh-kex".into()],
        nonce: [1; 32],
        key_commit: [2; 32],
    };
    assert_eq!(CapabilitiesOffer::parse(&offer.to_xml()).unwrap(), offer);
    let info = UserInfo {
        user_id: "a@b.c".into(),
        name: "A & B".into(),
        peer_id: Some("x@y.z".into()),
        certificates: vec![vec![1, 2, 3]],
    };
    assert_eq!(UserInfo::parse(&info.to_xml(), true).unwrap(), info);
    let response = ChallengeResponse {
        signature: None,
        mac: [3; 32],
    };
    assert_eq!(
        ChallengeResponse::parse(&response.to_xml()).unwrap(),
        response
    );
    assert_eq!(
        parse_alert(&alert_to_xml(AlertCode::UnknownCa)).unwrap(),
        AlertCode::UnknownCa
    );
}

#[test]
fn strictness() {
    let good = CryptoChallenge { challenge: [7; 32] }.to_xml();
    let text = String::from_utf8(good.clone()).unwrap();
    let variants = [
        (
            text.replace("version=\"2\"", "version=\"3\""),
            AlertCode::HandshakeFailure,
        ),
        (
            text.replace("Crypto_Challenge", "Key_Exchange"),
            AlertCode::HandshakeFailure,
        ),
        (
            text.replace("<challenge>", "<challenge> "),
            AlertCode::DecodeError,
        ),
        (
            text.replace("<challenge>", "<challenge x=\"1\">"),
            AlertCode::DecodeError,
        ),
        (
            text.replace("</challenge>", "</challenge><challenge>AA==</challenge>"),
            AlertCode::DecodeError,
        ),
        (text.replace("BwcH", "Bwc"), AlertCode::DecodeError),
        (
            text.replace("\" type", "\" extra=\"1\" type"),
            AlertCode::DecodeError,
        ),
    ];
    for (doc, alert) in variants {
        let err = CryptoChallenge::parse(doc.as_bytes()).unwrap_err();
        assert_eq!(err.alert(), alert, "{doc}: {err}");
    }
    // Whitespace between elements is allowed.
    let spaced = text
        .replace("<challenge>", "\n  <challenge>")
        .replace("</message>", "\n</message>");
    assert_eq!(
        CryptoChallenge::parse(spaced.as_bytes()).unwrap().challenge,
        [7; 32]
    );
    // Wrong size and duplicate tokens.
    let short = text.replace(&b64(&[7; 32]), &b64(&[7; 31]));
    assert_eq!(
        CryptoChallenge::parse(short.as_bytes()).unwrap_err(),
        MessageError::Size("challenge")
    );
    let dup = CryptoSuiteAccept {
        algorithms: vec!["X25519".into(), "X25519".into()],
    }
    .to_xml();
    assert!(matches!(
        CryptoSuiteAccept::parse(&dup),
        Err(MessageError::Duplicate(_))
    ));
}
