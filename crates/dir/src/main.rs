//! `sixchat-dir`: the DIR server and its admin command line.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use sixchat_dir::admin::{self, InitOptions};
use sixchat_dir::files::{DataDir, Passphrase};
use sixchat_dir::limits::Limits;
use sixchat_dir::server::Server;
use sixchat_dir::store::certs::serial_hex;
use sixchat_dir::store::data::Quota;
use sixchat_dir::{DEFAULT_CERT_DAYS, DEFAULT_INVITE_DAYS};

/// The fixed limits, for `serve --help`.
const SERVE_LIMITS: &str = "\
Fixed limits (ARCHITECTURE.md, \"Where irp.md left room\"):
  frames        1 MiB without a client certificate, 64 MiB (store_put) with one;
                a body must arrive at 64 KiB/s or within --frame-secs; bodies over
                64 KiB share the --large-frame-mib budget (16 MiB for callers without
                a certificate), reserved 1 MiB at a time as bytes arrive; a store_fetch
                answer over 64 KiB takes 4x its size from it until sent (1801 if busy)
  offline store only for active users
  offline store per recipient 1000 envelopes / 256 MiB; one sender at most a quarter
                of that per recipient, and 2000 envelopes / 512 MiB in all (1701)
  recovery      backup_get: another domain refused at once (1201); 10 slow-hash
                requests at once then 6 a minute per source (1801); 5 attempts per
                source and UserID, 100 per UserID, per 15 minutes (1801)
A source is an IPv4 address or an IPv6 /64.";

/// The environment variable that may hold the key passphrase.
const PASSPHRASE_ENV: &str = "SIXCHAT_DIR_PASSPHRASE";

#[derive(Debug, Parser)]
#[command(
    name = "sixchat-dir",
    version = sixchat_host::VERSION,
    about = "SixChat DIR server: the domain's CA, directory and store (IRP)"
)]
struct Cli {
    /// The data folder (database, keys).
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Read the key passphrase from the first line of FILE (else from
    /// $SIXCHAT_DIR_PASSPHRASE; else the keys are protected by file mode only).
    #[arg(long, global = true, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the domain: root key and certificate, TLS certificate, database.
    Init {
        #[arg(long)]
        domain: String,
        /// HOST:PORT that agents dial (goes into invites); default <domain>:4604.
        #[arg(long)]
        address: Option<String>,
        /// Hold each enrollment until `approve`.
        #[arg(long)]
        require_approval: bool,
        /// Validity of issued identity certificates, in days.
        #[arg(long, default_value_t = DEFAULT_CERT_DAYS)]
        valid_days: u32,
    },
    /// Make a one-time invite for a user (created if new); prints it.
    Invite {
        user_id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// Days until the invite expires.
        #[arg(long, default_value_t = DEFAULT_INVITE_DAYS)]
        valid_days: u32,
        /// Seconds until the invite expires (overrides --valid-days; 0 makes
        /// an expired invite, for tests).
        #[arg(long, hide = true)]
        valid_secs: Option<i64>,
    },
    /// List users.
    Users {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a user's certificates (USERID) or one key's (SKI, hex); reissues the CRL.
    Revoke {
        target: String,
        /// unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation.
        #[arg(long)]
        reason: String,
    },
    /// Approve a user's enrollment that waits for approval.
    Approve { user_id: String },
    /// Serve IRP until SIGINT or SIGTERM.
    #[command(after_help = SERVE_LIMITS)]
    Serve {
        #[arg(long, default_value = "[::]:4604")]
        listen: SocketAddr,
        /// Connections open at once; more are closed at once.
        #[arg(long, default_value_t = 20_000)]
        max_connections: usize,
        /// Connections open at once from one source (an IPv4 address or an
        /// IPv6 /64); more from that source are closed at once.
        #[arg(long, default_value_t = 64)]
        max_per_source: usize,
        /// Requests per second per connection.
        #[arg(long, default_value_t = 2000)]
        rate: u32,
        /// Requests a connection may send at once (default: the rate).
        #[arg(long)]
        burst: Option<u32>,
        /// Close a connection idle this long.
        #[arg(long, default_value_t = 120)]
        idle_secs: u64,
        /// Close a connection whose TLS handshake takes longer.
        #[arg(long, default_value_t = 10)]
        handshake_secs: u64,
        /// Drop a connection whose frame body does not arrive within this
        /// many seconds or at 64 KiB/s, whichever allows longer.
        #[arg(long, default_value_t = 10)]
        frame_secs: u64,
        /// Disk budget of the offline store, in MiB: a store_put that would
        /// pass it is refused with 1701.
        #[arg(long, default_value_t = 8192)]
        store_mib: u64,
        /// Memory for request bodies over 64 KiB and large store_fetch answers,
        /// summed over all connections with a client certificate, in MiB (at
        /// least 64). Callers without one have 16 MiB of their own.
        #[arg(long, default_value_t = 512)]
        large_frame_mib: u32,
        /// Answer `lookup` without a client certificate.
        #[arg(long)]
        public_lookup: bool,
        /// Answer every request from the database, without the in-memory
        /// cache of callers and lookups (for measuring the database path).
        #[arg(long, hide = true)]
        no_cache: bool,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if let Err(e) = run(&Cli::parse()) {
        eprintln!("sixchat-dir: {e:#}");
        std::process::exit(1);
    }
}

fn passphrase(cli: &Cli) -> Result<Passphrase> {
    Ok(Passphrase::from_sources(
        cli.passphrase_file.as_deref(),
        std::env::var(PASSPHRASE_ENV).ok(),
    )?)
}

#[allow(clippy::too_many_lines)] // one arm per sixchat-dir subcommand, each a few lines
fn run(cli: &Cli) -> Result<()> {
    let Some(folder) = cli.data.clone() else {
        bail!("--data DIR is required");
    };
    let data = DataDir::new(folder);
    match &cli.command {
        Command::Init {
            domain,
            address,
            require_approval,
            valid_days,
        } => {
            let passphrase = passphrase(cli)?;
            let options = InitOptions {
                domain: domain.clone(),
                address: address.clone(),
                require_approval: *require_approval,
                cert_valid_days: *valid_days,
            };
            let report = admin::init(&data, &passphrase, &options)?;
            if passphrase.is_empty() {
                eprintln!(
                    "WARNING: no passphrase given (--passphrase-file or ${PASSPHRASE_ENV}): \
                     the root key is protected only by file permissions (mode 0600)."
                );
            }
            println!("domain        {}", report.domain);
            println!("address       {}", report.address);
            println!("root sha256   {}", report.root_fingerprint.to_hex());
            println!("root cert     {}", data.root_cert_path().display());
        }
        Command::Invite {
            user_id,
            name,
            email,
            valid_days,
            valid_secs,
        } => {
            let secs = valid_secs.unwrap_or(i64::from(*valid_days) * 86_400);
            let invite = admin::invite(&data, user_id, name, email.as_deref(), secs)?;
            println!("{invite}");
        }
        Command::Users { json } => print_users(&admin::users(&data)?, *json)?,
        Command::Revoke { target, reason } => {
            let serials = admin::revoke(&data, &passphrase(cli)?, target, reason)?;
            let list: Vec<String> = serials.iter().map(|s| serial_hex(*s)).collect();
            println!("revoked {} certificate(s): {}", list.len(), list.join(" "));
        }
        Command::Approve { user_id } => {
            admin::approve(&data, user_id)?;
            println!("approved {user_id}");
        }
        Command::Serve {
            listen,
            max_connections,
            max_per_source,
            rate,
            burst,
            idle_secs,
            handshake_secs,
            frame_secs,
            store_mib,
            large_frame_mib,
            public_lookup,
            no_cache,
        } => {
            let defaults = Limits::default();
            let limits = Limits {
                max_connections: *max_connections,
                max_per_source: *max_per_source,
                frame_floor: Duration::from_secs(*frame_secs),
                quota: Quota {
                    total_bytes: store_mib.saturating_mul(1 << 20),
                    ..defaults.quota
                },
                rate_per_sec: *rate,
                burst: burst.unwrap_or(*rate),
                idle: Duration::from_secs(*idle_secs),
                handshake: Duration::from_secs(*handshake_secs),
                public_lookup: *public_lookup,
                cache: !*no_cache,
                large_frame_budget_mib: *large_frame_mib,
                ..defaults
            };
            let server = Server::prepare(&data, &passphrase(cli)?, limits)
                .context("cannot start the server")?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(server.run(*listen, announce, stop_signal()))?;
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
    Ok(())
}

fn announce(addr: SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn print_users(users: &[sixchat_dir::store::users::UserSummary], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(users)?);
        return Ok(());
    }
    println!(
        "{:<32} {:<20} {:<24} {:<8} {:<17} {:<20} LAST SEEN",
        "USER ID", "NAME", "EMAIL", "STATUS", "SERIAL", "NOT AFTER"
    );
    for user in users {
        println!(
            "{:<32} {:<20} {:<24} {:<8} {:<17} {:<20} {}",
            user.user_id,
            user.name,
            user.email.as_deref().unwrap_or("-"),
            user.status.as_str(),
            user.serial_hex.as_deref().unwrap_or("-"),
            user.not_after_unix.map_or_else(|| "-".to_owned(), date),
            user.last_seen_unix.map_or_else(|| "-".to_owned(), date),
        );
    }
    Ok(())
}

fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
