//! No panic on anything from a file or the network: certificate, CRL, PEM and
//! PKCS#12 parsing, and the certificate policy, fed mutations of real
//! fixtures (a fixed-seed generator, so a failure reproduces).

use sixchat_pki::cert::{self, CertInfo};
use sixchat_pki::pkcs12;
use sixchat_pki::trust::TrustStore;
use sixchat_proto::{CertificatePolicy as _, UserId};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

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

    /// Flips, deletes or truncates a few bytes.
    fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..=self.below(3) {
            if out.is_empty() {
                break;
            }
            let at = self.below(out.len());
            match self.below(3) {
                0 => out[at] ^= 1 << self.below(8),
                1 => {
                    out.remove(at);
                }
                _ => out.truncate(at),
            }
        }
        out
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).expect("fixture")
}

#[test]
fn certificate_parsing_and_policy_survive_mutations() {
    let mut rng = Rng(0x5158_4348_4154_0003);
    let pems = [
        "openssl-ca.pem",
        "openssl-leaf.pem",
        "openssl-leaf_nodigsig.pem",
        "rsa1024-selfsigned.pem",
        "ec-selfsigned.pem",
    ];
    let ders: Vec<Vec<u8>> = pems
        .iter()
        .flat_map(|p| cert::certificates_from_pem_or_der(&fixture(p)).expect("fixture parses"))
        .collect();
    let crl = fixture("openssl-ca.crl");
    let mut trust = TrustStore::new();
    trust
        .add_root("example.org", &ders[0])
        .expect("openssl CA is a root");
    let user = UserId::parse("alice@example.org").expect("uid");
    for round in 0..1500 {
        let base = &ders[round % ders.len()];
        let mutated = rng.mutate(base);
        let _ = CertInfo::parse(&mutated);
        let _ = cert::certificates_from_pem_or_der(&mutated);
        let _ = trust.check_peer(
            &user,
            "Alice",
            &[mutated.clone(), ders[0].clone()],
            1_800_000_000,
        );
        let _ = trust.check_peer(&user, "Alice", &[base.clone(), mutated], 1_800_000_000);
        let _ = TrustStore::new().set_crl(&rng.mutate(&crl));
        let _ = TrustStore::new().add_root("example.org", &rng.mutate(&ders[0]));
    }
}

#[test]
fn pkcs12_import_survives_mutations() {
    let mut rng = Rng(0x5158_4348_4154_0004);
    let files = [
        "openssl-default.p12",
        "openssl-legacy.p12",
        "keytool.p12",
        "nss-default.p12",
        "nss-legacy.p12",
    ];
    for round in 0..100 {
        let bytes = fixture(files[round % files.len()]);
        let mutated = rng.mutate(&bytes);
        // A mutation may still import (a flipped bit in padding); it must never panic.
        let _ = pkcs12::import(&mutated, "sixchat-test");
    }
}
