//! "My identity": what a person gives others so they can reach them without
//! a directory: their UserID, their certificate's fingerprint and the
//! addresses the agent listens on, each with a copy button.

use eframe::egui::{self, RichText};

use super::widgets::grouped_fingerprint;
use super::{SixChatApp, theme};

/// What the window keeps between frames.
#[derive(Default)]
pub struct MeView {
    pub open: bool,
    /// The text copied last (its button says "Copied").
    copied: Option<String>,
}

pub fn me_ui(ctx: &egui::Context, app: &mut SixChatApp) {
    if !app.view.me.open {
        return;
    }
    let Some(identity) = app.state.identity.clone() else {
        return;
    };
    let mut open = true;
    let mut close = false;
    let mut copy: Option<String> = None;
    let i18n = &app.i18n;
    let copied = app.view.me.copied.clone();
    let copy_button = |ui: &mut egui::Ui, text: &str, copy: &mut Option<String>| {
        let label = if copied.as_deref() == Some(text) {
            i18n.t("me-copied")
        } else {
            i18n.t("me-copy")
        };
        if ui.small_button(label).clicked() {
            *copy = Some(text.to_owned());
        }
    };
    egui::Window::new(i18n.t("me-title"))
        .id(egui::Id::unique("me-window"))
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .default_width(460.0)
        .show(ctx, |ui| {
            ui.heading(&identity.name);
            ui.add_space(theme::GAP / 2.0);
            egui::Grid::new("me-grid")
                .num_columns(3)
                .spacing([10.0, 6.0])
                .show(ui, |ui| {
                    ui.label(i18n.t("me-user-id"));
                    ui.label(RichText::new(&identity.user_id).monospace());
                    copy_button(ui, &identity.user_id, &mut copy);
                    ui.end_row();
                    ui.label(i18n.t("me-fingerprint"));
                    ui.label(
                        RichText::new(grouped_fingerprint(&identity.fingerprint))
                            .monospace()
                            .small(),
                    );
                    copy_button(ui, &identity.fingerprint, &mut copy);
                    ui.end_row();
                });
            ui.add_space(theme::GAP);
            ui.label(RichText::new(i18n.t("me-addresses")).strong());
            if app.state.network.reachable.is_empty() {
                ui.label(RichText::new(i18n.t("me-no-address")).weak());
            }
            egui::Grid::new("me-addresses")
                .num_columns(2)
                .spacing([10.0, 4.0])
                .show(ui, |ui| {
                    for address in &app.state.network.reachable {
                        ui.label(RichText::new(address).monospace());
                        copy_button(ui, address, &mut copy);
                        ui.end_row();
                    }
                });
            ui.add_space(theme::GAP);
            ui.label(RichText::new(i18n.t("me-explain")).weak());
            ui.add_space(theme::GAP);
            if ui.button(i18n.t("close")).clicked() {
                close = true;
            }
        });
    if let Some(text) = copy {
        ctx.copy_text(text.clone());
        app.view.me.copied = Some(text);
    }
    if !open || close {
        app.view.me = MeView::default();
    }
}
