//! `chat` and `history`.

use std::time::Duration;

use clap::Args;
use serde_json::json;
use sixchat_agent::conn::ConnError;
use sixchat_agent::reach::ReachError;
use sixchat_agent::store::{DeliveryState, Direction};
use sixchat_agent::{AgentEvent, AgentOptions, ConnectError, Delivery, Route};
use sixchat_proto::handshake::Origin;
use sixchat_proto::{AlertCode, UserId};
use tokio::io::AsyncBufReadExt as _;

use crate::output::safe;
use crate::run::{Opened, open_agent, print_event, runtime};
use crate::{Context, EXIT_ERROR, EXIT_QUEUED, EXIT_REFUSED};

#[derive(Args)]
pub struct ChatArgs {
    /// The peer's UserID.
    user_id: String,
    /// Where the peer's agent listens (HOST:PORT, e.g. [2001:db8::1]:4605 or 127.0.0.1:4605).
    /// Without it: the last address that worked, else the peer's record at the DIR
    /// (IPv6 first, Happy Eyeballs); an offline peer gets the messages through its DIR's store.
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// The message (words are joined with spaces), or `-` to send each line of stdin as one message.
    /// Control characters other than tab and newline (CR, ESC, …) are refused, not sent.
    #[arg(required = true, num_args = 1.., value_name = "TEXT")]
    text: Vec<String>,
    /// How long to wait for delivery receipts after the last message.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    wait_secs: u64,
}

/// A line that names why the peer refused us, or why we refused it.
fn refusal(peer: &UserId, err: &ConnError, own_fingerprint: &str) -> String {
    match err.alert() {
        Some((AlertCode::UnknownCa, Origin::Peer)) => format!(
            "untrusted certificate: {peer} does not trust ours (ask them to pin {own_fingerprint}, or enroll in a shared directory)"
        ),
        Some((alert, Origin::Peer)) => format!("{peer} refused the session: {}", alert.describe()),
        _ => err.to_string(),
    }
}

/// Says the peer was not reached (the reason may quote the DIR or the peer).
fn unreachable_line(ctx: &Context, reason: &str) {
    tracing::info!("{reason}");
    ctx.out
        .print(&safe(reason), &json!({ "unreachable": reason }));
}

/// A chat text we may send, or why not (protocol.md's chat body as
/// ARCHITECTURE.md reads it: no control character but tab and newline).
fn sendable(text: &str) -> anyhow::Result<()> {
    match sixchat_proto::text::chat_body_problem(text) {
        Some(problem) => anyhow::bail!("not sent: {problem}"),
        None => Ok(()),
    }
}

#[allow(clippy::too_many_lines)] // the `chat` command from start to stop: open, deliver, then read lines
pub fn chat(ctx: &Context, args: &ChatArgs) -> anyhow::Result<u8> {
    let peer = UserId::parse(&args.user_id)?;
    let from_stdin = args.text.len() == 1 && args.text[0] == "-";
    if !from_stdin {
        sendable(&args.text.join(" "))?;
    }
    let Opened {
        agent, mut events, ..
    } = open_agent(ctx, AgentOptions::default())?;
    let own_fingerprint = ctx
        .profile
        .public_identity()
        .map(|(_, info)| info.fingerprint.to_hex())
        .unwrap_or_default();
    let rt = runtime()?;
    rt.block_on(async {
        // Revocation is judged against a current CRL, not only the one held.
        for (domain, reason) in agent.refresh_crls(Duration::from_secs(5)).await {
            eprintln!("sixchat-cli: could not refresh the CRL of {domain}: {reason}");
        }
        if !from_stdin {
            agent.queue_chat(&peer, &args.text.join(" "))?;
        }
        let mut lines = from_stdin.then(|| tokio::io::BufReader::new(tokio::io::stdin()).lines());
        // The peer's certificate, if the DIR gave it: offline messages are sealed to it.
        let mut peer_cert = None;
        // What waits is left at the DIR at the end (after the lines of stdin), not here.
        let route = Route { address: args.addr.clone(), relay: false };
        let mut handle = match agent.deliver(&peer, &route).await {
            Delivery::Connected(handle) => Some(handle),
            Delivery::Refused(ConnectError::Failed(err)) if err.alert().is_some() => {
                // The reason may quote what the peer's certificate claims.
                let line = refusal(&peer, &err, &own_fingerprint);
                ctx.out.print(&safe(&line), &json!({ "refused": line, "peer": peer.as_str() }));
                return Ok(EXIT_REFUSED);
            }
            Delivery::Unreachable { why: ReachError::NoAddress(_), .. } => anyhow::bail!(
                "no address for {peer}: pass --addr HOST:PORT, or enroll this profile with a DIR"
            ),
            Delivery::Unreachable { why, .. } => {
                if let ReachError::Unreachable { peer_cert: cert, .. } = &why {
                    peer_cert.clone_from(cert);
                }
                unreachable_line(ctx, &why.to_string());
                None
            }
            Delivery::Refused(err) => {
                unreachable_line(ctx, &err.to_string());
                None
            }
            // A fresh agent has no live session, and relaying was not asked for.
            Delivery::Live | Delivery::Relayed { .. } => None,
        };
        if let Some(h) = &handle {
            ctx.out.print(
                &format!("session {} trust={} code={}", h.peer, h.level, h.sas),
                &json!({ "event": "session_started", "peer": h.peer.as_str(), "level": h.level.as_str(), "sas": h.sas }),
            );
        }
        // Queue each line as it arrives; a live session sends it at once.
        // A line we may not send stops the reading; the lines before it are still delivered.
        let mut refused_line = None;
        if let Some(lines) = lines.as_mut() {
            let mut number = 0_u64;
            loop {
                tokio::select! {
                    line = lines.next_line() => {
                        let Some(line) = line? else { break };
                        number += 1;
                        if let Err(e) = sendable(&line) {
                            refused_line = Some(format!("line {number} of the input: {e}; the lines after it were not read"));
                            break;
                        }
                        agent.queue_chat(&peer, &line)?;
                        if let Some(h) = &handle {
                            h.flush().await;
                        }
                    }
                    Some(event) = events.recv() => {
                        if matches!(event, AgentEvent::SessionEnded { .. }) {
                            handle = None;
                        }
                        if matches!(event, AgentEvent::Delivered { .. } | AgentEvent::SessionEnded { .. }) && ctx.out.is_json() {
                            print_event(ctx, &event);
                        }
                    }
                }
            }
        }
        // Wait for every receipt, or for the session to end.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait_secs);
        while handle.is_some() && agent.undelivered(&peer)? > 0 {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(event)) => {
                    if matches!(event, AgentEvent::SessionEnded { .. }) {
                        handle = None;
                    }
                    if ctx.out.is_json() && matches!(event, AgentEvent::Delivered { .. } | AgentEvent::SessionEnded { .. }) {
                        print_event(ctx, &event);
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        if let Some(h) = handle.take() {
            h.close().await;
        }
        if let Some(reason) = &refused_line {
            ctx.out.fail(EXIT_ERROR, reason);
        }
        let waiting = agent.undelivered(&peer)?;
        if let (1.., Some(mailbox)) = (waiting, agent.mailbox()) {
            match mailbox.relay_undelivered(&peer, peer_cert).await {
                Ok(_) => {
                    let line = format!("{waiting} message(s) queued for {peer} at its DIR; they arrive when {peer} next runs");
                    ctx.out.print(&line, &json!({ "queued": waiting, "peer": peer.as_str(), "at_dir": true }));
                    return Ok(if refused_line.is_some() { EXIT_ERROR } else { EXIT_QUEUED });
                }
                // No certificate to seal to (the lookup failed): only queued here.
                Err(sixchat_agent::irp::directory::DirError::BadAnswer(_)) => {}
                Err(e) => {
                    ctx.out.print(&format!("could not leave the messages at the DIR: {}", safe(&e.to_string())), &json!({ "relay_failed": e.to_string() }));
                }
            }
        }
        if waiting > 0 {
            let line = format!("{waiting} message(s) queued for {peer}; they will be sent first by the next `chat` to {peer} or by `run`");
            ctx.out.print(&line, &json!({ "queued": waiting, "peer": peer.as_str() }));
            return Ok(if refused_line.is_some() { EXIT_ERROR } else { EXIT_QUEUED });
        }
        ctx.out.print(&format!("delivered to {peer}"), &json!({ "delivered": true, "peer": peer.as_str() }));
        Ok::<u8, anyhow::Error>(if refused_line.is_some() { EXIT_ERROR } else { 0 })
    })
}

pub fn history(ctx: &Context, user_id: &str) -> anyhow::Result<u8> {
    let peer = UserId::parse(user_id)?;
    let store = ctx.profile.open_store()?;
    for m in store.history(peer.as_str())? {
        let direction = match m.direction {
            Direction::In => "in",
            Direction::Out => "out",
        };
        let state = match m.state {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
        };
        ctx.out.print(
            &format!(
                "{direction}\t{}\t{}\t{state}\t{}",
                safe(&m.id),
                safe(&m.sent),
                safe(&m.body)
            ),
            &serde_json::to_value(&m)?,
        );
    }
    Ok(0)
}
