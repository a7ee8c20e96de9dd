//! `send`, `get` and `transfers`: moving files, each through the profile's
//! transfer queue (the store's `transfers` table). A transfer whose peer
//! cannot be reached waits there (exit 3) and `run` starts it when the peer
//! is reachable; `transfers pause|resume|cancel` act on a running one
//! through the same row (`sixchat_agent::transfers` looks every second).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::json;
use sixchat_agent::services::transfer::{OnConflict, TransferUpdate};
use sixchat_agent::store::{
    NewTransfer, QueuedTransfer, STALE_RUNNING_SECS, Store, TransferKind, TransferState, now_unix,
};
use sixchat_agent::transfers::{Outcome, drive};
use sixchat_agent::{Agent, AgentOptions};
use sixchat_proto::UserId;
use sixchat_proto::files::WirePath;

use crate::files::{INCOMING_KEY, remote, setting_folder};
use crate::output::{json_line, safe};
use crate::run::{open_agent, runtime};
use crate::{Context, EXIT_ERROR, EXIT_QUEUED, EXIT_REFUSED};

#[derive(Args)]
pub struct SendArgs {
    /// The peer's UserID.
    user_id: String,
    /// Files and folders to send (a folder goes whole, recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// A folder beneath the peer's incoming folder to put them in.
    #[arg(long, value_name = "F")]
    to_folder: Option<String>,
    /// Where the peer's agent listens (HOST:PORT); without it, as `chat` finds the peer.
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
}

#[derive(Args)]
pub struct GetArgs {
    /// The peer's UserID.
    user_id: String,
    /// A file or folder of the peer's shared folder (a folder comes whole, recursively).
    remote_path: String,
    /// The folder to put it in (default: the `incoming` folder, else the current folder).
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
    /// A file already there with other content: `rename` keeps it and names the new one
    /// `name (2).ext`; `overwrite` replaces it once the new one is complete and verified;
    /// `skip` keeps it and does not fetch the new one. The same content is never fetched again.
    #[arg(long, value_name = "CHOICE", default_value = "rename", value_parser = conflict_choice)]
    on_conflict: OnConflict,
    /// Where the peer's agent listens (HOST:PORT); without it, as `chat` finds the peer.
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
}

/// `rename`, `overwrite` or `skip`.
pub fn conflict_choice(text: &str) -> Result<OnConflict, String> {
    OnConflict::parse(text).ok_or_else(|| format!("{text}: say rename, overwrite or skip"))
}

#[derive(Subcommand)]
pub enum TransfersCommand {
    /// List the queue (the default).
    List,
    /// Pause a transfer: a running one stops within a second; what was verified stays.
    Pause {
        /// The transfer's id as `transfers` lists it (a unique prefix will do).
        id: String,
    },
    /// Run a paused, waiting or failed transfer now, from what was already verified (one a
    /// process that died left running is taken over after 10 s).
    Resume {
        /// The transfer's id as `transfers` lists it (a unique prefix will do).
        id: String,
    },
    /// Cancel a transfer for good (the receiver keeps its partial files until it removes them).
    Cancel {
        /// The transfer's id as `transfers` lists it (a unique prefix will do).
        id: String,
    },
    /// Remove finished and cancelled transfers from the list.
    Clear,
}

/// Progress on stderr: a line redrawn in a terminal, JSON lines with --json.
pub struct Progress {
    json: bool,
    terminal: bool,
    started: Instant,
    resumed: u64,
    last: Instant,
}

impl Progress {
    fn new(json: bool) -> Self {
        Self {
            json,
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            resumed: 0,
            last: Instant::now(),
        }
    }

    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )] // a progress line shows a few digits of each figure, and a bar of 0-20 marks
    fn show(&mut self, verified: u64, bytes: u64) {
        if self.json {
            eprintln!(
                "{}",
                json_line(&json!({ "progress": verified, "bytes": bytes }))
            );
            return;
        }
        if !self.terminal || self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let speed = verified.saturating_sub(self.resumed) as f64 / seconds;
        let left = if speed > 0.0 {
            format!(
                "{:.0} s left",
                bytes.saturating_sub(verified) as f64 / speed
            )
        } else {
            String::new()
        };
        let percent = if bytes == 0 {
            100.0
        } else {
            verified as f64 * 100.0 / bytes as f64
        };
        let filled = (percent / 5.0) as usize;
        eprint!(
            "\r[{:<20}] {percent:5.1} %  {:.1} / {:.1} MiB  {:.1} MiB/s  {left}    ",
            "#".repeat(filled.min(20)),
            verified as f64 / 1_048_576.0,
            bytes as f64 / 1_048_576.0,
            speed / 1_048_576.0
        );
    }

    fn end(&self) {
        if self.terminal && !self.json {
            eprintln!();
        }
    }
}

/// Runs `row` in the foreground: progress on stderr, the end on stdout,
/// and the exit status (0 only when every file is complete and verified).
fn foreground(ctx: &Context, agent: &Agent, row: &QueuedTransfer) -> anyhow::Result<u8> {
    let mut progress = Progress::new(ctx.out.is_json());
    let (kind, json) = (row.kind, ctx.out.is_json());
    let target = row.target.clone();
    let outcome = runtime()?.block_on(drive(agent, row, |update| match update {
        TransferUpdate::Offered {
            files,
            bytes,
            resumed,
            ..
        } => {
            progress.resumed = *resumed;
            let verb = match kind {
                TransferKind::Send => "offered".to_owned(),
                TransferKind::Get => {
                    format!("receiving into {}:", PathBuf::from(&target).display())
                }
            };
            let resuming = if *resumed > 0 {
                format!(" (resuming: {resumed} bytes already verified)")
            } else {
                String::new()
            };
            ctx.out.print(
                &safe(&format!("{verb} {files} files, {bytes} bytes{resuming}")),
                &json!({ "event": "offered", "files": files, "bytes": bytes, "resumed": resumed }),
            );
        }
        TransferUpdate::Accepted => ctx
            .out
            .print("accepted by the peer", &json!({ "event": "accepted" })),
        TransferUpdate::Progress { verified, bytes } => progress.show(*verified, *bytes),
        TransferUpdate::FileDone { path } if json => {
            ctx.out
                .print("", &json!({ "event": "file_done", "path": path.as_str() }));
        }
        _ => {}
    }));
    progress.end();
    Ok(report_end(ctx, row, outcome))
}

/// Prints how a foreground transfer ended; returns the exit status.
fn report_end(ctx: &Context, row: &QueuedTransfer, outcome: Outcome) -> u8 {
    let (id, kind) = (&row.id, row.kind);
    match outcome {
        Outcome::Complete { files, bytes } => {
            let verb = match kind {
                TransferKind::Send => "sent",
                TransferKind::Get => "received",
            };
            ctx.out.print(
                &format!("{verb} {files} files, {bytes} bytes, every one verified"),
                &json!({ "event": "finished", "files": files, "bytes": bytes, "transfer": id }),
            );
            0
        }
        Outcome::Waiting(why) => {
            let line = format!(
                "queued as {id}: {why}; `sixchat-cli run` starts it when {} is reachable \
                 (or `sixchat-cli transfers resume {id}`)",
                row.peer
            );
            ctx.out.print(
                &safe(&line),
                &json!({ "event": "queued", "transfer": id, "reason": why }),
            );
            EXIT_QUEUED
        }
        Outcome::Stopped(state) => {
            let line = format!("{id} {}", state.as_str());
            ctx.out.print(
                &safe(&line),
                &json!({ "event": state.as_str(), "transfer": id }),
            );
            if state == TransferState::Cancelled {
                EXIT_REFUSED
            } else {
                EXIT_QUEUED
            }
        }
        Outcome::Refused(why) => {
            let line = format!("not complete: {why}");
            ctx.out.print(
                &safe(&line),
                &json!({ "event": "failed", "error": why, "transfer": id }),
            );
            EXIT_REFUSED
        }
        Outcome::Failed(why) => {
            let line = format!(
                "not complete: {why}; `sixchat-cli transfers resume {id}` goes on from what was verified"
            );
            ctx.out.print(
                &safe(&line),
                &json!({ "event": "failed", "error": why, "transfer": id }),
            );
            EXIT_ERROR
        }
    }
}

fn queue(agent: &Agent, new: &NewTransfer<'_>) -> anyhow::Result<QueuedTransfer> {
    agent
        .with_store(|s| {
            s.queue_transfer(new)?;
            s.transfer(new.id)
        })?
        .ok_or_else(|| anyhow::anyhow!("the queued transfer vanished"))
}

pub fn send(ctx: &Context, args: &SendArgs) -> anyhow::Result<u8> {
    let peer = UserId::parse(&args.user_id)?;
    let to_folder = match args.to_folder.as_deref().map(|f| f.trim_matches('/')) {
        None | Some("") => String::new(),
        Some(folder) => WirePath::parse(folder)?.to_string(),
    };
    let mut sources = Vec::new();
    for path in &args.paths {
        let absolute =
            std::fs::canonicalize(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let text = absolute
            .to_str()
            .ok_or_else(|| anyhow::anyhow!("{}: the name is not UTF-8", path.display()))?;
        sources.push(text.to_owned());
    }
    let opened = open_agent(ctx, AgentOptions::default())?;
    let id = uuid::Uuid::new_v4().to_string();
    let row = queue(
        &opened.agent,
        &NewTransfer {
            id: &id,
            peer: peer.as_str(),
            kind: TransferKind::Send,
            sources: &sources,
            target: &to_folder,
            addr: args.addr.as_deref(),
            state: TransferState::Waiting,
            on_conflict: OnConflict::default(),
        },
    )?;
    foreground(ctx, &opened.agent, &row)
}

pub fn get(ctx: &Context, args: &GetArgs) -> anyhow::Result<u8> {
    let peer = UserId::parse(&args.user_id)?;
    let path = remote(Some(&args.remote_path))?;
    anyhow::ensure!(
        !path.is_root(),
        "name a file or folder of the peer's shared folder"
    );
    let opened = open_agent(ctx, AgentOptions::default())?;
    let into = match &args.to {
        Some(to) => to.clone(),
        None => setting_folder(&opened.agent, INCOMING_KEY).unwrap_or(std::env::current_dir()?),
    };
    std::fs::create_dir_all(&into).map_err(|e| anyhow::anyhow!("{}: {e}", into.display()))?;
    let into =
        std::fs::canonicalize(&into).map_err(|e| anyhow::anyhow!("{}: {e}", into.display()))?;
    let target = into
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("{}: the name is not UTF-8", into.display()))?;
    let id = uuid::Uuid::new_v4().to_string();
    let row = queue(
        &opened.agent,
        &NewTransfer {
            id: &id,
            peer: peer.as_str(),
            kind: TransferKind::Get,
            sources: &[path.to_string()],
            target,
            addr: args.addr.as_deref(),
            state: TransferState::Waiting,
            on_conflict: args.on_conflict,
        },
    )?;
    foreground(ctx, &opened.agent, &row)
}

/// A row another process was running: waits until that process has been
/// silent long enough to be taken for dead (it touches its row every
/// second), or says it is still running.
fn wait_until_stale(ctx: &Context, store: &Store, id: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(STALE_RUNNING_SECS.unsigned_abs() + 3);
    let mut told = false;
    loop {
        let Some(row) = store.transfer(id)? else {
            anyhow::bail!("{id} was removed from the queue");
        };
        let silent = now_unix().saturating_sub(row.updated);
        if row.state != TransferState::Running || silent > STALE_RUNNING_SECS {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{id} is running in another SixChat process (`sixchat-cli transfers pause {id}` stops it)"
        );
        if !told && !ctx.out.is_json() {
            eprintln!(
                "{id} was running {silent} s ago; waiting to see whether that process is gone"
            );
            told = true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn find(ctx: &Context, id: &str) -> anyhow::Result<QueuedTransfer> {
    let store = ctx.profile.open_store()?;
    store.transfer(id)?.ok_or_else(|| {
        anyhow::anyhow!(
            "no transfer {id} (or more than one starts so): see `sixchat-cli transfers`"
        )
    })
}

pub fn transfers(ctx: &Context, command: Option<TransfersCommand>) -> anyhow::Result<u8> {
    match command.unwrap_or(TransfersCommand::List) {
        TransfersCommand::List => {
            let store = ctx.profile.open_store()?;
            for t in store.transfers()? {
                let what = match t.kind {
                    TransferKind::Send => {
                        format!("send {} -> {}:{}", t.sources.join(" "), t.peer, t.target)
                    }
                    TransferKind::Get => {
                        format!("get {}:{} -> {}", t.peer, t.sources.join(" "), t.target)
                    }
                };
                let line = format!(
                    "{} {:<9} {:>5.1} %  {} of {} bytes, {} files  {}{}",
                    &t.id[..8.min(t.id.len())],
                    t.state.as_str(),
                    percent(t.verified, t.bytes),
                    t.verified,
                    t.bytes,
                    t.files,
                    what,
                    if t.reason.is_empty() {
                        String::new()
                    } else {
                        format!("  ({})", t.reason)
                    }
                );
                ctx.out.print(&safe(&line), &serde_json::to_value(&t)?);
            }
            Ok(0)
        }
        TransfersCommand::Pause { id } => set_by_person(ctx, &id, TransferState::Paused),
        TransfersCommand::Cancel { id } => set_by_person(ctx, &id, TransferState::Cancelled),
        TransfersCommand::Resume { id } => {
            let row = find(ctx, &id)?;
            anyhow::ensure!(!row.state.is_over(), "{} is {}", row.id, row.state.as_str());
            let store = ctx.profile.open_store()?;
            if row.state == TransferState::Running {
                wait_until_stale(ctx, &store, &row.id)?;
            }
            // (After the wait: the other process may have ended it failed.)
            store.resume_transfer(&row.id)?;
            drop(store);
            let opened = open_agent(ctx, AgentOptions::default())?;
            foreground(ctx, &opened.agent, &row)
        }
        TransfersCommand::Clear => {
            let cleared = ctx.profile.open_store()?.clear_finished_transfers()?;
            ctx.out.print(
                &format!("{cleared} cleared"),
                &json!({ "cleared": cleared }),
            );
            Ok(0)
        }
    }
}

#[allow(clippy::cast_precision_loss)] // a percentage to one decimal
fn percent(verified: u64, bytes: u64) -> f64 {
    if bytes == 0 {
        0.0
    } else {
        verified as f64 * 100.0 / bytes as f64
    }
}

fn set_by_person(ctx: &Context, id: &str, state: TransferState) -> anyhow::Result<u8> {
    let row = find(ctx, id)?;
    anyhow::ensure!(
        !row.state.is_over(),
        "{} is {} already",
        row.id,
        row.state.as_str()
    );
    ctx.profile
        .open_store()?
        .set_transfer_state(&row.id, state, "by the person")?;
    ctx.out.print(
        &format!("{} {}", row.id, state.as_str()),
        &json!({ "transfer": row.id, "state": state.as_str() }),
    );
    Ok(0)
}
