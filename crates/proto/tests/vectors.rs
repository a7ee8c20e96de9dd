//! Replays ../shared/design/vectors.json (copied to tests/data): the complete
//! transcripts of an independent implementation. Our responder is fed its
//! initiator's messages and the reverse; every frame we write must equal the
//! vector byte for byte, and every secret, key, hash and code is checked.

mod support;

use std::sync::Arc;

use serde_json::Value;
use sixchat_proto::frame::{Frame, HEADER_BYTES};
use sixchat_proto::handshake::Step;
use sixchat_proto::keys::{self, HandshakeSecrets, Transcript};
use sixchat_proto::{
    AppMessage, CipherSuite, Config, Established, Initiator, LocalIdentity, RandomPurpose,
    Responder, SessionEvent, TrustLevel, UserId,
};
use support::{FixedEntropy, PinPolicy, TestSigner, hex, hex32, vector_identity, vectors};

const TRANSCRIPTS: [&str; 3] = ["AES256GCM", "AES256CBC", "anonymous-AES256GCM"];

fn frame_of(message: &Value) -> Frame {
    let bytes = hex(&message["frame_hex"]);
    Frame {
        kind: bytes[0],
        body: bytes[HEADER_BYTES..].to_vec(),
    }
}

fn ciphers(t: &Value) -> Vec<CipherSuite> {
    t["r_cipher_preference"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| CipherSuite::from_token(c.as_str().unwrap()).unwrap())
        .collect()
}

fn input<'a>(t: &'a Value, side: &str, prefix: &str) -> &'a Value {
    let inputs = t["inputs"][side].as_object().unwrap();
    inputs
        .iter()
        .find(|(k, _)| k.starts_with(prefix))
        .map_or_else(|| panic!("no input {prefix}"), |(_, v)| v)
}

fn config_for(
    v: &Value,
    t: &Value,
    side: &str,
    ciphers: Vec<CipherSuite>,
) -> (Arc<Config>, Arc<TestSigner>) {
    let me = vector_identity(v, side);
    let other = vector_identity(v, if side == "I" { "R" } else { "I" });
    let salt = input(t, side, "pss_salt")
        .as_str()
        .map(|h| hex32(&Value::from(h)));
    let signer = Arc::new(TestSigner::from_pem(&me.key_pem, salt));
    let other_spki = TestSigner::from_pem(&other.key_pem, None).spki();
    let policy = PinPolicy::default().pin(&other.user, &other.name, &other.cert, other_spki);
    let identity = LocalIdentity {
        user_id: UserId::parse(&me.user).unwrap(),
        name: me.name,
        chain: vec![me.cert],
        signer: signer.clone(),
    };
    let mut config = Config::new(identity, Arc::new(policy));
    config.app_capabilities = vec!["chat".into()];
    config.cipher_preference = ciphers;
    config.allow_anonymous_callers = true;
    (Arc::new(config), signer)
}

fn entropy_for(t: &Value, side: &str) -> FixedEntropy {
    let mut e = FixedEntropy::default()
        .with(
            RandomPurpose::X25519Private,
            hex(input(t, side, "x25519_private")),
        )
        .with(RandomPurpose::Nonce, hex(input(t, side, "nonce")))
        .with(RandomPurpose::Challenge, hex(input(t, side, "challenge")));
    if side == "R" {
        e = e.with(RandomPurpose::SasSecret, hex(input(t, "R", "s_R")));
    }
    for iv in input(t, side, "cbc_ivs").as_array().unwrap() {
        e = e.with(RandomPurpose::CbcIv, hex(iv));
    }
    e
}

fn messages(t: &Value) -> &Vec<Value> {
    t["messages"].as_array().unwrap()
}

const NOW: i64 = 1_790_000_000;

fn check_established(t: &Value, established: &Established, anonymous: bool, peer: &str) {
    assert_eq!(established.sas, t["sas"]["shown"].as_str().unwrap());
    assert_eq!(established.exporter.to_vec(), hex(&t["secrets"]["exp"]));
    assert_eq!(established.peer.user_id.as_str(), peer);
    let level = if anonymous {
        TrustLevel::Anonymous
    } else {
        TrustLevel::Known
    };
    assert_eq!(established.peer.level, level);
    assert_eq!(established.suite.token(), t["cipher"].as_str().unwrap());
}

#[test]
fn our_initiator_reproduces_every_initiator_frame() {
    let v = vectors();
    for name in TRANSCRIPTS {
        let t = &v["transcripts"][name];
        let anonymous = name.starts_with("anonymous");
        // I's cipher preference is the offer order seen in message 3.
        let (config, _) = config_for(&v, t, "I", CipherSuite::ALL.to_vec());
        let msgs = messages(t);
        let peer = UserId::parse(vector_identity(&v, "R").user.as_str()).unwrap();
        let (mut initiator, first) =
            Initiator::start(config, peer, anonymous, Box::new(entropy_for(t, "I")));
        assert_eq!(first, hex(&msgs[0]["frame_hex"]), "{name}: message 1");
        let mut established = None;
        for (i, reply) in msgs.iter().enumerate().skip(1).step_by(2) {
            match initiator.handle(&frame_of(reply), NOW) {
                Step::Continue(out) => assert_eq!(
                    out,
                    hex(&msgs[i + 1]["frame_hex"]),
                    "{name}: message {}",
                    i + 2
                ),
                Step::Complete(out, e) => {
                    assert!(
                        out.is_empty() && i == 11,
                        "{name}: completes after message 12"
                    );
                    established = Some(e);
                }
                Step::Failed(_, err) => panic!("{name}: message {}: {err}", i + 1),
            }
        }
        let mut established = established.expect("handshake completed");
        check_established(t, &established, anonymous, "bob@b.example");
        if anonymous {
            // An anonymous session carries data only once the person has compared the code.
            assert!(established.session.seal_application(b"<x/>").is_err());
            established.session.confirm_peer();
        }
        // The chat record, then R's ack.
        let app = t["application"].as_array().unwrap();
        let chat = AppMessage::Chat {
            id: input(t, "I", "chat_id").as_str().unwrap().into(),
            sent: input(t, "I", "chat_sent").as_str().unwrap().into(),
            body: input(t, "I", "chat_body").as_str().unwrap().into(),
        };
        assert_eq!(chat.to_xml(), hex(&app[0]["xml_hex"]));
        let sealed = established
            .session
            .seal_application(&chat.to_xml())
            .unwrap();
        assert_eq!(sealed, hex(&app[0]["frame_hex"]), "{name}: chat record");
        let Some(SessionEvent::Application(ack)) =
            established.session.handle(&frame_of(&app[1])).unwrap()
        else {
            panic!("{name}: ack not delivered");
        };
        assert_eq!(ack, hex(&app[1]["xml_hex"]));
        assert!(matches!(
            AppMessage::parse(&ack).unwrap(),
            AppMessage::Ack { .. }
        ));
    }
}

#[test]
fn our_responder_reproduces_every_responder_frame() {
    let v = vectors();
    for name in TRANSCRIPTS {
        let t = &v["transcripts"][name];
        let anonymous = name.starts_with("anonymous");
        let (config, signer) = config_for(&v, t, "R", ciphers(t));
        let msgs = messages(t);
        let mut responder = Responder::new(config, Box::new(entropy_for(t, "R")));
        let mut established = None;
        for (i, incoming) in msgs.iter().enumerate().step_by(2) {
            match responder.handle(&frame_of(incoming), NOW) {
                Step::Continue(out) => assert_eq!(
                    out,
                    hex(&msgs[i + 1]["frame_hex"]),
                    "{name}: message {}",
                    i + 2
                ),
                Step::Complete(out, e) => {
                    assert_eq!(out, hex(&msgs[11]["frame_hex"]), "{name}: Session_Ready");
                    established = Some(e);
                }
                Step::Failed(_, err) => panic!("{name}: message {}: {err}", i + 1),
            }
            // No private-key operation before message 7 has verified (i is 0-based: message 7 is index 6).
            if i < 8 {
                assert_eq!(
                    signer.signatures.load(std::sync::atomic::Ordering::SeqCst),
                    0,
                    "{name}: R signed before message 9"
                );
            }
        }
        let mut established = established.expect("handshake completed");
        check_established(t, &established, anonymous, "alice@a.example");
        let mut released = Vec::new();
        if anonymous {
            // Held until the person accepts, then released.
            assert_eq!(
                established
                    .session
                    .handle(&frame_of(&t["application"][0]))
                    .unwrap(),
                None
            );
            released = established.session.confirm_peer();
            assert_eq!(released.len(), 1);
        }
        let app = t["application"].as_array().unwrap();
        let chat = if let Some(SessionEvent::Application(chat)) = released.pop() {
            chat
        } else {
            let Some(SessionEvent::Application(chat)) =
                established.session.handle(&frame_of(&app[0])).unwrap()
            else {
                panic!("{name}: chat not delivered");
            };
            chat
        };
        let AppMessage::Chat { id, body, .. } = AppMessage::parse(&chat).unwrap() else {
            panic!("not a chat")
        };
        assert_eq!(body, "Hello Bob, grüße ✓");
        let ack = AppMessage::Ack {
            id: input(t, "R", "ack_id").as_str().unwrap().into(),
            reference: id,
        };
        assert_eq!(
            established.session.seal_application(&ack.to_xml()).unwrap(),
            hex(&app[1]["frame_hex"]),
            "{name}: ack record"
        );
    }
}

/// Every hash, secret and record key of the vectors, recomputed from their inputs.
#[test]
#[allow(clippy::too_many_lines)] // one assertion per value of the vector file, in its order
fn key_schedule_matches_every_vector_value() {
    let v = vectors();
    assert_eq!(
        v["label_check"]["derived"],
        v["label_check"]["rfc8448_derived"]
    );
    for name in TRANSCRIPTS {
        let t = &v["transcripts"][name];
        let mut transcript = Transcript::default();
        for (i, m) in messages(t).iter().enumerate().take(11) {
            transcript.add(&hex(&m["xml_hex"]));
            assert_eq!(
                transcript.current().to_vec(),
                hex(&t["transcript_hashes"][format!("TH{}", i + 1)]),
                "{name}: TH{}",
                i + 1
            );
        }
        let th = |n: usize| hex32(&t["transcript_hashes"][format!("TH{n}")]);
        let secrets_json = &t["secrets"];
        let dh = keys_dh(t);
        assert_eq!(dh.to_vec(), hex(&secrets_json["DH"]));
        let s = HandshakeSecrets::derive(&dh, &th(4));
        let derived_key = secrets_json
            .as_object()
            .unwrap()
            .keys()
            .find(|k| k.starts_with("derived"))
            .unwrap()
            .clone();
        let checks: [(&str, Vec<u8>); 9] = [
            ("HS", s.hs.to_vec()),
            ("i_hs", s.i_hs.to_vec()),
            ("r_hs", s.r_hs.to_vec()),
            ("fk_i", s.fk_i.to_vec()),
            ("fk_r", s.fk_r.to_vec()),
            (
                derived_key.as_str(),
                keys::label32(&s.hs[..], "derived", b"").to_vec(),
            ),
            ("MS", s.ms.to_vec()),
            ("fk_fin_i", s.fk_fin_i.to_vec()),
            ("fk_fin_r", s.fk_fin_r.to_vec()),
        ];
        for (key, value) in checks {
            assert_eq!(value, hex(&secrets_json[key]), "{name}: {key}");
        }
        let app = s.application(&th(11));
        assert_eq!(
            app.i_ap.to_vec(),
            hex(&secrets_json["i_ap"]),
            "{name}: i_ap"
        );
        assert_eq!(
            app.r_ap.to_vec(),
            hex(&secrets_json["r_ap"]),
            "{name}: r_ap"
        );
        assert_eq!(
            app.exporter.to_vec(),
            hex(&secrets_json["exp"]),
            "{name}: exp"
        );
        let cbc = name.contains("CBC");
        let key_len = if name.contains("128") { 16 } else { 32 };
        for (which, keys_json) in t["record_keys"].as_object().unwrap() {
            let secret = hex(&keys_json["secret"]);
            if which == "i_ap_updated_once" {
                assert_eq!(
                    keys::label32(&app.i_ap[..], "traffic upd", b"").to_vec(),
                    secret,
                    "{name}: update"
                );
            }
            if cbc {
                assert_eq!(
                    keys::label(&secret, "cbc key", b"", key_len).to_vec(),
                    hex(&keys_json["enc"]),
                    "{name}: {which} enc"
                );
                assert_eq!(
                    keys::label(&secret, "mac key", b"", 32).to_vec(),
                    hex(&keys_json["mac"]),
                    "{name}: {which} mac"
                );
            } else {
                assert_eq!(
                    keys::label(&secret, "key", b"", key_len).to_vec(),
                    hex(&keys_json["key"]),
                    "{name}: {which} key"
                );
                assert_eq!(
                    keys::label(&secret, "iv", b"", 12).to_vec(),
                    hex(&keys_json["iv"]),
                    "{name}: {which} iv"
                );
            }
        }
        let pub_i = hex32(&t["inputs"]["I"]["x25519_public"]);
        let pub_r = hex32(&t["inputs"]["R"]["x25519_public"]);
        let s_r = hex32(&t["sas"]["s_R"]);
        assert_eq!(keys::sha256(&[&pub_i]).to_vec(), hex(&t["key_commit"]));
        assert_eq!(keys::sha256(&[&s_r]).to_vec(), hex(&t["sas_commit"]));
        let sas = s.sas_bytes(&pub_i, &pub_r, &s_r);
        assert_eq!(sas.to_vec(), hex(&t["sas"]["sas_bytes"]), "{name}: sas");
        assert_eq!(
            u64::from(u32::from_be_bytes(sas)),
            t["sas"]["u32"].as_u64().unwrap()
        );
        assert_eq!(keys::sas_display(sas), t["sas"]["shown"].as_str().unwrap());
        if let Some(signed) = t.get("signed_data").and_then(Value::as_object) {
            let proof = |ctx: &str, th: [u8; 32]| {
                let mut out = vec![0x20u8; 64];
                out.extend_from_slice(ctx.as_bytes());
                out.push(0);
                out.extend_from_slice(&th);
                out
            };
            assert_eq!(
                proof("sixchat initiator proof", th(6)),
                hex(&signed["message 7 (I)"])
            );
            assert_eq!(
                proof("sixchat responder proof", th(9)),
                hex(&signed["message 10 (R)"])
            );
        }
    }
}

fn keys_dh(t: &Value) -> [u8; 32] {
    let private = hex32(&t["inputs"]["I"]["x25519_private"]);
    let public = hex32(&t["inputs"]["R"]["x25519_public"]);
    x25519_dalek::StaticSecret::from(private)
        .diffie_hellman(&x25519_dalek::PublicKey::from(public))
        .to_bytes()
}
