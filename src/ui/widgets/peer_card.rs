//! The peer's certificate status, shown in "Connect to User" and "Incoming
//! Chat": badge, issuer, validity, fingerprint, and for new or anonymous
//! peers the short authentication string with a button to pin the key.

use eframe::egui::{self, RichText};
use fluent_bundle::FluentValue;

use super::badge::badge_ui;
use super::{grouped_fingerprint, local_datetime};
use crate::app::command::Command;
use crate::app::event::PeerCard;
use crate::i18n::I18n;

/// Draws the card; returns a command when the person pins the key.
pub fn peer_card_ui(ui: &mut egui::Ui, i18n: &I18n, card: &PeerCard) -> Option<Command> {
    let mut command = None;
    ui.horizontal(|ui| {
        ui.heading(&card.name);
        badge_ui(ui, i18n, &card.level);
    });
    ui.label(RichText::new(&card.peer).monospace());
    egui::Grid::new(("peer-card", &card.peer))
        .num_columns(2)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            if !card.issuer.is_empty() {
                ui.label(i18n.t("card-issuer"));
                ui.label(&card.issuer);
                ui.end_row();
                ui.label(i18n.t("card-valid"));
                ui.label(i18n.f(
                    "card-valid-range",
                    &[
                        ("from", FluentValue::from(local_datetime(card.not_before))),
                        ("until", FluentValue::from(local_datetime(card.not_after))),
                    ],
                ));
                ui.end_row();
                ui.label(i18n.t("card-fingerprint"));
                ui.label(
                    RichText::new(grouped_fingerprint(&card.fingerprint))
                        .monospace()
                        .small(),
                );
                ui.end_row();
            }
        });
    if matches!(card.level.as_str(), "new" | "anonymous") {
        ui.separator();
        ui.label(i18n.t("card-compare"));
        ui.label(RichText::new(&card.sas).monospace().size(28.0).strong());
        if card.level == "new"
            && !card.fingerprint.is_empty()
            && ui.button(i18n.t("card-pin")).clicked()
        {
            command = Some(Command::Pin {
                user_id: card.peer.clone(),
                fingerprint: card.fingerprint.clone(),
            });
        }
    }
    command
}
