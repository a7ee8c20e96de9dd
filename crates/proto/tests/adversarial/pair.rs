//! The in-memory pair harness: honest initiator and responder, no sockets, for
//! every record suite at every trust level, then a chat each way.

use std::sync::Arc;

use sixchat_pki::trust::TrustStore;
use sixchat_proto::record::CipherSuite;
use sixchat_proto::{
    Config, Fingerprint, Initiator, LocalIdentity, OsEntropy, Responder, TrustLevel,
};

use crate::harness::{Party, one_frame, pump, uid, world};

fn exchange_chat(i: &mut sixchat_proto::Established, r: &mut sixchat_proto::Established) {
    send_chat(i, r, "hello R");
    send_chat(r, i, "hello I");
}

fn send_chat(
    from: &mut sixchat_proto::Established,
    to: &mut sixchat_proto::Established,
    text: &str,
) {
    use sixchat_proto::{AppMessage, SessionEvent};
    let chat = AppMessage::Chat {
        id: "id-1".into(),
        sent: "2026-01-01T00:00:00Z".into(),
        body: text.into(),
    };
    let sealed = from.session.seal_application(&chat.to_xml()).expect("seal");
    let event = to
        .session
        .handle(&one_frame(&sealed))
        .unwrap_or_else(|e| panic!("open {text}: {e} (to {:?})", to.peer.level));
    let Some(SessionEvent::Application(xml)) = event else {
        panic!("no application data")
    };
    assert_eq!(AppMessage::parse(&xml).expect("parse"), chat);
}

#[test]
#[allow(clippy::too_many_lines)] // the matrix of suites and trust levels and its checks in one place
fn every_suite_at_every_trust_level_completes_and_carries_chat() {
    let w = world();
    let self_signed = |p: &Party| {
        let der =
            sixchat_pki::cert::self_signed_identity(&p.key, &p.user, &p.name, 30).expect("cert");
        Party {
            user: p.user.clone(),
            name: p.name.clone(),
            chain: vec![der],
            key: p.key.clone(),
        }
    };
    // verified: carol (CA a) → alice (CA a); known: bob (pinned) → alice; new: a self-signed
    // carol → alice admitting new; anonymous: anyone → alice allowing anonymous callers.
    let cases: [(&str, Party, TrustLevel, bool); 4] = [
        (
            "verified",
            Party {
                chain: w.carol.chain.clone(),
                user: w.carol.user.clone(),
                name: w.carol.name.clone(),
                key: w.carol.key.clone(),
            },
            TrustLevel::Verified,
            false,
        ),
        (
            "known",
            Party {
                chain: w.bob.chain.clone(),
                user: w.bob.user.clone(),
                name: w.bob.name.clone(),
                key: w.bob.key.clone(),
            },
            TrustLevel::Known,
            false,
        ),
        ("new", self_signed(&w.carol), TrustLevel::New, false),
        (
            "anonymous",
            self_signed(&w.carol),
            TrustLevel::Anonymous,
            true,
        ),
    ];
    // Root a only, and bob pinned: bob (issued by CA b) is then known, not verified.
    let mut harness_trust = TrustStore::new();
    harness_trust
        .add_root("a.example", &w.alice.chain[1])
        .expect("root a");
    harness_trust.set_crl(&w.crl_a).expect("crl a");
    harness_trust.pin(w.bob.user.clone(), Fingerprint::of_der(&w.bob.chain[0]));
    let harness_trust = Arc::new(harness_trust);
    for suite in CipherSuite::ALL {
        for (label, caller, level, anonymous) in &cases {
            let identity = LocalIdentity {
                user_id: caller.user.clone(),
                name: caller.name.clone(),
                chain: caller.chain.clone(),
                signer: caller.key.clone(),
            };
            let mut config = Config::new(identity, harness_trust.clone());
            config.cipher_preference = vec![suite];
            config.admit_new = true;
            let (mut initiator, first) = Initiator::start(
                Arc::new(config),
                uid("alice@a.example"),
                *anonymous,
                Box::new(OsEntropy),
            );
            let alice = &w.alice;
            let identity = LocalIdentity {
                user_id: alice.user.clone(),
                name: alice.name.clone(),
                chain: alice.chain.clone(),
                signer: alice.key.clone(),
            };
            let mut config = Config::new(identity, harness_trust.clone());
            config.cipher_preference = vec![suite];
            config.admit_new = true;
            config.allow_anonymous_callers = true;
            let mut responder = Responder::new(Arc::new(config), Box::new(OsEntropy));
            let (done_i, done_r, errors) = pump(&mut initiator, first, &mut responder, |_, b| b);
            assert!(errors.is_empty(), "{label} {suite:?}: {errors:?}");
            let (mut i, mut r) = (done_i.expect("I done"), done_r.expect("R done"));
            assert_eq!(r.peer.level, *level, "{label} {suite:?}: R sees the caller");
            assert_eq!(i.suite, suite);
            assert_eq!(
                i.sas, r.sas,
                "{label} {suite:?}: both sides show the same code"
            );
            assert_eq!(i.exporter.to_vec(), r.exporter.to_vec());
            // A side whose peer is new or anonymous holds data until its person accepts the code.
            for side in [&mut i, &mut r] {
                let must_confirm = side.peer.level.needs_sas_confirmation();
                assert_eq!(
                    side.session.is_confirmed(),
                    !must_confirm,
                    "{label} {suite:?}"
                );
                if must_confirm {
                    assert!(side.session.seal_application(b"<m/>").is_err());
                    side.session.confirm_peer();
                }
            }
            exchange_chat(&mut i, &mut r);
        }
    }
}
