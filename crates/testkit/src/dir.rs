//! A `sixchat-dir` data folder, driven through the binary's admin commands.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use crate::procs::{Proc, text};

/// `sixchat-dir --data DATA` with the root key's passphrase in the
/// environment.
pub struct Dir {
    pub bin: PathBuf,
    pub data: PathBuf,
    pub passphrase: String,
}

impl Dir {
    pub fn new(bin: PathBuf, data: impl Into<PathBuf>, passphrase: &str) -> Self {
        Self {
            bin,
            data: data.into(),
            passphrase: passphrase.to_owned(),
        }
    }

    /// `sixchat-dir --data DATA`, ready for more arguments.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .arg("--data")
            .arg(&self.data)
            .env("SIXCHAT_DIR_PASSPHRASE", &self.passphrase);
        command
    }

    /// Runs an admin command (`init`, `invite`, `revoke`, …) to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap_or_else(|e| {
            panic!(
                "sixchat-dir runs ({}): {e} (build it with cargo build -p sixchat-dir)",
                self.bin.display()
            )
        })
    }

    /// Runs an admin command, asserts that it succeeded, and returns its stdout.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "sixchat-dir {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `init --domain DOMAIN --address ADDRESS`.
    pub fn init(&self, domain: &str, address: &str) -> String {
        self.admin(&["init", "--domain", domain, "--address", address])
    }

    /// `invite USER --name NAME`: the invite line.
    pub fn invite(&self, user: &str, name: &str) -> String {
        self.admin(&["invite", user, "--name", name])
            .trim()
            .to_owned()
    }

    /// `serve --listen LISTEN` plus `extra`, once it says it listens
    /// (waiting at most `wait`); stderr goes to the test's own.
    pub fn serve(&self, listen: &str, extra: &[&str], wait: Duration) -> Proc {
        let mut command = self.command();
        command.args(["serve", "--listen", listen]).args(extra);
        let mut proc = Proc::spawn("sixchat-dir", command);
        proc.wait_for("listening on", wait);
        proc
    }
}
