//! N real TCP handshakes on loopback, SixChat's Direct handshake next to a
//! rustls TLS 1.3 handshake with client certificates, same RSA-2048 keys, in
//! the same run. Both are driven by blocking threads; a handshake counts from
//! `connect` until the client has the server's confirmation (SixChat:
//! Session_Ready verified; rustls: the handshake done and the server's first
//! application byte read). Prints p50, p99 and handshakes per second, and the
//! ratios. `SIXCHAT_BENCH_N` sets N (default 300).

mod common;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sixchat_proto::frame::{Frame, FrameReader};
use sixchat_proto::{CipherSuite, Config, Initiator, OsEntropy, Responder, Step, UserId};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn read_frame(stream: &mut TcpStream, reader: &mut FrameReader, buf: &mut [u8]) -> Option<Frame> {
    loop {
        if let Some(frame) = reader.next_frame().ok()? {
            return Some(frame);
        }
        let n = stream.read(buf).ok()?;
        if n == 0 {
            return None;
        }
        reader.push(&buf[..n]);
    }
}

fn sixchat_server(listener: &TcpListener, config: &Arc<Config>, n: usize) {
    let mut buf = vec![0u8; 65_536];
    for _ in 0..n {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let mut responder = Responder::new(config.clone(), Box::new(OsEntropy));
        let mut reader = FrameReader::new();
        while let Some(frame) = read_frame(&mut stream, &mut reader, &mut buf) {
            match responder.handle(&frame, now()) {
                Step::Continue(out) => stream.write_all(&out).expect("write"),
                Step::Complete(out, _) => {
                    stream.write_all(&out).expect("write");
                    break;
                }
                Step::Failed(_, e) => panic!("responder: {e}"),
            }
        }
    }
}

fn sixchat_client(addr: std::net::SocketAddr, config: &Arc<Config>) -> Duration {
    let mut buf = vec![0u8; 65_536];
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut initiator, first) = Initiator::start(
        config.clone(),
        UserId::parse("bob@b.example").expect("uid"),
        false,
        Box::new(OsEntropy),
    );
    stream.write_all(&first).expect("write");
    let mut reader = FrameReader::new();
    loop {
        let frame = read_frame(&mut stream, &mut reader, &mut buf).expect("frame");
        match initiator.handle(&frame, now()) {
            Step::Continue(out) => stream.write_all(&out).expect("write"),
            Step::Complete(..) => return start.elapsed(),
            Step::Failed(_, e) => panic!("initiator: {e}"),
        }
    }
}

struct TlsSetup {
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
}

fn tls_setup() -> TlsSetup {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let pkcs8 =
        |name: &str| std::fs::read(format!("{}/{name}.pk8", common::FIXTURES)).expect("fixture");
    let rcgen_key = |name: &str| {
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8(name)),
            &rcgen::PKCS_RSA_SHA256,
        )
        .expect("rcgen key")
    };
    let ca_key = rcgen_key("rsa2048-c");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "bench CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    // The same RSA-2048 keys as the SixChat side: bob serves, alice is the client.
    let server_key = rcgen_key("rsa2048-b");
    let mut server_params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    server_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .expect("server cert");
    let client_key = rcgen_key("rsa2048-a");
    let mut client_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Alice A");
    let client_cert = client_params
        .signed_by(&client_key, &issuer)
        .expect("client cert");

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_cert.der().to_vec()))
        .expect("root");
    let roots = Arc::new(roots);
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![
                CertificateDer::from(server_cert.der().to_vec()),
                CertificateDer::from(ca_cert.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8("rsa2048-b"))),
        )
        .expect("server config");
    server.send_tls13_tickets = 0;
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![
                CertificateDer::from(client_cert.der().to_vec()),
                CertificateDer::from(ca_cert.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8("rsa2048-a"))),
        )
        .expect("client config");
    TlsSetup {
        server: Arc::new(server),
        client: Arc::new(client),
    }
}

fn tls_server(listener: &TcpListener, config: &Arc<rustls::ServerConfig>, n: usize) {
    for _ in 0..n {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let mut conn = rustls::ServerConnection::new(config.clone()).expect("server conn");
        while conn.is_handshaking() {
            conn.complete_io(&mut stream).expect("server handshake");
        }
        conn.writer().write_all(b"!").expect("write");
        conn.complete_io(&mut stream).expect("flush");
    }
}

fn tls_client(addr: std::net::SocketAddr, config: &Arc<rustls::ClientConfig>) -> Duration {
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut conn = rustls::ClientConnection::new(config.clone(), name).expect("client conn");
    let mut tls = rustls::Stream::new(&mut conn, &mut stream);
    let mut byte = [0u8; 1];
    tls.read_exact(&mut byte).expect("server's first byte");
    start.elapsed()
}

struct Stats {
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

#[allow(clippy::cast_sign_loss, clippy::cast_precision_loss)] // quantile index of a few hundred samples
fn stats(mut samples: Vec<Duration>, total: Duration) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        per_second: samples.len() as f64 / total.as_secs_f64(),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("SIXCHAT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let alice = common::side("rsa2048-a", "alice@a.example", "Alice A");
    let bob = common::side("rsa2048-b", "bob@b.example", "Bob B");
    let (client_config, server_config) = common::configs(&alice, &bob, CipherSuite::Aes256Gcm);
    let tls = tls_setup();

    // Warm up both, then alternate rounds so machine noise hits both alike.
    let rounds = 3;
    let mut six_samples = Vec::new();
    let mut tls_samples = Vec::new();
    let (mut six_total, mut tls_total) = (Duration::ZERO, Duration::ZERO);
    for round in 0..=rounds {
        let per_round = if round == 0 { 20 } else { n / rounds };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = server_config.clone();
        let server = std::thread::spawn(move || sixchat_server(&listener, &config, per_round));
        let start = Instant::now();
        let samples: Vec<Duration> = (0..per_round)
            .map(|_| sixchat_client(addr, &client_config))
            .collect();
        let elapsed = start.elapsed();
        server.join().expect("server");
        if round > 0 {
            six_samples.extend(samples);
            six_total += elapsed;
        }

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = tls.server.clone();
        let server = std::thread::spawn(move || tls_server(&listener, &config, per_round));
        let start = Instant::now();
        let samples: Vec<Duration> = (0..per_round)
            .map(|_| tls_client(addr, &tls.client))
            .collect();
        let elapsed = start.elapsed();
        server.join().expect("server");
        if round > 0 {
            tls_samples.extend(samples);
            tls_total += elapsed;
        }
    }
    let six = stats(six_samples, six_total);
    let tls = stats(tls_samples, tls_total);
    println!("loopback handshakes, RSA-2048 both sides, N = {n} each, same run");
    println!(
        "{:<34} {:>10} {:>10} {:>14}",
        "", "p50 ms", "p99 ms", "handshakes/s"
    );
    for (label, s) in [
        ("SixChat Direct v2 (AES256GCM)", &six),
        ("rustls TLS 1.3 + client cert", &tls),
    ] {
        println!(
            "{label:<34} {:>10.3} {:>10.3} {:>14.1}",
            s.p50.as_secs_f64() * 1e3,
            s.p99.as_secs_f64() * 1e3,
            s.per_second
        );
    }
    println!(
        "ratio SixChat/rustls: p50 {:.2}x, p99 {:.2}x, throughput {:.2}x (goal: latency within 1.5x)",
        six.p50.as_secs_f64() / tls.p50.as_secs_f64(),
        six.p99.as_secs_f64() / tls.p99.as_secs_f64(),
        six.per_second / tls.per_second
    );
}
