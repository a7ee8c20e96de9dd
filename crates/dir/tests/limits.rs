//! The DIR under bad input and misbehaving connections, byte by byte: a raw
//! TLS client (no IRP client to tidy things up) against a real
//! `sixchat-dir serve`.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sixchat_proto::irp::{ErrorCode, Header, Request, Response};
use support::TestDir;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, RootCertStore};

const ANSWER: Duration = Duration::from_secs(15);

struct Raw {
    stream: TlsStream<TcpStream>,
}

async fn raw(addr: &str, root_der: &[u8]) -> std::io::Result<Raw> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(root_der.to_vec()))
        .expect("root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("127.0.0.1").expect("IP name");
    let stream = tokio::time::timeout(
        ANSWER,
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| std::io::Error::other("handshake timed out"))??;
    Ok(Raw { stream })
}

impl Raw {
    async fn send(&mut self, body: &[u8]) {
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        self.stream.write_all(&len).await.expect("write");
        self.stream.write_all(body).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// The next response, or `None` once the server closed the connection.
    async fn recv(&mut self) -> Option<(Header, Response)> {
        let read = async {
            let mut head = [0u8; 4];
            self.stream.read_exact(&mut head).await.ok()?;
            let mut body = vec![0u8; u32::from_be_bytes(head) as usize];
            self.stream.read_exact(&mut body).await.ok()?;
            Some(Response::parse(&body).expect("the DIR writes valid IRP"))
        };
        tokio::time::timeout(ANSWER, read)
            .await
            .expect("an answer or a close in time")
    }

    async fn error_for(&mut self, body: &[u8]) -> (String, ErrorCode) {
        self.send(body).await;
        match self.recv().await {
            Some((header, Response::Error(error))) => (header.id, error.code),
            other => panic!("expected an error_response, got {other:?}"),
        }
    }
}

fn crl_request(id: &str) -> Vec<u8> {
    Request::Crl.to_xml(&Header::new(None, Some("example.org"), id))
}

/// xorshift64: a fixed-seed generator for mutations.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_are_answered_and_the_connection_stays_open() {
    let dir = TestDir::init(&[]);
    let served = dir.serve(&[]);
    let mut conn = raw(&served.addr, &dir.root_der).await.expect("TLS");

    assert_eq!(
        conn.error_for(b"garbage").await,
        ("0".into(), ErrorCode::UnknownRequest)
    );
    let version = br#"<message xmlns="urn:sixchat:irp" version="2" type="crl" id="v1"/>"#;
    assert_eq!(
        conn.error_for(version).await,
        ("v1".into(), ErrorCode::Version)
    );
    let unknown = br#"<message xmlns="urn:sixchat:irp" version="1" type="launch" id="u1"/>"#;
    assert_eq!(
        conn.error_for(unknown).await,
        ("u1".into(), ErrorCode::UnknownRequest)
    );
    let bad_csr = br#"<message xmlns="urn:sixchat:irp" version="1" type="enroll" id="m1"><user_id>a@example.org</user_id><secret>s</secret><csr>!!</csr></message>"#;
    assert_eq!(
        conn.error_for(bad_csr).await,
        ("m1".into(), ErrorCode::UnknownRequest)
    );

    // Mutations of valid requests and plain noise: every frame is answered.
    let lookup = Request::Lookup {
        user_id: support::user("alice@example.org"),
    }
    .to_xml(&Header::new(
        Some("alice@example.org"),
        Some("example.org"),
        "q",
    ));
    let mut seed = 0x5eed_u64;
    for round in 0..300 {
        let mut body = if round % 3 == 0 {
            crl_request("c")
        } else {
            lookup.clone()
        };
        let edits = 1 + next(&mut seed) % 4;
        for _ in 0..edits {
            let at = usize::try_from(next(&mut seed)).unwrap() % body.len();
            match next(&mut seed) % 3 {
                0 => body[at] = u8::try_from(next(&mut seed) % 256).unwrap(),
                1 => body.truncate(at.max(1)),
                _ => body.insert(at, b"<>&\"'\0\xff"[at % 7]),
            }
        }
        if round % 10 == 0 {
            body = (0..next(&mut seed) % 200)
                .map(|_| u8::try_from(next(&mut seed) % 256).unwrap())
                .collect();
        }
        conn.send(&body).await;
        assert!(
            conn.recv().await.is_some(),
            "round {round}: answered, still open"
        );
    }
    conn.send(&crl_request("after")).await;
    let (header, response) = conn.recv().await.expect("still serving");
    assert_eq!(header.id, "after");
    assert!(matches!(response, Response::Crl { .. }));

    // Over 1 MiB without a client certificate: 1702, then closed.
    conn.stream
        .write_all(&(2u32 << 20).to_be_bytes())
        .await
        .unwrap();
    let (_, response) = conn.recv().await.expect("an answer before the close");
    assert!(matches!(response, Response::Error(e) if e.code == ErrorCode::TooLarge));
    assert!(conn.recv().await.is_none(), "closed");

    // The server is unharmed.
    let mut fresh = raw(&served.addr, &dir.root_der).await.expect("TLS");
    fresh.send(&crl_request("1")).await;
    assert!(matches!(
        fresh.recv().await,
        Some((_, Response::Crl { .. }))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_idle_connections_are_closed() {
    let dir = TestDir::init(&[]);
    let served = dir.serve(&["--handshake-secs", "1", "--idle-secs", "1"]);

    // A TCP connection that never starts TLS.
    let mut tcp = TcpStream::connect(&served.addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(ANSWER, tcp.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)));
    assert!(started.elapsed() < Duration::from_secs(5));

    // A TLS connection that sends nothing after the handshake.
    let mut conn = raw(&served.addr, &dir.root_der).await.expect("TLS");
    conn.send(&crl_request("1")).await;
    assert!(conn.recv().await.is_some());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(conn.recv().await.is_none(), "idle connection closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once() {
    let dir = TestDir::init(&[]);
    let served = dir.serve(&["--max-connections", "1"]);
    let mut first = raw(&served.addr, &dir.root_der).await.expect("TLS");
    first.send(&crl_request("1")).await;
    assert!(first.recv().await.is_some());

    let started = Instant::now();
    let second = raw(&served.addr, &dir.root_der).await;
    assert!(second.is_err(), "the second connection is refused");
    assert!(started.elapsed() < Duration::from_secs(5));

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut again) = raw(&served.addr, &dir.root_der).await {
            again.send(&crl_request("2")).await;
            if again.recv().await.is_some() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "a slot frees up when a connection ends"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
