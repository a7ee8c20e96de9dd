//! "Incoming Chat": a peer connected. A verified or pinned peer is accepted
//! or declined (once accepted, it is not asked again); a new or anonymous
//! peer shows the code to compare, with "The codes match", "Accept once" and
//! "Decline".

use eframe::egui::{self, RichText};
use fluent_bundle::FluentValue;

use super::widgets::peer_card::{code_answers_ui, peer_card_ui};
use super::{SixChatApp, theme};
use crate::app::command::{Answer, Command, SessionCommand};

pub fn incoming_ui(ctx: &egui::Context, app: &mut SixChatApp) {
    // The oldest request not answered yet (an answered one stays in the
    // state until the backend says it is gone).
    let waiting: Vec<_> = app
        .state
        .incoming
        .iter()
        .filter(|r| !app.view.answered.contains(&r.request))
        .collect();
    let Some(request) = waiting.first().map(|r| (*r).clone()) else {
        return;
    };
    let more = waiting.len() - 1;
    let mut answer: Option<Answer> = None;
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
            peer_card_ui(ui, &app.i18n, &request.card, &app.state.trust);
            ui.add_space(theme::GAP);
            if request.card.awaits_code() {
                answer = code_answers_ui(ui, &app.i18n, &request.card, &app.state.trust);
            } else {
                ui.horizontal(|ui| {
                    if ui
                        .button(RichText::new(app.i18n.t("incoming-accept")).strong())
                        .on_hover_text(app.i18n.t("incoming-accept-hint"))
                        .clicked()
                    {
                        answer = Some(Answer::Accept);
                    }
                    if ui.button(app.i18n.t("incoming-decline")).clicked() {
                        answer = Some(Answer::Decline);
                    }
                });
            }
            if more > 0 {
                ui.label(
                    RichText::new(
                        app.i18n
                            .f("incoming-more", &[("count", FluentValue::from(more))]),
                    )
                    .weak(),
                );
            }
        });
    if let Some(answer) = answer {
        app.view.answered.insert(request.request);
        if answer != Answer::Decline && app.view.selected.is_none() {
            app.view.selected = Some(request.card.peer.to_string());
        }
        app.send(Command::Session(SessionCommand::AnswerIncoming {
            request: request.request,
            answer,
        }));
    }
}
