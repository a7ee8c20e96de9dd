//! What a person (or the front end) sets for an agent.

use tokio::sync::mpsc;

use super::events::IncomingRequest;
use crate::limits::Limits;
use crate::services::transfer::OfferRequest;

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
    /// When set, a push offer from a contact without auto-accept waits here
    /// for the person's answer; without it such offers are declined.
    pub offers: Option<mpsc::Sender<OfferRequest>>,
}
