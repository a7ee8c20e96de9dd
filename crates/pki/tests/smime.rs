//! S/MIME (mail.md): what we write, we and OpenSSL read (decrypt, then
//! verify with the domain root as the only anchor and without `-purpose
//! any`); what OpenSSL writes (PKCS#1 v1.5 and OAEP key transport, CBC and
//! GCM, detached and opaque signatures, streamed BER), we read; and bad
//! input gets a status in words.

mod common;

use common::{key, openssl, temp_dir, write};
use sixchat_pki::ca::{CertificateAuthority, LeafRequest};
use sixchat_pki::cert;
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::smime::{
    self, Attachment, Cipher, DecryptWith, Draft, EncryptTo, Encryption, Party, Reading, SignWith,
    Signature,
};
use sixchat_proto::UserId;

struct Person {
    identity: IdentityKey,
    chain: Vec<Vec<u8>>,
    encryption: IdentityKey,
    encryption_cert: Vec<u8>,
}

struct World {
    root_der: Vec<u8>,
    alice: Person,
    bob: Person,
}

fn person(
    ca: &CertificateAuthority,
    user: &str,
    name: &str,
    keys: (char, char),
    serial: u64,
) -> Person {
    let user_id = UserId::parse(user).unwrap();
    let identity = key(keys.0);
    let encryption = key(keys.1);
    let leaf = ca
        .issue_leaf(
            LeafRequest::Key {
                spki_der: identity.public_key_spki_der(),
                user_id: &user_id,
                name,
            },
            30,
            serial,
        )
        .unwrap();
    let encryption_cert = ca
        .issue_encryption(
            LeafRequest::Key {
                spki_der: encryption.public_key_spki_der(),
                user_id: &user_id,
                name,
            },
            30,
            serial + 1,
        )
        .unwrap();
    Person {
        identity,
        chain: vec![leaf, ca.certificate_der().to_vec()],
        encryption,
        encryption_cert,
    }
}

fn world() -> World {
    let ca = CertificateAuthority::new_root("a.example", key('a'), 60).unwrap();
    World {
        root_der: ca.certificate_der().to_vec(),
        alice: person(&ca, "alice@a.example", "Alice", ('b', 'c'), 10),
        bob: person(&ca, "bob@a.example", "Bob", ('d', 'e'), 20),
    }
}

fn draft() -> Draft {
    Draft {
        from: Party {
            address: "alice@a.example".into(),
            name: Some("Alice".into()),
        },
        to: vec![Party {
            address: "bob@a.example".into(),
            name: Some("Bob".into()),
        }],
        cc: vec![],
        subject: "Quarterly figures: private".into(),
        body: "Hello Bob,\nthe numbers are attached. Grüße!\n".into(),
        attachments: vec![Attachment {
            name: "figures.bin".into(),
            content_type: "application/octet-stream".into(),
            data: (0..=255u8).cycle().take(70_000).collect(),
        }],
        message_id: "m1.alice@a.example".into(),
        in_reply_to: None,
        date_unix: 1_790_000_000,
    }
}

fn signed_by(person: &Person) -> SignWith<'_> {
    SignWith {
        key: &person.identity,
        chain: &person.chain,
        encryption_certificate: Some(&person.encryption_cert),
    }
}

fn keys_of(person: &Person) -> [DecryptWith<'_>; 1] {
    [DecryptWith {
        key: &person.encryption,
        certificate: &person.encryption_cert,
    }]
}

fn to_alice_and_bob(w: &World, cipher: Cipher) -> Vec<u8> {
    let certificates = [
        w.bob.encryption_cert.clone(),
        w.alice.encryption_cert.clone(),
    ];
    smime::compose(
        &draft(),
        Some(&signed_by(&w.alice)),
        Some(&EncryptTo {
            certificates: &certificates,
            cipher,
        }),
    )
    .unwrap()
}

fn assert_good(reading: &Reading, w: &World, cipher: &'static str) {
    assert_eq!(
        reading.encryption,
        Encryption::Decrypted { cipher },
        "{reading:?}"
    );
    let Signature::Valid(signer) = &reading.signature else {
        panic!("not a valid signature: {:?}", reading.signature);
    };
    assert_eq!(signer.chain[0], w.alice.chain[0]);
    assert_eq!(
        signer.encryption_certificate.as_ref(),
        Some(&w.alice.encryption_cert)
    );
    assert!(signer.offers_gcm);
    assert_eq!(signer.signing_time_unix, Some(1_790_000_000));
    assert!(reading.protected_headers);
    let d = draft();
    assert_eq!(reading.headers.subject.as_deref(), Some(d.subject.as_str()));
    assert_eq!(
        reading.headers.from.as_ref().map(|p| p.address.as_str()),
        Some("alice@a.example")
    );
    assert_eq!(reading.text.replace("\r\n", "\n"), d.body);
    assert_eq!(reading.attachments.len(), 1);
    assert_eq!(reading.attachments[0].name, "figures.bin");
    assert_eq!(reading.attachments[0].data, d.attachments[0].data);
}

#[test]
fn we_read_what_we_write_and_only_the_recipients_can() {
    let w = world();
    for (cipher, name) in [(Cipher::Cbc, "AES-CBC"), (Cipher::Gcm, "AES-GCM")] {
        let mail = to_alice_and_bob(&w, cipher);
        let text = String::from_utf8_lossy(&mail);
        assert!(
            text.contains("Subject: [...]"),
            "the outer subject is neutral"
        );
        assert!(!text.contains("Quarterly"), "the subject travels encrypted");
        assert_good(&smime::read(&mail, &keys_of(&w.bob)), &w, name);
        // The sender's own copy (Sent) opens with her encryption key.
        assert_good(&smime::read(&mail, &keys_of(&w.alice)), &w, name);
        // Bob's identity key is not a recipient: not for us.
        let wrong = [DecryptWith {
            key: &w.bob.identity,
            certificate: &w.bob.chain[0],
        }];
        assert_eq!(smime::read(&mail, &wrong).encryption, Encryption::NotForUs);
    }
}

/// PEM files for OpenSSL: a certificate and a PKCS#8 key.
fn pem_pair(
    dir: &std::path::Path,
    name: &str,
    cert_der: &[u8],
    key: &IdentityKey,
) -> (String, String) {
    (
        write(
            dir,
            &format!("{name}.pem"),
            cert::to_pem("CERTIFICATE", cert_der).as_bytes(),
        ),
        write(
            dir,
            &format!("{name}.key"),
            cert::to_pem("PRIVATE KEY", key.pkcs8_der()).as_bytes(),
        ),
    )
}

#[test]
fn openssl_decrypts_and_verifies_what_we_write() {
    let w = world();
    let dir = temp_dir();
    let root = write(
        &dir,
        "root.pem",
        cert::to_pem("CERTIFICATE", &w.root_der).as_bytes(),
    );
    let (bob_cert, bob_key) = pem_pair(&dir, "bob-enc", &w.bob.encryption_cert, &w.bob.encryption);
    for (cipher, tag) in [(Cipher::Cbc, "cbc"), (Cipher::Gcm, "gcm")] {
        let mail = write(
            &dir,
            &format!("mail-{tag}.eml"),
            &to_alice_and_bob(&w, cipher),
        );
        let decrypted = dir.join(format!("decrypted-{tag}.eml"));
        let decrypted = decrypted.to_str().unwrap();
        let (ok, text) = openssl(&[
            "cms", "-decrypt", "-in", &mail, "-recip", &bob_cert, "-inkey", &bob_key, "-out",
            decrypted,
        ]);
        assert!(ok, "openssl cms -decrypt ({tag}): {text}");
        let content = dir.join(format!("content-{tag}.eml"));
        let content = content.to_str().unwrap();
        let (ok, text) = openssl(&[
            "cms", "-verify", "-in", decrypted, "-CAfile", &root, "-out", content,
        ]);
        assert!(ok, "openssl cms -verify ({tag}): {text}");
        assert!(text.contains("Verification successful"), "{text}");
        let shown = std::fs::read_to_string(content).unwrap();
        assert!(
            shown.contains("Subject: Quarterly figures: private"),
            "{shown}"
        );
        assert!(shown.contains("the numbers are attached"), "{shown}");
    }
}

/// A plain MIME message as a person's mail program would hand to OpenSSL.
const PLAIN: &str = "From: Alice <alice@a.example>\r\nTo: Bob <bob@a.example>\r\nSubject: made by openssl\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from OpenSSL.\r\n";

/// OpenSSL signs as alice (`sign_args` added) then encrypts to bob (`encrypt_args` added).
fn openssl_mail(
    w: &World,
    dir: &std::path::Path,
    sign_args: &[&str],
    encrypt_args: &[&str],
) -> Vec<u8> {
    let plain = write(dir, "plain.eml", PLAIN.as_bytes());
    let (alice_cert, alice_key) = pem_pair(dir, "alice", &w.alice.chain[0], &w.alice.identity);
    let bob_cert = write(
        dir,
        "bob-enc.pem",
        cert::to_pem("CERTIFICATE", &w.bob.encryption_cert).as_bytes(),
    );
    let signed = dir.join("signed.eml").to_string_lossy().into_owned();
    let mut args = vec![
        "cms",
        "-sign",
        "-in",
        &plain,
        "-signer",
        &alice_cert,
        "-inkey",
        &alice_key,
        "-out",
        &signed,
    ];
    args.extend_from_slice(sign_args);
    let (ok, text) = openssl(&args);
    assert!(ok, "openssl cms -sign: {text}");
    let encrypted = dir.join("encrypted.eml").to_string_lossy().into_owned();
    let mut args = vec![
        "cms", "-encrypt", "-in", &signed, "-out", &encrypted, "-recip", &bob_cert,
    ];
    args.extend_from_slice(encrypt_args);
    let (ok, text) = openssl(&args);
    assert!(ok, "openssl cms -encrypt: {text}");
    std::fs::read(&encrypted).unwrap()
}

#[test]
fn we_read_what_openssl_writes() {
    let w = world();
    let cases: [(&[&str], &[&str], &str); 5] = [
        (&[], &["-aes-256-cbc"], "AES-CBC"),
        (
            &[],
            &["-aes-128-cbc", "-keyopt", "rsa_padding_mode:oaep"],
            "AES-CBC",
        ),
        (&[], &["-aes-256-gcm"], "AES-GCM"),
        (
            &["-nodetach", "-stream"],
            &[
                "-aes-256-gcm",
                "-keyopt",
                "rsa_padding_mode:oaep",
                "-stream",
            ],
            "AES-GCM",
        ),
        (
            &["-nodetach", "-md", "sha512"],
            &["-aes-128-gcm", "-stream"],
            "AES-GCM",
        ),
    ];
    for (sign_args, encrypt_args, cipher) in cases {
        let dir = temp_dir();
        let mail = openssl_mail(&w, &dir, sign_args, encrypt_args);
        let reading = smime::read(&mail, &keys_of(&w.bob));
        let what = format!("{sign_args:?} {encrypt_args:?}");
        assert_eq!(
            reading.encryption,
            Encryption::Decrypted { cipher },
            "{what}: {reading:?}"
        );
        let Signature::Valid(signer) = &reading.signature else {
            panic!("{what}: {:?}", reading.signature);
        };
        assert_eq!(signer.chain[0], w.alice.chain[0], "{what}");
        assert_eq!(
            reading.headers.subject.as_deref(),
            Some("made by openssl"),
            "{what}"
        );
        assert!(
            reading.text.contains("Hello from OpenSSL."),
            "{what}: {reading:?}"
        );
    }
}

#[test]
fn bad_input_gets_a_status_not_a_crash() {
    let w = world();
    let dir = temp_dir();
    // SHA-1 signatures do not count.
    let sha1 = openssl_mail(&w, &dir, &["-md", "sha1"], &["-aes-256-cbc"]);
    let reading = smime::read(&sha1, &keys_of(&w.bob));
    assert!(
        matches!(&reading.signature, Signature::Invalid(why) if why.contains("SHA-1")),
        "{:?}",
        reading.signature
    );
    // A message changed after signing.
    let signed_only = smime::compose(&draft(), Some(&signed_by(&w.alice)), None).unwrap();
    let text = String::from_utf8(signed_only.clone()).unwrap();
    let forged = text.replacen("the numbers are attached", "the numbers are attacked", 1);
    let reading = smime::read(forged.as_bytes(), &[]);
    assert!(
        matches!(&reading.signature, Signature::Invalid(_)),
        "{:?}",
        reading.signature
    );
    assert!(matches!(
        smime::read(&signed_only, &[]).signature,
        Signature::Valid(_)
    ));
    // Truncated, garbage and not-MIME input.
    let mail = to_alice_and_bob(&w, Cipher::Gcm);
    let cut = &mail[..mail.len() * 2 / 3];
    let reading = smime::read(cut, &keys_of(&w.bob));
    assert!(
        matches!(reading.encryption, Encryption::CannotDecrypt(_)),
        "{:?}",
        reading.encryption
    );
    let garbage = b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIBAAAAAAAA\r\n";
    let reading = smime::read(garbage, &keys_of(&w.bob));
    assert!(
        matches!(reading.encryption, Encryption::CannotDecrypt(_)),
        "{:?}",
        reading.encryption
    );
    let reading = smime::read(&[0xff; 64], &keys_of(&w.bob));
    assert_eq!(reading.encryption, Encryption::None);
    // A subject that would start a header or the body is refused.
    let mut injected = draft();
    injected.subject = "Lunch\r\n\r\nI authorise the payment".into();
    assert!(smime::compose(&injected, Some(&signed_by(&w.alice)), None).is_err());
}

/// OpenSSL's EnvelopedData to bob with one byte of the wrapped content key
/// flipped, as an S/MIME message.
fn corrupted_key_transport(w: &World, dir: &std::path::Path, keyopt: &[&str]) -> Vec<u8> {
    use base64::Engine as _;
    let plain = write(dir, "plain.eml", PLAIN.as_bytes());
    let bob_cert = write(
        dir,
        "bob-enc.pem",
        cert::to_pem("CERTIFICATE", &w.bob.encryption_cert).as_bytes(),
    );
    let out = dir.join("enveloped.der").to_string_lossy().into_owned();
    let mut args = vec![
        "cms", "-encrypt", "-in", &plain, "-outform", "DER", "-out", &out, "-recip", &bob_cert,
    ];
    args.extend_from_slice(keyopt);
    let (ok, text) = openssl(&args);
    assert!(ok, "{text}");
    let mut der = std::fs::read(&out).unwrap();
    // The wrapped key is the first 256-byte OCTET STRING.
    let at = der
        .windows(4)
        .position(|w| w == [0x04, 0x82, 0x01, 0x00])
        .expect("the wrapped key");
    der[at + 4 + 100] ^= 0x01;
    let body = base64::engine::general_purpose::STANDARD.encode(&der);
    format!("Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}\r\n").into_bytes()
}

#[test]
fn a_corrupted_key_transport_reads_as_cannot_decrypt_whatever_the_padding() {
    let w = world();
    let mut outcomes = Vec::new();
    for keyopt in [&[][..], &["-keyopt", "rsa_padding_mode:oaep"][..]] {
        let dir = temp_dir();
        let mail = corrupted_key_transport(&w, &dir, keyopt);
        outcomes.push(smime::read(&mail, &keys_of(&w.bob)).encryption);
    }
    assert!(
        matches!(&outcomes[0], Encryption::CannotDecrypt(_)),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[0], outcomes[1],
        "PKCS#1 v1.5 and OAEP failures look alike"
    );
}

#[test]
fn the_reading_limits_hold_at_their_edges() {
    let w = world();
    // At most 1024 recipient infos are looked at: one more and the message
    // is not opened at all (our key is among them all the same).
    let mut draft = draft();
    draft.attachments.clear();
    let to = |n: usize| vec![w.bob.encryption_cert.clone(); n];
    let compose = |certificates: &[Vec<u8>]| {
        smime::compose(
            &draft,
            None,
            Some(&EncryptTo {
                certificates,
                cipher: Cipher::Gcm,
            }),
        )
        .unwrap()
    };
    let at_limit = smime::read(&compose(&to(1024)), &keys_of(&w.bob));
    assert!(
        matches!(at_limit.encryption, Encryption::Decrypted { .. }),
        "{:?}",
        at_limit.encryption
    );
    let over = smime::read(&compose(&to(1025)), &keys_of(&w.bob));
    assert!(
        matches!(&over.encryption, Encryption::CannotDecrypt(why) if why.contains("1024")),
        "{:?}",
        over.encryption
    );

    // At most four S/MIME layers are peeled: OpenSSL signs a signed
    // message again and again.
    let dir = temp_dir();
    let (cert, key) = pem_pair(&dir, "alice", &w.alice.chain[0], &w.alice.identity);
    let mut message = smime::compose(&draft, None, None).unwrap();
    for layers in 1..=5 {
        let input = write(&dir, &format!("layer{layers}.eml"), &message);
        let output = dir.join(format!("signed{layers}.eml"));
        let (ok, err) = openssl(&[
            "cms",
            "-sign",
            "-in",
            &input,
            "-signer",
            &cert,
            "-inkey",
            &key,
            "-md",
            "sha256",
            "-out",
            output.to_str().unwrap(),
        ]);
        assert!(ok, "{err}");
        message = std::fs::read(&output).unwrap();
        let reading = smime::read(&message, &[]);
        if layers <= 3 {
            assert_eq!(reading.problem, None, "{layers} layers");
            assert!(
                reading.text.contains("the numbers are attached"),
                "{layers} layers: {:?}",
                reading.text
            );
        } else if layers == 5 {
            assert!(
                reading
                    .problem
                    .as_deref()
                    .is_some_and(|p| p.contains("layers")),
                "{layers} layers: {:?}",
                reading.problem
            );
        }
    }
}
