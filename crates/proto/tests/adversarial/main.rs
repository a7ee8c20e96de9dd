//! The adversarial peer: a test helper that speaks the Direct protocol wrongly
//! on purpose, against our real responder (and initiator) with real
//! certificates from sixchat-pki. Each case must end with the right alert, no
//! panic, and no private-key operation by the responder before the initiator
//! proved itself. `crates/agent/tests/adversarial_tcp.rs` throws the
//! byte-level cases at a real listening agent and checks it still serves
//! others.
//!
//! One test binary (`cargo test -p sixchat-proto --test adversarial`): the
//! harness, then the cases by kind.

mod attacks;
mod harness;
mod mitm;
mod pair;
