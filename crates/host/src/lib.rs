//! sixchat-host: what the agent (`sixchat-agent`) and the DIR server
//! (`sixchat-dir`) share on a host, one copy each: the clock, the lock
//! helper, the dual-stack listener and the SQLite migration runner.
//! Nothing here knows the protocol.

pub mod clock;
pub mod listen;
pub mod migrate;
pub mod sync;

pub use clock::{now_rfc3339, now_unix};
pub use sync::lock;
