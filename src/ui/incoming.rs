//! "Incoming Chat": a peer connected; accept, decline, or always accept
//! from this contact, after seeing its certificate status.

use eframe::egui::{self, RichText};
use fluent_bundle::FluentValue;

use super::widgets::peer_card::peer_card_ui;
use super::{SixChatApp, theme};
use crate::app::command::Command;

pub fn incoming_ui(ctx: &egui::Context, app: &mut SixChatApp) {
    let Some(request) = app.state.incoming.first().cloned() else {
        return;
    };
    let mut answer: Option<(bool, bool)> = None;
    let mut pin = None;
    egui::Window::new(app.i18n.t("incoming-title"))
        .id(egui::Id::unique(("incoming-window", request.request)))
        .collapsible(false)
        .resizable(false)
        .default_width(440.0)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.label(app.i18n.f(
                "incoming-from",
                &[("addr", FluentValue::from(request.addr.clone()))],
            ));
            ui.add_space(theme::GAP);
            pin = peer_card_ui(ui, &app.i18n, &request.card);
            ui.add_space(theme::GAP);
            ui.horizontal(|ui| {
                if ui
                    .button(RichText::new(app.i18n.t("incoming-accept")).strong())
                    .clicked()
                {
                    answer = Some((true, false));
                }
                if ui.button(app.i18n.t("incoming-always")).clicked() {
                    answer = Some((true, true));
                }
                if ui.button(app.i18n.t("incoming-decline")).clicked() {
                    answer = Some((false, false));
                }
            });
            if app.state.incoming.len() > 1 {
                ui.label(
                    RichText::new(app.i18n.f(
                        "incoming-more",
                        &[("count", FluentValue::from(app.state.incoming.len() - 1))],
                    ))
                    .weak(),
                );
            }
        });
    if let Some(command) = pin {
        app.send(command);
    }
    if let Some((accept, always)) = answer {
        app.state.incoming.retain(|r| r.request != request.request);
        if accept && app.state.selected.is_none() {
            app.state.selected = Some(request.card.peer.clone());
        }
        app.send(Command::AnswerIncoming {
            request: request.request,
            user_id: request.card.peer,
            accept,
            always,
        });
    }
}
