//! Every certificate, CSR and CRL SixChat makes is strict DER (issue 10,
//! item 1): Python's `cryptography` (rust-asn1 underneath, which refuses
//! what DER forbids, such as a default value spelled out) reads each one and
//! every extension in it. A strict implementation of protocol.md uses such a
//! parser; what it refuses, it cannot talk to.

mod common;

use std::process::Command;

use common::{key, now, temp_dir, write};
use sixchat_pki::ca::{CertificateAuthority, LeafRequest};
use sixchat_pki::cert;
use sixchat_proto::UserId;

/// Loads each `kind:path` with `cryptography` and touches every extension
/// (parsed lazily), so a non-DER encoding anywhere is an error. Prints one
/// line per file: `ok NAME` or `FAIL NAME: why`.
const STRICT_READER: &str = r#"
import sys
from cryptography import x509
for arg in sys.argv[1:]:
    kind, path = arg.split(":", 1)
    data = open(path, "rb").read()
    try:
        if kind == "cert":
            item = x509.load_der_x509_certificate(data)
            _ = [e.value for e in item.extensions]
            _ = (item.subject, item.issuer, item.public_key(), item.serial_number)
        elif kind == "csr":
            item = x509.load_der_x509_csr(data)
            _ = [e.value for e in item.extensions]
            _ = (item.subject, item.public_key(), item.is_signature_valid)
        else:
            item = x509.load_der_x509_crl(data)
            _ = [e.value for e in item.extensions]
            _ = [(r.serial_number, [e.value for e in r.extensions]) for r in item]
            _ = (item.issuer, item.next_update_utc, item.last_update_utc)
        print("ok", path)
    except Exception as e:
        print("FAIL", path + ":", repr(e))
"#;

fn strict_parser_available() -> bool {
    Command::new("python3")
        .args(["-c", "import cryptography.x509"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
#[allow(clippy::too_many_lines)] // every kind of object we make, handed to the same parser in turn
fn a_strict_der_parser_reads_everything_we_make() {
    assert!(
        strict_parser_available(),
        "this test needs python3 with the `cryptography` package (pip install cryptography); .ci/run installs it"
    );
    let dir = temp_dir();
    let alice = UserId::parse("alice@example.org").unwrap();
    let root = CertificateAuthority::new_root("example.org", key('b'), 3650).unwrap();
    let intermediate =
        CertificateAuthority::new_intermediate(&root, key('c'), "Issuing CA", 365).unwrap();
    let csr = cert::csr_for(&key('a'), &alice, "Alice A").unwrap();
    let spki = key('d').public_key_spki_der().to_vec();
    let made: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "cert",
            "self-signed-identity",
            cert::self_signed_identity(&key('a'), &alice, "Alice A", 30).unwrap(),
        ),
        ("csr", "csr", csr.clone()),
        ("cert", "root", root.certificate_der().to_vec()),
        (
            "cert",
            "intermediate",
            intermediate.certificate_der().to_vec(),
        ),
        (
            "cert",
            "leaf-from-csr",
            root.issue_leaf(LeafRequest::Csr(&csr), 365, 7).unwrap(),
        ),
        (
            "cert",
            "leaf-for-key",
            root.issue_leaf(
                LeafRequest::Key {
                    spki_der: &spki,
                    user_id: &alice,
                    name: "Alice A",
                },
                365,
                8,
            )
            .unwrap(),
        ),
        (
            "cert",
            "dir-tls-server",
            root.issue_server("dir.example.org", &spki, 365, 9).unwrap(),
        ),
        (
            "cert",
            "dir-tls-server-ip",
            root.issue_server("127.0.0.1", &spki, 365, 10).unwrap(),
        ),
        (
            "crl",
            "crl-empty",
            root.issue_crl(&[], now() - 60, now() + 86_400).unwrap(),
        ),
        (
            "crl",
            "crl-revoking",
            root.issue_crl(&[7, 1 << 40], now() - 60, now() + 86_400)
                .unwrap(),
        ),
    ];
    let args: Vec<String> = made
        .iter()
        .map(|(kind, name, der)| format!("{kind}:{}", write(&dir, &format!("{name}.der"), der)))
        .collect();
    let out = Command::new("python3")
        .arg("-c")
        .arg(STRICT_READER)
        .args(&args)
        .output()
        .expect("python3 runs");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failed: Vec<&str> = report.lines().filter(|l| !l.starts_with("ok ")).collect();
    assert!(failed.is_empty(), "not strict DER:\n{}", failed.join("\n"));
    assert_eq!(report.lines().count(), made.len(), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}
