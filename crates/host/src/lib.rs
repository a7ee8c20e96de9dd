//! sixchat-host: what the agent (`sixchat-agent`) and the DIR server
//! (`sixchat-dir`) share on a host, one copy each: the clock, the lock
//! helper, the dual-stack listener and the SQLite migration runner.
//! Nothing here knows the protocol.

pub mod clock;
pub mod listen;
pub mod migrate;
pub mod sync;

pub use clock::{now_rfc3339, now_unix};

/// The version and the commit built from, as `--version` prints them:
/// "0.1.0 (commit 0123456789ab)".
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SIXCHAT_COMMIT"),
    ")"
);
pub use sync::lock;
