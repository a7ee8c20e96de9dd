//! Shared by the benchmarks: two identities from the PKI fixtures, pinned to each other.
#![allow(dead_code)]

use std::sync::Arc;

use sixchat_pki::cert;
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::trust::TrustStore;
use sixchat_proto::{CipherSuite, Config, Fingerprint, LocalIdentity, UserId};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pki/tests/fixtures/keys");

pub fn key(name: &str) -> IdentityKey {
    IdentityKey::from_pkcs8_der(&std::fs::read(format!("{FIXTURES}/{name}.pk8")).expect("fixture"))
        .expect("key")
}

pub struct Side {
    pub key: Arc<IdentityKey>,
    pub cert: Vec<u8>,
    pub user: UserId,
    pub name: String,
}

pub fn side(key_name: &str, user: &str, name: &str) -> Side {
    let key = Arc::new(key(key_name));
    let user = UserId::parse(user).expect("uid");
    let cert = cert::self_signed_identity(&key, &user, name, 30).expect("cert");
    Side {
        key,
        cert,
        user,
        name: name.to_owned(),
    }
}

/// Configs for I (alice) and R (bob), each pinning the other, with one suite.
pub fn configs(alice: &Side, bob: &Side, suite: CipherSuite) -> (Arc<Config>, Arc<Config>) {
    let make = |me: &Side, peer: &Side| {
        let mut trust = TrustStore::new();
        trust.pin(peer.user.clone(), Fingerprint::of_der(&peer.cert));
        let identity = LocalIdentity {
            user_id: me.user.clone(),
            name: me.name.clone(),
            chain: vec![me.cert.clone()],
            signer: me.key.clone(),
        };
        let mut config = Config::new(identity, Arc::new(trust));
        config.cipher_preference = vec![suite];
        Arc::new(config)
    };
    (make(alice, bob), make(bob, alice))
}
