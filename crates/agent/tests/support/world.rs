//! A world of real processes for end-to-end tests: a `sixchat-dir` child
//! process on a loopback port and `sixchat-cli` profiles beside it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use super::procs::{Dir, Proc, free_port, sixchat_cli, sixchat_dir_bin};

pub const WAIT: Duration = Duration::from_secs(60);
/// A CRL poll an hour apart: only the check before each handshake can make
/// a revocation count within a test's time.
pub const HOURLY: &str = "3600";

pub struct World {
    pub dir: tempfile::TempDir,
    pub dir_port: u16,
}

impl World {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            dir_port: free_port(),
        }
    }

    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    /// `sixchat-dir --data DATA/dir` with the root passphrase.
    pub fn dir(&self) -> Dir {
        Dir::new(
            sixchat_dir_bin(),
            self.data().join("dir"),
            "root passphrase",
        )
    }

    pub fn admin(&self, args: &[&str]) -> String {
        self.dir().admin(args)
    }

    pub fn serve(&self) -> Proc {
        self.dir()
            .serve(&format!("127.0.0.1:{}", self.dir_port), &[], WAIT)
    }

    pub fn cli(&self, profile: &str) -> Command {
        sixchat_cli(&self.data().join("profiles"), profile)
    }

    pub fn cli_run(&self, profile: &str, args: &[&str]) -> Output {
        self.cli(profile)
            .args(args)
            .output()
            .expect("sixchat-cli runs")
    }

    /// `run` on a fixed loopback port (a restarted agent comes back where it
    /// was), fetching the CRL every `crl_secs`; returns once it listens.
    pub fn start_agent(&self, profile: &str, port: u16, crl_secs: &str) -> Proc {
        let listen = format!("127.0.0.1:{port}");
        let mut command = self.cli(profile);
        command.args([
            "run",
            "--listen",
            &listen,
            "--poll-secs",
            "1",
            "--crl-secs",
            crl_secs,
        ]);
        let mut proc = Proc::spawn(profile, command);
        proc.wait_for("listening on", WAIT);
        proc
    }

    /// `run` with the CRL fetched every second, once registered at its DIR.
    pub fn run_agent(&self, profile: &str, port: u16) -> Proc {
        let mut proc = self.start_agent(profile, port, "1");
        // Not past it: the mailbox may print what it fetched first.
        proc.wait_seen(&format!("registered 127.0.0.1:{port}"), WAIT);
        proc
    }

    pub fn history(&self, profile: &str, peer: &str) -> Vec<Vec<String>> {
        let out = self.cli_run(profile, &["history", peer]);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }
}
