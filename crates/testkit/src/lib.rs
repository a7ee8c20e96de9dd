//! Helpers for SixChat's whole-system tests and benches, one copy of each:
//! the workspace's built binaries, child processes read line by line and
//! stopped by their own PID, free loopback ports, and a `sixchat-dir` driven
//! through its admin commands. A dev-dependency only; it depends on nothing.

mod bins;
mod dir;
mod procs;

pub use bins::{sixchat_dir_bin, target_bin, workspace_bin};
pub use dir::Dir;
pub use procs::{ChildGuard, Proc, free_port, line_reader, openssl, text};
