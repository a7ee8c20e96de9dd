//! The Mail screen's commands ([`MailCommand`]): listings from the store,
//! a mail read again with the agent's keys and today's trust, sending
//! (signed and encrypted unless the person turned either off), deleting,
//! saving attachments.

use std::sync::Arc;

use sixchat_agent::services::mail::{MailRequest, MailView, attachment_from_file};
use sixchat_agent::store::{MailFolder, MailRow};
use sixchat_pki::smime::Party;
use sixchat_proto::UserId;

use super::running::{Running, other};
use crate::app::command::{MailCommand, MailDraft};
use crate::app::event::{Event, Failure, MailEvent, MailOpened, MailSummary};

fn summary(row: &MailRow) -> MailSummary {
    MailSummary {
        id: row.id,
        unread: row.unread,
        from: row.index.sender.clone(),
        to: row.index.recipients.clone(),
        subject: row.index.subject.clone(),
        status: if row.indexed {
            row.index.status.clone()
        } else {
            "not read yet".to_owned()
        },
        date_unix: row.index.sent_at.or(Some(row.received)),
        attachments: row.index.attachments,
        deliveries: deliveries(row),
    }
}

fn deliveries(row: &MailRow) -> Vec<(String, String)> {
    row.deliveries
        .iter()
        .map(|(r, s)| (r.clone(), s.as_str().to_owned()))
        .collect()
}

fn opened(row: &MailRow, view: &MailView) -> MailOpened {
    let h = &view.reading.headers;
    let addresses = |parties: &[Party]| parties.iter().map(|p| p.address.clone()).collect();
    MailOpened {
        id: row.id,
        status: view.status.clone(),
        from: h
            .from
            .as_ref()
            .map(|p| p.address.clone())
            .unwrap_or_default(),
        to: addresses(&h.to),
        cc: addresses(&h.cc),
        subject: h.subject.clone().unwrap_or_default(),
        date_unix: h.date_unix,
        message_id: h.message_id.clone(),
        body: view.reading.text.clone(),
        attachments: view
            .reading
            .attachments
            .iter()
            .map(|a| (a.name.clone(), a.data.len()))
            .collect(),
        deliveries: deliveries(row),
    }
}

fn user_ids(list: &[String]) -> Result<Vec<UserId>, String> {
    list.iter()
        .map(|u| UserId::parse(u.trim()).map_err(|_| format!("{u:?} is not a UserID")))
        .collect()
}

/// The draft as the agent takes it (attachments read from disk).
fn request(draft: &MailDraft) -> Result<MailRequest, String> {
    let attachments = draft
        .attachments
        .iter()
        .map(|path| attachment_from_file(path).map_err(|e| format!("{}: {e}", path.display())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MailRequest {
        to: user_ids(&draft.to)?,
        cc: user_ids(&draft.cc)?,
        subject: draft.subject.clone(),
        body: draft.body.clone(),
        attachments,
        in_reply_to: draft.in_reply_to.clone(),
        unsigned: !draft.sign,
        unencrypted: !draft.encrypt,
    })
}

impl Running {
    pub(super) async fn mail_command(
        self: &Arc<Self>,
        command: MailCommand,
    ) -> Result<(), Failure> {
        match command {
            MailCommand::List { folder, search } => self.list_mail(folder, &search).await,
            MailCommand::Open { id } => {
                let running = self.clone();
                tokio::spawn(async move {
                    if let Err(failure) = running.open_mail(id).await {
                        running.sink.fail(None, failure).await;
                    }
                });
                Ok(())
            }
            MailCommand::Send(draft) => {
                let running = self.clone();
                tokio::spawn(async move { running.send_mail(&draft).await });
                Ok(())
            }
            MailCommand::SaveDraft(draft) => {
                let request = request(&draft).map_err(Failure::Invalid)?;
                self.agent
                    .save_draft(&request, draft.draft)
                    .await
                    .map_err(other)?;
                self.list_mail(MailFolder::Drafts, "").await
            }
            MailCommand::Delete { id } => {
                self.agent
                    .with_store(|s| s.delete_mail(id))
                    .map_err(other)?;
                Ok(())
            }
            MailCommand::Fetch { folder, search } => {
                let running = self.clone();
                tokio::spawn(async move {
                    running.fetch_mail().await;
                    if let Err(failure) = running.list_mail(folder, &search).await {
                        running.sink.fail(None, failure).await;
                    }
                });
                Ok(())
            }
            MailCommand::SaveAttachments { id, folder } => {
                let agent = self.agent.clone();
                tokio::task::spawn_blocking(move || {
                    let (_, raw) = agent
                        .with_store(|s| s.mail(id))
                        .map_err(other)?
                        .ok_or_else(|| Failure::Other(format!("no mail {id}")))?;
                    for a in agent.read_mail(&raw).reading.attachments {
                        let path = sixchat_agent::services::mail::attachment_path(&folder, &a.name);
                        sixchat_agent::profile::write_atomically(&path, &a.data, 0o600)
                            .map_err(other)?;
                    }
                    Ok::<_, Failure>(())
                })
                .await
                .map_err(other)?
            }
        }
    }

    async fn list_mail(&self, folder: MailFolder, search: &str) -> Result<(), Failure> {
        let search = Some(search.trim()).filter(|s| !s.is_empty());
        let rows = self
            .agent
            .with_store(|s| s.mail_list(Some(folder), search))
            .map_err(other)?;
        self.sink
            .emit(Event::Mail(MailEvent::Listed {
                folder,
                rows: rows.iter().map(summary).collect(),
            }))
            .await;
        Ok(())
    }

    /// What `run`'s mailbox loops do, now (the agent's `check_mail`).
    async fn fetch_mail(&self) {
        match self.agent.check_mail().await {
            Ok((_, outcomes, _)) => {
                for (recipient, outcome) in outcomes {
                    if let Err(e) = outcome {
                        tracing::info!(%recipient, "mail waits in the queue: {e}");
                    }
                }
            }
            Err(e) => tracing::info!("fetching mail: {e}"),
        }
    }

    async fn open_mail(&self, id: i64) -> Result<(), Failure> {
        let agent = self.agent.clone();
        let (row, view) = tokio::task::spawn_blocking(move || {
            let (row, raw) = agent
                .with_store(|s| s.mail(id))
                .map_err(other)?
                .ok_or_else(|| Failure::Other(format!("no mail {id}")))?;
            Ok::<_, Failure>((row, agent.read_mail(&raw)))
        })
        .await
        .map_err(other)??;
        self.sink
            .emit(Event::Mail(MailEvent::Opened(Box::new(opened(
                &row, &view,
            )))))
            .await;
        if row.unread {
            self.agent.mark_mail_read(id).await.map_err(other)?;
        }
        Ok(())
    }

    async fn send_mail(&self, draft: &MailDraft) {
        let outcome = match request(draft) {
            Err(reason) => Err(reason),
            Ok(request) => self
                .agent
                .send_mail(request)
                .await
                .map_err(|e| e.to_string()),
        };
        let event = match outcome {
            Ok(id) => {
                if let Some(draft) = draft.draft {
                    if let Err(e) = self.agent.with_store(|s| s.drop_draft(draft)) {
                        tracing::warn!("the sent draft stays in Drafts: {e}");
                    }
                }
                for (recipient, outcome) in self.agent.deliver_mail().await {
                    if let Err(e) = outcome {
                        tracing::info!(%recipient, "mail waits in the queue: {e}");
                    }
                }
                MailEvent::Sent { id }
            }
            Err(reason) => MailEvent::NotSent { reason },
        };
        self.sink.emit(Event::Mail(event)).await;
    }
}
