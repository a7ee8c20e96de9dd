//! Each misbehaviour of the scripted initiator against our responder: the
//! right alert, and no signature by the responder before message 7 verified.

use sixchat_proto::frame::{Frame, KIND_PLAIN, KIND_RECORD};
use sixchat_proto::messages::CapabilitiesOffer;
use sixchat_proto::record::CipherSuite;
use sixchat_proto::{AlertCode, HandshakeSigner as _, Step};

use crate::harness::{
    Knobs, Outcome, Victim, alert_in, attack, expect_refused, now, rand_bytes, strings, world,
};

#[test]
fn control_an_honest_pinned_peer_completes() {
    let mut victim = Victim::new(&CipherSuite::ALL);
    assert_eq!(
        attack(&mut victim, &world().bob, &Knobs::default()),
        Outcome::Completed
    );
    assert_eq!(victim.signatures(), 1);
    let mut victim = Victim::new(&CipherSuite::ALL);
    assert_eq!(
        attack(&mut victim, &world().carol, &Knobs::default()),
        Outcome::Completed,
        "verified peer"
    );
}

#[test]
fn weak_algorithms_only() {
    let knobs = Knobs {
        algorithms: Some(strings(&[
            "X25519",
            "SHA1",
            "RSAPSS",
            "RSA1024",
            "AES256GCM",
        ])),
        ..Knobs::default()
    };
    expect_refused(&world().bob, &knobs, 3, AlertCode::InsufficientSecurity);
}

#[test]
fn key_share_that_does_not_match_its_commitment() {
    expect_refused(
        &world().bob,
        &Knobs {
            reveal_other_key_share: true,
            ..Knobs::default()
        },
        3,
        AlertCode::HandshakeFailure,
    );
}

#[test]
fn replayed_challenge_response_from_another_session() {
    // Bob's honest signature from one session…
    let mut first = Victim::new(&CipherSuite::ALL);
    assert_eq!(
        attack(&mut first, &world().bob, &Knobs::default()),
        Outcome::Completed
    );
    let mut proof = vec![0x20u8; 64];
    proof.extend_from_slice(b"sixchat initiator proof\0");
    proof.extend_from_slice(&[7u8; 32]);
    let other_session_signature = world().bob.key.sign_pss_sha256(&proof).expect("sign");
    // …does not prove anything in another.
    let knobs = Knobs {
        signature_override: Some(other_session_signature),
        ..Knobs::default()
    };
    expect_refused(&world().bob, &knobs, 7, AlertCode::HandshakeFailure);
}

#[test]
fn reflected_challenge_signature_is_refused() {
    // The adversary lacks Bob's key and presents a signature the victim itself made
    // (Alice's responder proof) as Bob's initiator proof.
    let mut proof = vec![0x20u8; 64];
    proof.extend_from_slice(b"sixchat responder proof\0");
    proof.extend_from_slice(&[9u8; 32]);
    let alice_signature = world().alice.key.sign_pss_sha256(&proof).expect("sign");
    let knobs = Knobs {
        signature_override: Some(alice_signature),
        ..Knobs::default()
    };
    expect_refused(&world().bob, &knobs, 7, AlertCode::HandshakeFailure);
}

#[test]
fn forged_key_exchange_finished() {
    let mut victim = Victim::new(&CipherSuite::ALL);
    let outcome = attack(
        &mut victim,
        &world().bob,
        &Knobs {
            forge_finished: true,
            ..Knobs::default()
        },
    );
    assert_eq!(
        outcome,
        Outcome::Refused {
            step: 11,
            alert: AlertCode::HandshakeFailure
        }
    );
}

#[test]
fn wrong_peer_id() {
    expect_refused(
        &world().bob,
        &Knobs {
            peer_id: Some("zoe@a.example".into()),
            ..Knobs::default()
        },
        5,
        AlertCode::UnknownRecipient,
    );
}

#[test]
fn certificate_for_another_user_id() {
    let knobs = Knobs {
        user_id: Some("bob@b.example".into()),
        name: Some("Bob B".into()),
        ..Knobs::default()
    };
    expect_refused(&world().carol, &knobs, 5, AlertCode::UserIdMismatch);
}

#[test]
fn certificate_verdicts() {
    let w = world();
    expect_refused(
        &w.expired,
        &Knobs::default(),
        5,
        AlertCode::CertificateExpired,
    );
    expect_refused(
        &w.not_yet,
        &Knobs::default(),
        5,
        AlertCode::CertificateExpired,
    );
    expect_refused(
        &w.revoked,
        &Knobs::default(),
        5,
        AlertCode::CertificateRevoked,
    );
    expect_refused(&w.unknown_ca, &Knobs::default(), 5, AlertCode::UnknownCa);
    expect_refused(&w.other_domain, &Knobs::default(), 5, AlertCode::UnknownCa);
    expect_refused(
        &w.bob_other_cert,
        &Knobs::default(),
        5,
        AlertCode::BadCertificate,
    );
}

#[test]
fn message_out_of_order() {
    expect_refused(
        &world().bob,
        &Knobs {
            message_3_first: true,
            ..Knobs::default()
        },
        3,
        AlertCode::HandshakeFailure,
    );
}

#[test]
fn flipped_bit_in_a_record_for_each_suite() {
    for suite in CipherSuite::ALL {
        let mut victim = Victim::new(&[suite]);
        let outcome = attack(
            &mut victim,
            &world().bob,
            &Knobs {
                flip_bit_in_message_5: true,
                ..Knobs::default()
            },
        );
        assert_eq!(
            outcome,
            Outcome::Refused {
                step: 5,
                alert: AlertCode::BadRecordMac
            },
            "{suite:?}"
        );
        assert_eq!(victim.signatures(), 0);
    }
}

#[test]
fn replayed_record() {
    expect_refused(
        &world().bob,
        &Knobs {
            replay_message_5: true,
            ..Knobs::default()
        },
        7,
        AlertCode::BadRecordMac,
    );
}

#[test]
fn malformed_plain_messages_are_decode_errors() {
    let offer = String::from_utf8(
        CapabilitiesOffer {
            capabilities: strings(&["cert-auth", "dh-kex"]),
            nonce: [1; 32],
            key_commit: [2; 32],
        }
        .to_xml(),
    )
    .expect("utf-8");
    let deep = offer.replace(
        "<nonce>",
        "<nonce><a><b><c><d><e><f><g><h>x</h></g></f></e></d></c></b></a>",
    );
    let cases = [
        format!("<!DOCTYPE message [<!ENTITY e \"x\">]>{offer}"),
        offer.replace("cert-auth", "&e;"),
        deep,
        offer[..offer.len() / 2].to_owned(),
        offer.replace("<nonce>", "<nonce>!!"),
    ];
    for case in cases {
        let mut victim = Victim::new(&CipherSuite::ALL);
        let Step::Failed(out, err) = victim.responder.handle(
            &Frame {
                kind: KIND_PLAIN,
                body: case.clone().into_bytes(),
            },
            now(),
        ) else {
            panic!("accepted: {case}");
        };
        assert_eq!(
            alert_in(&out, None),
            AlertCode::DecodeError,
            "{case}: {err}"
        );
    }
    // Random bytes as a record before any key: refused, not a panic.
    let mut victim = Victim::new(&CipherSuite::ALL);
    let Step::Failed(out, _) = victim.responder.handle(
        &Frame {
            kind: KIND_RECORD,
            body: rand_bytes::<64>().to_vec(),
        },
        now(),
    ) else {
        panic!("random record accepted");
    };
    assert_eq!(alert_in(&out, None), AlertCode::HandshakeFailure);
}
