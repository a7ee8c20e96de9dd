//! The trust badge: verified / known / new / anonymous, in its colour.

use eframe::egui::{self, RichText};

use sixchat_proto::TrustLevel;

use crate::i18n::I18n;
use crate::ui::theme;

/// The i18n key of a trust level's name.
pub fn level_key(level: TrustLevel) -> &'static str {
    match level {
        TrustLevel::Verified => "trust-verified",
        TrustLevel::Known => "trust-known",
        TrustLevel::New => "trust-new",
        TrustLevel::Anonymous => "trust-anonymous",
    }
}

pub fn badge_ui(ui: &mut egui::Ui, i18n: &I18n, level: TrustLevel) -> egui::Response {
    let color = theme::trust_color(level, ui.visuals().dark_mode);
    let icon = match level {
        TrustLevel::Verified => "✔",
        TrustLevel::Known => "🔑",
        TrustLevel::New => "⚠",
        TrustLevel::Anonymous => "?",
    };
    egui::Frame::new()
        .stroke(egui::Stroke::new(1.5, color))
        .corner_radius(8)
        .inner_margin(egui::Margin::symmetric(6, 2))
        .show(ui, |ui| {
            ui.label(
                RichText::new(format!("{icon} {}", i18n.t(level_key(level))))
                    .color(color)
                    .strong(),
            )
        })
        .inner
}
