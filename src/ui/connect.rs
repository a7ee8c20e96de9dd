//! "Connect to User": the address to dial (the last known one, or one the
//! person types), how far the dial got, then the peer's certificate status:
//! for a new or anonymous peer the code to compare and the person's answer,
//! then whether the peer's person has accepted.

use std::collections::{HashMap, HashSet};

use eframe::egui::{self, RichText};
use fluent_bundle::FluentValue;

use super::widgets::failure_text;
use super::widgets::peer_card::{code_answers_ui, peer_card_ui};
use super::{SixChatApp, theme};
use crate::app::command::{Answer, Command, SessionCommand};
use crate::app::event::DialStage;
use crate::app::state::AppState;

/// What the window keeps between frames.
#[derive(Default)]
pub struct ConnectView {
    /// The peer whose window is open.
    pub peer: Option<String>,
    /// The address field.
    pub address: String,
    /// The peer the field was filled in for.
    filled_for: Option<String>,
    /// Codes the person answered or closed the window on: a session
    /// awaiting one of them does not open the window again.
    answered: HashSet<String>,
}

impl ConnectView {
    /// The address field starts with the contact's known address.
    fn fill_address(&mut self, peer: &str, state: &AppState) {
        if self.filled_for.as_deref() != Some(peer) {
            self.address = state
                .contact(peer)
                .and_then(|c| c.address.clone())
                .unwrap_or_default();
            self.filled_for = Some(peer.to_owned());
        }
    }

    /// A session this side dialled in the background (not from this
    /// window) to a peer whose code must be compared opens the window, so
    /// the person is asked.
    fn open_for_code(&mut self, dials: &HashMap<String, DialStage>) {
        if self.peer.is_some() {
            return;
        }
        self.peer = dials
            .iter()
            .find(|(_, stage)| {
                matches!(stage, DialStage::Connected(card)
                    if card.awaits_code() && !self.answered.contains(&card.sas))
            })
            .map(|(peer, _)| peer.clone());
    }
}

/// Dial `peer` at the typed address (the backend takes a blank one as none).
fn dial_command(peer: &str, address: &str) -> Command {
    Command::Session(SessionCommand::Dial {
        user_id: peer.to_owned(),
        address: Some(address.to_owned()),
    })
}

pub fn connect_ui(ctx: &egui::Context, app: &mut SixChatApp) {
    app.view.connect.open_for_code(&app.state.dials);
    let Some(peer) = app.view.connect.peer.clone() else {
        app.view.connect.filled_for = None;
        return;
    };
    // The backend reports the dial's first stage at once.
    let stage = app
        .state
        .dials
        .get(&peer)
        .cloned()
        .unwrap_or(DialStage::LookingUp);
    app.view.connect.fill_address(&peer, &app.state);
    let name = app
        .state
        .contact(&peer)
        .map(|c| c.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| peer.clone());
    let mut open = true;
    let mut command = None;
    let mut close = false;
    egui::Window::new(app.i18n.t("connect-title"))
        .id(egui::Id::unique("connect-window"))
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .default_width(440.0)
        .show(ctx, |ui| {
            ui.label(RichText::new(&peer).monospace());
            ui.add_space(theme::GAP / 2.0);
            ui.horizontal(|ui| {
                let label = ui.label(app.i18n.t("connect-address"));
                let field = ui
                    .add(
                        egui::TextEdit::singleline(&mut app.view.connect.address)
                            .hint_text(app.i18n.t("connect-address-hint"))
                            .desired_width(240.0),
                    )
                    .labelled_by(label.id);
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                let busy = matches!(stage, DialStage::LookingUp | DialStage::Connecting);
                let dial = ui
                    .add_enabled(!busy, egui::Button::new(app.i18n.t("connect-dial")))
                    .clicked();
                if (dial || enter) && !busy {
                    command = Some(dial_command(&peer, &app.view.connect.address));
                }
            });
            ui.add_space(theme::GAP);
            if let Some(answer) = stage_ui(ui, app, &peer, &name, &stage) {
                command = Some(answer);
            }
            ui.add_space(theme::GAP);
            if ui.button(app.i18n.t("close")).clicked() {
                close = true;
            }
        });
    // Closing the window before comparing the code declines the session.
    if let DialStage::Connected(card) = &stage {
        if (!open || close) && card.awaits_code() && command.is_none() {
            command = Some(Command::Session(SessionCommand::AnswerSession {
                user_id: peer.clone(),
                sas: card.sas.clone(),
                answer: Answer::Decline,
            }));
        }
    }
    if let Some(command) = command {
        if let Command::Session(SessionCommand::AnswerSession { sas, answer, .. }) = &command {
            app.view.connect.answered.insert(sas.clone());
            close |= *answer == Answer::Decline;
        }
        app.send(command);
    }
    if !open || close {
        if let DialStage::Connected(card) = &stage {
            app.view.connect.answered.insert(card.sas.clone());
        }
        app.view.connect.peer = None;
    }
}

/// How far the dial got, and for a session the peer's card and, if its
/// code must be compared, the answers; returns the command a button gave.
fn stage_ui(
    ui: &mut egui::Ui,
    app: &SixChatApp,
    peer: &str,
    name: &str,
    stage: &DialStage,
) -> Option<Command> {
    match stage {
        DialStage::LookingUp | DialStage::Connecting => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(app.i18n.t(if *stage == DialStage::LookingUp {
                    "connect-looking-up"
                } else {
                    "connect-connecting"
                }));
            });
        }
        DialStage::Connected(card) => {
            let named = [("name", FluentValue::from(name.to_owned()))];
            if card.awaits_code() {
                ui.label(RichText::new(app.i18n.t("connect-compare-first")).strong());
            } else if app.state.awaiting.contains(peer) {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(app.i18n.f("connect-waiting", &named));
                });
            } else {
                ui.label(RichText::new(app.i18n.t("connect-connected")).strong());
                ui.label(app.i18n.f("connect-accepted", &named));
            }
            ui.add_space(theme::GAP / 2.0);
            peer_card_ui(ui, &app.i18n, card, &app.state.trust);
            if card.awaits_code() {
                ui.add_space(theme::GAP / 2.0);
                if let Some(answer) = code_answers_ui(ui, &app.i18n, card, &app.state.trust) {
                    return Some(Command::Session(SessionCommand::AnswerSession {
                        user_id: peer.to_owned(),
                        sas: card.sas.clone(),
                        answer,
                    }));
                }
            }
        }
        DialStage::Queued { count } => {
            ui.label(
                app.i18n
                    .f("connect-queued", &[("count", FluentValue::from(*count))]),
            );
        }
        DialStage::Failed(failure) => {
            ui.colored_label(
                theme::error_color(ui.visuals().dark_mode),
                failure_text(&app.i18n, failure),
            );
            if ui.button(app.i18n.t("connect-retry")).clicked() {
                return Some(dial_command(peer, &app.view.connect.address));
            }
        }
    }
    None
}
