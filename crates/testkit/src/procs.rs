//! Child processes for whole-system tests: each one's stdout read line by
//! line on a thread, waited on with a deadline, stopped by its own PID.

use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process stopped by its own PID when the test ends (or fails).
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines of `read`, sent one by one from a thread until it ends or the
/// receiver is dropped.
pub fn line_reader(read: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(read).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// A running child whose stdout lines can be waited for.
pub struct Proc {
    pub name: String,
    child: ChildGuard,
    lines: mpsc::Receiver<String>,
    /// Every line read so far.
    pub seen: Vec<String>,
    /// Lines before this index have been matched already.
    cursor: usize,
}

impl Proc {
    /// Spawns `command` with stdout piped (stderr goes to the test's own).
    pub fn spawn(name: &str, mut command: Command) -> Self {
        command.stderr(Stdio::inherit());
        Self::spawn_piped(name, command)
    }

    /// Spawns `command` with stdout piped and stderr thrown away.
    pub fn spawn_quiet(name: &str, mut command: Command) -> Self {
        command.stderr(Stdio::null());
        Self::spawn_piped(name, command)
    }

    fn spawn_piped(name: &str, mut command: Command) -> Self {
        command.stdout(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        Self {
            name: name.to_owned(),
            child: ChildGuard(child),
            lines: line_reader(stdout),
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
        self.child.0.id()
    }

    /// SIGTERM by PID, then waits (bounded) for a clean exit.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.0.try_wait() {
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
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
        self.drain();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A finished command's status, stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `openssl ARGS` in `dir` and asserts that it succeeded.
pub fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
