//! In-process agents for the library-level tests: identities from the PKI
//! crate's fixture keys, agents over a store in a temporary folder, and a
//! listener on loopback.

#![allow(dead_code)] // each test file uses a part

use std::path::Path;
use std::sync::Arc;

use sixchat_agent::{Agent, AgentEvent, AgentOptions, Store, UnlockedIdentity};
use sixchat_pki::cert::{self, CertInfo};
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::trust::TrustStore;
use sixchat_proto::{Fingerprint, UserId};
use tokio::sync::{mpsc, oneshot};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pki/tests/fixtures/keys");

/// A self-signed identity for `user` with the fixture key `key_file`.
pub fn identity(key_file: &str, user: &str, name: &str) -> UnlockedIdentity {
    let der = std::fs::read(format!("{FIXTURES}/{key_file}.pk8")).expect("fixture");
    let key = IdentityKey::from_pkcs8_der(&der).expect("key");
    let cert = cert::self_signed_identity(&key, &UserId::parse(user).expect("uid"), name, 30)
        .expect("cert");
    let info = CertInfo::parse(&cert).expect("info");
    UnlockedIdentity {
        key,
        chain: vec![cert],
        info,
        encryption: Vec::new(),
    }
}

/// A trust store that pins each of `peers` by its certificate.
pub fn pinning(peers: &[&UnlockedIdentity]) -> TrustStore {
    let mut trust = TrustStore::new();
    for peer in peers {
        trust.pin(
            peer.info.user_id.clone(),
            Fingerprint::of_der(&peer.chain[0]),
        );
    }
    trust
}

/// An agent for `identity` with its store at `folder/<file>`.
pub fn agent(
    folder: &Path,
    file: &str,
    identity: UnlockedIdentity,
    trust: TrustStore,
    options: AgentOptions,
) -> (Agent, mpsc::Receiver<AgentEvent>) {
    Agent::new(
        identity,
        Store::open(&folder.join(file)).expect("store"),
        Arc::new(trust),
        options,
    )
}

/// Serves `agent` on a loopback port until the sender is dropped; returns
/// the address and that sender.
pub fn serve(agent: Agent) -> (String, oneshot::Sender<()>) {
    let listener = sixchat_agent::listen::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        agent
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    (address, stop)
}

/// Dials `address` as `me` and runs the initiator handshake by hand
/// (the test then speaks the protocol itself), offering `capabilities`.
pub async fn dial_by_hand(
    me: UnlockedIdentity,
    trust: TrustStore,
    address: &str,
    peer: &str,
    capabilities: &[&str],
) -> (sixchat_agent::conn::Conn, Box<sixchat_proto::Established>) {
    use sixchat_agent::conn::{self, Conn, Deadlines};
    let stream = tokio::net::TcpStream::connect(address).await.expect("tcp");
    let mut conn = Conn::new(stream);
    let mut config = sixchat_proto::Config::new(
        sixchat_proto::LocalIdentity {
            user_id: me.info.user_id.clone(),
            name: me.info.name.clone(),
            chain: me.chain.clone(),
            signer: Arc::new(me.key),
        },
        Arc::new(trust),
    );
    config.app_capabilities = capabilities.iter().map(|c| (*c).to_owned()).collect();
    let deadlines = Deadlines {
        whole: std::time::Duration::from_secs(10),
        first_message: std::time::Duration::from_secs(10),
        next_message: std::time::Duration::from_secs(10),
    };
    let established = conn::initiate(
        &mut conn,
        Arc::new(config),
        UserId::parse(peer).expect("uid"),
        false,
        deadlines,
        async {},
    )
    .await
    .expect("handshake");
    (conn, established)
}

/// The next application message on a hand-driven session (20 s at most).
pub async fn next_application(
    conn: &mut sixchat_agent::conn::Conn,
    session: &mut sixchat_proto::Session,
) -> sixchat_proto::AppMessage {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(20), conn.next_frame())
            .await
            .expect("in time")
            .expect("a frame")
            .expect("not closed");
        if let Some(sixchat_proto::SessionEvent::Application(xml)) =
            session.handle(&frame).expect("a record")
        {
            return sixchat_proto::AppMessage::parse(&xml).expect("a message");
        }
    }
}
