//! The peer's certificate status, shown in "Connect to User" and "Incoming
//! Chat": badge, issuer, validity, fingerprint, and for new or anonymous
//! peers the short authentication string with the person's three answers.

use eframe::egui::{self, RichText};
use fluent_bundle::FluentValue;

use super::badge::badge_ui;
use super::{grouped_fingerprint, local_datetime};
use crate::app::command::Answer;
use crate::app::event::{PeerCard, TrustInfo};
use crate::i18n::I18n;

/// Whether the peer's UserID is in a domain whose directory root the
/// profile trusts: such a peer should have come verified, so a `new` or
/// `anonymous` one claiming it may be an impostor.
pub fn claims_trusted_domain(card: &PeerCard, trust: &TrustInfo) -> bool {
    let domain = card.peer.domain();
    trust
        .roots
        .iter()
        .any(|(root_domain, _)| root_domain.eq_ignore_ascii_case(domain))
}

/// Draws the card (the code to compare for `new` and `anonymous` peers).
pub fn peer_card_ui(ui: &mut egui::Ui, i18n: &I18n, card: &PeerCard, trust: &TrustInfo) {
    ui.horizontal(|ui| {
        ui.heading(&card.name);
        badge_ui(ui, i18n, card.level);
    });
    ui.label(RichText::new(card.peer.as_str()).monospace());
    egui::Grid::new(("peer-card", card.peer.as_str()))
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
                    RichText::new(grouped_fingerprint(
                        &card.fingerprint.map(|f| f.to_hex()).unwrap_or_default(),
                    ))
                    .monospace()
                    .small(),
                );
                ui.end_row();
            }
        });
    if card.needs_code_comparison() && claims_trusted_domain(card, trust) {
        ui.colored_label(
            crate::ui::theme::error_color(ui.visuals().dark_mode),
            i18n.f(
                "card-impostor",
                &[("user", FluentValue::from(card.peer.to_string()))],
            ),
        );
    }
    if card.needs_code_comparison() {
        ui.separator();
        ui.label(i18n.t("card-compare"));
        ui.label(RichText::new(&card.sas).monospace().size(28.0).strong());
        if card.confirmed {
            ui.label(RichText::new(i18n.t("card-compared")).weak());
        }
    }
}

/// "The codes match" (for a `new` peer: pin its key), "Accept once" and
/// "Decline"; returns the answer clicked. A key for a UserID whose domain's
/// directory is trusted is not offered for pinning (it would shut out the
/// verified owner).
pub fn code_answers_ui(
    ui: &mut egui::Ui,
    i18n: &I18n,
    card: &PeerCard,
    trust: &TrustInfo,
) -> Option<Answer> {
    let mut answer = None;
    ui.horizontal_wrapped(|ui| {
        if card.level == sixchat_proto::TrustLevel::New
            && card.fingerprint.is_some()
            && !claims_trusted_domain(card, trust)
        {
            let matched = ui
                .button(RichText::new(i18n.t("card-codes-match")).strong())
                .on_hover_text(i18n.f(
                    "card-codes-match-hint",
                    &[("user", FluentValue::from(card.peer.to_string()))],
                ));
            if matched.clicked() {
                answer = Some(Answer::AcceptAndPin);
            }
        }
        if ui
            .button(i18n.t("card-accept-once"))
            .on_hover_text(i18n.t("card-accept-once-hint"))
            .clicked()
        {
            answer = Some(Answer::Accept);
        }
        if ui.button(i18n.t("incoming-decline")).clicked() {
            answer = Some(Answer::Decline);
        }
    });
    answer
}
