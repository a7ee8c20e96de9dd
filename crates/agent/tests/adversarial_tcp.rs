//! Byte-level attacks on a real listening agent (loopback TCP): after each, and
//! while a stalled handshake is still open, an honest peer must still be served.

use std::time::Duration;

use sixchat_agent::{Agent, AgentEvent, AgentOptions};
use sixchat_proto::UserId;
use sixchat_proto::frame::{self, KIND_PLAIN};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

#[path = "support/agents.rs"]
mod agents;
use agents::{agent, identity, pinning, serve};

struct Pair {
    _dir: tempfile::TempDir,
    alice_addr: String,
    bob: Agent,
    alice_events: mpsc::Receiver<AgentEvent>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn pair(handshake_timeout: Duration) -> Pair {
    let dir = tempfile::tempdir().expect("tmp");
    let alice_id = identity("rsa2048-a", "alice@a.example", "Alice A");
    let bob_id = identity("rsa2048-b", "bob@b.example", "Bob B");
    let alice_trust = pinning(&[&bob_id]);
    let bob_trust = pinning(&[&alice_id]);
    let mut options = AgentOptions::default();
    options.limits.handshake_timeout = handshake_timeout;
    options.limits.max_failures_per_minute = 1000;
    let (alice, alice_events) = agent(dir.path(), "a.db", alice_id, alice_trust, options.clone());
    let (bob, _bob_events) = agent(dir.path(), "b.db", bob_id, bob_trust, options);
    let (alice_addr, stop) = serve(alice);
    Pair {
        _dir: dir,
        alice_addr,
        bob,
        alice_events,
        _stop: stop,
    }
}

/// Bob sends one chat; Alice's agent must store it and report it.
async fn honest_chat_works(pair: &mut Pair, text: &str) {
    let alice = UserId::parse("alice@a.example").expect("uid");
    pair.bob.queue_chat(&alice, text).expect("queued");
    let handle = pair
        .bob
        .connect(&alice, &pair.alice_addr)
        .await
        .expect("honest peer is served");
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = pair.alice_events.recv().await {
            if let AgentEvent::Chat { text: got, .. } = event {
                if got == text {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(got, Ok(true), "alice got {text:?}");
    handle.close().await;
}

/// Sends `bytes` and returns what the agent answered before closing.
async fn send_raw(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    answer
}

fn plain_alert(answer: &[u8]) -> Option<String> {
    let mut reader = frame::FrameReader::new();
    reader.push(answer);
    let frame = reader.next_frame().ok()??;
    sixchat_proto::messages::parse_alert(&frame.body)
        .ok()
        .map(|a| a.name().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_level_attacks_get_alerts_and_the_agent_keeps_serving() {
    let mut pair = pair(Duration::from_secs(2));
    honest_chat_works(&mut pair, "before").await;

    // Random bytes: an unknown frame kind.
    let answer = send_raw(&pair.alice_addr, &[0x42; 300]).await;
    assert_eq!(plain_alert(&answer).as_deref(), Some("decode_error"));
    // An oversized frame header.
    let answer = send_raw(&pair.alice_addr, &frame::header(KIND_PLAIN, 70_000)).await;
    assert_eq!(plain_alert(&answer).as_deref(), Some("decode_error"));
    // DOCTYPE with an entity.
    let doc = b"<!DOCTYPE m [<!ENTITY x \"y\">]><message xmlns=\"urn:sixchat:direct\" version=\"2\" type=\"Capabilities_Offer\">&x;</message>";
    let answer = send_raw(&pair.alice_addr, &frame::encode(KIND_PLAIN, doc)).await;
    assert_eq!(plain_alert(&answer).as_deref(), Some("decode_error"));
    // A truncated frame, then the connection closes: a clean close, no answer needed.
    let mut truncated = frame::encode(KIND_PLAIN, b"<message/>");
    truncated.truncate(8);
    let _ = send_raw(&pair.alice_addr, &truncated).await;
    honest_chat_works(&mut pair, "after garbage").await;

    // A peer that stalls mid-handshake: the agent serves others meanwhile and
    // ends the stalled handshake at its deadline.
    let mut staller = TcpStream::connect(&pair.alice_addr).await.expect("connect");
    let offer = sixchat_proto::messages::CapabilitiesOffer {
        capabilities: vec!["cert-auth".into(), "dh-kex".into(), "chat".into()],
        nonce: [3; 32],
        key_commit: [4; 32],
    };
    staller
        .write_all(&frame::encode(KIND_PLAIN, &offer.to_xml()))
        .await
        .expect("write");
    honest_chat_works(&mut pair, "while one stalls").await;
    let mut answer = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(10), staller.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the stalled handshake was never ended");
    // Message 2, then the plain alert at the deadline.
    let mut reader = frame::FrameReader::new();
    reader.push(&answer);
    let mut types = Vec::new();
    while let Ok(Some(frame)) = reader.next_frame() {
        types.push(sixchat_proto::messages::message_type(&frame.body).unwrap_or_default());
    }
    assert_eq!(types, ["Capabilities_Accept", "Alert"]);
    honest_chat_works(&mut pair, "after the stall").await;
}
