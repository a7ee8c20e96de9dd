//! The egui front: one file per screen or window. `SixChatApp::logic` drains
//! events into the state; the `*_ui` functions only read the state and send
//! commands.

pub mod connect;
pub mod contacts;
pub mod conversation;
pub mod files;
pub mod incoming;
pub mod mail;
pub mod me;
pub mod settings;
pub mod theme;
pub mod transfers;
pub mod unlock;
pub mod widgets;
pub mod wizard;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use eframe::egui;
use fluent_bundle::FluentValue;
use tokio::sync::mpsc;

use crate::app::backend::Backend;
use crate::app::command::{AppCommand, ChatCommand, Command};
use crate::app::event::{Event, Failure, Notice};
use crate::app::state::{AppState, Arrival, Phase, Raised};
use crate::i18n::{I18n, Language};
use theme::ThemeChoice;

/// How long `logic` may spend applying events in one frame.
const EVENT_BUDGET: Duration = Duration::from_millis(4);

/// What only the UI keeps: the open conversation, text being typed, open
/// windows, toasts, caches. The backend's [`AppState`] is only read.
#[derive(Default)]
pub struct View {
    /// The conversation the person has open.
    pub selected: Option<String>,
    /// Incoming Chat requests the person answered (until the backend says
    /// they are gone).
    pub answered: HashSet<u64>,
    /// A problem the UI found itself (a draft it will not send).
    pub local_failure: Option<Failure>,
    /// The backend's failures up to this count were dismissed.
    failures_dismissed: u64,
    /// Notices shown as toasts until dismissed.
    toasts: Vec<Notice>,
    /// Messages that arrived, not yet notified.
    arrivals: Vec<Arrival>,
    pub wizard: wizard::WizardForm,
    pub unlock: unlock::UnlockForm,
    pub contacts: contacts::ContactsView,
    pub conversation: conversation::ConversationView,
    pub settings: settings::SettingsView,
    pub connect: connect::ConnectView,
    pub me: me::MeView,
    pub files: files::FilesView,
    pub mail: mail::MailView,
    /// Conversations asked of the backend, so each is asked once.
    requested: HashSet<String>,
    /// The conversation and its size when read receipts were last asked for.
    seen_sent: Option<(String, usize)>,
    /// Incoming requests already notified.
    notified: HashSet<u64>,
}

/// Preferences that live in the profile's settings.
pub struct Preferences {
    pub theme: ThemeChoice,
    pub notifications: bool,
}

pub struct SixChatApp {
    pub state: AppState,
    backend: Backend,
    events: mpsc::Receiver<Event>,
    pub i18n: I18n,
    pub prefs: Preferences,
    pub view: View,
    title: String,
    profile_name: String,
    /// Fonts and theme are set on the context the first frame runs on.
    styled: bool,
}

impl SixChatApp {
    pub fn new(
        backend: Backend,
        events: mpsc::Receiver<Event>,
        language: Language,
        prefs: Preferences,
        profile_name: String,
    ) -> Self {
        Self {
            state: AppState::default(),
            backend,
            events,
            i18n: I18n::new(language),
            prefs,
            view: View::default(),
            title: String::new(),
            profile_name,
            styled: false,
        }
    }

    pub fn send(&self, command: Command) {
        self.backend.send(command);
    }

    /// Applies waiting events (within a time budget) and does what follows
    /// from them: loading a conversation, read receipts, notifications, title.
    pub fn logic(&mut self, ctx: &egui::Context) {
        if !self.styled {
            theme::install_fonts(ctx);
            self.prefs.theme.apply(ctx);
            self.styled = true;
            if let Some(started) = crate::startup::STARTED.get() {
                tracing::info!(
                    "first frame {:.1} ms after start",
                    started.elapsed().as_secs_f64() * 1000.0
                );
            }
        }
        let start = Instant::now();
        while start.elapsed() < EVENT_BUDGET {
            let Ok(event) = self.events.try_recv() else {
                break;
            };
            match self.state.apply(event, self.view.selected.as_deref()) {
                Some(Raised::Arrival(arrival)) => self.view.arrivals.push(arrival),
                Some(Raised::Notice(notice)) => self.view.toasts.push(notice),
                None => {}
            }
        }
        let gone = &self.state.incoming;
        self.view
            .answered
            .retain(|id| gone.iter().any(|r| r.request == *id));
        if !self.events.is_empty() {
            ctx.request_repaint();
        }
        let focused = ctx.input(|i| i.viewport().focused).unwrap_or(true);
        self.follow_selection(focused);
        self.notify(focused);
        // One line, whatever the profile's name holds.
        let profile = sixchat_proto::escape_controls(&self.profile_name);
        let title = match self.state.unread_total() {
            0 => format!("SixChat ({profile})"),
            count => format!(
                "{} ({profile})",
                self.i18n
                    .f("unread-title", &[("count", FluentValue::from(count))]),
            ),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
        let now = Instant::now();
        if let Some(next) = self.state.typing.values().filter(|t| **t > now).min() {
            ctx.request_repaint_after(*next - now);
        }
    }

    fn follow_selection(&mut self, focused: bool) {
        let Some(selected) = self.view.selected.clone() else {
            return;
        };
        if !self
            .state
            .conversations
            .get(&selected)
            .is_some_and(|c| c.loaded)
            && self.view.requested.insert(selected.clone())
        {
            self.send(Command::Chat(ChatCommand::Open {
                user_id: selected.clone(),
            }));
        }
        // Read receipts for what the person now sees: when the conversation
        // grew or the contact still counts unread messages.
        let unread = self.state.contact(&selected).map_or(0, |c| c.unread);
        let length = self
            .state
            .conversations
            .get(&selected)
            .map_or(0, |c| c.messages.len());
        let marker = (selected.clone(), length + unread);
        if focused && length > 0 && self.view.seen_sent.as_ref() != Some(&marker) {
            self.view.seen_sent = Some(marker);
            self.send(Command::Chat(ChatCommand::MarkSeen { user_id: selected }));
        }
    }

    fn notify(&mut self, focused: bool) {
        let arrivals = std::mem::take(&mut self.view.arrivals);
        if focused || !self.prefs.notifications {
            self.view
                .notified
                .extend(self.state.incoming.iter().map(|r| r.request));
            return;
        }
        for arrival in arrivals {
            let name = self
                .state
                .contact(&arrival.user_id)
                .map_or(arrival.user_id.clone(), |c| c.name.clone());
            self.send(Command::App(AppCommand::Notify {
                title: self
                    .i18n
                    .f("notify-message", &[("name", FluentValue::from(name))]),
                body: arrival.text,
            }));
        }
        let fresh: Vec<_> = self
            .state
            .incoming
            .iter()
            .filter(|r| !self.view.notified.contains(&r.request))
            .map(|r| (r.request, r.card.name.clone(), r.card.peer.to_string()))
            .collect();
        for (request, name, peer) in fresh {
            self.view.notified.insert(request);
            self.send(Command::App(AppCommand::Notify {
                title: self
                    .i18n
                    .f("notify-incoming", &[("name", FluentValue::from(name))]),
                body: peer,
            }));
        }
    }

    /// Draws the whole window.
    pub fn ui_root(&mut self, ui: &mut egui::Ui) {
        match self.state.phase.clone() {
            Phase::Starting => {
                egui::CentralPanel::default().show(ui, |ui| {
                    ui.centered_and_justified(egui::Ui::spinner);
                });
            }
            Phase::Wizard => wizard::wizard_ui(ui, self),
            Phase::Locked { user_id, name } => unlock::unlock_ui(ui, self, &user_id, &name),
            Phase::Ready => self.main_ui(ui),
        }
        self.notices_ui(ui);
    }

    fn main_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("top").show(ui, |ui| {
            // The buttons keep their room; the name gives way (cut short) in a narrow window.
            egui::Sides::new().shrink_left().truncate().show(
                ui,
                |ui| {
                    ui.heading("SixChat");
                    if let Some(me) = &self.state.identity {
                        ui.label(format!("{} <{}>", me.name, me.user_id));
                    }
                },
                |ui| {
                    if ui
                        .button(format!("⚙ {}", self.i18n.t("settings-open")))
                        .clicked()
                    {
                        self.view.settings.open = !self.view.settings.open;
                    }
                    if ui
                        .button(format!("🆔 {}", self.i18n.t("me-open")))
                        .clicked()
                    {
                        self.view.me.open = !self.view.me.open;
                    }
                    let mail = if self.view.mail.open {
                        format!("💬 {}", self.i18n.t("files-chat"))
                    } else {
                        format!("✉ {}", self.i18n.t("mail-open"))
                    };
                    if ui.button(mail).clicked() {
                        self.view.mail.open = !self.view.mail.open;
                        self.view.files.open = false;
                        ui.memory_mut(egui::Memory::stop_text_input);
                        // Fetched when the screen first draws.
                        self.view.mail.fetch_now = self.view.mail.open;
                    }
                    let screen = if self.view.files.open {
                        format!("💬 {}", self.i18n.t("files-chat"))
                    } else {
                        format!("📁 {}", self.i18n.t("files-open"))
                    };
                    if ui.button(screen).clicked() {
                        self.view.files.open = !self.view.files.open;
                        self.view.mail.open = false;
                        // The composer keeps no keyboard focus behind the
                        // commander (its keys are the commander's).
                        ui.memory_mut(egui::Memory::stop_text_input);
                        if self.view.files.peer.is_none() {
                            self.view.files.peer.clone_from(&self.view.selected);
                        }
                    }
                    if let Some(task) = self.state.busy {
                        ui.spinner();
                        ui.label(widgets::task_text(&self.i18n, task));
                    }
                },
            );
        });
        egui::Panel::left("contacts")
            .default_size(theme::CONTACTS_WIDTH)
            .size_range(theme::CONTACTS_MIN_WIDTH..=theme::CONTACTS_MAX_WIDTH)
            .show(ui, |ui| contacts::contacts_ui(ui, self));
        if self.view.files.open || !self.state.files.queue.is_empty() {
            egui::Panel::bottom("queue")
                .resizable(true)
                .show(ui, |ui| transfers::queue_ui(ui, self));
        }
        if self.view.mail.open {
            egui::CentralPanel::default().show(ui, |ui| mail::mail_ui(ui, self));
        } else if self.view.files.open {
            egui::CentralPanel::default().show(ui, |ui| files::files_ui(ui, self));
        } else {
            egui::CentralPanel::default().show(ui, |ui| conversation::conversation_ui(ui, self));
        }
        // Files dropped while a mail is written are its attachments.
        if self.view.mail.compose.is_some() {
            mail::compose_ui(ui.ctx(), self);
        } else {
            transfers::dropped_files(ui.ctx(), self);
        }
        connect::connect_ui(ui.ctx(), self);
        incoming::incoming_ui(ui.ctx(), self);
        settings::settings_ui(ui.ctx(), self);
        me::me_ui(ui.ctx(), self);
    }

    /// The failure to show: the UI's own, else the backend's last one
    /// unless the person dismissed it.
    pub fn failure(&self) -> Option<&Failure> {
        self.view.local_failure.as_ref().or_else(|| {
            self.state
                .failure
                .as_ref()
                .filter(|_| self.state.failure_count > self.view.failures_dismissed)
                .map(|(_, f)| f)
        })
    }

    /// Hides the failure shown (a retry or another way in makes it moot).
    pub fn dismiss_failure(&mut self) {
        self.view.local_failure = None;
        self.view.failures_dismissed = self.state.failure_count;
    }

    /// Toasts for notices and the last failure, bottom right.
    fn notices_ui(&mut self, ui: &mut egui::Ui) {
        let failure = self
            .failure()
            .filter(|_| self.state.phase == Phase::Ready)
            .map(|f| widgets::failure_text(&self.i18n, f));
        if self.view.toasts.is_empty() && failure.is_none() {
            return;
        }
        egui::Area::new(egui::Id::unique("notices"))
            .anchor(
                egui::Align2::RIGHT_BOTTOM,
                [-theme::GAP * 2.0, -theme::GAP * 2.0],
            )
            .show(ui.ctx(), |ui| {
                let mut dismissed = None;
                for (index, notice) in self.view.toasts.iter().enumerate() {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.set_max_width(360.0);
                        ui.label(self.notice_text(notice));
                        if let Notice::BackedUp { recovery_code } = notice {
                            ui.label(egui::RichText::new(recovery_code).monospace().size(18.0));
                        }
                        if ui.button(self.i18n.t("dismiss")).clicked() {
                            dismissed = Some(index);
                        }
                    });
                }
                if let Some(index) = dismissed {
                    self.view.toasts.remove(index);
                }
                if let Some(text) = failure {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.set_max_width(360.0);
                        ui.colored_label(theme::error_color(ui.visuals().dark_mode), text);
                        if ui.button(self.i18n.t("dismiss")).clicked() {
                            self.dismiss_failure();
                        }
                    });
                }
            });
    }

    fn notice_text(&self, notice: &Notice) -> String {
        match notice {
            Notice::Renewed { not_after_unix } => self.i18n.f(
                "notice-renewed",
                &[(
                    "until",
                    FluentValue::from(widgets::local_datetime(*not_after_unix)),
                )],
            ),
            Notice::Exported { path } => self.i18n.f(
                "notice-exported",
                &[("path", FluentValue::from(path.clone()))],
            ),
            Notice::BackedUp { .. } => self.i18n.t("notice-backed-up"),
            Notice::Pinned { user_id } => self.i18n.f(
                "notice-pinned",
                &[("user", FluentValue::from(user_id.clone()))],
            ),
            Notice::KeyringFailed { detail } => {
                format!("{}\n{detail}", self.i18n.t("notice-keyring-failed"))
            }
            Notice::PassphraseForgotten => self.i18n.t("notice-passphrase-forgotten"),
            Notice::ListenFallback { wanted, got } => self.i18n.f(
                "notice-listen-fallback",
                &[
                    ("wanted", FluentValue::from(wanted.clone())),
                    ("got", FluentValue::from(got.clone())),
                ],
            ),
        }
    }
}

impl eframe::App for SixChatApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        SixChatApp::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.ui_root(ui);
    }

    fn raw_input_hook(&mut self, ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        files::take_tab(self, ctx, raw_input);
    }
}
