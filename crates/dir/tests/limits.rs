//! The DIR under bad input and misbehaving connections, byte by byte: a raw
//! TLS client (no IRP client to tidy things up) against a real
//! `sixchat-dir serve`.

mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use sixchat_proto::irp::{ErrorCode, Header, Request, Response};
use support::{ANSWER, Raw, TestDir};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

async fn raw(served: &support::Served, dir: &TestDir) -> std::io::Result<Raw> {
    Raw::connect(served, dir).await
}

fn crl_request(id: &str) -> Vec<u8> {
    Request::Crl.to_xml(&Header::new(None, Some("example.org"), id))
}

/// Asks `conn` for the CRL and checks that it is answered, under `id`: the
/// server still serves that connection.
async fn serves_crl(conn: &mut Raw, id: &str) {
    conn.send(&crl_request(id)).await;
    let (header, response) = conn.recv().await.expect("answered");
    assert_eq!(header.id, id);
    assert!(matches!(response, Response::Crl { .. }), "{response:?}");
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
    let mut conn = raw(&served, &dir).await.expect("TLS");

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
    serves_crl(&mut conn, "after").await;

    // Over 1 MiB without a client certificate: 1702, then closed.
    conn.stream
        .write_all(&(2u32 << 20).to_be_bytes())
        .await
        .unwrap();
    let (_, response) = conn.recv().await.expect("an answer before the close");
    assert!(matches!(response, Response::Error(e) if e.code == ErrorCode::TooLarge));
    assert!(conn.recv().await.is_none(), "closed");

    // The server is unharmed.
    let mut fresh = raw(&served, &dir).await.expect("TLS");
    serves_crl(&mut fresh, "1").await;
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
    let mut conn = raw(&served, &dir).await.expect("TLS");
    conn.send(&crl_request("1")).await;
    assert!(conn.recv().await.is_some());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(conn.recv().await.is_none(), "idle connection closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once() {
    let dir = TestDir::init(&[]);
    let served = dir.serve(&["--max-connections", "1"]);
    let mut first = raw(&served, &dir).await.expect("TLS");
    first.send(&crl_request("1")).await;
    assert!(first.recv().await.is_some());

    let started = Instant::now();
    let second = raw(&served, &dir).await;
    assert!(second.is_err(), "the second connection is refused");
    assert!(started.elapsed() < Duration::from_secs(5));

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut again) = raw(&served, &dir).await {
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

/// A start tag with 55 000 `xmlns:aN` attributes: just under 1 MiB.
fn namespace_flood() -> Vec<u8> {
    let mut body = String::from("<message");
    for n in 0..55_000 {
        let _ = write!(body, " xmlns:a{n}=\"u\"");
    }
    body.push_str(" id=\"flood\"/>");
    assert!(body.len() > 700_000 && body.len() <= 1 << 20);
    body.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_floods_do_not_hold_up_other_connections() {
    let dir = TestDir::init(&[]);
    let served = dir.serve(&[]);
    let mut attacker = raw(&served, &dir).await.expect("TLS");
    let mut honest = raw(&served, &dir).await.expect("TLS");
    honest.send(&crl_request("warm")).await;
    assert!(honest.recv().await.is_some());

    // Two 1 MiB frames, then at once an unrelated request elsewhere (this
    // took 12 s when each frame cost a quadratic duplicate check, twice).
    let flood = namespace_flood();
    let mut frames = Vec::new();
    for _ in 0..2 {
        frames.extend_from_slice(&u32::try_from(flood.len()).unwrap().to_be_bytes());
        frames.extend_from_slice(&flood);
    }
    let (attack_read, mut attack_write) = tokio::io::split(attacker.stream);
    let sending = tokio::spawn(async move {
        attack_write.write_all(&frames).await.expect("write");
        attack_write.flush().await.expect("flush");
        attack_write
    });
    let started = Instant::now();
    serves_crl(&mut honest, "prompt").await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "answered in {took:?}");

    // Each attack frame is refused (too many attributes: 1103), in order.
    let attack_write = sending.await.expect("sent");
    attacker.stream = attack_read.unsplit(attack_write);
    for _ in 0..2 {
        match attacker.recv().await {
            Some((header, Response::Error(error))) => {
                assert_eq!(error.code, ErrorCode::UnknownRequest);
                assert!(error.description.contains("attributes"), "{error:?}");
                assert_eq!(header.id, "0", "no envelope was read");
            }
            other => panic!("expected an error_response, got {other:?}"),
        }
    }
    serves_crl(&mut attacker, "after").await;
}

/// Whether the server has closed `tcp` (EOF or reset) within `wait`.
async fn closed_within(tcp: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(wait, tcp.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_from_many_sources_do_not_hold_up_an_honest_client() {
    let dir = TestDir::init(&[]);
    let served = dir.serve(&[]);
    // 200 TCP connections that never start TLS, four from each of 50
    // sources (127.0.0.2 to 127.0.0.51): under the per-source cap, so kept.
    let mut silent = Vec::new();
    for n in 2..=51u8 {
        for _ in 0..4 {
            silent.push(
                support::tcp_from(support::loopback(n), &served)
                    .await
                    .expect("connect"),
            );
        }
    }
    let started = Instant::now();
    let mut honest = raw(&served, &dir).await.expect("TLS from 127.0.0.1");
    serves_crl(&mut honest, "honest").await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "answered in {took:?}");
    for tcp in silent.iter_mut().step_by(10) {
        assert!(
            !closed_within(tcp, Duration::from_millis(50)).await,
            "a silent connection under the caps is kept until its handshake deadline"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_from_one_source_over_its_cap_are_closed_at_once() {
    let dir = TestDir::init(&[]);
    let served = dir.serve(&["--max-per-source", "4"]);
    let crowded = support::loopback(2);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(support::tcp_from(crowded, &served).await.expect("connect"));
    }
    // The fifth from that source: closed at once, without a handshake.
    let started = Instant::now();
    let mut fifth = support::tcp_from(crowded, &served).await.expect("connect");
    assert!(closed_within(&mut fifth, Duration::from_secs(5)).await);
    assert!(started.elapsed() < Duration::from_secs(5));
    let refused = Raw::connect_from(crowded, &served, &dir, None).await;
    assert!(refused.is_err(), "no TLS from that source either");
    for tcp in &mut held {
        assert!(
            !closed_within(tcp, Duration::from_millis(50)).await,
            "the four are kept"
        );
    }

    // Another source is served.
    let mut other = Raw::connect_from(support::loopback(3), &served, &dir, None)
        .await
        .expect("TLS from another source");
    serves_crl(&mut other, "other").await;

    // When one of the four ends, the source may connect again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut again) = Raw::connect_from(crowded, &served, &dir, None).await {
            again.send(&crl_request("again")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_in_gets_the_connection_dropped() {
    let dir = TestDir::init(&[]);
    let served = dir.serve(&["--frame-secs", "2"]);
    let mut conn = raw(&served, &dir).await.expect("TLS");
    conn.send(&crl_request("first")).await;
    assert!(conn.recv().await.is_some());

    // A 200-byte frame at one byte every 250 ms would take 50 s; the body
    // must arrive within 2 s (the floor; 200 bytes at 64 KiB/s is less).
    let body = crl_request("slow");
    let (mut read, mut write) = tokio::io::split(conn.stream);
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        if write.write_all(&len).await.is_err() {
            return;
        }
        for byte in body {
            if write.write_all(&[byte]).await.is_err() || write.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(ANSWER, read.read(&mut buf)).await;
    let took = started.elapsed();
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "dropped without an answer: {read:?}"
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(8),
        "dropped after {took:?}"
    );
    trickle.abort();

    // A body that arrives in time is served on a fresh connection.
    let mut fresh = raw(&served, &dir).await.expect("TLS");
    serves_crl(&mut fresh, "fresh").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_length_reserves_no_memory() {
    let dir = TestDir::init(&[]);
    let alice_invite = dir.invite("alice@example.org", &[]);
    let bob_invite = dir.invite("bob@example.org", &[]);
    let served = dir.serve(&[]);
    let alice = support::enroll(&served, &dir, &alice_invite).await;
    let bob = support::enroll(&served, &dir, &bob_invite).await;
    let rss_before = served.rss_kib();

    // Twelve connections with a certificate announce 64 MiB frames: 768 MiB,
    // more than the 512 MiB budget. Half send nothing more, half 1 MiB and
    // a byte and then stall. Nothing is reserved for bytes not sent.
    let mut attackers = Vec::new();
    for n in 0..12 {
        let mut conn = Raw::connect_from(support::loopback(1), &served, &dir, Some(&alice))
            .await
            .expect("TLS with a certificate");
        conn.stream
            .write_all(&(64u32 << 20).to_be_bytes())
            .await
            .unwrap();
        if n % 2 == 1 {
            conn.stream
                .write_all(&vec![b' '; (1 << 20) + 1])
                .await
                .unwrap();
        }
        conn.stream.flush().await.unwrap();
        attackers.push(conn);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // An honest 2 MiB envelope still goes through at once.
    let started = Instant::now();
    let mut as_bob = support::as_agent(&served, &dir, &bob).await;
    let put = Request::StorePut {
        to: alice.user_id.clone(),
        envelope: vec![7; 2 << 20],
        expires_days: None,
    };
    let stored = tokio::time::timeout(Duration::from_secs(10), as_bob.call(&put)).await;
    assert!(
        matches!(stored, Ok(Ok(Response::StorePut { .. }))),
        "{stored:?} after {:?}",
        started.elapsed()
    );
    let grown_mib = served.rss_kib().saturating_sub(rss_before) / 1024;
    assert!(grown_mib < 64, "the DIR grew by {grown_mib} MiB");
    drop(attackers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_large_frames_cannot_starve_certified_uploads() {
    let dir = TestDir::init(&[]);
    let alice_invite = dir.invite("alice@example.org", &[]);
    let bob_invite = dir.invite("bob@example.org", &[]);
    // A budget of 64 MiB: without a budget of their own, 70 anonymous
    // callers each holding a 1 MiB step would take all of it.
    let served = dir.serve(&["--large-frame-mib", "64"]);
    let rss_before = served.rss_kib();
    let alice = support::enroll(&served, &dir, &alice_invite).await;
    let bob = support::enroll(&served, &dir, &bob_invite).await;

    // 70 callers without a certificate, from 10 sources, announce 1 MiB
    // frames and send a first byte each, then stall.
    let mut attackers = Vec::new();
    for n in 0..70u8 {
        let Ok(mut conn) =
            Raw::connect_from(support::loopback(2 + n % 10), &served, &dir, None).await
        else {
            continue;
        };
        let _ = conn.stream.write_all(&(1u32 << 20).to_be_bytes()).await;
        let _ = conn.stream.write_all(b"<").await;
        let _ = conn.stream.flush().await;
        attackers.push(conn);
    }
    assert!(attackers.len() >= 60, "only {} connected", attackers.len());
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Bob's 2 MiB envelope (a certified upload) goes through at once.
    let mut as_bob = support::as_agent(&served, &dir, &bob).await;
    let put = Request::StorePut {
        to: alice.user_id.clone(),
        envelope: vec![7; 2 << 20],
        expires_days: None,
    };
    let stored = tokio::time::timeout(Duration::from_secs(10), as_bob.call(&put)).await;
    assert!(
        matches!(stored, Ok(Ok(Response::StorePut { .. }))),
        "{stored:?}"
    );
    let grown_mib = served.rss_kib().saturating_sub(rss_before) / 1024;
    assert!(grown_mib < 64, "the DIR grew by {grown_mib} MiB");
    drop(attackers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_certificate_earns_no_large_frames() {
    let dir = TestDir::init(&[]);
    let alice_invite = dir.invite("alice@example.org", &[]);
    let bob_invite = dir.invite("bob@example.org", &[]);
    let served = dir.serve(&[]);
    let alice = support::enroll(&served, &dir, &alice_invite).await;
    let bob = support::enroll(&served, &dir, &bob_invite).await;
    let put = Request::StorePut {
        to: alice.user_id.clone(),
        envelope: vec![7; 2 << 20],
        expires_days: None,
    };
    let mut as_bob = support::as_agent(&served, &dir, &bob).await;
    assert!(matches!(
        as_bob.call(&put).await,
        Ok(Response::StorePut { .. })
    ));
    dir.admin_ok(&["revoke", "bob@example.org", "--reason", "keyCompromise"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // TLS still takes his certificate (it knows no CRL), but a 2 MiB frame
    // is over what a caller the DIR does not stand behind may send.
    // The DIR answers 1103 at the header and closes; the client may still
    // be writing the body then (a broken pipe). Either way nothing is stored.
    let mut as_bob = support::as_agent(&served, &dir, &bob).await;
    match as_bob.call(&put).await {
        Err(sixchat_agent::irp::IrpClientError::Refused(refusal)) => {
            assert_eq!(refusal.code, ErrorCode::TooLarge, "{refusal:?}");
        }
        Err(sixchat_agent::irp::IrpClientError::Io(_)) => {}
        other => panic!("a revoked key uploaded 2 MiB: {other:?}"),
    }
}
