//! PKCS#12 import of files made by OpenSSL, Java keytool, GnuTLS certtool and
//! NSS pk12util (Firefox, Thunderbird; BER) (see fixtures/make-fixtures.sh),
//! its refusals, and export read back by OpenSSL.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{fixture, key, openssl, temp_dir, write};
use sixchat_pki::cert::{self, CertInfo};
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::pkcs12::{self, MAX_KDF_ITERATIONS, Pkcs12Error};
use sixchat_pki::protect::{self, ProtectError};
use sixchat_proto::UserId;
use x509_parser::prelude::{FromDer as _, X509Certificate};

const PASS: &str = "sixchat-test";

fn import_identity(file: &str, user: &str) {
    import_chain(file, user, 1);
}

/// Imports `file` and checks its identity: an RSA-2048 key, the key's
/// certificate for `user` first, then `chain_len - 1` issuers, each the
/// issuer of the one before, ending at a self-signed certificate.
fn import_chain(file: &str, user: &str, chain_len: usize) {
    let imported = pkcs12::import(&fixture(file), PASS).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(imported.key.bits(), 2048);
    assert_eq!(imported.chain.len(), chain_len, "{file}");
    let info = CertInfo::parse(&imported.chain[0]).unwrap();
    assert_eq!(info.user_id.as_str(), user);
    assert_eq!(info.is_self_signed, chain_len == 1, "{file}");
    // The leaf is the key's certificate.
    let leaf = x509_spki(&imported.chain[0]);
    assert_eq!(leaf, imported.key.public_key_spki_der());
    let certs: Vec<_> = imported
        .chain
        .iter()
        .map(|der| X509Certificate::from_der(der).unwrap().1)
        .collect();
    for pair in certs.windows(2) {
        assert_eq!(
            pair[0].issuer().as_raw(),
            pair[1].subject().as_raw(),
            "{file}"
        );
    }
    let top = certs.last().unwrap();
    assert_eq!(top.issuer().as_raw(), top.subject().as_raw(), "{file}");
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
fn imports_openssl_explicit_aes128_key_aes192_certs() {
    import_identity("openssl-aes.p12", "alice@a.example");
}

#[test]
fn imports_openssl_with_a_sha512_mac() {
    import_identity("openssl-sha512-mac.p12", "alice@a.example");
}

#[test]
fn imports_openssl_leaf_with_intermediate_and_root() {
    import_chain("openssl-chain.p12", "carol@c.example", 3);
}

#[test]
fn imports_gnutls_certtool_pkcs12() {
    import_identity("gnutls.p12", "alice@a.example");
}

#[test]
fn imports_nss_pk12util_default_ber() {
    import_identity("nss-default.p12", "alice@a.example");
}

#[test]
fn imports_nss_pk12util_legacy_3des_rc2_sha1_mac() {
    import_identity("nss-legacy.p12", "alice@a.example");
}

#[test]
fn imports_nss_pk12util_aes256_sha512() {
    import_identity("nss-aes256-sha512.p12", "alice@a.example");
}

#[test]
fn imports_nss_pk12util_leaf_with_intermediate_and_root() {
    import_chain("nss-chain.p12", "carol@c.example", 3);
}

#[test]
fn wrong_password_is_named_as_such() {
    for file in [
        "openssl-default.p12",
        "openssl-legacy.p12",
        "openssl-sha512-mac.p12",
        "keytool.p12",
        "gnutls.p12",
        "nss-default.p12",
        "nss-legacy.p12",
        "nss-aes256-sha512.p12",
    ] {
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

/// `bytes` with the `nth` (0-based) occurrence of `from` replaced by `to` (same length).
fn patched(bytes: &[u8], from: &[u8], to: &[u8], nth: usize) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from)
        .nth(nth)
        .unwrap_or_else(|| panic!("occurrence {nth} of {from:02x?} not found"))
        .0;
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

/// INTEGER 600000, the count NSS 3.87 writes for the key, the certificates and the MAC.
const NSS_COUNT: &[u8] = &[0x02, 0x03, 0x09, 0x27, 0xc0];
/// INTEGER 8388607.
const HUGE_COUNT: &[u8] = &[0x02, 0x03, 0x7f, 0xff, 0xff];

#[test]
fn a_huge_iteration_count_in_an_nss_file_is_refused_before_any_kdf_runs() {
    let nss = fixture("nss-default.p12");
    assert_eq!(
        nss.windows(NSS_COUNT.len())
            .filter(|w| *w == NSS_COUNT)
            .count(),
        3,
        "key bag, encrypted certificates, MAC"
    );
    // 0: the key bag's PBKDF2 and 1: the encrypted certificates' (inside the MACed BER
    // content); 2: the MAC's own count.
    for nth in [0, 1, 2] {
        let started = Instant::now();
        let err = pkcs12::import(&patched(&nss, NSS_COUNT, HUGE_COUNT, nth), PASS).unwrap_err();
        assert_eq!(
            err,
            Pkcs12Error::TooManyIterations {
                found: 8_388_607,
                max: MAX_KDF_ITERATIONS
            },
            "count {nth}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_tampered_file_is_refused() {
    // The key bag's friendlyName "alice" (BMPString), outside any encryption:
    // only the MAC protects it, and the file still parses after the change.
    let alice = [0x1e, 0x0a, 0, b'a', 0, b'l', 0, b'i', 0, b'c', 0, b'e'];
    let mallory = [0x1e, 0x0a, 0, b'm', 0, b'a', 0, b'l', 0, b'o', 0, b'r'];
    for file in ["nss-default.p12", "openssl-default.p12"] {
        let tampered = patched(&fixture(file), &alice, &mallory, 0);
        assert_eq!(
            pkcs12::import(&tampered, PASS).unwrap_err(),
            Pkcs12Error::WrongPassword,
            "{file}"
        );
    }
    // The stored MAC itself (before the salt, the count and the closing end-of-contents).
    let mut nss = fixture("nss-default.p12");
    let mac_end = nss.len() - 2 - 5 - (2 + 16);
    nss[mac_end - 1] ^= 1;
    assert_eq!(
        pkcs12::import(&nss, PASS).unwrap_err(),
        Pkcs12Error::WrongPassword
    );
}

/// pkcs7-data
const DATA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
];

/// A PFX framed as NSS frames it (indefinite lengths, the authSafe's OCTET
/// STRING in chunks) around `auth_safe`, without a MAC.
fn ber_pfx(auth_safe: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30, 0x80, 0x02, 0x01, 0x03, 0x30, 0x80];
    out.extend_from_slice(DATA);
    out.extend_from_slice(&[0xa0, 0x80, 0x24, 0x80]);
    for chunk in auth_safe.chunks(127) {
        out.extend_from_slice(&[0x04, u8::try_from(chunk.len()).unwrap()]);
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&[0; 8]);
    out
}

fn assert_refused_quickly(what: &str, bytes: &[u8], expected: fn(&Pkcs12Error) -> bool) {
    let started = Instant::now();
    let err = pkcs12::import(bytes, PASS).unwrap_err();
    assert!(expected(&err), "{what}: {err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{what}: took {:?}",
        started.elapsed()
    );
}

#[test]
fn hostile_ber_around_the_pfx_is_not_pkcs12() {
    let nss = fixture("nss-default.p12");
    let mut many_chunks = nss[..22].to_vec(); // PFX, version, authSafe, [0], constructed OCTET STRING
    for _ in 0..200_000 {
        many_chunks.extend_from_slice(&[0x04, 0x01, 0x30]);
    }
    many_chunks.extend_from_slice(&[0; 8]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "100 000 nested indefinite SEQUENCEs",
            [0x30, 0x80].repeat(100_000),
        ),
        (
            "an indefinite length that never ends",
            nss[..nss.len() - 2].to_vec(),
        ),
        (
            "a length beyond the buffer",
            [&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff][..], &nss[2..]].concat(),
        ),
        (
            "a chunk length beyond the buffer",
            patched(
                &nss,
                &[0x04, 0x82, 0x0a, 0x0b],
                &[0x04, 0x84, 0x7f, 0xff],
                0,
            ),
        ),
        (
            "a chunk that is itself constructed",
            ber_pfx(&[0x30, 0x00])
                .splice(22..22, [0x24, 0x80, 0, 0])
                .collect(),
        ),
        (
            "an end-of-contents in a definite SEQUENCE",
            vec![0x30, 0x02, 0, 0],
        ),
        (
            "an indefinite length on a primitive",
            vec![0x30, 0x80, 0x02, 0x80, 0x03, 0, 0, 0, 0],
        ),
    ];
    for (what, bytes) in cases {
        assert_refused_quickly(what, &bytes, |e| *e == Pkcs12Error::NotPkcs12);
    }
    // 200 000 one-byte chunks reassemble into 200 000 bytes that are no AuthenticatedSafe.
    assert_refused_quickly("200 000 one-byte chunks", &many_chunks, |e| {
        matches!(e, Pkcs12Error::Malformed(_))
    });
    // Every truncation of a real NSS file is refused, none panics.
    let started = Instant::now();
    for len in 0..nss.len() {
        assert_eq!(
            pkcs12::import(&nss[..len], PASS).unwrap_err(),
            Pkcs12Error::NotPkcs12,
            "{len} bytes"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let too_large = vec![0x30; pkcs12::MAX_IMPORT_BYTES + 1];
    assert_refused_quickly("a file over the size cap", &too_large, |e| {
        matches!(e, Pkcs12Error::TooLarge { .. })
    });
}

#[test]
fn hostile_ber_inside_the_authenticated_safe_is_malformed() {
    // The frame is read (as far as finding that this PFX has no MAC, which
    // is refused before anything inside it would be decrypted).
    assert_eq!(
        pkcs12::import(&ber_pfx(&[0x30, 0x00]), PASS).unwrap_err(),
        Pkcs12Error::NoMac
    );
    let data_info =
        |content: &[u8]| [&[0x30, 0x80][..], DATA, &[0xa0, 0x80], content, &[0; 4]].concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "100 000 nested indefinite SEQUENCEs",
            [0x30, 0x80].repeat(100_000),
        ),
        (
            "an indefinite length that never ends",
            [
                &[0x30, 0x80][..],
                &data_info(&[0x24, 0x80, 0x04, 0x01, 0x30]),
            ]
            .concat(),
        ),
        (
            "a length beyond the buffer",
            vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x00],
        ),
        (
            "a recursively constructed OCTET STRING",
            [
                &[0x30, 0x80][..],
                &data_info(&[0x24, 0x80, 0x24, 0x80, 0x04, 0x01, 0x30, 0, 0, 0, 0]),
                &[0, 0],
            ]
            .concat(),
        ),
        (
            "a definite-length constructed OCTET STRING",
            [
                &[0x30, 0x80][..],
                &data_info(&[0x24, 0x03, 0x04, 0x01, 0x30]),
                &[0, 0],
            ]
            .concat(),
        ),
    ];
    for (what, auth_safe) in cases {
        assert_refused_quickly(what, &ber_pfx(&auth_safe), |e| {
            matches!(e, Pkcs12Error::Malformed(_))
        });
    }
    // Near the file size cap: an envelopedData holding 58 nested indefinite
    // SEQUENCEs around 400 000 NULLs is read in linear time, then refused
    // (for having no MAC, before its content type is looked at).
    let enveloped = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03,
    ];
    let wide = [
        &[0x30, 0x80, 0x30, 0x80][..],
        &enveloped,
        &[0xa0, 0x80],
        &[0x30, 0x80].repeat(58),
        &[0x05, 0x00].repeat(400_000),
        &[0, 0].repeat(58 + 3),
    ]
    .concat();
    let wide = ber_pfx(&wide);
    assert!(wide.len() < pkcs12::MAX_IMPORT_BYTES);
    assert_refused_quickly("a wide, deep envelopedData", &wide, |e| {
        *e == Pkcs12Error::NoMac
    });
}

/// One export shared by the tests below (600 000 iterations cost time).
fn exported() -> &'static (Vec<u8>, Vec<u8>) {
    static EXPORTED: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    EXPORTED.get_or_init(|| {
        let key = key('a');
        let user = UserId::parse("alice@a.example").unwrap();
        let leaf = cert::self_signed_identity(&key, &user, "Alice", 30).unwrap();
        let p12 = protect::seal_identity(&key, std::slice::from_ref(&leaf), &[], "correct horse")
            .unwrap();
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
        protect::seal_identity(&key('a'), std::slice::from_ref(leaf), &[], ""),
        Err(ProtectError::EmptyPassphrase)
    );
}

#[test]
fn a_file_without_a_mac_is_refused_whatever_the_password() {
    // Made from the default fixture by OpenSSL with `-nomac`: without a MAC a
    // wrong password is noticed only after every bag's key derivation, and
    // nothing shows that the file is as its owner wrote it.
    let dir = temp_dir();
    let p12 = write(&dir, "in.p12", &fixture("openssl-default.p12"));
    let pem = dir.join("plain.pem").to_string_lossy().into_owned();
    let nomac = dir.join("nomac.p12").to_string_lossy().into_owned();
    let pass = format!("pass:{PASS}");
    let (ok, out) = openssl(&[
        "pkcs12", "-in", &p12, "-passin", &pass, "-nodes", "-out", &pem,
    ]);
    assert!(ok, "{out}");
    let (ok, out) = openssl(&[
        "pkcs12", "-export", "-in", &pem, "-nomac", "-passout", &pass, "-out", &nomac,
    ]);
    assert!(ok, "{out}");
    let bytes = std::fs::read(&nomac).unwrap();
    for password in [PASS, "not the password"] {
        let err = pkcs12::import(&bytes, password).unwrap_err();
        assert_eq!(err, Pkcs12Error::NoMac, "{password}");
        assert!(err.to_string().contains("no password MAC"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
