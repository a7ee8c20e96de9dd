//! PKCS#12 import of files made by OpenSSL and keytool (see
//! fixtures/make-fixtures.sh), its refusals, and export read back by OpenSSL.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{fixture, key, openssl, temp_dir, write};
use sixchat_pki::cert::{self, CertInfo};
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::pkcs12::{self, MAX_KDF_ITERATIONS, Pkcs12Error};
use sixchat_pki::protect::{self, ProtectError};
use sixchat_proto::UserId;

const PASS: &str = "sixchat-test";

fn import_identity(file: &str, user: &str) {
    let imported = pkcs12::import(&fixture(file), PASS).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(imported.key.bits(), 2048);
    assert_eq!(imported.chain.len(), 1, "{file}");
    let info = CertInfo::parse(&imported.chain[0]).unwrap();
    assert_eq!(info.user_id.as_str(), user);
    assert!(info.is_self_signed);
    // The leaf is the key's certificate.
    let leaf = x509_spki(&imported.chain[0]);
    assert_eq!(leaf, imported.key.public_key_spki_der());
}

fn x509_spki(der: &[u8]) -> Vec<u8> {
    // The certificate's SubjectPublicKeyInfo, extracted by OpenSSL.
    let dir = temp_dir();
    let path = write(&dir, "c.der", der);
    let (ok, _) = openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        &path,
        "-noout",
        "-pubkey",
        "-out",
        &format!("{path}.pub"),
    ]);
    assert!(ok);
    let (ok, _) = openssl(&[
        "pkey",
        "-pubin",
        "-in",
        &format!("{path}.pub"),
        "-outform",
        "DER",
        "-out",
        &format!("{path}.spki"),
    ]);
    assert!(ok);
    std::fs::read(format!("{path}.spki")).unwrap()
}

#[test]
fn imports_openssl3_default_pbes2_aes256() {
    import_identity("openssl-default.p12", "alice@a.example");
}

#[test]
fn imports_openssl_legacy_3des_rc2() {
    import_identity("openssl-legacy.p12", "alice@a.example");
}

#[test]
fn imports_java_keytool_pkcs12() {
    import_identity("keytool.p12", "bob@b.example");
}

#[test]
fn wrong_password_is_named_as_such() {
    for file in ["openssl-default.p12", "openssl-legacy.p12", "keytool.p12"] {
        let err = pkcs12::import(&fixture(file), "not the password").unwrap_err();
        assert_eq!(err, Pkcs12Error::WrongPassword, "{file}");
        assert_eq!(err.to_string(), "wrong password for this PKCS#12 file");
    }
}

#[test]
fn an_ec_key_is_an_unsupported_algorithm() {
    let err = pkcs12::import(&fixture("ec.p12"), PASS).unwrap_err();
    assert!(
        matches!(err, Pkcs12Error::UnsupportedAlgorithm(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("elliptic-curve"), "{err}");
}

#[test]
fn a_certificate_only_file_has_no_private_key() {
    assert_eq!(
        pkcs12::import(&fixture("cert-only.p12"), PASS).unwrap_err(),
        Pkcs12Error::NoPrivateKey
    );
}

#[test]
fn two_private_keys_are_refused() {
    assert_eq!(
        pkcs12::import(&fixture("two-keys.p12"), PASS).unwrap_err(),
        Pkcs12Error::SeveralPrivateKeys(2)
    );
}

#[test]
fn other_files_are_not_pkcs12() {
    let pem = fixture("openssl-ca.pem");
    let der = cert::certificate_from_pem_or_der(&pem).unwrap();
    for bytes in [
        &b""[..],
        b"hello world",
        &pem,
        &der,
        &fixture("keys/rsa2048-a.pk8"),
    ] {
        assert_eq!(
            pkcs12::import(bytes, PASS).unwrap_err(),
            Pkcs12Error::NotPkcs12
        );
    }
}

#[test]
fn a_huge_iteration_count_is_refused_before_any_kdf_runs() {
    let started = Instant::now();
    let err = pkcs12::import(&fixture("huge-iterations.p12"), PASS).unwrap_err();
    assert_eq!(
        err,
        Pkcs12Error::TooManyIterations {
            found: 20_000_000,
            max: MAX_KDF_ITERATIONS
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("20000000"), "{err}");
}

/// One export shared by the tests below (600 000 iterations cost time).
fn exported() -> &'static (Vec<u8>, Vec<u8>) {
    static EXPORTED: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    EXPORTED.get_or_init(|| {
        let key = key('a');
        let user = UserId::parse("alice@a.example").unwrap();
        let leaf = cert::self_signed_identity(&key, &user, "Alice", 30).unwrap();
        let p12 =
            protect::seal_identity(&key, std::slice::from_ref(&leaf), "correct horse").unwrap();
        (p12, leaf)
    })
}

#[test]
fn export_is_read_back_by_openssl_with_pbes2_aes256_sha256_600000() {
    let (p12, _) = exported();
    let dir = temp_dir();
    let path = write(&dir, "out.p12", p12);
    let (ok, text) = openssl(&[
        "pkcs12",
        "-in",
        &path,
        "-info",
        "-noout",
        "-passin",
        "pass:correct horse",
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("MAC: sha256, Iteration 600000"), "{text}");
    assert!(
        text.contains("PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF hmacWithSHA256"),
        "{text}"
    );
    assert!(text.contains("Shrouded Keybag"), "{text}");
    let (ok, text) = openssl(&[
        "pkcs12",
        "-in",
        &path,
        "-info",
        "-noout",
        "-passin",
        "pass:wrong",
    ]);
    assert!(!ok, "{text}");
}

#[test]
fn export_round_trips_through_import() {
    let (p12, leaf) = exported();
    let opened = protect::open_identity(p12, "correct horse").unwrap();
    assert_eq!(&opened.chain, std::slice::from_ref(leaf));
    assert_eq!(
        opened.key.public_key_spki_der(),
        key('a').public_key_spki_der()
    );
    assert_eq!(
        protect::open_identity(p12, "Correct horse").unwrap_err(),
        ProtectError::WrongPassphrase
    );
    assert_eq!(
        ProtectError::WrongPassphrase.to_string(),
        "wrong passphrase"
    );
}

#[test]
fn export_refuses_a_chain_for_another_key_and_an_empty_passphrase() {
    let (_, leaf) = exported();
    let other: IdentityKey = key('b');
    assert!(matches!(
        pkcs12::export(&other, std::slice::from_ref(leaf), "x"),
        Err(Pkcs12Error::Export(_))
    ));
    assert!(matches!(
        pkcs12::export(&other, &[], "x"),
        Err(Pkcs12Error::Export(_))
    ));
    assert_eq!(
        protect::seal_identity(&key('a'), std::slice::from_ref(leaf), ""),
        Err(ProtectError::EmptyPassphrase)
    );
}
