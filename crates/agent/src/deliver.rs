//! The one delivery rule, for every front end and the upkeep loop alike:
//! the live session with the peer, else a dial ([`Agent::reach`]: the given
//! address, the last one, then the DIR's record with Happy Eyeballs), else
//! the outbox sealed into the peer's DIR store ([`crate::mailbox`]).

use std::time::Duration;

use sixchat_proto::UserId;

use crate::agent::{Agent, ConnectError, SessionHandle};
use crate::irp::directory::DirError;
use crate::job::Job;
use crate::reach::ReachError;

/// How to deliver.
#[derive(Debug, Clone, Default)]
pub struct Route {
    /// Dial only here (HOST:PORT), as the person said.
    pub address: Option<String>,
    /// Leave what waits at the peer's DIR if it cannot be reached.
    pub relay: bool,
}

/// How a delivery went.
#[derive(Debug)]
pub enum Delivery {
    /// A live session with the peer (or a dial under way) takes the outbox.
    Live,
    /// A new session: the outbox goes out on it, in order. Keep the handle
    /// for as long as the session should last.
    Connected(SessionHandle),
    /// The peer was not reached; `count` messages were left sealed at its DIR.
    Relayed { count: usize },
    /// The peer was not reached (and nothing was left at a DIR).
    Unreachable {
        why: ReachError,
        /// Why leaving the messages at the DIR failed, if it was tried.
        relay_failed: Option<DirError>,
    },
    /// The handshake was refused, by the peer or by us (with the alert).
    Refused(ConnectError),
}

/// A step of a delivery under way, for a window that shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Asking the DIR where the peer is.
    LookingUp,
    /// Dialling an address.
    Connecting,
}

/// What a delivery job reports.
#[derive(Debug)]
pub enum DeliveryUpdate {
    Stage(Stage),
    Done(Delivery),
}

impl Agent {
    /// Delivers the outbox for `peer` by the one rule (see the module).
    pub async fn deliver(&self, peer: &UserId, route: &Route) -> Delivery {
        self.deliver_reporting(peer, route, |_| {}).await
    }

    /// [`Agent::deliver`] as a [`Job`] that reports each stage, then the outcome.
    pub fn deliver_job(&self, peer: UserId, route: Route) -> Job<DeliveryUpdate> {
        let agent = self.clone();
        Job::spawn(|updates| async move {
            let stage = |stage| {
                let _ = updates.send(DeliveryUpdate::Stage(stage));
            };
            let done = agent.deliver_reporting(&peer, &route, stage).await;
            let _ = updates.send(DeliveryUpdate::Done(done));
        })
    }

    async fn deliver_reporting(
        &self,
        peer: &UserId,
        route: &Route,
        stage: impl Fn(Stage),
    ) -> Delivery {
        let Some(_dialing) = self.claim_dial(peer) else {
            // The live session (or the dial under way) delivers it.
            self.flush(peer).await;
            return Delivery::Live;
        };
        let last = self.with_store(|s| s.last_address(peer.as_str()).ok().flatten());
        if route.address.is_some() || last.is_some() {
            stage(Stage::Connecting);
        }
        let why = match self
            .reach(peer, route.address.as_deref(), || stage(Stage::LookingUp))
            .await
        {
            Ok(handle) => return Delivery::Connected(handle),
            Err(ReachError::Refused(e)) => return Delivery::Refused(e),
            Err(why) => why,
        };
        let waiting = self.undelivered(peer).unwrap_or(0);
        let mailbox = self.mailbox().filter(|_| route.relay && waiting > 0);
        let Some(mailbox) = mailbox else {
            return Delivery::Unreachable {
                why,
                relay_failed: None,
            };
        };
        let peer_cert = match &why {
            ReachError::Unreachable { peer_cert, .. } => peer_cert.clone(),
            _ => None,
        };
        match mailbox.relay_undelivered(peer, peer_cert).await {
            Ok(count) => Delivery::Relayed { count },
            Err(e) => Delivery::Unreachable {
                why,
                relay_failed: Some(e),
            },
        }
    }

    /// Tries each peer with waiting messages by the one rule, relaying to its
    /// DIR when unreachable; a session opened for it is closed once its
    /// outbox is empty (or after `linger`). Problems are reported as events.
    pub async fn deliver_outbox(&self, linger: Option<Duration>) {
        let peers = self.with_store(|s| s.peers_with_outbox().unwrap_or_default());
        let route = Route {
            address: None,
            relay: true,
        };
        for peer in peers {
            let Ok(peer) = UserId::parse(&peer) else {
                continue;
            };
            match self.deliver(&peer, &route).await {
                // Without a DIR, a peer with no known address waits for one.
                Delivery::Live
                | Delivery::Relayed { .. }
                | Delivery::Unreachable {
                    why: ReachError::NoAddress(_),
                    ..
                } => {}
                Delivery::Connected(handle) => self.close_when_delivered(handle, linger).await,
                Delivery::Unreachable {
                    relay_failed: Some(e),
                    ..
                } => self.dir_problem("relay", &e.to_string()).await,
                // Without a DIR nothing else is tried and nobody is told.
                Delivery::Unreachable { .. } | Delivery::Refused(_) if self.dir().is_none() => {}
                Delivery::Unreachable { why, .. } => {
                    self.dir_problem("deliver", &format!("{peer}: {why}")).await;
                }
                Delivery::Refused(e) => self.dir_problem("deliver", &format!("{peer}: {e}")).await,
            }
        }
    }
}
