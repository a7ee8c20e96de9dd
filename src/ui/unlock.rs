//! Unlocking the identity at start.

use eframe::egui::{self, RichText};
use zeroize::Zeroizing;

use super::{SixChatApp, theme, widgets, wizard::field_ui};
use crate::app::command::{Command, SetupCommand};

#[derive(Default)]
pub struct UnlockForm {
    pub passphrase: Zeroizing<String>,
    /// Keep the passphrase in the OS keyring.
    pub remember: bool,
    /// Focus was put in the passphrase field (once, not every frame: asking
    /// every frame kept the window repainting until it had focus).
    focus_asked: bool,
}

pub fn unlock_ui(ui: &mut egui::Ui, app: &mut SixChatApp, user_id: &str, name: &str) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.vertical_centered(|ui| {
            ui.set_max_width(420.0);
            ui.add_space(theme::GAP * 6.0);
            ui.heading(RichText::new(app.i18n.t("unlock-title")).size(24.0));
            ui.label(RichText::new(format!("{name} <{user_id}>")).strong());
            ui.add_space(theme::GAP);
            let busy = app.state.busy.is_some();
            let field = ui
                .add_enabled_ui(!busy, |ui| {
                    field_ui(
                        ui,
                        &app.i18n.t("unlock-passphrase"),
                        &mut app.view.unlock.passphrase,
                        true,
                    )
                })
                .inner;
            if !busy && !app.view.unlock.focus_asked {
                field.request_focus();
                app.view.unlock.focus_asked = true;
            }
            ui.checkbox(&mut app.view.unlock.remember, app.i18n.t("unlock-remember"));
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let clicked = ui
                .add_enabled(!busy, egui::Button::new(app.i18n.t("unlock-go")))
                .clicked();
            if (entered || clicked) && !app.view.unlock.passphrase.is_empty() {
                let passphrase = std::mem::take(&mut app.view.unlock.passphrase);
                // Back in the field if this one is wrong.
                app.view.unlock.focus_asked = false;
                app.send(Command::Setup(SetupCommand::Unlock {
                    passphrase,
                    remember: app.view.unlock.remember,
                }));
            }
            let failure = app.failure().cloned();
            widgets::progress_ui(ui, &app.i18n, app.state.busy, failure.as_ref());
        });
    });
}
