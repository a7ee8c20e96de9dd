//! Nobody is locked out by connections that never speak (issue 9, item 6):
//! a real `sixchat-cli run` child whose DIR never answers, 200 silent and
//! trickling connections from 50 loopback source addresses and ten more a
//! second from others, and an honest peer from 127.0.0.1 who still chats,
//! with the agent's memory flat.

#[path = "support/procs.rs"]
mod procs;

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Output;
use std::time::{Duration, Instant};

use procs::{Proc, free_port, sixchat_cli as cli};

const WAIT: Duration = Duration::from_secs(60);

fn ok(out: &Output) -> String {
    let text = format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A TCP connection to `to` from the loopback address `from`.
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(from.into(), 0).into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario with real processes, read top to bottom
fn silent_connections_from_many_sources_lock_no_one_out() {
    let data = tempfile::tempdir().expect("temp dir");
    let profiles = data.path();
    for (profile, user) in [("alice", "alice@lan.example"), ("bob", "bob@lan.example")] {
        ok(&cli(profiles, profile)
            .args(["id", "new", "--user", user, "--name", profile])
            .output()
            .expect("cli runs"));
    }
    let fingerprint = |profile: &str| {
        let shown = ok(&cli(profiles, profile)
            .args(["--json", "id", "show"])
            .output()
            .expect("cli runs"));
        let shown: serde_json::Value = serde_json::from_str(shown.trim()).expect("json");
        shown["fingerprint"]
            .as_str()
            .expect("fingerprint")
            .to_owned()
    };
    let (alice_fp, bob_fp) = (fingerprint("alice"), fingerprint("bob"));
    ok(&cli(profiles, "alice")
        .args(["trust", "pin", "bob@lan.example", &bob_fp])
        .output()
        .expect("cli runs"));
    ok(&cli(profiles, "bob")
        .args(["trust", "pin", "alice@lan.example", &alice_fp])
        .output()
        .expect("cli runs"));

    // Alice knows a DIR that takes connections and never answers: every
    // handshake's CRL check meets the worst case.
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let root = sixchat_pki::ca::CertificateAuthority::new_root(
        "dark.example",
        sixchat_pki::keys::IdentityKey::generate(2048).expect("key"),
        30,
    )
    .expect("root");
    sixchat_agent::Profile::locate("alice", Some(profiles))
        .expect("profile")
        .open_store()
        .expect("store")
        .set_dir(&sixchat_agent::store::DirRecord {
            domain: "dark.example".to_owned(),
            address: blackhole.local_addr().expect("address").to_string(),
            root_der: root.certificate_der().to_vec(),
        })
        .expect("DIR recorded");

    let port = free_port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let mut command = cli(profiles, "alice");
    command.args(["run", "--listen", &listen.to_string()]);
    let mut alice = Proc::spawn("alice", command);
    alice.wait_for("listening on", WAIT);
    let rss_before = rss_kib(alice.pid());

    // 200 connections from 127.0.0.2 … 127.0.0.51, four from each: most
    // never send a byte, every fifth sends one byte a second.
    let mut crowd = Vec::new();
    for i in 0..200u32 {
        let from = Ipv4Addr::new(127, 0, 0, 2 + u8::try_from(i % 50).expect("small"));
        if let Ok(stream) = connect_from(from, listen) {
            crowd.push((i % 5 == 0, stream));
        }
    }
    assert!(
        crowd.len() >= 150,
        "only {} connections opened",
        crowd.len()
    );
    // Meanwhile more keep coming, ten a second, from 127.0.1.0 … 127.0.1.255.
    let trickle = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(12);
        let mut tick = 0u32;
        while Instant::now() < until {
            if tick % 10 == 0 {
                for (trickles, stream) in &mut crowd {
                    if *trickles {
                        let _ = stream.write_all(&[0]);
                    }
                }
            }
            let from = Ipv4Addr::new(127, 0, 1, u8::try_from(tick % 256).expect("small"));
            if let Ok(stream) = connect_from(from, listen) {
                crowd.push((false, stream));
            }
            tick += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        crowd
    });
    std::thread::sleep(Duration::from_millis(500));

    // The honest peer, from 127.0.0.1, while the crowd hangs on.
    let started = Instant::now();
    let out = cli(profiles, "bob")
        .args([
            "chat",
            "alice@lan.example",
            "--addr",
            &listen.to_string(),
            "through the crowd",
        ])
        .output()
        .expect("cli runs");
    let took = started.elapsed();
    ok(&out);
    alice.wait_for(": through the crowd", WAIT);
    eprintln!(
        "the honest chat took {:.2} s amid the crowd",
        took.as_secs_f64()
    );
    let rss_after = rss_kib(alice.pid());
    eprintln!("alice's RSS: {rss_before} KiB before, {rss_after} KiB amid the crowd");
    assert!(
        rss_after < rss_before + 64 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    drop(trickle.join().expect("trickle thread"));
    assert!(alice.terminate().is_some_and(|s| s.success()));
    drop(blackhole);
}
