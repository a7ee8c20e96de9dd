//! Child processes for whole-system tests: each one's stdout read line by
//! line on a thread, waited on with a deadline, stopped by its own PID.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// A running child whose stdout lines can be waited for.
pub struct Proc {
    pub name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line read so far.
    pub seen: Vec<String>,
    /// Lines before this index have been matched already.
    cursor: usize,
}

impl Proc {
    /// Spawns `command` with stdout piped (stderr goes to a file beside, for failures).
    pub fn spawn(name: &str, mut command: Command) -> Self {
        command.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            name: name.to_owned(),
            child,
            lines,
            seen: Vec::new(),
            cursor: 0,
        }
    }

    /// Waits for the next line (after the last match) containing `needle`;
    /// later waits look only past it.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        self.wait_line(needle, timeout, true)
    }

    /// Waits for a line (after the last match) containing `needle` without
    /// moving past it: for a state reached alongside other output whose
    /// order is not fixed (an agent registers while its mailbox is fetched).
    pub fn wait_seen(&mut self, needle: &str, timeout: Duration) -> String {
        self.wait_line(needle, timeout, false)
    }

    fn wait_line(&mut self, needle: &str, timeout: Duration, advance: bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(offset) = self.seen[self.cursor..]
                .iter()
                .position(|l| l.contains(needle))
            {
                let index = self.cursor + offset;
                if advance {
                    self.cursor = index + 1;
                }
                return self.seen[index].clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
                    panic!(
                        "{} never printed {needle:?}; it printed {:#?}",
                        self.name, self.seen
                    )
                }
            }
        }
    }

    /// Reads whatever arrived without waiting.
    pub fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM by PID, then waits (bounded) for a clean exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.drain();
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
        None
    }

    /// SIGKILL by PID.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.drain();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The `sixchat-dir` binary of this build (built on demand if missing).
pub fn sixchat_dir_bin() -> PathBuf {
    let cli = PathBuf::from(env!("CARGO_BIN_EXE_sixchat-cli"));
    let bin = cli.with_file_name(format!("sixchat-dir{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "sixchat-dir", "--bin", "sixchat-dir"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building sixchat-dir failed");
    }
    bin
}
