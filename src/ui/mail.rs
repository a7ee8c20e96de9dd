//! The Mail screen (docs/mail.md): folders and search on the left, the
//! folder's mail, the open mail with its status in words (and a colour),
//! and the compose window: recipients completed from the contacts,
//! attachments by dialog or by dropping files on the window, sign and
//! encrypt on by default (when encrypting is impossible, the window says
//! why, and the person may send without it).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eframe::egui::{self, RichText};

use super::{SixChatApp, theme, widgets};
use crate::app::command::{Command, MailCommand, MailDraft};
use crate::app::event::{MailFolder, MailOpened};

/// How often the open folder is listed again (new mail, receipts).
const RELIST: Duration = Duration::from_secs(5);

/// What the Mail screen keeps between frames.
pub struct MailView {
    pub open: bool,
    pub folder: MailFolder,
    pub search: String,
    pub selected: Option<i64>,
    listed_at: Option<Instant>,
    pub compose: Option<Compose>,
    /// Fetch from the DIR at the next frame (the screen was just opened).
    pub fetch_now: bool,
}

impl Default for MailView {
    fn default() -> Self {
        Self {
            open: false,
            folder: MailFolder::Inbox,
            search: String::new(),
            selected: None,
            listed_at: None,
            compose: None,
            fetch_now: false,
        }
    }
}

/// The compose window's fields.
#[derive(Default)]
pub struct Compose {
    pub to: String,
    pub cc: String,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<PathBuf>,
    pub in_reply_to: Option<String>,
    pub sign: bool,
    pub encrypt: bool,
    /// Sent and waiting for the backend's answer.
    pub sending: bool,
    /// The last mail sent before this window opened (its answer is not ours).
    sent_before: Option<i64>,
    /// The draft this window was opened from.
    pub draft: Option<i64>,
}

impl Compose {
    fn new(sent_before: Option<i64>) -> Self {
        Self {
            sign: true,
            encrypt: true,
            sent_before,
            ..Self::default()
        }
    }
}

fn folder_key(folder: MailFolder) -> &'static str {
    match folder {
        MailFolder::Inbox => "mail-inbox",
        MailFolder::Sent => "mail-sent",
        MailFolder::Drafts => "mail-drafts",
        MailFolder::Trash => "mail-trash",
    }
}

/// The colour that goes with a status (the words always come with it).
fn status_color(status: &str, dark: bool) -> egui::Color32 {
    if status.starts_with("valid signature, verified") {
        theme::trust_color(sixchat_proto::TrustLevel::Verified, dark)
    } else if status.starts_with("valid signature, known") {
        theme::trust_color(sixchat_proto::TrustLevel::Known, dark)
    } else if status.starts_with("invalid")
        || status.starts_with("cannot")
        || status.starts_with("not for us")
        || status.starts_with("unreadable")
    {
        theme::error_color(dark)
    } else {
        theme::trust_color(sixchat_proto::TrustLevel::New, dark)
    }
}

fn one_line(text: &str) -> String {
    sixchat_proto::escape_controls(text).into_owned()
}

/// Lists the folder again when it changed or its listing is old.
fn relist(app: &mut SixChatApp) {
    let stale = app
        .view
        .mail
        .listed_at
        .is_none_or(|at| at.elapsed() >= RELIST);
    if stale {
        app.view.mail.listed_at = Some(Instant::now());
        app.send(Command::Mail(MailCommand::List {
            folder: app.view.mail.folder,
            search: app.view.mail.search.clone(),
        }));
    }
}

/// Asks for what waits at the DIR now (the agent also polls).
pub fn fetch(app: &mut SixChatApp) {
    app.view.mail.listed_at = Some(Instant::now());
    app.send(Command::Mail(MailCommand::Fetch {
        folder: app.view.mail.folder,
        search: app.view.mail.search.clone(),
    }));
}

pub fn mail_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    if std::mem::take(&mut app.view.mail.fetch_now) {
        fetch(app);
    }
    relist(app);
    ui.ctx().request_repaint_after(RELIST);
    egui::Panel::left("mail-folders")
        .resizable(false)
        .default_size(160.0)
        .size_range(140.0..=220.0)
        .show(ui, |ui| folders_ui(ui, app));
    egui::Panel::left("mail-list")
        .resizable(true)
        .default_size(320.0)
        .size_range(240.0..=640.0)
        .show(ui, |ui| list_ui(ui, app));
    egui::CentralPanel::default().show(ui, |ui| open_ui(ui, app));
}

fn folders_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    if ui
        .button(format!("✏ {}", app.i18n.t("mail-compose")))
        .clicked()
    {
        app.view.mail.compose = Some(Compose::new(app.state.mail.sent));
    }
    if ui
        .button(format!("⟳ {}", app.i18n.t("mail-check")))
        .clicked()
    {
        fetch(app);
    }
    ui.add_space(theme::GAP);
    for folder in MailFolder::ALL {
        let chosen = app.view.mail.folder == folder;
        if ui
            .selectable_label(chosen, app.i18n.t(folder_key(folder)))
            .clicked()
            && !chosen
        {
            app.view.mail.folder = folder;
            app.view.mail.selected = None;
            app.view.mail.listed_at = None;
        }
    }
    ui.add_space(theme::GAP);
    let label = ui.label(app.i18n.t("mail-search"));
    let search = ui
        .text_edit_singleline(&mut app.view.mail.search)
        .labelled_by(label.id);
    if search.changed() {
        app.view.mail.listed_at = None;
    }
}

fn list_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    let folder = app.view.mail.folder;
    let rows = match &app.state.mail.listed {
        Some((listed, rows)) if *listed == folder => rows.clone(),
        _ => Vec::new(),
    };
    if rows.is_empty() {
        ui.label(RichText::new(app.i18n.t("mail-empty")).weak());
        return;
    }
    let dark = ui.visuals().dark_mode;
    egui::ScrollArea::vertical().show(ui, |ui| {
        for row in rows {
            let chosen = app.view.mail.selected == Some(row.id);
            let who = if folder == MailFolder::Sent {
                row.to.clone()
            } else {
                row.from.clone()
            };
            let mut title = RichText::new(one_line(if row.subject.is_empty() {
                "—"
            } else {
                &row.subject
            }));
            if row.unread {
                title = title.strong();
            }
            let response = ui
                .vertical(|ui| {
                    let clicked = ui.selectable_label(chosen, title).clicked();
                    ui.label(RichText::new(one_line(&who)).small());
                    ui.label(
                        RichText::new(one_line(&row.status))
                            .small()
                            .color(status_color(&row.status, dark)),
                    );
                    clicked
                })
                .inner;
            if response {
                app.view.mail.selected = Some(row.id);
                app.send(Command::Mail(MailCommand::Open { id: row.id }));
            }
            ui.separator();
        }
    });
}

fn open_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    let Some(mail) = app
        .state
        .mail
        .opened
        .clone()
        .filter(|m| Some(m.id) == app.view.mail.selected)
    else {
        ui.centered_and_justified(|ui| {
            ui.label(RichText::new(app.i18n.t("mail-none-open")).weak());
        });
        return;
    };
    let dark = ui.visuals().dark_mode;
    actions_ui(ui, app, &mail);
    ui.separator();
    ui.label(
        RichText::new(format!(
            "{}: {}",
            app.i18n.t("mail-status"),
            one_line(&mail.status)
        ))
        .strong()
        .color(status_color(&mail.status, dark)),
    );
    egui::Grid::new("mail-headers")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label(app.i18n.t("mail-from"));
            ui.label(one_line(&mail.from));
            ui.end_row();
            ui.label(app.i18n.t("mail-to"));
            ui.label(one_line(&mail.to.join(", ")));
            ui.end_row();
            if !mail.cc.is_empty() {
                ui.label(app.i18n.t("mail-cc"));
                ui.label(one_line(&mail.cc.join(", ")));
                ui.end_row();
            }
            if let Some(date) = mail.date_unix {
                ui.label(app.i18n.t("mail-date"));
                ui.label(widgets::local_datetime(date));
                ui.end_row();
            }
            ui.label(app.i18n.t("mail-subject"));
            ui.label(RichText::new(one_line(&mail.subject)).strong());
            ui.end_row();
            for (recipient, state) in &mail.deliveries {
                ui.label(app.i18n.t("mail-delivery"));
                ui.label(format!("{} {state}", one_line(recipient)));
                ui.end_row();
            }
            for (name, size) in &mail.attachments {
                ui.label(app.i18n.t("mail-attachment"));
                ui.label(format!("📎 {} ({size} B)", one_line(name)));
                ui.end_row();
            }
        });
    ui.separator();
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.label(&mail.body);
    });
}

/// Reply, reply to all, forward, save attachments, delete.
fn actions_ui(ui: &mut egui::Ui, app: &mut SixChatApp, mail: &MailOpened) {
    ui.horizontal(|ui| {
        if app.view.mail.folder == MailFolder::Drafts {
            if ui.button(app.i18n.t("mail-edit-draft")).clicked() {
                let mut compose = Compose::new(app.state.mail.sent);
                compose.to = mail.to.join(", ");
                compose.cc = mail.cc.join(", ");
                compose.subject.clone_from(&mail.subject);
                compose.body.clone_from(&mail.body);
                compose.draft = Some(mail.id);
                app.view.mail.compose = Some(compose);
            }
            return;
        }
        if ui.button(app.i18n.t("mail-reply")).clicked() {
            app.view.mail.compose = Some(reply(app, mail, false));
        }
        if ui.button(app.i18n.t("mail-reply-all")).clicked() {
            app.view.mail.compose = Some(reply(app, mail, true));
        }
        if ui.button(app.i18n.t("mail-forward")).clicked() {
            let mut compose = Compose::new(app.state.mail.sent);
            let subject: String = mail.subject.chars().filter(|c| !c.is_control()).collect();
            compose.subject = format!("Fwd: {subject}");
            compose.body = format!("\n\n---- {} ----\n{}", mail.from, mail.body);
            app.view.mail.compose = Some(compose);
        }
        if !mail.attachments.is_empty() && ui.button(app.i18n.t("mail-save-attachments")).clicked()
        {
            if let Some(folder) = rfd::FileDialog::new().pick_folder() {
                app.send(Command::Mail(MailCommand::SaveAttachments {
                    id: mail.id,
                    folder,
                }));
            }
        }
        if ui.button(app.i18n.t("mail-delete")).clicked() {
            app.send(Command::Mail(MailCommand::Delete { id: mail.id }));
            app.view.mail.selected = None;
            app.view.mail.listed_at = None;
        }
    });
}

fn reply(app: &SixChatApp, mail: &MailOpened, all: bool) -> Compose {
    let me = app
        .state
        .identity
        .as_ref()
        .map(|i| i.user_id.clone())
        .unwrap_or_default();
    let mut compose = Compose::new(app.state.mail.sent);
    compose.to.clone_from(&mail.from);
    if all {
        let others: Vec<String> = mail
            .to
            .iter()
            .chain(&mail.cc)
            .filter(|a| **a != me && **a != mail.from)
            .cloned()
            .collect();
        compose.cc = others.join(", ");
    }
    // A subject can hold what a header must not (a line break): not copied.
    let subject: String = mail.subject.chars().filter(|c| !c.is_control()).collect();
    compose.subject = if subject.starts_with("Re:") {
        subject
    } else {
        format!("Re: {subject}")
    };
    compose.in_reply_to.clone_from(&mail.message_id);
    let quoted: String = mail.body.lines().flat_map(|l| ["> ", l, "\n"]).collect();
    compose.body = format!("\n\n{quoted}");
    compose
}

fn split_ids(text: &str) -> Vec<String> {
    text.split([',', ';', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Contacts whose UserID or name starts like the last word of `field`.
fn completions(app: &SixChatApp, field: &str) -> Vec<String> {
    let last = field.rsplit([',', ';', ' ']).next().unwrap_or("").trim();
    if last.is_empty() {
        return Vec::new();
    }
    let lower = last.to_lowercase();
    app.state
        .contacts
        .iter()
        .filter(|c| {
            c.user_id != last
                && (c.user_id.to_lowercase().starts_with(&lower)
                    || c.name.to_lowercase().starts_with(&lower))
        })
        .map(|c| c.user_id.clone())
        .take(5)
        .collect()
}

fn complete(field: &mut String, user_id: &str) {
    let cut = field.rfind([',', ';', ' ']).map_or(0, |i| i + 1);
    field.truncate(cut);
    if cut > 0 && !field.ends_with(' ') {
        field.push(' ');
    }
    field.push_str(user_id);
    field.push_str(", ");
}

/// A recipient field with its label and the contacts it may complete to.
fn recipient_field(ui: &mut egui::Ui, label: &str, field: &mut String, options: &[String]) {
    let label = ui.label(label);
    ui.text_edit_singleline(field).labelled_by(label.id);
    ui.end_row();
    if !options.is_empty() {
        ui.label("");
        ui.horizontal_wrapped(|ui| {
            for option in options {
                if ui.small_button(option).clicked() {
                    complete(field, option);
                }
            }
        });
        ui.end_row();
    }
}

/// The compose window, and files dropped on the window while it is open.
#[allow(clippy::too_many_lines)] // one window, its fields top to bottom
pub fn compose_ui(ctx: &egui::Context, app: &mut SixChatApp) {
    let Some(mut compose) = app.view.mail.compose.take() else {
        return;
    };
    if compose.sending && app.state.mail.sent != compose.sent_before {
        // Sent: the window's work is done.
        app.view.mail.listed_at = None;
        return;
    }
    let failure = app.state.mail.not_sent.clone().filter(|_| compose.sending);
    if failure.is_some() {
        compose.sending = false;
    }
    ctx.input(|i| {
        compose
            .attachments
            .extend(i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()));
    });
    let to_options = completions(app, &compose.to);
    let cc_options = completions(app, &compose.cc);
    let mut open = true;
    let mut send = false;
    let mut save = false;
    let i18n = &app.i18n;
    egui::Window::new(i18n.t("mail-compose"))
        .id(egui::Id::unique("mail-compose"))
        .open(&mut open)
        .collapsible(false)
        .default_width(560.0)
        .show(ctx, |ui| {
            egui::Grid::new("mail-compose-fields")
                .num_columns(2)
                .show(ui, |ui| {
                    recipient_field(ui, &i18n.t("mail-to"), &mut compose.to, &to_options);
                    recipient_field(ui, &i18n.t("mail-cc"), &mut compose.cc, &cc_options);
                    let label = ui.label(i18n.t("mail-subject"));
                    ui.text_edit_singleline(&mut compose.subject)
                        .labelled_by(label.id);
                    ui.end_row();
                });
            let label = ui.label(i18n.t("mail-body"));
            ui.add(
                egui::TextEdit::multiline(&mut compose.body)
                    .desired_rows(10)
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(label.id);
            ui.horizontal_wrapped(|ui| {
                if ui.button(format!("📎 {}", i18n.t("mail-attach"))).clicked() {
                    if let Some(paths) = rfd::FileDialog::new().pick_files() {
                        compose.attachments.extend(paths);
                    }
                }
                let mut remove = None;
                for (n, path) in compose.attachments.iter().enumerate() {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if ui.small_button(format!("{} ✖", one_line(&name))).clicked() {
                        remove = Some(n);
                    }
                }
                if let Some(n) = remove {
                    compose.attachments.remove(n);
                }
            });
            ui.label(RichText::new(i18n.t("mail-drop-hint")).weak().small());
            ui.horizontal(|ui| {
                ui.checkbox(&mut compose.sign, i18n.t("mail-sign"));
                ui.checkbox(&mut compose.encrypt, i18n.t("mail-encrypt"));
            });
            if !compose.encrypt {
                ui.label(RichText::new(i18n.t("mail-unencrypted-warning")).color(
                    theme::trust_color(sixchat_proto::TrustLevel::New, ui.visuals().dark_mode),
                ));
            }
            if let Some(reason) = &failure {
                ui.label(
                    RichText::new(format!("{}: {reason}", i18n.t("mail-not-sent")))
                        .color(theme::error_color(ui.visuals().dark_mode)),
                );
                if reason.contains("encryption certificate") {
                    ui.label(RichText::new(i18n.t("mail-cannot-encrypt")).weak());
                }
            }
            ui.horizontal(|ui| {
                let ready = !split_ids(&compose.to).is_empty() && !compose.sending;
                if ui
                    .add_enabled(ready, egui::Button::new(i18n.t("mail-send")))
                    .clicked()
                {
                    send = true;
                }
                if ui
                    .add_enabled(
                        !compose.sending,
                        egui::Button::new(i18n.t("mail-save-draft")),
                    )
                    .clicked()
                {
                    save = true;
                }
                if compose.sending {
                    ui.spinner();
                }
            });
        });
    let written = || MailDraft {
        to: split_ids(&compose.to),
        cc: split_ids(&compose.cc),
        subject: compose.subject.clone(),
        body: compose.body.clone(),
        attachments: compose.attachments.clone(),
        in_reply_to: compose.in_reply_to.clone(),
        sign: compose.sign,
        encrypt: compose.encrypt,
        draft: compose.draft,
    };
    if save {
        app.send(Command::Mail(MailCommand::SaveDraft(Box::new(written()))));
        app.view.mail.folder = MailFolder::Drafts;
        app.view.mail.selected = None;
        return;
    }
    if send {
        let draft = written();
        compose.sending = true;
        compose.sent_before = app.state.mail.sent;
        app.state.mail.not_sent = None;
        app.send(Command::Mail(MailCommand::Send(Box::new(draft))));
    }
    if open {
        app.view.mail.compose = Some(compose);
    }
}
