//! The adversarial peer: a test helper that speaks the Direct protocol wrongly
//! on purpose, against our real responder (and initiator) with real
//! certificates from sixchat-pki. Each case must end with the right alert, no
//! panic, and no private-key operation by the responder before the initiator
//! proved itself. `adversarial_tcp.rs` throws the byte-level cases at a real
//! listening agent and checks it still serves others.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use sixchat_pki::ca::{CertificateAuthority, LeafRequest, Validity};
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::trust::TrustStore;
use sixchat_proto::frame::{self, Frame, FrameReader, KIND_PLAIN, KIND_RECORD};
use sixchat_proto::handshake::core_alert_from_record;
use sixchat_proto::keys::{self, HandshakeSecrets, Transcript};
use sixchat_proto::messages::{
    self, CapabilitiesAccept, CapabilitiesOffer, ChallengeResponse, CryptoChallenge,
    CryptoSuiteAccept, CryptoSuiteOffer, KeyExchange, UserInfo,
};
use sixchat_proto::record::{CipherSuite, ContentType, RecordReader, RecordWriter};
use sixchat_proto::{
    AlertCode, Config, Fingerprint, HandshakeSigner, Initiator, LocalIdentity, OsEntropy,
    Responder, SignError, Step, TrustLevel, UserId,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pki/tests/fixtures/keys");

fn fixture_key(name: &str) -> IdentityKey {
    let der = std::fs::read(format!("{FIXTURES}/{name}.pk8")).expect("fixture key");
    IdentityKey::from_pkcs8_der(&der).expect("fixture key parses")
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn uid(text: &str) -> UserId {
    UserId::parse(text).expect("valid UserID")
}

/// A signer that counts its private-key operations.
struct CountingSigner {
    key: Arc<IdentityKey>,
    count: AtomicUsize,
}

impl HandshakeSigner for CountingSigner {
    fn sign_pss_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.key.sign_pss_sha256(message)
    }
    fn key_bits(&self) -> usize {
        self.key.bits()
    }
}

/// One party's certificate chain and key.
struct Party {
    user: UserId,
    name: String,
    chain: Vec<Vec<u8>>,
    key: Arc<IdentityKey>,
}

/// The world of the tests: CA `a.example` (trusted for a.example), CA
/// `b.example` (trusted only for b.example), an unknown CA, and the parties.
struct World {
    alice: Party,
    bob: Party,
    carol: Party,
    expired: Party,
    not_yet: Party,
    revoked: Party,
    unknown_ca: Party,
    other_domain: Party,
    bob_other_cert: Party,
    trust: Arc<TrustStore>,
    /// Root a's current CRL (revoking `revoked`).
    crl_a: Vec<u8>,
}

fn leaf(
    ca: &CertificateAuthority,
    key: &Arc<IdentityKey>,
    user: &str,
    name: &str,
    validity: Validity,
    serial: u64,
) -> Party {
    let user_id = uid(user);
    let request = LeafRequest::Key {
        spki_der: key.public_key_spki_der(),
        user_id: &user_id,
        name,
    };
    let der = ca
        .issue_leaf_with_validity(request, validity, serial)
        .expect("leaf issued");
    Party {
        user: user_id,
        name: name.to_owned(),
        chain: vec![der, ca.certificate_der().to_vec()],
        key: key.clone(),
    }
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let ca_a = CertificateAuthority::new_root("a.example", fixture_key("rsa2048-a"), 365)
            .expect("root a");
        let ca_b = CertificateAuthority::new_root("b.example", fixture_key("rsa2048-b"), 365)
            .expect("root b");
        let ca_x = CertificateAuthority::new_root("a.example", fixture_key("rsa2048-c"), 365)
            .expect("unknown root");
        let ca_xb = CertificateAuthority::new_root("b.example", fixture_key("rsa2048-c"), 365)
            .expect("unknown root b");
        // CA b's key and certificate, used to sign a leaf for a.example: a root trusted only for another domain.
        let ca_b_for_a = CertificateAuthority::from_parts(
            "a.example",
            fixture_key("rsa2048-b"),
            ca_b.certificate_der(),
        )
        .expect("reload b");
        let key_d = Arc::new(fixture_key("rsa2048-d"));
        let key_e = Arc::new(fixture_key("rsa2048-e"));
        let valid = Validity::days_from_now(30).expect("validity");
        let t = now();
        let alice = leaf(&ca_a, &key_d, "alice@a.example", "Alice A", valid, 10);
        let carol = leaf(&ca_a, &key_e, "carol@a.example", "Carol C", valid, 11);
        let expired = leaf(
            &ca_a,
            &key_e,
            "carol@a.example",
            "Carol C",
            Validity {
                not_before_unix: t - 86_400 * 10,
                not_after_unix: t - 86_400,
            },
            12,
        );
        let not_yet = leaf(
            &ca_a,
            &key_e,
            "carol@a.example",
            "Carol C",
            Validity {
                not_before_unix: t + 86_400,
                not_after_unix: t + 86_400 * 10,
            },
            13,
        );
        let revoked = leaf(&ca_a, &key_e, "carol@a.example", "Carol C", valid, 14);
        let unknown_ca = leaf(&ca_x, &key_e, "carol@a.example", "Carol C", valid, 15);
        let other_domain = leaf(&ca_b_for_a, &key_e, "carol@a.example", "Carol C", valid, 16);
        // Bob is self-signed-ish: issued by CA b, but alice trusts him by pin only.
        let bob = leaf(&ca_b, &key_e, "bob@b.example", "Bob B", valid, 20);
        let bob_other_cert = leaf(&ca_xb, &key_e, "bob@b.example", "Bob B", valid, 21);
        let mut trust = TrustStore::new();
        trust
            .add_root("a.example", ca_a.certificate_der())
            .expect("root a trusted");
        trust
            .add_root("b.example", ca_b.certificate_der())
            .expect("root b trusted");
        trust.pin(uid("bob@b.example"), Fingerprint::of_der(&bob.chain[0]));
        let crl = ca_a.issue_crl(&[14], t - 60, t + 3600).expect("crl");
        trust.set_crl(&crl).expect("crl accepted");
        let crl_b = ca_b.issue_crl(&[], t - 60, t + 3600).expect("crl b");
        trust.set_crl(&crl_b).expect("crl b accepted");
        World {
            alice,
            bob,
            carol,
            expired,
            not_yet,
            revoked,
            unknown_ca,
            other_domain,
            bob_other_cert,
            trust: Arc::new(trust),
            crl_a: crl,
        }
    })
}

fn config_for(
    party: &Party,
    signer: Arc<dyn HandshakeSigner>,
    ciphers: &[CipherSuite],
) -> Arc<Config> {
    let identity = LocalIdentity {
        user_id: party.user.clone(),
        name: party.name.clone(),
        chain: party.chain.clone(),
        signer,
    };
    let mut config = Config::new(identity, world().trust.clone());
    config.cipher_preference = ciphers.to_vec();
    Arc::new(config)
}

/// Our honest responder (Alice), with a counting signer.
struct Victim {
    responder: Responder,
    signer: Arc<CountingSigner>,
}

impl Victim {
    fn new(ciphers: &[CipherSuite]) -> Self {
        let signer = Arc::new(CountingSigner {
            key: world().alice.key.clone(),
            count: AtomicUsize::new(0),
        });
        let responder = Responder::new(
            config_for(&world().alice, signer.clone(), ciphers),
            Box::new(OsEntropy),
        );
        Self { responder, signer }
    }

    fn signatures(&self) -> usize {
        self.signer.count.load(Ordering::SeqCst)
    }
}

/// How the adversary misbehaves.
#[allow(clippy::struct_excessive_bools)] // one switch per misbehaviour
#[derive(Clone, Default)]
struct Knobs {
    capabilities: Option<Vec<String>>,
    algorithms: Option<Vec<String>>,
    reveal_other_key_share: bool,
    user_id: Option<String>,
    name: Option<String>,
    peer_id: Option<String>,
    signature_override: Option<Vec<u8>>,
    flip_bit_in_message_5: bool,
    replay_message_5: bool,
    forge_finished: bool,
    message_3_first: bool,
}

/// Where the adversarial handshake ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The victim refused with this alert (after `step` was sent).
    Refused { step: u8, alert: AlertCode },
    /// The handshake completed (only for the honest control case).
    Completed,
}

const ALL_ALGORITHMS: [&str; 11] = [
    "X25519",
    "SHA256",
    "RSAPSS",
    "RSA2048",
    "RSA3072",
    "RSA4096",
    "AES256GCM",
    "AES128GCM",
    "AES256CBC",
    "AES128CBC",
    "HMACSHA256",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Reads the alert the victim sent: plain, or a record under its current key.
fn alert_in(bytes: &[u8], reader: Option<&mut RecordReader>) -> AlertCode {
    let mut frames = FrameReader::new();
    frames.push(bytes);
    let frame = frames.next_frame().expect("framed").expect("one frame");
    if frame.kind == KIND_PLAIN {
        return messages::parse_alert(&frame.body).expect("plain alert");
    }
    let (content_type, content) = reader
        .expect("a key to read the alert")
        .open(&frame.body)
        .expect("alert record opens");
    assert_eq!(content_type, ContentType::Alert);
    core_alert_from_record(&content)
}

fn one_frame(bytes: &[u8]) -> Frame {
    let mut frames = FrameReader::new();
    frames.push(bytes);
    frames.next_frame().expect("framed").expect("one frame")
}

/// Runs the adversary as initiator against `victim`, impersonating `me`.
fn attack(victim: &mut Victim, me: &Party, knobs: &Knobs) -> Outcome {
    let mut transcript = Transcript::default();
    let x25519_private: [u8; 32] = rand_bytes();
    let pub_i =
        x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(x25519_private)).to_bytes();
    let capabilities = knobs
        .capabilities
        .clone()
        .unwrap_or_else(|| strings(&["cert-auth", "dh-kex", "chat"]));
    let algorithms = knobs
        .algorithms
        .clone()
        .unwrap_or_else(|| strings(&ALL_ALGORITHMS));
    let key_share = if knobs.reveal_other_key_share {
        rand_bytes()
    } else {
        pub_i
    };
    let msg3 = CryptoSuiteOffer {
        algorithms,
        key_share,
    }
    .to_xml();
    let mut feed = |bytes: &[u8]| victim.responder.handle(&one_frame(bytes), now());

    if knobs.message_3_first {
        return match feed(&frame::encode(KIND_PLAIN, &msg3)) {
            Step::Failed(out, _) => Outcome::Refused {
                step: 3,
                alert: alert_in(&out, None),
            },
            _ => panic!("message 3 first was accepted"),
        };
    }
    // 1 → 2
    let msg1 = CapabilitiesOffer {
        capabilities,
        nonce: rand_bytes(),
        key_commit: keys::sha256(&[&pub_i]),
    }
    .to_xml();
    transcript.add(&msg1);
    let Step::Continue(out) = feed(&frame::encode(KIND_PLAIN, &msg1)) else {
        let Step::Failed(out, _) = feed(&[]) else {
            unreachable!()
        };
        return Outcome::Refused {
            step: 1,
            alert: alert_in(&out, None),
        };
    };
    let msg2 = one_frame(&out).body;
    let accept = CapabilitiesAccept::parse(&msg2).expect("message 2");
    transcript.add(&msg2);
    // 3 → 4
    transcript.add(&msg3);
    let out = match feed(&frame::encode(KIND_PLAIN, &msg3)) {
        Step::Continue(out) => out,
        Step::Failed(out, _) => {
            return Outcome::Refused {
                step: 3,
                alert: alert_in(&out, None),
            };
        }
        Step::Complete(..) => unreachable!(),
    };
    let msg4 = one_frame(&out).body;
    let suite_accept = CryptoSuiteAccept::parse(&msg4).expect("message 4");
    transcript.add(&msg4);
    let suite = suite_accept
        .algorithms
        .iter()
        .find_map(|a| CipherSuite::from_token(a))
        .expect("a cipher");
    let dh = x25519_dalek::StaticSecret::from(x25519_private)
        .diffie_hellman(&x25519_dalek::PublicKey::from(accept.key_share))
        .to_bytes();
    let secrets = HandshakeSecrets::derive(&dh, &transcript.current());
    let mut writer = RecordWriter::new(suite, secrets.i_hs.clone());
    let mut reader = RecordReader::new(suite, secrets.r_hs.clone());
    // 5 → 6
    let info = UserInfo {
        user_id: knobs.user_id.clone().unwrap_or_else(|| me.user.to_string()),
        name: knobs.name.clone().unwrap_or_else(|| me.name.clone()),
        peer_id: Some(
            knobs
                .peer_id
                .clone()
                .unwrap_or_else(|| "alice@a.example".into()),
        ),
        certificates: me.chain.clone(),
    }
    .to_xml();
    transcript.add(&info);
    let mut sealed = writer
        .seal(ContentType::Handshake, &info, &mut OsEntropy)
        .expect("seal");
    if knobs.flip_bit_in_message_5 {
        let last = sealed.len() - 1;
        sealed[last] ^= 0x01;
    }
    let out = match feed(&sealed) {
        Step::Continue(out) => out,
        Step::Failed(out, _) => {
            return Outcome::Refused {
                step: 5,
                alert: alert_in(&out, Some(&mut reader)),
            };
        }
        Step::Complete(..) => unreachable!(),
    };
    let (_, msg6) = reader.open(&one_frame(&out).body).expect("message 6");
    CryptoChallenge::parse(&msg6).expect("challenge");
    transcript.add(&msg6);
    if knobs.replay_message_5 {
        return match feed(&sealed) {
            Step::Failed(out, _) => Outcome::Refused {
                step: 7,
                alert: alert_in(&out, Some(&mut reader)),
            },
            _ => panic!("a replayed record was accepted"),
        };
    }
    // 7 → 8
    let th6 = transcript.current();
    let signature = knobs.signature_override.clone().unwrap_or_else(|| {
        let mut proof = vec![0x20u8; 64];
        proof.extend_from_slice(b"sixchat initiator proof\0");
        proof.extend_from_slice(&th6);
        me.key.sign_pss_sha256(&proof).expect("sign")
    });
    let mac = keys::hmac(&secrets.fk_i[..], &[&th6, &signature]);
    let msg7 = ChallengeResponse {
        signature: Some(signature),
        mac,
    }
    .to_xml();
    transcript.add(&msg7);
    let out = match feed(
        &writer
            .seal(ContentType::Handshake, &msg7, &mut OsEntropy)
            .expect("seal"),
    ) {
        Step::Continue(out) => out,
        Step::Failed(out, _) => {
            return Outcome::Refused {
                step: 7,
                alert: alert_in(&out, Some(&mut reader)),
            };
        }
        Step::Complete(..) => unreachable!(),
    };
    let (_, msg8) = reader.open(&one_frame(&out).body).expect("message 8");
    transcript.add(&msg8);
    // 9 → 10
    let msg9 = CryptoChallenge {
        challenge: rand_bytes(),
    }
    .to_xml();
    transcript.add(&msg9);
    let out = match feed(
        &writer
            .seal(ContentType::Handshake, &msg9, &mut OsEntropy)
            .expect("seal"),
    ) {
        Step::Continue(out) => out,
        other => panic!("message 9 refused: {}", matches!(other, Step::Failed(..))),
    };
    let (_, msg10) = reader.open(&one_frame(&out).body).expect("message 10");
    transcript.add(&msg10);
    // 11 → 12
    let mut finished = keys::hmac(&secrets.fk_fin_i[..], &[&transcript.current()]);
    if knobs.forge_finished {
        finished[0] ^= 0x80;
    }
    let msg11 = KeyExchange { finished }.to_xml();
    match feed(
        &writer
            .seal(ContentType::Handshake, &msg11, &mut OsEntropy)
            .expect("seal"),
    ) {
        Step::Complete(..) => Outcome::Completed,
        Step::Failed(out, _) => Outcome::Refused {
            step: 11,
            alert: alert_in(&out, Some(&mut reader)),
        },
        Step::Continue(_) => panic!("no Session_Ready after message 11"),
    }
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    use sixchat_proto::Entropy as _;
    let mut out = [0u8; N];
    OsEntropy.fill(sixchat_proto::RandomPurpose::Nonce, &mut out);
    out
}

/// Runs one case and checks its alert and that the victim signed nothing.
fn expect_refused(me: &Party, knobs: &Knobs, step: u8, alert: AlertCode) {
    let mut victim = Victim::new(&CipherSuite::ALL);
    assert_eq!(
        attack(&mut victim, me, knobs),
        Outcome::Refused { step, alert }
    );
    assert_eq!(
        victim.signatures(),
        0,
        "the responder signed before the initiator proved itself"
    );
}

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

/// Drives two machines against each other, letting `tamper` rewrite any frame.
fn pump(
    initiator: &mut Initiator,
    first: Vec<u8>,
    responder: &mut Responder,
    mut tamper: impl FnMut(u8, Vec<u8>) -> Vec<u8>,
) -> (
    Option<Box<sixchat_proto::Established>>,
    Option<Box<sixchat_proto::Established>>,
    Vec<AlertCode>,
) {
    let mut to_r = tamper(1, first);
    let mut step = 1u8;
    let (mut done_i, mut done_r, mut errors) = (None, None, Vec::new());
    loop {
        let out = match responder.handle(&one_frame(&to_r), now()) {
            Step::Continue(out) => out,
            Step::Complete(out, e) => {
                done_r = Some(e);
                out
            }
            Step::Failed(_, err) => {
                errors.push(err.alert);
                return (done_i, done_r, errors);
            }
        };
        step += 1;
        let to_i = tamper(step, out);
        match initiator.handle(&one_frame(&to_i), now()) {
            Step::Continue(out) => {
                step += 1;
                to_r = tamper(step, out);
            }
            Step::Complete(_, e) => {
                done_i = Some(e);
                return (done_i, done_r, errors);
            }
            Step::Failed(_, err) => {
                errors.push(err.alert);
                return (done_i, done_r, errors);
            }
        }
    }
}

fn honest_initiator(me: &Party, peer: &str, admit_new: bool) -> (Initiator, Vec<u8>) {
    let identity = LocalIdentity {
        user_id: me.user.clone(),
        name: me.name.clone(),
        chain: me.chain.clone(),
        signer: me.key.clone(),
    };
    let mut config = Config::new(identity, world().trust.clone());
    config.admit_new = admit_new;
    Initiator::start(Arc::new(config), uid(peer), false, Box::new(OsEntropy))
}

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

// ---------------------------------------------------------------------------
// The in-memory pair harness: honest initiator and responder, no sockets, for
// every record suite at every trust level, then a chat each way.

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
