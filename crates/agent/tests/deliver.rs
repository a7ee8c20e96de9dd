//! The one delivery rule (`Agent::deliver`), outcome by outcome, with real
//! agents on loopback TCP and, for the store, a real `sixchat-dir` child.

use std::time::Duration;

use sixchat_agent::agent::AgentOptions;
use sixchat_agent::irp::directory;
use sixchat_agent::launch;
use sixchat_agent::reach::ReachError;
use sixchat_agent::{Agent, AgentEvent, Delivery, Route};
use sixchat_pki::keys::IdentityKey;
use sixchat_proto::UserId;
use sixchat_proto::alert::AlertCode;
use sixchat_proto::handshake::Origin;
use sixchat_proto::irp::Invite;
use tokio::sync::mpsc;

#[path = "support/agents.rs"]
mod agents;
#[path = "support/procs.rs"]
mod procs;
use agents::{agent, identity, pinning, serve};

const WAIT: Duration = Duration::from_secs(15);

fn uid(text: &str) -> UserId {
    UserId::parse(text).expect("uid")
}

/// Waits for the first event `pick` accepts.
async fn event<T>(
    events: &mut mpsc::Receiver<AgentEvent>,
    mut pick: impl FnMut(AgentEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        while let Some(event) = events.recv().await {
            if let Some(found) = pick(event) {
                return found;
            }
        }
        panic!("the agent's events ended");
    })
    .await
    .expect("the event came in time")
}

fn to(address: &str) -> Route {
    Route {
        address: Some(address.to_owned()),
        relay: false,
    }
}

/// A free loopback port with nobody listening on it.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    drop(listener);
    address
}

fn bob_alone(folder: &std::path::Path) -> (Agent, mpsc::Receiver<AgentEvent>) {
    let alice = identity("rsa2048-a", "alice@a.example", "Alice A");
    let bob = identity("rsa2048-b", "bob@b.example", "Bob B");
    agent(
        folder,
        "b.db",
        bob,
        pinning(&[&alice]),
        AgentOptions::default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_address_or_a_dir_the_message_waits() {
    let dir = tempfile::tempdir().expect("tmp");
    let (bob, _events) = bob_alone(dir.path());
    let alice = uid("alice@a.example");
    bob.queue_chat(&alice, "hello").expect("queued");
    let route = Route {
        address: None,
        relay: true,
    };
    match bob.deliver(&alice, &route).await {
        Delivery::Unreachable {
            why: ReachError::NoAddress(who),
            relay_failed: None,
        } => assert_eq!(who, alice),
        other => panic!("expected unreachable for want of an address, got {other:?}"),
    }
    assert_eq!(
        bob.undelivered(&alice).expect("count"),
        1,
        "the message waits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_listening_is_unreachable_with_the_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let (bob, _events) = bob_alone(dir.path());
    let alice = uid("alice@a.example");
    bob.queue_chat(&alice, "hello").expect("queued");
    let address = closed_port();
    match bob.deliver(&alice, &to(&address)).await {
        Delivery::Unreachable {
            why: ReachError::Unreachable { reason, peer_cert },
            relay_failed: None,
        } => {
            assert!(
                reason.contains(&address),
                "the reason names the address: {reason}"
            );
            assert!(peer_cert.is_none(), "no DIR gave a certificate");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert_eq!(
        bob.undelivered(&alice).expect("count"),
        1,
        "the message waits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_session_then_the_live_one_carry_the_outbox() {
    let dir = tempfile::tempdir().expect("tmp");
    let alice_id = identity("rsa2048-a", "alice@a.example", "Alice A");
    let bob_id = identity("rsa2048-b", "bob@b.example", "Bob B");
    let alice_trust = pinning(&[&bob_id]);
    let bob_trust = pinning(&[&alice_id]);
    let (alice_agent, mut alice_events) = agent(
        dir.path(),
        "a.db",
        alice_id,
        alice_trust,
        AgentOptions::default(),
    );
    let (bob, mut bob_events) = agent(
        dir.path(),
        "b.db",
        bob_id,
        bob_trust,
        AgentOptions::default(),
    );
    let (address, _stop) = serve(alice_agent);
    let alice = uid("alice@a.example");

    let first = bob.queue_chat(&alice, "first").expect("queued");
    let Delivery::Connected(handle) = bob.deliver(&alice, &to(&address)).await else {
        panic!("expected a new session");
    };
    let delivered = event(&mut bob_events, |e| match e {
        AgentEvent::Delivered { id, .. } => Some(id),
        _ => None,
    })
    .await;
    assert_eq!(delivered, first);
    let got = event(&mut alice_events, |e| match e {
        AgentEvent::Chat { text, .. } => Some(text),
        _ => None,
    })
    .await;
    assert_eq!(got, "first");

    // While that session lives, the rule uses it and dials nothing.
    let second = bob.queue_chat(&alice, "second").expect("queued");
    assert!(matches!(
        bob.deliver(&alice, &to(&closed_port())).await,
        Delivery::Live
    ));
    let delivered = event(&mut bob_events, |e| match e {
        AgentEvent::Delivered { id, .. } => Some(id),
        _ => None,
    })
    .await;
    assert_eq!(delivered, second);
    assert_eq!(bob.undelivered(&alice).expect("count"), 0);
    handle.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_handshake_is_refused_with_its_alert_and_not_relayed() {
    let dir = tempfile::tempdir().expect("tmp");
    let alice_id = identity("rsa2048-a", "alice@a.example", "Alice A");
    let bob_id = identity("rsa2048-b", "bob@b.example", "Bob B");
    // Alice pinned another key for bob: bob's real one is refused.
    let impostor = identity("rsa2048-c", "bob@b.example", "Bob B");
    let alice_trust = pinning(&[&impostor]);
    let bob_trust = pinning(&[&alice_id]);
    let (alice_agent, _alice_events) = agent(
        dir.path(),
        "a.db",
        alice_id,
        alice_trust,
        AgentOptions::default(),
    );
    let (bob, _bob_events) = agent(
        dir.path(),
        "b.db",
        bob_id,
        bob_trust,
        AgentOptions::default(),
    );
    let (address, _stop) = serve(alice_agent);
    let alice = uid("alice@a.example");
    bob.queue_chat(&alice, "hello").expect("queued");
    let route = Route {
        address: Some(address),
        relay: true,
    };
    match bob.deliver(&alice, &route).await {
        Delivery::Refused(e) => {
            let alert = e.alert();
            assert!(
                matches!(alert, Some((code, Origin::Peer)) if code != AlertCode::UserDeclined),
                "alice refused bob's key with an alert, got {alert:?} ({e})"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        bob.undelivered(&alice).expect("count"),
        1,
        "the message waits"
    );
}

/// A running DIR for `example.org` with alice and bob enrolled through the
/// library; returns the DIR (stopped when dropped) and the two profiles.
async fn enrolled_pair(
    base: &std::path::Path,
) -> (procs::Proc, sixchat_agent::Profile, sixchat_agent::Profile) {
    let dir = procs::Dir::new(procs::sixchat_dir_bin(), base.join("dir"), "dir passphrase");
    let address = format!("127.0.0.1:{}", procs::free_port());
    dir.init("example.org", &address);
    let invites = [
        ("alice", dir.invite("alice@example.org", "Alice A")),
        ("bob", dir.invite("bob@example.org", "Bob B")),
    ];
    let server = dir.serve(&address, &[], WAIT);
    let mut profiles = Vec::new();
    for (name, invite) in invites {
        let invite = Invite::parse(&invite).expect("invite");
        let profile =
            sixchat_agent::Profile::locate(name, Some(&base.join("profiles"))).expect("profile");
        let key = IdentityKey::generate(2048).expect("key");
        let enrolled = directory::enroll(&invite, name, key, Duration::from_secs(5))
            .await
            .expect("enrolled");
        directory::save_enrollment(&profile, &invite, enrolled, procs::PASSWORD).expect("saved");
        profiles.push(profile);
    }
    let bob = profiles.pop().expect("bob");
    let alice = profiles.pop().expect("alice");
    (server, alice, bob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_peer_of_the_domain_gets_the_messages_through_its_dir_store() {
    let base = tempfile::tempdir().expect("tmp");
    let (_server, alice_profile, bob_profile) = enrolled_pair(base.path()).await;
    let open = |profile: &sixchat_agent::Profile| {
        let identity = profile.unlock(procs::PASSWORD).expect("unlock");
        launch::open(profile, identity, AgentOptions::default()).expect("agent")
    };
    let (bob, _bob_events) = open(&bob_profile);
    let alice = uid("alice@example.org");
    // Alice never ran: the DIR knows her certificate but no address.
    let ids = [
        bob.queue_chat(&alice, "one").expect("queued"),
        bob.queue_chat(&alice, "two").expect("queued"),
    ];

    let without_store = Route {
        address: None,
        relay: false,
    };
    match bob.deliver(&alice, &without_store).await {
        Delivery::Unreachable {
            why: ReachError::Unreachable { peer_cert, .. },
            relay_failed: None,
        } => assert!(peer_cert.is_some(), "the DIR's lookup gave her certificate"),
        other => panic!("expected unreachable, got {other:?}"),
    }

    let with_store = Route {
        address: None,
        relay: true,
    };
    match bob.deliver(&alice, &with_store).await {
        Delivery::Relayed { count } => assert_eq!(count, 2),
        other => panic!("expected the messages relayed, got {other:?}"),
    }

    // Alice's agent finds both in her store, once each, in order.
    let (alice_agent, mut alice_events) = open(&alice_profile);
    let mailbox = alice_agent.mailbox().expect("alice has a DIR");
    assert_eq!(mailbox.fetch().await.expect("fetched"), 2);
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(
            event(&mut alice_events, |e| match e {
                AgentEvent::Chat { id, text, .. } => Some((id, text)),
                _ => None,
            })
            .await,
        );
    }
    assert_eq!(
        got,
        vec![
            (ids[0].clone(), "one".to_owned()),
            (ids[1].clone(), "two".to_owned())
        ]
    );
}
