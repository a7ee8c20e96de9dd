//! `mail`: S/MIME mail without mail servers (docs/mail.md).

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::json;
use sixchat_agent::AgentOptions;
use sixchat_agent::services::mail::{MAX_MAIL_BYTES, MailRequest, MailView};
use sixchat_agent::store::{MailDelivery, MailFolder, MailRow};
use sixchat_pki::smime::Attachment;
use sixchat_proto::UserId;

use crate::output::safe;
use crate::run::{open_agent, runtime};
use crate::{Context, EXIT_ERROR};

/// Longest body read from standard input.
const MAX_BODY_BYTES: usize = 4 << 20;

#[derive(Subcommand)]
pub enum MailCommand {
    /// Write a mail. The body comes from standard input (UTF-8). It is signed with this
    /// profile's identity and encrypted to every recipient and to you (S/MIME, AES-256-GCM),
    /// then handed straight to each recipient's agent if it runs and can be reached (stored
    /// there: delivered), else left, still encrypted, in their DIR store, where their agent
    /// fetches it when it next runs. `mail list --folder sent` shows each recipient's delivery: queued, relayed
    /// (waiting at the DIR), delivered (stored by their agent), read.
    Send {
        /// The recipients' UserIDs (To).
        #[arg(required = true, value_name = "USERID")]
        to: Vec<String>,
        /// A further recipient (Cc); may be repeated.
        #[arg(long, value_name = "USERID")]
        cc: Vec<String>,
        #[arg(long, value_name = "TEXT")]
        subject: String,
        /// A file to attach; may be repeated (20 MiB in all; send larger files with `send`).
        #[arg(long, value_name = "FILE")]
        attach: Vec<PathBuf>,
        /// The Message-ID this mail answers (`mail show` prints it).
        #[arg(long, value_name = "MESSAGE-ID")]
        in_reply_to: Option<String>,
    },
    /// List mail, newest first: every folder but Trash, or one (inbox, sent, drafts, trash);
    /// --search keeps what has every word in its sender, subject or body.
    List {
        #[arg(long, value_name = "FOLDER")]
        folder: Option<String>,
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
    },
    /// Show one mail: decrypted, its signature checked again against today's trust (a
    /// certificate revoked since shows as such), its status in words. Marks it read (the
    /// sender is told).
    Show {
        id: i64,
        /// Save its attachments into this folder (a name taken gets " (2)" and so on).
        #[arg(long, value_name = "FOLDER")]
        save_attachments: Option<PathBuf>,
    },
    /// Write a mail to FILE.eml exactly as it was received (or sent): the S/MIME message
    /// other programs read (openssl cms, Thunderbird).
    Export { id: i64, file: PathBuf },
    /// Bring an S/MIME message (.eml) from another program into the Inbox, with its status.
    Import { file: PathBuf },
    /// Fetch mail waiting at the DIR, deliver queued mail (to each recipient's running agent,
    /// else to their DIR), read what came (what `run` does all along).
    Fetch,
    /// Move a mail to Trash; a mail in Trash is deleted.
    Delete { id: i64 },
}

fn folder_arg(folder: Option<&str>) -> anyhow::Result<Option<MailFolder>> {
    folder
        .map(|f| {
            MailFolder::parse(f)
                .with_context(|| format!("no folder {f:?}: inbox, sent, drafts or trash"))
        })
        .transpose()
}

fn read_attachment(path: &Path) -> anyhow::Result<Attachment> {
    sixchat_agent::services::mail::attachment_from_file(path)
        .with_context(|| format!("reading {}", path.display()))
}

fn user_ids(list: &[String]) -> anyhow::Result<Vec<UserId>> {
    list.iter()
        .map(|u| UserId::parse(u).with_context(|| format!("{u:?} is not a UserID")))
        .collect()
}

fn send(
    ctx: &Context,
    to: &[String],
    cc: &[String],
    subject: &str,
    attach: &[PathBuf],
    in_reply_to: Option<String>,
) -> anyhow::Result<u8> {
    let (to, cc) = (user_ids(to)?, user_ids(cc)?);
    let mut body = Vec::new();
    std::io::stdin()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body)?;
    if body.len() > MAX_BODY_BYTES {
        bail!("the body is over {} MiB", MAX_BODY_BYTES >> 20);
    }
    let body = String::from_utf8(body).context("the body is not UTF-8")?;
    let attachments = attach
        .iter()
        .map(|p| read_attachment(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let opened = open_agent(ctx, AgentOptions::default())?;
    let agent = opened.agent;
    let request = MailRequest {
        to,
        cc,
        subject: subject.to_owned(),
        body,
        attachments,
        // The Message-ID as `mail show` prints it, brackets or not.
        in_reply_to: in_reply_to.map(|id| {
            id.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        }),
        unsigned: false,
        unencrypted: false,
    };
    let rt = runtime()?;
    let (id, outcomes) = rt.block_on(async {
        let id = agent.send_mail(request).await?;
        Ok::<_, anyhow::Error>((id, agent.deliver_mail().await))
    })?;
    let mut line = format!("Sent as mail {id}.");
    let mut failed = false;
    for (recipient, outcome) in &outcomes {
        match outcome {
            Ok(MailDelivery::Relayed) => {
                let _ = write!(
                    line,
                    "\n{recipient}: waiting, encrypted, at their DIR until their agent fetches it"
                );
            }
            Ok(MailDelivery::Delivered) => {
                let _ = write!(line, "\n{recipient}: delivered, stored by their agent");
            }
            Ok(state) => {
                let _ = write!(line, "\n{recipient}: {}", state.as_str());
            }
            Err(e) => {
                failed = true;
                let _ = write!(line, "\n{recipient}: queued ({})", safe(e));
            }
        }
    }
    ctx.out.print(
        &line,
        &json!({ "sent": id, "deliveries": outcomes.iter().map(|(r, o)| json!({
            "recipient": r,
            "state": o.as_ref().map_or("queued", |s| s.as_str()),
        })).collect::<Vec<_>>() }),
    );
    Ok(if failed { crate::EXIT_QUEUED } else { 0 })
}

fn row_json(row: &MailRow) -> serde_json::Value {
    json!({
        "id": row.id,
        "folder": row.folder.as_str(),
        "unread": row.unread,
        "received": row.received,
        "from": row.index.sender,
        "to": row.index.recipients,
        "subject": row.index.subject,
        "date": row.index.sent_at,
        "status": if row.indexed { row.index.status.as_str() } else { "not read yet" },
        "attachments": row.index.attachments,
        "message_id": row.index.message_id,
        "deliveries": row.deliveries.iter().map(|(r, s)| json!({ "recipient": r, "state": s.as_str() })).collect::<Vec<_>>(),
    })
}

fn list(ctx: &Context, folder: Option<&str>, search: Option<&str>) -> anyhow::Result<u8> {
    let folder = folder_arg(folder)?;
    let store = ctx.profile.open_store()?;
    for row in store.mail_list(folder, search)? {
        let marker = if row.unread { "*" } else { " " };
        let who = if row.folder == MailFolder::Sent {
            let deliveries: Vec<String> = row
                .deliveries
                .iter()
                .map(|(r, s)| format!("{r} {}", s.as_str()))
                .collect();
            format!("to {}", deliveries.join(", "))
        } else {
            row.index.sender.clone()
        };
        let status = if row.indexed {
            row.index.status.as_str()
        } else {
            "not read yet"
        };
        ctx.out.print(
            &format!(
                "{marker}{}\t{}\t{}\t{}\t[{}]",
                row.id,
                row.folder.as_str(),
                safe(&who),
                safe(&row.index.subject),
                safe(status)
            ),
            &row_json(&row),
        );
    }
    Ok(0)
}

fn show_view(ctx: &Context, row: &MailRow, view: &MailView) {
    let h = &view.reading.headers;
    let names = |parties: &[sixchat_pki::smime::Party]| {
        parties
            .iter()
            .map(|p| p.address.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!(
        "Mail {}\nStatus:     {}\nFrom:       {}\nTo:         {}\n",
        row.id,
        safe(&view.status),
        safe(
            &h.from
                .as_ref()
                .map(|p| p.address.clone())
                .unwrap_or_default()
        ),
        safe(&names(&h.to)),
    );
    if !h.cc.is_empty() {
        let _ = writeln!(text, "Cc:         {}", safe(&names(&h.cc)));
    }
    if let Some(date) = h.date_unix {
        let _ = writeln!(text, "Date:       {}", crate::identity::rfc3339(date));
    }
    let _ = writeln!(
        text,
        "Subject:    {}\nMessage-ID: {}",
        safe(h.subject.as_deref().unwrap_or("")),
        safe(h.message_id.as_deref().unwrap_or("")),
    );
    for (recipient, state) in &row.deliveries {
        let _ = writeln!(text, "Delivery:   {recipient} {}", state.as_str());
    }
    for a in &view.reading.attachments {
        let _ = writeln!(
            text,
            "Attachment: {} ({} bytes)",
            safe(&a.name),
            a.data.len()
        );
    }
    text.push('\n');
    for line in view.reading.text.lines() {
        text.push_str(&safe(line));
        text.push('\n');
    }
    let value = json!({
        "id": row.id,
        "status": view.status,
        "from": h.from.as_ref().map(|p| p.address.clone()),
        "to": h.to.iter().map(|p| p.address.clone()).collect::<Vec<_>>(),
        "cc": h.cc.iter().map(|p| p.address.clone()).collect::<Vec<_>>(),
        "subject": h.subject,
        "date": h.date_unix,
        "message_id": h.message_id,
        "body": view.reading.text,
        "attachments": view.reading.attachments.iter().map(|a| json!({ "name": a.name, "size": a.data.len() })).collect::<Vec<_>>(),
        "deliveries": row.deliveries.iter().map(|(r, s)| json!({ "recipient": r, "state": s.as_str() })).collect::<Vec<_>>(),
    });
    ctx.out.print(text.trim_end(), &value);
}

fn show(ctx: &Context, id: i64, save: Option<&Path>) -> anyhow::Result<u8> {
    let store = ctx.profile.open_store()?;
    let Some((row, raw)) = store.mail(id)? else {
        bail!("no mail {id}");
    };
    drop(store);
    let opened = open_agent(ctx, AgentOptions::default())?;
    let agent = opened.agent;
    let view = {
        let agent = agent.clone();
        runtime()?.block_on(async move {
            // The signer is judged as of now: the CRLs first (bounded).
            for (domain, why) in agent.refresh_crls(Duration::from_secs(5)).await {
                tracing::info!(%domain, "the CRL could not be refreshed: {why}");
            }
            tokio::task::spawn_blocking(move || agent.read_mail(&raw)).await
        })?
    };
    show_view(ctx, &row, &view);
    if let Some(folder) = save {
        for a in &view.reading.attachments {
            let path = sixchat_agent::services::mail::attachment_path(folder, &a.name);
            sixchat_agent::profile::write_atomically(&path, &a.data, 0o600)?;
            eprintln!("saved {}", safe(&path.display().to_string()));
        }
    }
    if row.unread {
        runtime()?.block_on(agent.mark_mail_read(id))?;
    }
    Ok(0)
}

fn import(ctx: &Context, file: &Path) -> anyhow::Result<u8> {
    let raw = sixchat_agent::profile::read_limited(file, MAX_MAIL_BYTES)
        .with_context(|| format!("reading {}", file.display()))?;
    let opened = open_agent(ctx, AgentOptions::default())?;
    let agent = opened.agent;
    let (id, new) = agent.with_store(|s| s.import_mail(&raw))?;
    let view = agent.read_mail(&raw);
    let index = sixchat_agent::services::mail::index_of(&view);
    agent.with_store(|s| s.index_mail(id, &index))?;
    let Some((row, _)) = agent.with_store(|s| s.mail(id))? else {
        bail!("the imported mail is gone");
    };
    if !new {
        eprintln!("already in the mailbox as mail {id}");
    }
    show_view(ctx, &row, &view);
    Ok(0)
}

fn fetch(ctx: &Context) -> anyhow::Result<u8> {
    let opened = open_agent(ctx, AgentOptions::default())?;
    let (taken, outcomes, read) = runtime()?.block_on(opened.agent.check_mail())?;
    let count = |state: MailDelivery| {
        outcomes
            .iter()
            .filter(|(_, o)| o.as_ref().is_ok_and(|s| *s == state))
            .count()
    };
    let (left, delivered) = (count(MailDelivery::Relayed), count(MailDelivery::Delivered));
    ctx.out.print(
        &format!(
            "Fetched {taken} from the DIR, read {read}; sent {delivered} straight to recipients' agents, left {left} at their DIRs."
        ),
        &json!({ "fetched": taken, "read": read, "relayed": left, "delivered": delivered }),
    );
    Ok(0)
}

pub fn mail(ctx: &Context, command: MailCommand) -> anyhow::Result<u8> {
    match command {
        MailCommand::Send {
            to,
            cc,
            subject,
            attach,
            in_reply_to,
        } => send(ctx, &to, &cc, &subject, &attach, in_reply_to),
        MailCommand::List { folder, search } => list(ctx, folder.as_deref(), search.as_deref()),
        MailCommand::Show {
            id,
            save_attachments,
        } => show(ctx, id, save_attachments.as_deref()),
        MailCommand::Export { id, file } => {
            let store = ctx.profile.open_store()?;
            let Some((_, raw)) = store.mail(id)? else {
                bail!("no mail {id}");
            };
            sixchat_agent::profile::write_atomically(&file, &raw, 0o600)?;
            ctx.out.print(
                &format!("Wrote mail {id} to {}", safe(&file.display().to_string())),
                &json!({ "exported": id, "file": file }),
            );
            Ok(0)
        }
        MailCommand::Import { file } => import(ctx, &file),
        MailCommand::Fetch => fetch(ctx),
        MailCommand::Delete { id } => {
            let store = ctx.profile.open_store()?;
            if !store.delete_mail(id)? {
                ctx.out
                    .print(&format!("no mail {id}"), &json!({ "deleted": null }));
                return Ok(EXIT_ERROR);
            }
            ctx.out
                .print(&format!("Deleted mail {id}"), &json!({ "deleted": id }));
            Ok(0)
        }
    }
}
