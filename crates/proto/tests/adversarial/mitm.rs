//! Tampering between two honest machines: a downgrade in flight, a
//! responder that is someone else, and the man in the middle.

use std::sync::Arc;

use sixchat_pki::trust::TrustStore;
use sixchat_proto::frame::{self, KIND_PLAIN};
use sixchat_proto::record::CipherSuite;
use sixchat_proto::{
    AlertCode, Config, Initiator, LocalIdentity, OsEntropy, Responder, TrustLevel,
};

use crate::harness::{Party, Victim, honest_initiator, one_frame, pump, uid, world};

#[test]
fn downgrade_in_flight_is_detected() {
    // Strip AES-GCM from I's offer on the wire: R picks CBC, but the transcripts differ.
    let (mut initiator, first) = honest_initiator(&world().bob, "alice@a.example", false);
    let mut victim = Victim::new(&CipherSuite::ALL);
    let (done_i, done_r, errors) = pump(
        &mut initiator,
        first,
        &mut victim.responder,
        |step, bytes| {
            if step != 3 {
                return bytes;
            }
            let text = String::from_utf8(one_frame(&bytes).body).expect("utf-8");
            let stripped = text
                .replace("<algorithm>AES256GCM</algorithm>", "")
                .replace("<algorithm>AES128GCM</algorithm>", "");
            frame::encode(KIND_PLAIN, stripped.as_bytes())
        },
    );
    assert!(
        done_i.is_none() && done_r.is_none(),
        "a downgraded handshake completed"
    );
    assert_eq!(errors, [AlertCode::BadRecordMac]);
    assert_eq!(victim.signatures(), 0);
}

#[test]
fn initiator_refuses_a_responder_that_is_someone_else() {
    // Bob dials carol@a.example but reaches Alice.
    let (mut initiator, first) = honest_initiator(&world().bob, "carol@a.example", false);
    let mut victim = Victim::new(&CipherSuite::ALL);
    let (done_i, _, errors) = pump(&mut initiator, first, &mut victim.responder, |_, b| b);
    assert!(done_i.is_none());
    // Alice refuses first: the caller wanted someone else.
    assert_eq!(errors, [AlertCode::UnknownRecipient]);
}

#[test]
#[allow(clippy::too_many_lines)] // the relay between the two handshakes, message by message
fn man_in_the_middle_gets_two_different_codes() {
    // Mallory terminates both handshakes with her own certificate; both honest
    // sides admit new peers, so both complete, and the codes they show differ.
    let w = world();
    let mallory_bob = Party {
        user: uid("bob@b.example"),
        name: "Bob B".into(),
        chain: w.bob_other_cert.chain.clone(),
        key: w.bob_other_cert.key.clone(),
    };
    let mallory_alice = Party {
        user: uid("alice@a.example"),
        name: "Alice A".into(),
        chain: w.unknown_ca.chain.clone(),
        key: w.unknown_ca.key.clone(),
    };
    let untrusting = Arc::new(TrustStore::new());
    let make_config = |party: &Party| {
        let identity = LocalIdentity {
            user_id: party.user.clone(),
            name: party.name.clone(),
            chain: party.chain.clone(),
            signer: party.key.clone(),
        };
        let mut config = Config::new(identity, untrusting.clone());
        config.admit_new = true;
        Arc::new(config)
    };
    // Honest Bob dials "alice", reaching Mallory posing as Alice (her cert says carol: use a self-made one instead).
    let fake_alice_cert = sixchat_pki::cert::self_signed_identity(
        &mallory_alice.key,
        &uid("alice@a.example"),
        "Alice A",
        1,
    )
    .expect("cert");
    let fake_bob_cert = sixchat_pki::cert::self_signed_identity(
        &mallory_bob.key,
        &uid("bob@b.example"),
        "Bob B",
        1,
    )
    .expect("cert");
    let mallory_as_alice = Party {
        chain: vec![fake_alice_cert],
        ..mallory_alice
    };
    let mallory_as_bob = Party {
        chain: vec![fake_bob_cert],
        ..mallory_bob
    };
    let real_bob = Party {
        user: uid("bob@b.example"),
        name: "Bob B".into(),
        chain: w.bob.chain.clone(),
        key: w.bob.key.clone(),
    };
    let real_alice = Party {
        user: uid("alice@a.example"),
        name: "Alice A".into(),
        chain: w.alice.chain.clone(),
        key: w.alice.key.clone(),
    };

    let (mut bob, first) = Initiator::start(
        make_config(&real_bob),
        uid("alice@a.example"),
        false,
        Box::new(OsEntropy),
    );
    let mut mallory_r = Responder::new(make_config(&mallory_as_alice), Box::new(OsEntropy));
    let (bob_done, mallory_r_done, errors) = pump(&mut bob, first, &mut mallory_r, |_, b| b);
    assert!(errors.is_empty(), "{errors:?}");

    let (mut mallory_i, first) = Initiator::start(
        make_config(&mallory_as_bob),
        uid("alice@a.example"),
        false,
        Box::new(OsEntropy),
    );
    let mut alice = Responder::new(make_config(&real_alice), Box::new(OsEntropy));
    let (mallory_i_done, alice_done, errors) = pump(&mut mallory_i, first, &mut alice, |_, b| b);
    assert!(errors.is_empty(), "{errors:?}");

    let (bob_done, alice_done) = (
        bob_done.expect("bob completed"),
        alice_done.expect("alice completed"),
    );
    assert!(mallory_r_done.is_some() && mallory_i_done.is_some());
    assert_eq!(bob_done.peer.level, TrustLevel::New);
    assert_eq!(alice_done.peer.level, TrustLevel::New);
    assert_ne!(
        bob_done.sas, alice_done.sas,
        "the two people compare codes and see the attack"
    );
    // And neither session carries data before the person accepts.
    let mut session = bob_done.session;
    assert!(session.seal_application(b"<m/>").is_err());
}
