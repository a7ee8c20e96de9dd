//! One test per trust outcome of `TrustStore::check_peer`, over certificates
//! made by our own `ca` module and by OpenSSL (fixtures/make-fixtures.sh).

mod common;

use common::{fixture, key, now};
use sixchat_pki::ca::{CertificateAuthority, LeafRequest, Validity};
use sixchat_pki::cert::{self, CertInfo};
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::trust::{TrustError, TrustStore};
use sixchat_proto::{CertRejection, CertificatePolicy, Fingerprint, TrustLevel, UserId};

fn bob() -> UserId {
    UserId::parse("bob@b.example").unwrap()
}

fn root_b() -> CertificateAuthority {
    CertificateAuthority::new_root("b.example", key('b'), 3650).unwrap()
}

/// Bob's key ('a') certified by `ca` through a CSR.
fn bob_leaf(ca: &CertificateAuthority, serial: u64) -> Vec<u8> {
    let csr = cert::csr_for(&key('a'), &bob(), "Bob").unwrap();
    ca.issue_leaf(LeafRequest::Csr(&csr), 365, serial).unwrap()
}

/// Trusts `ca` for `domain` and holds its current (empty) CRL.
fn store_trusting(domain: &str, ca: &CertificateAuthority) -> TrustStore {
    let mut store = store_without_crl(domain, ca);
    store
        .set_crl(&ca.issue_crl(&[], now() - 120, now() + 86_400).unwrap())
        .unwrap();
    store
}

fn store_without_crl(domain: &str, ca: &CertificateAuthority) -> TrustStore {
    let mut store = TrustStore::new();
    store.add_root(domain, ca.certificate_der()).unwrap();
    store
}

fn check(
    store: &TrustStore,
    chain: &[Vec<u8>],
) -> Result<sixchat_proto::PeerCertificate, CertRejection> {
    store.check_peer(&bob(), "Bob", chain, now())
}

fn self_signed_bob() -> Vec<u8> {
    cert::self_signed_identity(&key('a'), &bob(), "Bob", 30).unwrap()
}

#[test]
fn verified_when_issued_by_a_root_trusted_for_the_domain() {
    let ca = root_b();
    let leaf = bob_leaf(&ca, 7);
    let store = store_trusting("b.example", &ca);
    let peer = check(&store, std::slice::from_ref(&leaf)).unwrap();
    assert_eq!(peer.level, TrustLevel::Verified);
    assert!(!peer.self_signed);
    assert_eq!(peer.key_bits, 2048);
    assert_eq!(peer.fingerprint, Fingerprint::of_der(&leaf));
    assert_eq!(peer.public_key_spki_der, key('a').public_key_spki_der());
    assert!(
        peer.issuer.contains("SixChat root for b.example"),
        "{}",
        peer.issuer
    );
    // The same with the root included in the chain.
    let peer = check(&store, &[leaf, ca.certificate_der().to_vec()]).unwrap();
    assert_eq!(peer.level, TrustLevel::Verified);
}

#[test]
fn a_path_through_an_intermediate_cannot_be_shown_unrevoked() {
    let ca = root_b();
    let inter =
        CertificateAuthority::new_intermediate(&ca, key('c'), "SixChat issuing CA", 365).unwrap();
    let leaf = bob_leaf(&inter, 8);
    let store = store_trusting("b.example", &ca);
    let mid = inter.certificate_der().to_vec();
    let chains = [
        vec![leaf.clone(), mid.clone()],
        vec![leaf.clone(), mid.clone(), ca.certificate_der().to_vec()],
    ];
    // Only the root's CRL is ever held: the leaf's issuer has none.
    for chain in &chains {
        let err = check(&store, chain).unwrap_err();
        assert!(
            matches!(&err, CertRejection::NoCrl(t) if t.contains("SixChat issuing CA")),
            "{err:?}"
        );
    }
    // Without the intermediate the leaf's issuer is unknown.
    assert_eq!(check(&store, &[leaf]).unwrap().level, TrustLevel::New);
}

#[test]
fn a_revoked_leaf_cannot_hide_below_a_repeated_root() {
    let ca = root_b();
    let leaf = bob_leaf(&ca, 4243);
    let mut store = store_trusting("b.example", &ca);
    store
        .set_crl(&ca.issue_crl(&[4243], now() - 60, now() + 86_400).unwrap())
        .unwrap();
    let root = ca.certificate_der().to_vec();
    assert_eq!(
        check(&store, &[leaf.clone(), root.clone()]).unwrap_err(),
        CertRejection::Revoked
    );
    for chain in [
        vec![leaf.clone(), root.clone(), root.clone()],
        vec![leaf.clone(), root.clone(), root.clone(), root.clone()],
    ] {
        let err = check(&store, &chain).unwrap_err();
        assert!(
            matches!(&err, CertRejection::BadCertificate(t) if t.contains("root may stand only at the top")),
            "{err:?}"
        );
    }
}

#[test]
fn no_crl_held_is_no_verified_peer() {
    let ca = root_b();
    let leaf = bob_leaf(&ca, 17);
    let mut store = store_without_crl("b.example", &ca);
    for chain in [
        vec![leaf.clone()],
        vec![leaf.clone(), ca.certificate_der().to_vec()],
    ] {
        let err = check(&store, &chain).unwrap_err();
        assert!(matches!(&err, CertRejection::NoCrl(_)), "{err:?}");
        assert!(err.to_string().contains("revocation cannot be checked"));
        assert_eq!(err.alert(), sixchat_proto::AlertCode::UnknownCa);
    }
    store
        .set_crl(&ca.issue_crl(&[], now() - 60, now() + 86_400).unwrap())
        .unwrap();
    assert_eq!(check(&store, &[leaf]).unwrap().level, TrustLevel::Verified);
}

#[test]
fn known_when_not_verified_but_pinned() {
    let leaf = self_signed_bob();
    let mut store = TrustStore::new();
    store.pin(bob(), Fingerprint::of_der(&leaf));
    let peer = check(&store, &[leaf]).unwrap();
    assert_eq!(peer.level, TrustLevel::Known);
    assert!(peer.self_signed);
}

#[test]
fn new_when_self_signed_and_not_pinned() {
    let peer = check(&TrustStore::new(), &[self_signed_bob()]).unwrap();
    assert_eq!(peer.level, TrustLevel::New);
    assert!(peer.self_signed);
}

#[test]
fn unknown_ca_gives_new_without_the_self_signed_flag() {
    let unknown = root_b();
    let leaf = bob_leaf(&unknown, 9);
    let other = CertificateAuthority::new_root("b.example", key('c'), 3650).unwrap();
    let store = store_trusting("b.example", &other);
    for chain in [
        vec![leaf.clone()],
        vec![leaf, unknown.certificate_der().to_vec()],
    ] {
        let peer = check(&store, &chain).unwrap();
        assert_eq!(peer.level, TrustLevel::New);
        assert!(!peer.self_signed);
    }
}

#[test]
fn pin_mismatch_is_refused_even_when_the_chain_verifies() {
    let ca = root_b();
    let leaf = bob_leaf(&ca, 10);
    let mut store = store_trusting("b.example", &ca);
    store.pin(bob(), Fingerprint::of_der(&self_signed_bob()));
    let err = check(&store, std::slice::from_ref(&leaf)).unwrap_err();
    assert_eq!(err, CertRejection::PinMismatch("bob@b.example".to_owned()));
    assert!(err.to_string().contains("pinned"), "{err}");
    // Pinning the presented certificate makes it verified again (Verified wins over Known).
    store.pin(bob(), Fingerprint::of_der(&leaf));
    assert_eq!(
        check(&store, std::slice::from_ref(&leaf)).unwrap().level,
        TrustLevel::Verified
    );
    assert!(store.unpin(&bob()).is_some());
    assert_eq!(store.pins().count(), 0);
}

#[test]
fn expired_and_not_yet_valid() {
    let ca = root_b();
    let leaf = bob_leaf(&ca, 11);
    let info = CertInfo::parse(&leaf).unwrap();
    let store = store_trusting("b.example", &ca);
    let expired = store
        .check_peer(
            &bob(),
            "Bob",
            std::slice::from_ref(&leaf),
            info.not_after_unix + 1,
        )
        .unwrap_err();
    assert_eq!(expired, CertRejection::Expired);
    assert!(expired.to_string().contains("expired"));
    let early = store
        .check_peer(
            &bob(),
            "Bob",
            std::slice::from_ref(&leaf),
            info.not_before_unix - 1,
        )
        .unwrap_err();
    assert_eq!(early, CertRejection::NotYetValid);
    assert!(early.to_string().contains("not yet valid"));
}

#[test]
fn an_expired_intermediate_is_refused() {
    let ca = root_b();
    let inter = CertificateAuthority::new_intermediate(&ca, key('c'), "Short-lived CA", 1).unwrap();
    let leaf = bob_leaf(&inter, 12);
    let store = store_trusting("b.example", &ca);
    let in_two_days = now() + 2 * 86_400;
    let err = store
        .check_peer(
            &bob(),
            "Bob",
            &[leaf, inter.certificate_der().to_vec()],
            in_two_days,
        )
        .unwrap_err();
    assert_eq!(err, CertRejection::Expired);
}

#[test]
fn revoked_by_the_roots_crl() {
    let ca = root_b();
    let leaf = bob_leaf(&ca, 4242);
    let mut store = store_trusting("b.example", &ca);
    store
        .set_crl(
            &ca.issue_crl(&[1, 4242], now() - 60, now() + 86_400)
                .unwrap(),
        )
        .unwrap();
    let err = check(&store, std::slice::from_ref(&leaf)).unwrap_err();
    assert_eq!(err, CertRejection::Revoked);
    assert!(err.to_string().contains("revoked"));
    // A newer CRL that no longer lists it restores trust; an older one is refused.
    store
        .set_crl(&ca.issue_crl(&[1], now() - 30, now() + 86_400).unwrap())
        .unwrap();
    assert_eq!(check(&store, &[leaf]).unwrap().level, TrustLevel::Verified);
    let older = ca.issue_crl(&[], now() - 3600, now() + 86_400).unwrap();
    assert_eq!(store.set_crl(&older), Err(TrustError::OlderCrl));
    assert_eq!(store.crls().len(), 1);
}

#[test]
fn a_stale_crl_is_a_hard_failure() {
    let ca = root_b();
    let leaf = bob_leaf(&ca, 13);
    let mut store = store_without_crl("b.example", &ca);
    store
        .set_crl(&ca.issue_crl(&[], now() - 7200, now() - 3600).unwrap())
        .unwrap();
    let err = check(&store, &[leaf]).unwrap_err();
    assert_eq!(err, CertRejection::StaleCrl("b.example".to_owned()));
    assert!(err.to_string().contains("stale"));
}

#[test]
fn a_crl_must_be_signed_by_a_trusted_root() {
    let ca = root_b();
    let stranger = CertificateAuthority::new_root("c.example", key('c'), 30).unwrap();
    let mut store = store_trusting("b.example", &ca);
    let foreign = stranger.issue_crl(&[], now() - 60, now() + 60).unwrap();
    assert_eq!(store.set_crl(&foreign), Err(TrustError::CrlIssuerUnknown));
    let mut tampered = ca.issue_crl(&[5], now() - 60, now() + 60).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(store.set_crl(&tampered), Err(TrustError::BadCrl));
    assert_eq!(store.set_crl(b"junk"), Err(TrustError::BadCrl));
}

#[test]
fn a_root_trusted_only_for_another_domain_is_refused() {
    let ca = root_b();
    let leaf = bob_leaf(&ca, 14);
    let mut store = store_trusting("a.example", &ca);
    let err = check(&store, std::slice::from_ref(&leaf)).unwrap_err();
    let CertRejection::CaNotTrustedForDomain(text) = &err else {
        panic!("{err:?}")
    };
    assert!(
        text.contains("is trusted for a.example, not b.example"),
        "{text}"
    );
    assert!(
        err.to_string()
            .starts_with("CA not trusted for this domain"),
        "{err}"
    );
    // The same root may be trusted for several domains, each added explicitly.
    store.add_root("b.example", ca.certificate_der()).unwrap();
    assert_eq!(check(&store, &[leaf]).unwrap().level, TrustLevel::Verified);
    assert_eq!(store.roots().len(), 2);
}

#[test]
fn user_id_mismatch_names_both_ids() {
    let carol = UserId::parse("carol@b.example").unwrap();
    let leaf = cert::self_signed_identity(&key('a'), &carol, "Bob", 30).unwrap();
    let err = check(&TrustStore::new(), &[leaf]).unwrap_err();
    assert_eq!(
        err,
        CertRejection::UserIdMismatch(
            "certificate is for carol@b.example, not bob@b.example".to_owned()
        )
    );
    assert!(err.to_string().starts_with("UserID mismatch"));
}

#[test]
fn wrong_display_name_is_a_user_id_mismatch() {
    let err = TrustStore::new()
        .check_peer(&bob(), "Robert", &[self_signed_bob()], now())
        .unwrap_err();
    assert_eq!(
        err,
        CertRejection::UserIdMismatch(
            "certificate is for the name \"Bob\", not \"Robert\"".to_owned()
        )
    );
}

fn mallory_check(file: &str) -> CertRejection {
    let der = cert::certificate_from_pem_or_der(&fixture(file)).unwrap();
    let mallory = UserId::parse("mallory@m.example").unwrap();
    TrustStore::new()
        .check_peer(&mallory, "Mallory", &[der], now())
        .unwrap_err()
}

#[test]
fn rsa_1024_is_too_small() {
    let err = mallory_check("rsa1024-selfsigned.pem");
    assert_eq!(err, CertRejection::KeyTooSmall(1024));
    assert_eq!(err.to_string(), "key too small: 1024 bits");
}

#[test]
fn other_rsa_sizes_and_other_key_types_are_unsupported() {
    assert!(
        matches!(mallory_check("rsa2560-selfsigned.pem"), CertRejection::UnsupportedKey(t) if t.contains("2560"))
    );
    let ec = cert::certificate_from_pem_or_der(&fixture("ec-selfsigned.pem")).unwrap();
    let eve = UserId::parse("eve@a.example").unwrap();
    let err = TrustStore::new()
        .check_peer(&eve, "Eve", &[ec], now())
        .unwrap_err();
    assert!(
        matches!(&err, CertRejection::UnsupportedKey(t) if t.contains("elliptic-curve")),
        "{err:?}"
    );
}

fn dave() -> UserId {
    UserId::parse("dave@o.example").unwrap()
}

fn openssl_store() -> TrustStore {
    let mut store = TrustStore::new();
    let ca = cert::certificate_from_pem_or_der(&fixture("openssl-ca.pem")).unwrap();
    store.add_root("o.example", &ca).unwrap();
    store
}

fn openssl_leaf(file: &str) -> Vec<u8> {
    cert::certificate_from_pem_or_der(&fixture(file)).unwrap()
}

#[test]
fn wrong_key_usage_server_auth_only_or_no_digital_signature() {
    let store = openssl_store();
    for (file, word) in [
        ("openssl-leaf_serverauth.pem", "clientAuth"),
        ("openssl-leaf_nodigsig.pem", "digitalSignature"),
    ] {
        let err = store
            .check_peer(&dave(), "Dave", &[openssl_leaf(file)], now())
            .unwrap_err();
        assert!(
            matches!(&err, CertRejection::WrongKeyUsage(t) if t.contains(word)),
            "{file}: {err:?}"
        );
        assert!(err.to_string().starts_with("wrong key usage"));
    }
}

#[test]
fn openssl_made_ca_and_leaf_verify_and_its_crl_revokes() {
    let mut store = openssl_store();
    let leaf = openssl_leaf("openssl-leaf.pem");
    // Its chain checks out up to revocation, which needs the CRL.
    let err = store
        .check_peer(&dave(), "Dave", std::slice::from_ref(&leaf), now())
        .unwrap_err();
    assert!(
        matches!(&err, CertRejection::NoCrl(t) if t.contains("OpenSSL test root for o.example")),
        "{err:?}"
    );
    store.set_crl(&fixture("openssl-ca.crl")).unwrap();
    assert_eq!(store.crls()[0].revoked_serials, vec![vec![0x10, 0x00]]);
    assert_eq!(
        store
            .check_peer(&dave(), "Dave", &[leaf], now())
            .unwrap_err(),
        CertRejection::Revoked
    );
}

#[test]
fn a_chain_of_five_is_refused_and_four_is_accepted() {
    let root = root_b();
    let i1 = CertificateAuthority::new_intermediate(&root, key('c'), "CA 1", 30).unwrap();
    let i2 = CertificateAuthority::new_intermediate(&i1, key('d'), "CA 2", 30).unwrap();
    let i3 = CertificateAuthority::new_intermediate(&i2, key('e'), "CA 3", 30).unwrap();
    let store = store_trusting("b.example", &root);
    let leaf = bob_leaf(&i2, 15);
    let four = vec![
        leaf,
        i2.certificate_der().to_vec(),
        i1.certificate_der().to_vec(),
        root.certificate_der().to_vec(),
    ];
    // Four pass the length check (then the intermediates' CRLs are missing).
    assert!(matches!(check(&store, &four), Err(CertRejection::NoCrl(_))));
    let leaf = bob_leaf(&i3, 16);
    let five: Vec<Vec<u8>> = [
        leaf.as_slice(),
        i3.certificate_der(),
        i2.certificate_der(),
        i1.certificate_der(),
        root.certificate_der(),
    ]
    .iter()
    .map(|c| c.to_vec())
    .collect();
    let err = check(&store, &five).unwrap_err();
    assert!(
        matches!(&err, CertRejection::BadCertificate(t) if t.contains("at most 4")),
        "{err:?}"
    );
}

#[test]
fn garbage_empty_and_broken_chains_are_bad_certificates() {
    let store = TrustStore::new();
    assert!(matches!(
        check(&store, &[]),
        Err(CertRejection::BadCertificate(_))
    ));
    assert!(matches!(
        check(&store, &[b"garbage".to_vec()]),
        Err(CertRejection::BadCertificate(_))
    ));
    let mut truncated = self_signed_bob();
    truncated.truncate(truncated.len() / 2);
    assert!(matches!(
        check(&store, &[truncated]),
        Err(CertRejection::BadCertificate(_))
    ));
    // A chain whose second certificate did not issue the first.
    let unrelated = root_b().certificate_der().to_vec();
    let err = check(&store, &[self_signed_bob(), unrelated]).unwrap_err();
    assert!(
        matches!(&err, CertRejection::BadCertificate(t) if t.contains("not issued by")),
        "{err:?}"
    );
    // A forged signature from the right issuer name.
    let ca = root_b();
    let mut leaf = bob_leaf(&ca, 17);
    let last = leaf.len() - 1;
    leaf[last] ^= 1;
    let err = check(
        &store_trusting("b.example", &ca),
        &[leaf, ca.certificate_der().to_vec()],
    )
    .unwrap_err();
    assert!(
        matches!(&err, CertRejection::BadCertificate(t) if t.contains("does not verify")),
        "{err:?}"
    );
}

#[test]
fn add_root_refuses_non_cas_and_bad_domains() {
    let mut store = TrustStore::new();
    assert_eq!(
        store.add_root("b.example", &self_signed_bob()),
        Err(TrustError::NotCa)
    );
    assert_eq!(
        store.add_root("b.example", b"junk"),
        Err(TrustError::BadCertificate)
    );
    let ca = root_b();
    assert!(matches!(
        store.add_root("B.example", ca.certificate_der()),
        Err(TrustError::BadDomain(_))
    ));
    // An intermediate CA is not a root: it could carry another root's name.
    let inter = CertificateAuthority::new_intermediate(&ca, key('c'), "Issuing CA", 30).unwrap();
    assert_eq!(
        store.add_root("b.example", inter.certificate_der()),
        Err(TrustError::BadSelfSignature)
    );
    store.add_root("b.example", ca.certificate_der()).unwrap();
    store.add_root("b.example", ca.certificate_der()).unwrap();
    assert_eq!(store.roots().len(), 1);
    let fp = store.roots()[0].fingerprint;
    assert!(store.remove_root("b.example", &fp));
    assert!(store.roots().is_empty());
}

#[test]
fn a_leaf_issued_for_a_key_verifies_like_one_from_a_csr() {
    let ca = root_b();
    let k: IdentityKey = key('d');
    let request = LeafRequest::Key {
        spki_der: k.public_key_spki_der(),
        user_id: &bob(),
        name: "Bob",
    };
    let validity = Validity {
        not_before_unix: now() - 10,
        not_after_unix: now() + 100,
    };
    let leaf = ca.issue_leaf_with_validity(request, validity, 18).unwrap();
    let peer = check(&store_trusting("b.example", &ca), &[leaf]).unwrap();
    assert_eq!(peer.level, TrustLevel::Verified);
    assert_eq!(peer.not_after_unix - peer.not_before_unix, 110);
}
