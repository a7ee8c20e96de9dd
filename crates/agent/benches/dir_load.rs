//! Load on a real `sixchat-dir serve` child process over TLS on loopback:
//!
//! 1. lookups per second and their latency (p50/p99) with `CLIENTS` (100)
//!    concurrent authenticated TLS connections, each sending one lookup at a
//!    time;
//! 2. registrations per second (each a fresh RSA-PSS-signed address record
//!    verified and written durably by the DIR);
//! 3. the DIR's resident memory with `CONNS` (10 000) open TLS connections;
//! 4. lookups answered from the database (`serve --no-cache`) with the
//!    10 users above, and again after `USERS` (1 000 000) users with
//!    certificates were added.
//!
//! Run with `scripts/bench-dir.sh` (release build, raised file limit).
//! Environment: `BENCH_SECS` (10), `CLIENTS` (100), `CONNS` (10000),
//! `USERS` (1000000), `SIXCHAT_DIR_BIN` (default: beside this bench);
//! `PACED` (10000: the aggregate rate of the paced cached runs), `PACED_DB`
//! (3000: the paced database-path runs); `ONLY_LOOKUPS=1`
//! stops after the first lookup runs.

// Counts and durations become f64 only for printing rates and percentiles.
#![allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sixchat_agent::irp::directory::{self, Directory};
use sixchat_agent::irp::{ClientAuth, DirTrust, IrpClient};
use sixchat_agent::store::DirRecord;
use sixchat_pki::keys::IdentityKey;
use sixchat_proto::HandshakeSigner as _;
use sixchat_proto::UserId;
use sixchat_proto::irp::{AddressRecord, Invite, Request, Response, SignedRecord};
use sixchat_testkit::{Dir, Proc, free_port, target_bin};

const DOMAIN: &str = "bench.example";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn dir_bin() -> PathBuf {
    if let Ok(path) = std::env::var("SIXCHAT_DIR_BIN") {
        return PathBuf::from(path);
    }
    target_bin("sixchat-dir")
}

/// The DIR in `data`, driven by its admin commands.
fn dir(data: &Path) -> Dir {
    Dir::new(dir_bin(), data, "bench")
}

fn admin(data: &Path, args: &[&str]) -> String {
    dir(data).admin(args).trim().to_owned()
}

fn serve(data: &Path, port: u16, extra: &[&str]) -> Proc {
    let mut command = dir(data).command();
    command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--max-connections",
            "20000",
            "--max-per-source",
            "20000",
            "--rate",
            "1000000",
        ])
        .args(extra);
    let mut proc = Proc::spawn_quiet("sixchat-dir", command);
    proc.wait_for("listening on", Duration::from_secs(600));
    proc
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// User plus system CPU time of a process, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

struct Enrolled {
    user: UserId,
    auth: ClientAuth,
}

async fn lookups(
    address: &str,
    root: &[u8],
    auth: &ClientAuth,
    targets: Arc<Vec<UserId>>,
    clients: u64,
    secs: u64,
    paced_per_sec: Option<u64>,
) -> (f64, Duration, Duration, Duration) {
    let mut tasks = tokio::task::JoinSet::new();
    let start_line = Arc::new(tokio::sync::Barrier::new(clients as usize));
    for n in 0..clients {
        let address = address.to_owned();
        let root = root.to_vec();
        let auth = auth.clone();
        let targets = targets.clone();
        let start_line = start_line.clone();
        tasks.spawn(async move {
            let mut client = IrpClient::connect(&address, &root, Some(auth))
                .await
                .expect("connect");
            start_line.wait().await;
            let started = Instant::now();
            let deadline = started + Duration::from_secs(secs);
            // Paced: each client sends on a fixed schedule (offset per client), and
            // latency counts from the scheduled time, so a stall is not hidden.
            let interval =
                paced_per_sec.map(|total| Duration::from_secs_f64(clients as f64 / total as f64));
            let mut latencies = Vec::new();
            let mut i = n as usize;
            let mut sent = 0u32;
            while Instant::now() < deadline {
                let user_id = targets[i % targets.len()].clone();
                i += 7919;
                let begun = match interval {
                    Some(interval) => {
                        let at =
                            started + interval.mul_f64(n as f64 / clients as f64) + interval * sent;
                        sent += 1;
                        tokio::time::sleep_until(at.into()).await;
                        at
                    }
                    None => Instant::now(),
                };
                let response = client.call(&Request::Lookup { user_id }).await;
                latencies.push(begun.elapsed());
                assert!(matches!(response, Ok(Response::Lookup(_))), "{response:?}");
            }
            latencies
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.expect("lookup task"));
    }
    all.sort();
    let rate = all.len() as f64 / secs as f64;
    (
        rate,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or_default(),
    )
}

fn bulk_users(db: &Path, count: u64) {
    let conn = rusqlite::Connection::open(db).expect("open dir.db");
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .expect("pragmas");
    let started = Instant::now();
    conn.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
         INSERT INTO users (user_id, name, email, status, created, last_seen)
           SELECT 'user' || i || '@{DOMAIN}', 'User ' || i, NULL, 'active', 0, NULL FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
         INSERT INTO certificates (serial, user_id, ski_hex, spki_sha256, spki, der, not_before, not_after, issued, revoked_at, reason)
           SELECT 1000000000000 + i, 'user' || i || '@{DOMAIN}', hex(randomblob(20)), randomblob(32), t.spki, t.der, t.not_before, t.not_after, t.issued, NULL, NULL
           FROM n, (SELECT * FROM certificates LIMIT 1) AS t;
         COMMIT;"
    ))
    .expect("bulk insert");
    println!(
        "generated {count} users with certificates in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[allow(clippy::too_many_lines)] // the whole load run (start, enrol, measure, report) read top to bottom
fn main() {
    let secs = env_or("BENCH_SECS", 10);
    let clients = env_or("CLIENTS", 100);
    let conns = env_or("CONNS", 10_000);
    let users = env_or("USERS", 1_000_000);
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("dir");
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    admin(&data, &["init", "--domain", DOMAIN, "--address", &address]);
    let invites: Vec<Invite> = (0..9)
        .map(|n| {
            let user = format!("bench{n}@{DOMAIN}");
            Invite::parse(&admin(&data, &["invite", &user, "--name", &user])).expect("invite")
        })
        .collect();
    let mut dir = serve(&data, port, &[]);
    let pid = dir.pid();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut enrolled = Vec::new();
        let mut root = Vec::new();
        for invite in &invites {
            let key = tokio::task::spawn_blocking(|| IdentityKey::generate(2048))
                .await
                .expect("keygen task")
                .expect("key");
            let done = directory::enroll(invite, invite.user_id.local_part(), key, Duration::ZERO)
                .await
                .expect("enroll");
            root.clone_from(&done.root_der);
            enrolled.push(Enrolled {
                user: invite.user_id.clone(),
                auth: ClientAuth {
                    chain: done.chain,
                    key: Arc::new(done.key),
                },
            });
        }
        let dir_record = DirRecord {
            domain: DOMAIN.to_owned(),
            address: address.clone(),
            root_der: root.clone(),
        };
        // Every user but the first registers an address, so lookups carry a record.
        for (n, e) in enrolled.iter().enumerate().skip(1) {
            Directory::new(dir_record.clone(), e.auth.chain.clone(), e.auth.key.clone())
                .register(&[format!("127.0.0.1:{}", 40000 + n).parse().expect("addr")], 1, 3600)
                .await
                .expect("register");
        }
        let targets: Arc<Vec<UserId>> =
            Arc::new(enrolled.iter().skip(1).map(|e| e.user.clone()).collect());
        let (rss_idle, _) = rss_kib(pid);
        println!("DIR idle RSS: {:.1} MiB", rss_idle as f64 / 1024.0);

        let cpu_before = cpu_ticks(pid);
        let (rate, p50, p99, max) =
            lookups(&address, &root, &enrolled[0].auth, targets.clone(), clients, secs, None).await;
        let cpu_secs = (cpu_ticks(pid) - cpu_before) as f64 / 100.0;
        let cpu_per_lookup = cpu_secs / (rate * secs as f64);
        println!(
            "lookups, as fast as {clients} TLS clients can go (closed loop, load generator on the same cores): {rate:.0}/s over {secs} s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
        println!(
            "  the DIR used {cpu_secs:.1} CPU-seconds: {:.0} us per lookup, i.e. {:.0} lookups/s per core",
            cpu_per_lookup * 1e6,
            1.0 / cpu_per_lookup
        );
        let paced = env_or("PACED", 10_000);
        let (rate, p50, p99, max) =
            lookups(&address, &root, &enrolled[0].auth, targets.clone(), clients, secs, Some(paced)).await;
        println!(
            "lookups paced at {paced}/s over {clients} TLS clients: {rate:.0}/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (from the scheduled send time)",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );

        if std::env::var_os("ONLY_LOOKUPS").is_some() {
            return;
        }
        // Registrations: one connection per user kept open, sequence numbers
        // rising; each record signed by the user (RSA-PSS) and durably stored.
        let mut tasks = tokio::task::JoinSet::new();
        for e in enrolled.iter().skip(1) {
            let (address, root, auth, user) =
                (address.clone(), root.clone(), e.auth.clone(), e.user.clone());
            tasks.spawn(async move {
                let mut client = IrpClient::connect(&address, &root, Some(auth.clone()))
                    .await
                    .expect("connect");
                let deadline = Instant::now() + Duration::from_secs(secs);
                let mut sequence = 2;
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let record = AddressRecord {
                        user_id: user.clone(),
                        sequence,
                        expires_unix: sixchat_agent::store::now_unix() + 3600,
                        addresses: vec!["127.0.0.1:41000".parse().expect("addr")],
                    };
                    let bytes = record.to_bytes();
                    let signature = auth
                        .key
                        .sign_pss_sha256(&AddressRecord::signed_data(&bytes))
                        .expect("sign");
                    let response = client
                        .call(&Request::Register {
                            record: SignedRecord { bytes, signature },
                        })
                        .await;
                    assert!(matches!(response, Ok(Response::Register { .. })), "{response:?}");
                    sequence += 1;
                    done += 1;
                }
                done
            });
        }
        let mut registrations = 0;
        while let Some(done) = tasks.join_next().await {
            registrations += done.expect("register task");
        }
        println!(
            "registrations: {:.0}/s ({} users, each on its own TLS connection; signed, verified, durably stored)",
            registrations as f64 / secs as f64,
            targets.len()
        );

        // Memory with many open connections.
        let (before, _) = rss_kib(pid);
        let mut open = Vec::with_capacity(conns as usize);
        let started = Instant::now();
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..conns {
            let address = address.clone();
            let root = root.clone();
            batch.spawn(async move { IrpClient::connect_with(&address, DirTrust::Root(&root), None).await });
            if batch.len() >= 64 {
                if let Some(done) = batch.join_next().await {
                    open.push(done.expect("task").expect("connection"));
                }
            }
        }
        while let Some(done) = batch.join_next().await {
            open.push(done.expect("task").expect("connection"));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (after, peak) = rss_kib(pid);
        println!(
            "memory: {} open TLS connections (opened in {:.1} s): DIR RSS {:.1} MiB (was {:.1} MiB; {:.1} KiB per connection; peak {:.1} MiB)",
            open.len(),
            started.elapsed().as_secs_f64(),
            after as f64 / 1024.0,
            before as f64 / 1024.0,
            (after.saturating_sub(before)) as f64 / open.len().max(1) as f64,
            peak as f64 / 1024.0
        );
        drop(open);
    });
    dir.terminate();
    if std::env::var_os("ONLY_LOOKUPS").is_some() {
        return;
    }

    // The database path (no cache), first with the few users above, then
    // with a million more: the lookup time should not change.
    let mut dir = serve(&data, port, &["--no-cache"]);
    let (root, auth) = rt.block_on(async {
        let invite = Invite::parse(&admin(
            &data,
            &["invite", &format!("late@{DOMAIN}"), "--name", "Late"],
        ))
        .expect("invite");
        let key = tokio::task::spawn_blocking(|| IdentityKey::generate(2048))
            .await
            .expect("keygen")
            .expect("key");
        let late = directory::enroll(&invite, "late", key, Duration::ZERO)
            .await
            .expect("enroll");
        let auth = ClientAuth {
            chain: late.chain.clone(),
            key: Arc::new(late.key),
        };
        (late.root_der, auth)
    });
    let few: Vec<UserId> = (1..=8)
        .map(|n| UserId::parse(&format!("bench{n}@{DOMAIN}")).expect("user"))
        .collect();
    rt.block_on(database_path(
        "database path, 10 users",
        &address,
        &root,
        &auth,
        Arc::new(few),
        clients,
        secs,
    ));
    dir.terminate();

    bulk_users(&data.join("dir.db"), users);
    let mut dir = serve(&data, port, &["--no-cache"]);
    let mut x: u64 = 12345;
    let many: Vec<UserId> = (0..20_000)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let n = (x >> 33) % users + 1;
            UserId::parse(&format!("user{n}@{DOMAIN}")).expect("user")
        })
        .collect();
    rt.block_on(database_path(
        &format!("database path, {users} more users (20 000 of them looked up at random)"),
        &address,
        &root,
        &auth,
        Arc::new(many),
        clients,
        secs,
    ));
    dir.terminate();
}

/// Lookups answered from the database: as fast as they go, then paced at
/// `PACED_DB` per second.
async fn database_path(
    label: &str,
    address: &str,
    root: &[u8],
    auth: &ClientAuth,
    targets: Arc<Vec<UserId>>,
    clients: u64,
    secs: u64,
) {
    let (rate, p50, p99, max) =
        lookups(address, root, auth, targets.clone(), clients, secs, None).await;
    println!(
        "lookups, {label}, closed loop: {rate:.0}/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    let paced = env_or("PACED_DB", 3_000);
    let (rate, p50, p99, max) =
        lookups(address, root, auth, targets, clients, secs, Some(paced)).await;
    println!(
        "lookups, {label}, paced at {paced}/s: {rate:.0}/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
}
