//! Known-answer tests from RFC 5869 appendix A: the three HKDF-SHA256 cases
//! (A.1, A.2, A.3), run through `hkdf::Hkdf::<Sha256>` (the primitive behind
//! the key schedule) and through `sixchat_proto::keys::extract` (the schedule's
//! own HKDF-Extract). The hex values are typed from the RFC text.

use hkdf::Hkdf;
use sha2::Sha256;
use sixchat_proto::keys;

/// One RFC 5869 SHA-256 test case.
struct Case {
    name: &'static str,
    ikm: &'static str,
    salt: &'static str,
    info: &'static str,
    len: usize,
    prk: &'static str,
    okm: &'static str,
}

const CASES: [Case; 3] = [
    // A.1: basic test case with SHA-256.
    Case {
        name: "A.1",
        ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
        salt: "000102030405060708090a0b0c",
        info: "f0f1f2f3f4f5f6f7f8f9",
        len: 42,
        prk: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
        okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    },
    // A.2: longer inputs and outputs.
    Case {
        name: "A.2",
        ikm: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
              202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\
              404142434445464748494a4b4c4d4e4f",
        salt: "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f\
               808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\
               a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
        info: "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf\
               d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef\
               f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
        len: 82,
        prk: "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
        okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
              59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
              cc30c58179ec3e87c14c01d5c1f3434f1d87",
    },
    // A.3: zero-length salt and info.
    Case {
        name: "A.3",
        ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
        salt: "",
        info: "",
        len: 42,
        prk: "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
        okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    },
];

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("typed hex is valid")
}

#[test]
fn rfc5869_sha256_cases() {
    let mut checked = 0usize;
    for case in &CASES {
        let (ikm, salt, info) = (unhex(case.ikm), unhex(case.salt), unhex(case.info));
        let (prk, okm) = (unhex(case.prk), unhex(case.okm));
        assert_eq!(okm.len(), case.len, "{}: typed OKM has length L", case.name);

        // The RFC's stated input lengths, so a mistyped vector cannot slip by.
        let expected_lengths = match case.name {
            "A.1" => (22, 13, 10),
            "A.2" => (80, 80, 80),
            _ => (22, 0, 0),
        };
        assert_eq!(
            (ikm.len(), salt.len(), info.len()),
            expected_lengths,
            "{}: input lengths",
            case.name
        );

        // The hkdf crate: extract, then expand from the PRK and in one go.
        let (got_prk, hk) = Hkdf::<Sha256>::extract(Some(&salt), &ikm);
        assert_eq!(
            got_prk.as_slice(),
            prk.as_slice(),
            "{}: Hkdf::extract PRK",
            case.name
        );
        let mut got_okm = vec![0u8; case.len];
        hk.expand(&info, &mut got_okm)
            .expect("L is within 255 * HashLen");
        assert_eq!(got_okm, okm, "{}: Hkdf::expand OKM", case.name);

        let from_prk = Hkdf::<Sha256>::from_prk(&prk).expect("PRK is HashLen bytes");
        let mut again = vec![0u8; case.len];
        from_prk
            .expand(&info, &mut again)
            .expect("L is within 255 * HashLen");
        assert_eq!(again, okm, "{}: Hkdf::from_prk + expand OKM", case.name);

        let mut one_go = vec![0u8; case.len];
        Hkdf::<Sha256>::new(Some(&salt), &ikm)
            .expand(&info, &mut one_go)
            .expect("L is within 255 * HashLen");
        assert_eq!(one_go, okm, "{}: Hkdf::new + expand OKM", case.name);

        // The key schedule's own HKDF-Extract.
        let ours = keys::extract(&salt, &ikm);
        assert_eq!(
            ours.as_slice(),
            prk.as_slice(),
            "{}: keys::extract PRK",
            case.name
        );

        if salt.is_empty() {
            // RFC 5869 section 2.2: an absent salt is HashLen zero octets, and the
            // schedule passes such zeros explicitly (HS = Extract(0^32, DH)).
            assert_eq!(
                keys::extract(&[0u8; 32], &ikm).as_slice(),
                prk.as_slice(),
                "{}: zero salt",
                case.name
            );
            let (no_salt, _) = Hkdf::<Sha256>::extract(None, &ikm);
            assert_eq!(
                no_salt.as_slice(),
                prk.as_slice(),
                "{}: Hkdf::extract(None)",
                case.name
            );
        }
        checked += 1;
    }
    eprintln!(
        "RFC 5869 HKDF-SHA256: {checked} cases checked (A.1, A.2, A.3), each via hkdf extract/expand and keys::extract"
    );
    assert_eq!(checked, CASES.len());
    assert!(checked > 0);
}
