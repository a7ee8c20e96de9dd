//! "Connect to User": how far the dial got, then the peer's certificate status.

use eframe::egui::{self, RichText};
use fluent_bundle::FluentValue;

use super::widgets::{failure_text, peer_card::peer_card_ui};
use super::{SixChatApp, theme};
use crate::app::command::Command;
use crate::app::event::DialStage;

pub fn connect_ui(ctx: &egui::Context, app: &mut SixChatApp) {
    let Some((peer, stage)) = app.state.dial.clone() else {
        return;
    };
    let mut open = true;
    let mut command = None;
    let mut close = false;
    egui::Window::new(app.i18n.t("connect-title"))
        .id(egui::Id::unique("connect-window"))
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .default_width(420.0)
        .show(ctx, |ui| {
            ui.label(RichText::new(&peer).monospace());
            ui.add_space(theme::GAP);
            match &stage {
                DialStage::LookingUp | DialStage::Connecting => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(app.i18n.t(if stage == DialStage::LookingUp {
                            "connect-looking-up"
                        } else {
                            "connect-connecting"
                        }));
                    });
                }
                DialStage::Connected(card) => {
                    ui.label(RichText::new(app.i18n.t("connect-connected")).strong());
                    command = peer_card_ui(ui, &app.i18n, card);
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
                        command = Some(Command::Dial {
                            user_id: peer.clone(),
                        });
                    }
                }
            }
            ui.add_space(theme::GAP);
            if ui.button(app.i18n.t("close")).clicked() {
                close = true;
            }
        });
    if let Some(command) = command {
        if matches!(command, Command::Dial { .. }) {
            app.state.dial = Some((peer.clone(), DialStage::LookingUp));
        }
        app.send(command);
    }
    if !open || close {
        app.state.dial = None;
    }
}
