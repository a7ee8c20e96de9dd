//! `run`: the listening agent.

use std::net::SocketAddr;

use clap::Args;
use serde_json::json;
use sixchat_agent::agent::events::addresses_text;
use sixchat_agent::launch;
use sixchat_agent::upkeep::UpkeepOptions;
use sixchat_agent::{Agent, AgentEvent, AgentOptions};
use tokio::sync::mpsc;

use crate::output::safe;
use crate::{Context, secret};

#[derive(Args)]
pub struct RunArgs {
    /// Address and port to accept sessions on; `[::]` takes IPv6 and IPv4. This exact
    /// address is registered with the DIR, or for `[::]`/`0.0.0.0` the machine's own addresses.
    #[arg(long, default_value = "[::]:4605", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// How often to fetch messages left at the DIR and retry the outbox.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    poll_secs: u64,
    /// How often to fetch the DIR's CRL (revocations count from the next fetch).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    crl_secs: u64,
    /// Lifetime of the registered address record (at most 86400); it is renewed a third before.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    record_secs: i64,
}

/// An unlocked agent, its events and the passphrase that unlocked it.
pub struct Opened {
    pub agent: Agent,
    pub events: mpsc::Receiver<AgentEvent>,
    pub passphrase: zeroize::Zeroizing<String>,
}

/// Unlocks the profile and builds its agent (with the profile's own DIR).
pub fn open_agent(ctx: &Context, options: AgentOptions) -> anyhow::Result<Opened> {
    let passphrase = secret::passphrase(ctx, "Passphrase: ", false)?;
    let identity = ctx.profile.unlock(&passphrase)?;
    let (agent, events) = launch::open(&ctx.profile, identity, options)?;
    Ok(Opened {
        agent,
        events,
        passphrase,
    })
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// One agent event as a human line. Every field a peer, a certificate or the
/// DIR supplied goes through [`safe`], so none can break the line or reach
/// the terminal as a control. A failed handshake authenticated no one: its
/// reason may quote the UserID, name and certificate names the caller
/// claimed, and the line says so.
#[allow(clippy::too_many_lines)] // one arm per agent event and its printed line
pub fn event_line(event: &AgentEvent) -> String {
    match event {
        AgentEvent::Listening { addr } => format!("listening on {addr}"),
        AgentEvent::SessionStarted {
            card,
            addr,
            inbound,
        } => {
            let how = if *inbound { "from" } else { "to" };
            format!(
                "session {} ({}) trust={} code={} {how} {addr}",
                safe(card.peer.as_str()),
                safe(&card.name),
                card.level,
                card.sas
            )
        }
        AgentEvent::SessionEnded { peer, reason } => {
            format!(
                "session {} ended: {}",
                safe(peer),
                safe(&reason.to_string())
            )
        }
        AgentEvent::SessionConfirmed { peer, pinned } => format!(
            "session {} confirmed{}",
            safe(peer),
            if *pinned { ", key pinned" } else { "" }
        ),
        AgentEvent::PeerAccepted { peer } => format!("session {} accepted by the peer", safe(peer)),
        AgentEvent::HandshakeFailed {
            addr,
            inbound,
            reason,
        } => {
            let (way, who) = if *inbound {
                ("from", "caller")
            } else {
                ("to", "peer")
            };
            format!(
                "handshake {way} {addr} failed ({who} not authenticated; names are only claimed): {}",
                safe(reason)
            )
        }
        AgentEvent::Chat {
            from,
            id,
            sent,
            text,
        } => format!(
            "chat {} {} {}: {}",
            safe(from),
            safe(id),
            safe(sent),
            safe(text)
        ),
        AgentEvent::Sent { to, id } => format!("sent {} to {}", safe(id), safe(to)),
        AgentEvent::Delivered { to, id } => format!("delivered {} to {}", safe(id), safe(to)),
        AgentEvent::Read { to, id } => format!("read {} by {}", safe(id), safe(to)),
        AgentEvent::Typing { from, active } => format!(
            "typing {} {}",
            safe(from),
            if *active { "active" } else { "paused" }
        ),
        AgentEvent::PeerError {
            from,
            reference,
            reason,
        } => format!(
            "error from {} about {}: {}",
            safe(from),
            safe(reference),
            safe(reason)
        ),
        AgentEvent::Registered { addresses, expires } => {
            format!(
                "registered {} until {}",
                addresses_text(addresses),
                crate::identity::rfc3339(*expires)
            )
        }
        AgentEvent::Renewed { not_after } => format!(
            "certificate renewed, valid until {}",
            crate::identity::rfc3339(*not_after)
        ),
        AgentEvent::Relayed { to, count } => {
            format!("{count} message(s) for {} left at its DIR", safe(to))
        }
        AgentEvent::DirProblem { what, reason } => {
            format!("dir {}: {}", safe(what), safe(reason))
        }
        AgentEvent::FileOffered {
            from,
            transfer,
            files,
            bytes,
            answer,
        } => format!(
            "{} offers {files} file(s), {bytes} bytes (transfer {}): {}",
            safe(from),
            safe(transfer),
            safe(answer)
        ),
        AgentEvent::TransferStarted {
            peer,
            transfer,
            files,
            bytes,
            resumed,
        } => format!(
            "receiving {files} file(s), {bytes} bytes from {} (transfer {}){}",
            safe(peer),
            safe(transfer),
            if *resumed > 0 {
                format!(", resuming: {resumed} bytes already verified")
            } else {
                String::new()
            }
        ),
        AgentEvent::TransferProgress {
            peer,
            verified,
            bytes,
            ..
        } => format!("{verified} of {bytes} bytes verified from {}", safe(peer)),
        AgentEvent::FileReceived { from, path, .. } => {
            format!("received {} from {}, verified", safe(path), safe(from))
        }
        AgentEvent::QueuedTransferEnded {
            peer,
            transfer,
            state,
            reason,
        } => format!(
            "transfer {} to {}: {} {}",
            safe(transfer),
            safe(peer),
            safe(state),
            safe(reason)
        ),
        AgentEvent::TransferEnded {
            peer,
            transfer,
            complete,
            files,
            bytes,
            reason,
        } => {
            if *complete {
                format!(
                    "transfer {} from {} complete: {files} file(s), {bytes} bytes, every one verified",
                    safe(transfer),
                    safe(peer)
                )
            } else {
                format!(
                    "transfer {} from {} not complete: {} (what was verified stays for a resume)",
                    safe(transfer),
                    safe(peer),
                    safe(reason)
                )
            }
        }
    }
}

/// Prints one agent event as a line (or a JSON object).
pub fn print_event(ctx: &Context, event: &AgentEvent) {
    // Progress is for programs (and the app's queue panel); a person reads
    // the start and the end.
    if !ctx.out.is_json() && matches!(event, AgentEvent::TransferProgress { .. }) {
        return;
    }
    ctx.out.print(
        &event_line(event),
        &serde_json::to_value(event).unwrap_or_else(|_| json!({})),
    );
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn options_poll(args: &RunArgs) -> u64 {
    args.poll_secs.max(1)
}

pub fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<u8> {
    // A terminal has no one to compare codes with: only known and verified peers get through.
    let Opened {
        agent,
        mut events,
        passphrase,
    } = open_agent(ctx, AgentOptions::default())?;
    let rt = runtime()?;
    let result = rt.block_on(async {
        let listener = sixchat_agent::listen::bind(args.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
        let mut options = UpkeepOptions::new(args.listen);
        options.poll_secs = args.poll_secs.max(1);
        options.crl_secs = args.crl_secs.max(1);
        options.record_lifetime_secs = args.record_secs;
        // With port 0 the system picks one: the upkeep registers the real one.
        let started = launch::start(&agent, &ctx.profile, &passphrase, listener, options);
        // The transfer queue: waiting transfers start when their peer is
        // reachable (tried every poll, and when a session with it starts).
        let running = sixchat_agent::transfers::Underway::default();
        let mut poll = tokio::time::interval(std::time::Duration::from_secs(options_poll(args)));
        let printer = async {
            loop {
                tokio::select! {
                    event = events.recv() => {
                        let Some(event) = event else { break };
                        print_event(ctx, &event);
                        if matches!(event, AgentEvent::SessionStarted { .. }) {
                            sixchat_agent::transfers::start_waiting(&agent, &running);
                        }
                    }
                    _ = poll.tick() => sixchat_agent::transfers::start_waiting(&agent, &running),
                }
            }
        };
        tokio::select! {
            () = shutdown_signal() => {}
            () = printer => {}
        }
        started.stop(std::time::Duration::from_secs(5)).await;
        // Print what the shutdown produced.
        while let Ok(event) = events.try_recv() {
            print_event(ctx, &event);
        }
        Ok::<_, anyhow::Error>(())
    });
    // Work left on the blocking pool (an envelope still being opened) does
    // not hold up the exit.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    result?;
    Ok(0)
}
