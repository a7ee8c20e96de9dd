//! The whole-system tests' processes: `sixchat-cli` (owned by this package)
//! with the tests' passphrase, and the shared helpers of sixchat-testkit.

#![allow(dead_code, unused_imports)] // each test file uses a part

use std::path::Path;
use std::process::Command;

pub use sixchat_testkit::{Dir, Proc, free_port, openssl, sixchat_dir_bin, text};

/// The passphrase of every profile the whole-system tests make.
pub const PASSWORD: &str = "correct horse battery staple";

/// `sixchat-cli --data-dir DATA --profile PROFILE`, with [`PASSWORD`] and
/// without the caller's log settings.
pub fn sixchat_cli(data: &Path, profile: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sixchat-cli"));
    command
        .env("SIXCHAT_PASSWORD", PASSWORD)
        .env_remove("SIXCHAT_LOG")
        .arg("--data-dir")
        .arg(data)
        .arg("--profile")
        .arg(profile);
    command
}
