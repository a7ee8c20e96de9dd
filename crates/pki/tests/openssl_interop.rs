//! What we make, OpenSSL accepts (run as a child process); what OpenSSL
//! makes, we read.

mod common;

use common::{fixture, key, openssl, temp_dir, write};
use sixchat_pki::ca::{CaError, CertificateAuthority, LeafRequest};
use sixchat_pki::cert::{self, CertInfo};
use sixchat_proto::UserId;

fn alice() -> UserId {
    UserId::parse("alice@a.example").unwrap()
}

#[test]
fn openssl_reads_our_self_signed_identity() {
    let der = cert::self_signed_identity(&key('a'), &alice(), "Alice", 30).unwrap();
    let dir = temp_dir();
    let path = write(&dir, "alice.der", &der);
    let (ok, text) = openssl(&["x509", "-inform", "DER", "-in", &path, "-noout", "-text"]);
    assert!(ok, "{text}");
    for expected in [
        "Signature Algorithm: sha256WithRSAEncryption",
        "Subject: CN = Alice",
        "Public-Key: (2048 bit)",
        "X509v3 Subject Alternative Name: \n                email:alice@a.example",
        "X509v3 Key Usage: critical\n                Digital Signature\n",
        "X509v3 Extended Key Usage: \n                TLS Web Client Authentication, E-mail Protection\n",
        "X509v3 Subject Key Identifier",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // An end entity leaves basicConstraints out (DER forbids spelling out
    // its default, cA FALSE).
    assert!(!text.contains("Basic Constraints"), "{text}");
    // And it verifies as self-signed.
    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        &pem_file(&dir, "ca.pem", &der),
        &pem_file(&dir, "leaf.pem", &der),
    ]);
    assert!(ok, "{text}");
}

fn pem_file(dir: &std::path::Path, name: &str, der: &[u8]) -> String {
    write(dir, name, cert::to_pem("CERTIFICATE", der).as_bytes())
}

#[test]
fn openssl_verifies_our_csr() {
    let csr = cert::csr_for(&key('a'), &alice(), "Alice").unwrap();
    let dir = temp_dir();
    let path = write(&dir, "alice.csr", &csr);
    let (ok, text) = openssl(&[
        "req", "-inform", "DER", "-in", &path, "-verify", "-noout", "-text",
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("verify OK"), "{text}");
    assert!(
        text.contains("Subject: CN = Alice") && text.contains("email:alice@a.example"),
        "{text}"
    );
    // A tampered request does not verify.
    let mut bad = csr.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let path = write(&dir, "bad.csr", &bad);
    let (ok, text) = openssl(&["req", "-inform", "DER", "-in", &path, "-verify", "-noout"]);
    assert!(!ok || text.contains("verify failure"), "{text}");
}

#[test]
fn openssl_verifies_our_ca_chain_and_crl() {
    let root = CertificateAuthority::new_root("a.example", key('b'), 365).unwrap();
    let csr = cert::csr_for(&key('a'), &alice(), "Alice").unwrap();
    let leaf = root.issue_leaf(LeafRequest::Csr(&csr), 30, 77).unwrap();
    let dir = temp_dir();
    let root_pem = pem_file(&dir, "root.pem", root.certificate_der());
    let (ok, text) = openssl(&["x509", "-in", &root_pem, "-noout", "-text"]);
    assert!(ok, "{text}");
    for expected in [
        "CN = SixChat root for a.example",
        "CA:TRUE",
        "Certificate Sign, CRL Sign",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let leaf_pem = pem_file(&dir, "leaf.pem", &leaf);
    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        &root_pem,
        "-purpose",
        "sslclient",
        &leaf_pem,
    ]);
    assert!(ok, "{text}");
    let info = CertInfo::parse(&leaf).unwrap();
    assert_eq!(
        (info.user_id, info.name.as_str(), info.serial_hex.as_str()),
        (alice(), "Alice", "4d")
    );
    assert!(!info.is_self_signed);

    let crl = root
        .issue_crl(&[77], common::now() - 60, common::now() + 3600)
        .unwrap();
    let crl_path = write(&dir, "root.crl", &crl);
    let (ok, text) = openssl(&[
        "crl", "-inform", "DER", "-in", &crl_path, "-CAfile", &root_pem, "-noout", "-text",
    ]);
    assert!(
        ok && text.contains("verify OK") && text.contains("Serial Number: 4D"),
        "{text}"
    );
    let (ok, text) = openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        &root_pem,
        "-CRLfile",
        &pem_crl(&dir, &crl),
        &leaf_pem,
    ]);
    assert!(!ok && text.contains("certificate revoked"), "{text}");
}

fn pem_crl(dir: &std::path::Path, der: &[u8]) -> String {
    write(dir, "crl.pem", cert::to_pem("X509 CRL", der).as_bytes())
}

#[test]
fn a_reloaded_ca_issues_certificates_that_chain_to_the_original_root() {
    let root = CertificateAuthority::new_root("a.example", key('b'), 365).unwrap();
    let reloaded =
        CertificateAuthority::from_parts("a.example", key('b'), root.certificate_der()).unwrap();
    let spki = key('a').public_key_spki_der().to_vec();
    let leaf = reloaded
        .issue_leaf(
            LeafRequest::Key {
                spki_der: &spki,
                user_id: &alice(),
                name: "Alice",
            },
            30,
            5,
        )
        .unwrap();
    let dir = temp_dir();
    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        &pem_file(&dir, "root.pem", root.certificate_der()),
        &pem_file(&dir, "leaf.pem", &leaf),
    ]);
    assert!(ok, "{text}");
    assert!(matches!(
        CertificateAuthority::from_parts("a.example", key('c'), root.certificate_der()),
        Err(CaError::KeyMismatch)
    ));
}

#[test]
fn the_ca_checks_csr_signatures_names_and_domain() {
    let root = CertificateAuthority::new_root("a.example", key('b'), 365).unwrap();
    let mut csr = cert::csr_for(&key('a'), &alice(), "Alice").unwrap();
    let last = csr.len() - 1;
    csr[last] ^= 1;
    assert_eq!(
        root.issue_leaf(LeafRequest::Csr(&csr), 30, 1),
        Err(CaError::CsrSignature)
    );
    assert_eq!(
        root.issue_leaf(LeafRequest::Csr(b"junk"), 30, 1),
        Err(CaError::BadCsr)
    );
    let bob = UserId::parse("bob@b.example").unwrap();
    let csr = cert::csr_for(&key('a'), &bob, "Bob").unwrap();
    assert!(matches!(
        root.issue_leaf(LeafRequest::Csr(&csr), 30, 1),
        Err(CaError::WrongDomain { .. })
    ));
    // An OpenSSL CSR without a subjectAltName names no UserID.
    let dir = temp_dir();
    let key_path = common::fixture_path("keys/rsa2048-c.pk8");
    let csr_path = dir.join("dave.csr").to_string_lossy().into_owned();
    let (ok, text) = openssl(&[
        "req",
        "-new",
        "-key",
        &key_path.to_string_lossy(),
        "-keyform",
        "DER",
        "-subj",
        "/CN=Dave",
        "-outform",
        "DER",
        "-out",
        &csr_path,
    ]);
    assert!(ok, "{text}");
    let csr = std::fs::read(&csr_path).unwrap();
    assert!(matches!(
        root.issue_leaf(LeafRequest::Csr(&csr), 30, 1),
        Err(CaError::CsrNames(_))
    ));
}

#[test]
fn cert_info_reads_an_openssl_issued_certificate() {
    let der = cert::certificate_from_pem_or_der(&fixture("openssl-leaf.pem")).unwrap();
    let info = CertInfo::parse(&der).unwrap();
    assert_eq!(info.user_id.as_str(), "dave@o.example");
    assert_eq!(info.name, "Dave");
    assert_eq!(info.serial_hex, "1000");
    assert_eq!(info.key_bits, 2048);
    assert!(!info.is_self_signed);
    assert!(
        info.issuer.contains("OpenSSL test root for o.example"),
        "{}",
        info.issuer
    );
    let (ok, text) = openssl(&[
        "x509",
        "-in",
        &common::fixture_path("openssl-leaf.pem").to_string_lossy(),
        "-noout",
        "-fingerprint",
        "-sha256",
        "-ext",
        "subjectKeyIdentifier",
    ]);
    assert!(ok, "{text}");
    let colons = text
        .lines()
        .find_map(|l| l.strip_prefix("sha256 Fingerprint="))
        .unwrap()
        .to_lowercase();
    assert_eq!(colons.replace(':', ""), info.fingerprint.to_hex());
    let ski = info.subject_key_id_hex.unwrap().to_uppercase();
    assert!(text.replace(':', "").contains(&ski), "{text}");
    // A CA certificate names no UserID.
    let ca = cert::certificate_from_pem_or_der(&fixture("openssl-ca.pem")).unwrap();
    assert_eq!(CertInfo::parse(&ca), Err(cert::CertError::NoUserId));
}
