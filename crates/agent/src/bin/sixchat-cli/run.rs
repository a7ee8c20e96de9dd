//! `run`: the listening agent.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use serde_json::json;
use sixchat_agent::{Agent, AgentEvent, AgentOptions, trust};
use sixchat_proto::UserId;
use tokio::sync::mpsc;

use crate::{Context, secret};

#[derive(Args)]
pub struct RunArgs {
    /// Address and port to accept sessions on; `[::]` takes IPv6 and IPv4.
    #[arg(long, default_value = "[::]:4605", value_name = "ADDR:PORT")]
    listen: SocketAddr,
}

/// Unlocks the profile and builds its agent.
pub fn open_agent(
    ctx: &Context,
    options: AgentOptions,
) -> anyhow::Result<(Agent, mpsc::Receiver<AgentEvent>)> {
    let passphrase = secret::passphrase(ctx, "Passphrase: ", false)?;
    let identity = ctx.profile.unlock(&passphrase)?;
    let store = ctx.profile.open_store()?;
    let policy = Arc::new(trust::LiveTrust::new(ctx.profile.open_store()?)?);
    Ok(Agent::new(identity, store, policy, options))
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Prints one agent event as a line (or a JSON object).
pub fn print_event(ctx: &Context, event: &AgentEvent) {
    let human = match event {
        AgentEvent::Listening { addr } => format!("listening on {addr}"),
        AgentEvent::SessionStarted {
            peer,
            name,
            level,
            sas,
            addr,
            inbound,
        } => {
            let how = if *inbound { "from" } else { "to" };
            format!("session {peer} ({name}) trust={level} code={sas} {how} {addr}")
        }
        AgentEvent::SessionEnded { peer, reason } => format!("session {peer} ended: {reason}"),
        AgentEvent::HandshakeFailed {
            addr,
            inbound,
            reason,
        } => {
            format!(
                "handshake {} {addr} failed: {reason}",
                if *inbound { "from" } else { "to" }
            )
        }
        AgentEvent::Chat {
            from,
            id,
            sent,
            text,
        } => format!("chat {from} {id} {sent}: {text}"),
        AgentEvent::Delivered { to, id } => format!("delivered {id} to {to}"),
        AgentEvent::Read { to, id } => format!("read {id} by {to}"),
        AgentEvent::Typing { from, active } => format!(
            "typing {from} {}",
            if *active { "active" } else { "paused" }
        ),
        AgentEvent::PeerError {
            from,
            reference,
            reason,
        } => format!("error from {from} about {reference}: {reason}"),
    };
    ctx.out.print(
        &human,
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

pub fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<u8> {
    // A terminal has no one to compare codes with: only known and verified peers get through.
    let (agent, mut events) = open_agent(ctx, AgentOptions::default())?;
    let rt = runtime()?;
    rt.block_on(async {
        let listener = sixchat_agent::listen::bind(args.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
        // Deliver what waits in the outbox to peers whose last address is known.
        let waiting = agent.with_store(|s| s.peers_with_outbox().unwrap_or_default());
        for peer in waiting {
            let Ok(peer) = UserId::parse(&peer) else {
                continue;
            };
            let Some(addr) = agent.with_store(|s| s.last_address(peer.as_str()).ok().flatten())
            else {
                continue;
            };
            let agent = agent.clone();
            tokio::spawn(async move {
                if let Ok(handle) = agent.connect(&peer, &addr).await {
                    // Keep the session until its outbox is empty, then close it.
                    while agent.undelivered(&peer).unwrap_or(0) > 0 && !handle.is_finished() {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    handle.close().await;
                }
            });
        }
        let server = agent.clone();
        let serving = tokio::spawn(async move { server.serve(listener, shutdown_signal()).await });
        let printer = async {
            while let Some(event) = events.recv().await {
                print_event(ctx, &event);
            }
        };
        tokio::select! {
            _ = serving => {}
            () = printer => {}
        }
        // Print what the shutdown produced.
        while let Ok(event) = events.try_recv() {
            print_event(ctx, &event);
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}
