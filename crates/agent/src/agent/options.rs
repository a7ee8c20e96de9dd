//! What a person (or the front end) sets for an agent.

use tokio::sync::mpsc;

use super::events::IncomingRequest;
use crate::limits::Limits;

/// Options a person sets.
#[derive(Debug, Clone, Default)]
pub struct AgentOptions {
    /// Let self-signed, unpinned peers through to the person (who compares the code).
    pub admit_new: bool,
    /// Accept anonymous callers.
    pub allow_anonymous: bool,
    pub limits: Limits,
    /// When set, every inbound session waits here for the person's answer
    /// before anything it sends is read (the desktop app's Incoming Chat).
    pub incoming: Option<mpsc::Sender<IncomingRequest>>,
}
