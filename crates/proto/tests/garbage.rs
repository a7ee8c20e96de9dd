//! No panic on anything from the network: every parser and both handshake
//! machines are fed random bytes and mutations of valid messages (a fixed-seed
//! generator, so a failure reproduces). Each input must be refused or
//! accepted, never crash.

mod support;

use std::sync::Arc;

use sixchat_proto::frame::{Frame, FrameReader, KIND_PLAIN, KIND_RECORD};
use sixchat_proto::messages::{
    CapabilitiesAccept, CapabilitiesOffer, ChallengeResponse, CryptoChallenge, CryptoSuiteAccept,
    CryptoSuiteOffer, KeyExchange, SessionReady, UserInfo, parse_alert,
};
use sixchat_proto::record::{CipherSuite, RecordReader};
use sixchat_proto::{
    AppMessage, Config, Initiator, LocalIdentity, OsEntropy, Responder, Step, UserId, xml,
};
use support::{PinPolicy, TestSigner, hex, vector_identity, vectors};

/// xorshift64*: small, deterministic, good enough to shake parsers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Flips, inserts, deletes or duplicates a few bytes of `input`.
    fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..=self.below(4) {
            let at = self.below(out.len() + 1);
            match self.below(5) {
                0 if at < out.len() => out[at] ^= 1 << self.below(8),
                1 => out.insert(at, self.next() as u8),
                2 if at < out.len() => {
                    out.remove(at);
                }
                3 => {
                    let tokens: [&[u8]; 8] = [
                        b"<",
                        b">",
                        b"&",
                        b"&amp;",
                        b"<!--",
                        b"<?x?>",
                        b"\"",
                        b"<message>",
                    ];
                    let token = tokens[self.below(tokens.len())];
                    out.splice(at..at, token.iter().copied());
                }
                _ => {
                    let end = (at + self.below(16)).min(out.len());
                    let chunk = out[at..end].to_vec();
                    out.splice(at..at, chunk);
                }
            }
        }
        out
    }
}

fn valid_messages() -> Vec<Vec<u8>> {
    let v = vectors();
    let mut out = Vec::new();
    for t in v["transcripts"].as_object().expect("transcripts").values() {
        for m in t["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .chain(t["application"].as_array().expect("app"))
        {
            out.push(hex(&m["xml_hex"]));
        }
    }
    out
}

fn parse_everything(input: &[u8]) {
    let _ = xml::parse(input);
    let _ = CapabilitiesOffer::parse(input);
    let _ = CapabilitiesAccept::parse(input);
    let _ = CryptoSuiteOffer::parse(input);
    let _ = CryptoSuiteAccept::parse(input);
    let _ = UserInfo::parse(input, true);
    let _ = UserInfo::parse(input, false);
    let _ = CryptoChallenge::parse(input);
    let _ = ChallengeResponse::parse(input);
    let _ = KeyExchange::parse(input);
    let _ = SessionReady::parse(input);
    let _ = parse_alert(input);
    let _ = AppMessage::parse(input);
    let mut frames = FrameReader::new();
    frames.push(input);
    while let Ok(Some(_)) = frames.next_frame() {}
    for suite in CipherSuite::ALL {
        let _ = RecordReader::new(suite, zeroize::Zeroizing::new([1u8; 32])).open(input);
    }
}

#[test]
fn parsers_survive_random_and_mutated_input() {
    let mut rng = Rng(0x5158_4348_4154_0001);
    let seeds = valid_messages();
    for _ in 0..3000 {
        let len = rng.below(300);
        parse_everything(&rng.bytes(len));
    }
    for _ in 0..20 {
        for seed in &seeds {
            parse_everything(&rng.mutate(seed));
        }
    }
}

fn config(side: &str) -> Arc<Config> {
    let v = vectors();
    let me = vector_identity(&v, side);
    let other = vector_identity(&v, if side == "I" { "R" } else { "I" });
    let signer = Arc::new(TestSigner::from_pem(&me.key_pem, None));
    let other_spki = TestSigner::from_pem(&other.key_pem, None).spki();
    let policy = PinPolicy::default().pin(&other.user, &other.name, &other.cert, other_spki);
    let identity = LocalIdentity {
        user_id: UserId::parse(&me.user).expect("uid"),
        name: me.name,
        chain: vec![me.cert],
        signer,
    };
    let mut config = Config::new(identity, Arc::new(policy));
    config.allow_anonymous_callers = true;
    Arc::new(config)
}

#[test]
fn handshake_machines_survive_hostile_frames() {
    let mut rng = Rng(0x5158_4348_4154_0002);
    let seeds = valid_messages();
    let (ci, cr) = (config("I"), config("R"));
    for round in 0..400 {
        let mut responder = Responder::new(cr.clone(), Box::new(OsEntropy));
        let (mut initiator, _) = Initiator::start(
            ci.clone(),
            UserId::parse("bob@b.example").expect("uid"),
            round % 7 == 0,
            Box::new(OsEntropy),
        );
        for _ in 0..=rng.below(3) {
            let body = if rng.below(3) == 0 {
                let len = rng.below(200);
                rng.bytes(len)
            } else {
                let seed = rng.below(seeds.len());
                rng.mutate(&seeds[seed])
            };
            let kind = if rng.below(4) == 0 {
                KIND_RECORD
            } else {
                KIND_PLAIN
            };
            let frame = Frame { kind, body };
            let (r, i) = (responder.handle(&frame, 0), initiator.handle(&frame, 0));
            // A hostile frame never completes a handshake.
            assert!(!matches!(r, Step::Complete(..)) && !matches!(i, Step::Complete(..)));
        }
    }
}
