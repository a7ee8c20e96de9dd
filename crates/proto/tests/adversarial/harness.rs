//! The adversary's world and tools: CAs and parties with real certificates,
//! a responder whose signer counts its private-key operations, the scripted
//! misbehaving initiator, and a pump between two honest machines.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use sixchat_pki::ca::{CertificateAuthority, LeafRequest, Validity};
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::trust::TrustStore;
use sixchat_proto::frame::{self, Frame, FrameReader, KIND_PLAIN};
use sixchat_proto::handshake::core_alert_from_record;
use sixchat_proto::keys::{self, HandshakeSecrets, Transcript};
use sixchat_proto::messages::{
    self, CapabilitiesAccept, CapabilitiesOffer, ChallengeResponse, CryptoChallenge,
    CryptoSuiteAccept, CryptoSuiteOffer, KeyExchange, UserInfo,
};
use sixchat_proto::record::{CipherSuite, ContentType, RecordReader, RecordWriter};
use sixchat_proto::{
    AlertCode, Config, Fingerprint, HandshakeSigner, Initiator, LocalIdentity, OsEntropy,
    Responder, SignError, Step, UserId,
};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pki/tests/fixtures/keys");

pub fn fixture_key(name: &str) -> IdentityKey {
    let der = std::fs::read(format!("{FIXTURES}/{name}.pk8")).expect("fixture key");
    IdentityKey::from_pkcs8_der(&der).expect("fixture key parses")
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn uid(text: &str) -> UserId {
    UserId::parse(text).expect("valid UserID")
}

/// A signer that counts its private-key operations.
pub struct CountingSigner {
    pub key: Arc<IdentityKey>,
    pub count: AtomicUsize,
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
pub struct Party {
    pub user: UserId,
    pub name: String,
    pub chain: Vec<Vec<u8>>,
    pub key: Arc<IdentityKey>,
}

/// The world of the tests: CA `a.example` (trusted for a.example), CA
/// `b.example` (trusted only for b.example), an unknown CA, and the parties.
pub struct World {
    pub alice: Party,
    pub bob: Party,
    pub carol: Party,
    pub expired: Party,
    pub not_yet: Party,
    pub revoked: Party,
    pub unknown_ca: Party,
    pub other_domain: Party,
    pub bob_other_cert: Party,
    pub trust: Arc<TrustStore>,
    /// Root a's current CRL (revoking `revoked`).
    pub crl_a: Vec<u8>,
}

pub fn leaf(
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

pub fn world() -> &'static World {
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

pub fn config_for(
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
pub struct Victim {
    pub responder: Responder,
    pub signer: Arc<CountingSigner>,
}

impl Victim {
    pub fn new(ciphers: &[CipherSuite]) -> Self {
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

    pub fn signatures(&self) -> usize {
        self.signer.count.load(Ordering::SeqCst)
    }
}

/// How the adversary misbehaves.
#[allow(clippy::struct_excessive_bools)] // one switch per misbehaviour
#[derive(Clone, Default)]
pub struct Knobs {
    pub capabilities: Option<Vec<String>>,
    pub algorithms: Option<Vec<String>>,
    pub reveal_other_key_share: bool,
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub peer_id: Option<String>,
    pub signature_override: Option<Vec<u8>>,
    pub flip_bit_in_message_5: bool,
    pub replay_message_5: bool,
    pub forge_finished: bool,
    pub message_3_first: bool,
}

/// Where the adversarial handshake ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The victim refused with this alert (after `step` was sent).
    Refused { step: u8, alert: AlertCode },
    /// The handshake completed (only for the honest control case).
    Completed,
}

pub const ALL_ALGORITHMS: [&str; 11] = [
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

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Reads the alert the victim sent: plain, or a record under its current key.
pub fn alert_in(bytes: &[u8], reader: Option<&mut RecordReader>) -> AlertCode {
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

pub fn one_frame(bytes: &[u8]) -> Frame {
    let mut frames = FrameReader::new();
    frames.push(bytes);
    frames.next_frame().expect("framed").expect("one frame")
}

/// Runs the adversary as initiator against `victim`, impersonating `me`.
#[allow(clippy::too_many_lines)] // one arm per scripted attack step; splitting would scatter the script
pub fn attack(victim: &mut Victim, me: &Party, knobs: &Knobs) -> Outcome {
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

pub fn rand_bytes<const N: usize>() -> [u8; N] {
    use sixchat_proto::Entropy as _;
    let mut out = [0u8; N];
    OsEntropy.fill(sixchat_proto::RandomPurpose::Nonce, &mut out);
    out
}

/// Runs one case and checks its alert and that the victim signed nothing.
pub fn expect_refused(me: &Party, knobs: &Knobs, step: u8, alert: AlertCode) {
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

/// Drives two machines against each other, letting `tamper` rewrite any frame.
pub fn pump(
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

pub fn honest_initiator(me: &Party, peer: &str, admit_new: bool) -> (Initiator, Vec<u8>) {
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
