//! `ls`, `get`, `share` and `incoming`: browsing and fetching from a peer's
//! shared folder, verified and resumable (files.md, docs/transfer.md).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::json;
use sixchat_agent::reach::ReachError;
use sixchat_agent::services::transfer::{Listing, TransferCommand, TransferError, TransferUpdate};
use sixchat_agent::{Agent, AgentOptions, SessionHandle};
use sixchat_proto::UserId;
use sixchat_proto::files::WirePath;
use tokio::sync::{mpsc, oneshot};

use crate::output::{json_line, safe};
use crate::run::{open_agent, runtime};
use crate::{Context, EXIT_ERROR, EXIT_REFUSED};

/// Settings keys.
const SHARE: &str = "share";
const INCOMING: &str = "incoming";

#[derive(Args)]
pub struct LsArgs {
    /// The peer's UserID.
    user_id: String,
    /// A folder of the peer's shared folder (default: its top).
    remote_path: Option<String>,
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
    /// A file already there with other content is kept; the new one is named `name (2).ext`.
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
    /// Where the peer's agent listens (HOST:PORT); without it, as `chat` finds the peer.
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
}

#[derive(Subcommand)]
pub enum FolderCommand {
    /// Use FOLDER.
    Set {
        /// An existing folder.
        folder: PathBuf,
    },
    /// Print the folder in use.
    Show,
    /// Stop using a folder.
    Off,
}

/// `share …` and `incoming …`: the profile's settings.
pub fn folder_setting(ctx: &Context, key: &str, command: FolderCommand) -> anyhow::Result<u8> {
    let store = ctx.profile.open_store()?;
    match command {
        FolderCommand::Set { folder } => {
            let folder = std::fs::canonicalize(&folder)
                .map_err(|e| anyhow::anyhow!("{}: {e}", folder.display()))?;
            anyhow::ensure!(folder.is_dir(), "{} is not a folder", folder.display());
            let text = folder
                .to_str()
                .ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", folder.display()))?;
            store.set_setting(key, text)?;
            ctx.out
                .print(&format!("{key} {}", safe(text)), &json!({ key: text }));
        }
        FolderCommand::Show => match store.setting(key)? {
            Some(folder) => ctx.out.print(&safe(&folder), &json!({ key: folder })),
            None => ctx
                .out
                .print(&format!("no {key} folder"), &json!({ key: null })),
        },
        FolderCommand::Off => {
            store.set_setting(key, "")?;
            ctx.out
                .print(&format!("no {key} folder"), &json!({ key: null }));
        }
    }
    Ok(0)
}

/// Which folder `share` or `incoming` names, if any.
pub fn setting_folder(agent: &Agent, key: &str) -> Option<PathBuf> {
    agent
        .with_store(|s| s.setting(key).ok().flatten())
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
}

pub const SHARE_KEY: &str = SHARE;
pub const INCOMING_KEY: &str = INCOMING;

fn remote(path: Option<&str>) -> anyhow::Result<WirePath> {
    match path.map(|p| p.trim_matches('/')) {
        None | Some("") => Ok(WirePath::root()),
        Some(p) => Ok(WirePath::parse(p)?),
    }
}

/// A session with the peer, or the exit status and line that say why not.
async fn session(
    ctx: &Context,
    agent: &Agent,
    peer: &UserId,
    addr: Option<&str>,
) -> Result<SessionHandle, u8> {
    match agent.reach(peer, addr, || {}).await {
        Ok(handle) => Ok(handle),
        Err(ReachError::Refused(e)) => {
            let line = e.to_string();
            ctx.out.print(&safe(&line), &json!({ "refused": line }));
            Err(EXIT_REFUSED)
        }
        Err(ReachError::NoAddress(_)) => {
            let line = format!(
                "no address for {peer}: pass --addr HOST:PORT, or enroll this profile with a DIR"
            );
            ctx.out.print(&line, &json!({ "unreachable": line }));
            Err(EXIT_ERROR)
        }
        Err(why) => {
            let line = why.to_string();
            ctx.out.print(&safe(&line), &json!({ "unreachable": line }));
            Err(EXIT_ERROR)
        }
    }
}

pub fn ls(ctx: &Context, args: &LsArgs) -> anyhow::Result<u8> {
    let peer = UserId::parse(&args.user_id)?;
    let path = remote(args.remote_path.as_deref())?;
    let opened = open_agent(ctx, AgentOptions::default())?;
    runtime()?.block_on(async {
        let handle = match session(ctx, &opened.agent, &peer, args.addr.as_deref()).await {
            Ok(handle) => handle,
            Err(code) => return Ok(code),
        };
        let mut start = 0;
        loop {
            let (reply, answer) = oneshot::channel();
            let command = TransferCommand::List {
                path: path.clone(),
                start,
                reply,
            };
            anyhow::ensure!(handle.transfer(command).await, "the session ended");
            let listing: Listing = match answer.await {
                Ok(Ok(listing)) => listing,
                Ok(Err(e)) => {
                    handle.close().await;
                    let line = format!("{peer}: {e}");
                    ctx.out.print(&safe(&line), &json!({ "refused": e.to_string() }));
                    return Ok(EXIT_REFUSED);
                }
                Err(_) => anyhow::bail!("the session ended"),
            };
            for entry in &listing.entries {
                let kind = if entry.folder { "folder" } else { "file" };
                let human = format!(
                    "{:<6} {:>14} {} {}",
                    kind,
                    if entry.folder { String::new() } else { entry.size.to_string() },
                    crate::identity::rfc3339(entry.modified),
                    safe(&entry.name)
                );
                ctx.out.print(
                    &human,
                    &json!({ "name": entry.name, "kind": kind, "size": entry.size, "modified": entry.modified }),
                );
            }
            match listing.next {
                Some(next) => start = next,
                None => break,
            }
        }
        handle.close().await;
        Ok(0)
    })
}

/// Progress on stderr: a line redrawn in a terminal, JSON lines with --json.
struct Progress {
    json: bool,
    terminal: bool,
    started: Instant,
    resumed: u64,
    last: Instant,
}

impl Progress {
    #[allow(clippy::cast_precision_loss)] // a progress line shows a few digits of each figure
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
        eprint!(
            "\r{percent:5.1} %  {:.1} / {:.1} MiB  {:.1} MiB/s  {left}    ",
            verified as f64 / 1_048_576.0,
            bytes as f64 / 1_048_576.0,
            speed / 1_048_576.0
        );
    }
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
        None => setting_folder(&opened.agent, INCOMING).unwrap_or(std::env::current_dir()?),
    };
    runtime()?.block_on(async {
        let handle = match session(ctx, &opened.agent, &peer, args.addr.as_deref()).await {
            Ok(handle) => handle,
            Err(code) => return Ok(code),
        };
        let (updates, mut progress_updates) = mpsc::channel(256);
        let command = TransferCommand::Get {
            path: path.clone(),
            into: into.clone(),
            updates,
        };
        anyhow::ensure!(handle.transfer(command).await, "the session ended");
        let mut progress = Progress {
            json: ctx.out.is_json(),
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            resumed: 0,
            last: Instant::now(),
        };
        let mut total = 0;
        let outcome = loop {
            let Some(update) = progress_updates.recv().await else {
                break Err(TransferError::SessionEnded);
            };
            match update {
                TransferUpdate::Offered { files, bytes, resumed, .. } => {
                    total = bytes;
                    progress.resumed = resumed;
                    let line = format!("receiving {files} files, {bytes} bytes into {}{}", into.display(),
                        if resumed > 0 { format!(" (resuming: {resumed} bytes already verified)") } else { String::new() });
                    ctx.out.print(&safe(&line), &json!({ "event": "offered", "files": files, "bytes": bytes, "resumed": resumed }));
                }
                TransferUpdate::Progress { verified, bytes } => progress.show(verified, bytes),
                TransferUpdate::FileDone { path } => {
                    if ctx.out.is_json() {
                        ctx.out.print("", &json!({ "event": "file_done", "path": path.as_str() }));
                    }
                }
                TransferUpdate::Finished { files, bytes } => break Ok((files, bytes)),
                TransferUpdate::Failed(e) => break Err(e),
            }
        };
        if progress.terminal && !progress.json {
            eprintln!();
        }
        handle.close().await;
        match outcome {
            Ok((files, bytes)) => {
                ctx.out.print(
                    &format!("received {files} files, {bytes} bytes, every one verified"),
                    &json!({ "event": "finished", "files": files, "bytes": bytes }),
                );
                let _ = total;
                Ok(0)
            }
            Err(e) => {
                let line = format!("not complete: {e}; run the same command again to resume");
                ctx.out.print(&safe(&line), &json!({ "event": "failed", "error": e.to_string() }));
                Ok(match e {
                    TransferError::Refused { .. } | TransferError::BadData { .. } => EXIT_REFUSED,
                    _ => EXIT_ERROR,
                })
            }
        }
    })
}
