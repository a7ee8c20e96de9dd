//! A folder of profiles driven through the real `sixchat-cli`, and a
//! running `sixchat-cli run`.

#![allow(dead_code)] // each test file uses a part

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::procs::{Proc, sixchat_cli};

pub struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    /// `sixchat-cli --data-dir <this env> --profile <profile>`, ready for more arguments.
    pub fn command(&self, profile: &str) -> Command {
        sixchat_cli(self.data(), profile)
    }

    pub fn run(&self, profile: &str, args: &[&str]) -> Output {
        self.command(profile)
            .args(args)
            .output()
            .expect("sixchat-cli runs")
    }

    pub fn ok(&self, profile: &str, args: &[&str]) -> String {
        let out = self.run(profile, args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn new_identity(&self, profile: &str, user: &str, name: &str) -> String {
        self.ok(profile, &["id", "new", "--user", user, "--name", name]);
        let shown = self.ok(profile, &["--json", "id", "show"]);
        let value: serde_json::Value = serde_json::from_str(shown.trim()).expect("json");
        value["fingerprint"]
            .as_str()
            .expect("fingerprint")
            .to_owned()
    }

    /// Starts `run` on a free loopback port; the child is killed when dropped.
    pub fn start_agent(&self, profile: &str, port: u16) -> Agent {
        self.start_agent_with(profile, port, &[])
    }

    /// [`Self::start_agent`] with more `run` options.
    pub fn start_agent_with(&self, profile: &str, port: u16, extra: &[&str]) -> Agent {
        let mut command = self.command(profile);
        command.args(["run", "--listen", &format!("127.0.0.1:{port}")]);
        command.args(extra);
        let agent = Agent(Proc::spawn_quiet("agent", command));
        agent.wait_for("listening on", Duration::from_secs(20))
    }

    pub fn history(&self, profile: &str, peer: &str) -> Vec<Vec<String>> {
        self.ok(profile, &["history", peer])
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }
}

/// A running `sixchat-cli run`, killed when dropped.
pub struct Agent(Proc);

impl Agent {
    /// Waits until some line so far contains `needle`.
    pub fn wait_for(mut self, needle: &str, timeout: Duration) -> Self {
        self.0.wait_seen(needle, timeout);
        self
    }

    /// Waits for the next line (past the last one found) that contains
    /// `needle`; returns it.
    pub fn next_line(&mut self, needle: &str, timeout: Duration) -> String {
        self.0.wait_for(needle, timeout)
    }

    pub fn kill9(mut self) {
        self.0.kill9();
    }
}

impl std::ops::Deref for Agent {
    type Target = Proc;

    fn deref(&self) -> &Proc {
        &self.0
    }
}
