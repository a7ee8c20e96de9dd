//! `ls`, `share` and `incoming`: browsing a peer's shared folder and this
//! profile's folders (files.md, docs/transfer.md); moving files is in
//! `transfer.rs`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use sixchat_agent::reach::ReachError;
use sixchat_agent::services::transfer::OnConflict;
use sixchat_agent::services::transfer::offers::INCOMING_CONFLICT;
use sixchat_agent::services::transfer::{Listing, TransferCommand};
use sixchat_agent::{Agent, AgentOptions, SessionHandle};
use sixchat_proto::UserId;
use sixchat_proto::files::WirePath;
use tokio::sync::oneshot;

use crate::output::safe;
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
    /// (incoming only) What an accepted offer does with a file there that has the same name
    /// but other content: `rename` (the default: `name (2).ext`), `overwrite` (once the new
    /// one is complete and verified) or `skip` (the file there stays).
    OnConflict {
        #[arg(value_parser = crate::transfer::conflict_choice)]
        choice: OnConflict,
    },
}

/// `share …` and `incoming …`: the profile's settings.
pub fn folder_setting(ctx: &Context, key: &str, command: FolderCommand) -> anyhow::Result<u8> {
    let store = ctx.profile.open_store()?;
    match command {
        FolderCommand::OnConflict { choice } => {
            anyhow::ensure!(key == INCOMING, "on-conflict is for the incoming folder");
            store.set_setting(INCOMING_CONFLICT, choice.as_str())?;
            ctx.out.print(
                &format!("on conflict: {}", choice.as_str()),
                &json!({ "on_conflict": choice.as_str() }),
            );
        }
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
        // (`off` keeps an empty setting: no folder, as never set.)
        FolderCommand::Show => match store.setting(key)?.filter(|f| !f.is_empty()) {
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

pub fn remote(path: Option<&str>) -> anyhow::Result<WirePath> {
    sixchat_agent::transfers::remote_path(path).map_err(anyhow::Error::msg)
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
                // Pages go forward, or the listing ends (a peer that sent
                // the same page again would keep this loop going forever).
                Some(next) if next > start => start = next,
                Some(_) => anyhow::bail!("{peer} sent a listing that does not go forward"),
                None => break,
            }
        }
        handle.close().await;
        Ok(0)
    })
}
