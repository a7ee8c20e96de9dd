//! Settings: identity, network, trust, and language / theme / notifications.

use std::path::PathBuf;
use std::sync::mpsc;

use eframe::egui::{self, RichText};
use zeroize::Zeroizing;

use super::widgets::{grouped_fingerprint, local_datetime};
use super::wizard::{field_ui, language_ui};
use super::{SixChatApp, theme};
use crate::app::command::{AppCommand, Command, IdentityCommand};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Identity,
    Network,
    Trust,
    Appearance,
}

#[derive(Default)]
pub struct SettingsView {
    pub open: bool,
    pub tab: Tab,
    pub export_path: String,
    pub export_password: Zeroizing<String>,
    pub listen: String,
    saving: Option<mpsc::Receiver<Option<PathBuf>>>,
}

pub fn settings_ui(ctx: &egui::Context, app: &mut SixChatApp) {
    if !app.view.settings.open {
        return;
    }
    let mut open = true;
    egui::Window::new(app.i18n.t("settings-title"))
        .id(egui::Id::unique("settings-window"))
        .open(&mut open)
        .default_width(560.0)
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                for (tab, key) in [
                    (Tab::Identity, "settings-identity"),
                    (Tab::Network, "settings-network"),
                    (Tab::Trust, "settings-trust"),
                    (Tab::Appearance, "settings-appearance"),
                ] {
                    if ui
                        .selectable_label(app.view.settings.tab == tab, app.i18n.t(key))
                        .clicked()
                    {
                        app.view.settings.tab = tab;
                    }
                }
            });
            ui.separator();
            match app.view.settings.tab {
                Tab::Identity => identity_ui(ui, app),
                Tab::Network => network_ui(ui, app),
                Tab::Trust => trust_ui(ui, app),
                Tab::Appearance => appearance_ui(ui, app),
            }
        });
    app.view.settings.open = open;
}

#[allow(clippy::too_many_lines)] // the identity section as it appears on screen, one group after another
fn identity_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    let Some(me) = app.state.identity.clone() else {
        return;
    };
    egui::Grid::new("identity")
        .num_columns(2)
        .spacing([12.0, 6.0])
        .show(ui, |ui| {
            for (key, value) in [
                ("settings-user-id", me.user_id.clone()),
                ("settings-name", me.name.clone()),
                (
                    "card-issuer",
                    if me.self_signed {
                        app.i18n.t("settings-self-signed")
                    } else {
                        me.issuer.clone()
                    },
                ),
                (
                    "card-valid",
                    format!(
                        "{} – {}",
                        local_datetime(me.not_before_unix),
                        local_datetime(me.not_after_unix)
                    ),
                ),
                (
                    "settings-directory",
                    me.dir_address
                        .clone()
                        .unwrap_or_else(|| app.i18n.t("settings-no-directory")),
                ),
            ] {
                ui.label(app.i18n.t(key));
                ui.label(value);
                ui.end_row();
            }
            ui.label(app.i18n.t("card-fingerprint"));
            ui.label(
                RichText::new(grouped_fingerprint(&me.fingerprint))
                    .monospace()
                    .small(),
            );
            ui.end_row();
        });
    ui.add_space(theme::GAP);
    let has_dir = me.dir_address.is_some();
    let busy = app.state.busy.is_some();
    ui.horizontal(|ui| {
        if ui
            .add_enabled(
                has_dir && !busy,
                egui::Button::new(app.i18n.t("settings-renew")),
            )
            .clicked()
        {
            app.send(Command::Identity(IdentityCommand::Renew));
        }
        if ui
            .add_enabled(
                has_dir && !busy,
                egui::Button::new(app.i18n.t("settings-backup")),
            )
            .clicked()
        {
            app.send(Command::Identity(IdentityCommand::Backup));
        }
        if ui
            .button(app.i18n.t("settings-forget-passphrase"))
            .clicked()
        {
            app.send(Command::Identity(IdentityCommand::ForgetPassphrase));
        }
    });
    ui.separator();
    ui.label(RichText::new(app.i18n.t("settings-export")).strong());
    if let Some(picked) = app
        .view
        .settings
        .saving
        .as_ref()
        .and_then(|r| r.try_recv().ok())
    {
        app.view.settings.saving = None;
        if let Some(path) = picked {
            app.view.settings.export_path = path.display().to_string();
        }
    }
    ui.horizontal(|ui| {
        let view = &mut app.view.settings;
        let label = ui.label(app.i18n.t("settings-export-file"));
        ui.add(egui::TextEdit::singleline(&mut view.export_path).desired_width(260.0))
            .labelled_by(label.id);
        if ui
            .add_enabled(
                view.saving.is_none(),
                egui::Button::new(app.i18n.t("wizard-browse")),
            )
            .clicked()
        {
            let (tx, rx) = mpsc::channel();
            view.saving = Some(rx);
            let ctx = ui.ctx().clone();
            let name = format!("{}.p12", me.user_id.replace('@', "_at_"));
            std::thread::spawn(move || {
                let picked = rfd::FileDialog::new().set_file_name(name).save_file();
                let _ = tx.send(picked);
                ctx.request_repaint();
            });
        }
    });
    field_ui(
        ui,
        &app.i18n.t("settings-export-password"),
        &mut app.view.settings.export_password,
        true,
    );
    let ready = !app.view.settings.export_path.trim().is_empty()
        && app.view.settings.export_password.chars().count() >= 8;
    if ui
        .add_enabled(
            ready && !busy,
            egui::Button::new(app.i18n.t("settings-export-go")),
        )
        .clicked()
    {
        let view = &mut app.view.settings;
        app.backend
            .send(Command::Identity(IdentityCommand::ExportPkcs12 {
                path: PathBuf::from(view.export_path.trim()),
                password: std::mem::take(&mut view.export_password),
            }));
    }
}

fn network_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    let network = app.state.network.clone();
    egui::Grid::new("network")
        .num_columns(2)
        .spacing([12.0, 6.0])
        .show(ui, |ui| {
            ui.label(app.i18n.t("settings-listening"));
            ui.label(network.listening.clone().unwrap_or_else(|| "–".into()));
            ui.end_row();
            ui.label(app.i18n.t("settings-registered"));
            ui.label(if network.registered.is_empty() {
                "–".into()
            } else {
                network.registered.join("\n")
            });
            ui.end_row();
            let v6 = network.registered.iter().any(|a| a.starts_with('['));
            let v4 = network.registered.iter().any(|a| !a.starts_with('['));
            ui.label(app.i18n.t("settings-families"));
            ui.label(format!(
                "IPv6 {} · IPv4 {}",
                if v6 { "✔" } else { "–" },
                if v4 { "✔" } else { "–" }
            ));
            ui.end_row();
        });
    if let Some(problem) = &network.dir_problem {
        ui.colored_label(theme::error_color(ui.visuals().dark_mode), problem);
    }
    ui.separator();
    if app.view.settings.listen.is_empty() {
        app.view.settings.listen = network.listening.unwrap_or_default();
    }
    field_ui(
        ui,
        &app.i18n.t("settings-listen"),
        &mut app.view.settings.listen,
        false,
    );
    ui.label(
        RichText::new(app.i18n.t("settings-listen-hint"))
            .weak()
            .small(),
    );
    let valid = app
        .view
        .settings
        .listen
        .trim()
        .parse::<std::net::SocketAddr>()
        .is_ok();
    if ui
        .add_enabled(valid, egui::Button::new(app.i18n.t("save")))
        .clicked()
    {
        app.send(Command::App(AppCommand::SetSetting {
            key: "listen".into(),
            value: app.view.settings.listen.trim().to_owned(),
        }));
    }
}

fn trust_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    let trust = app.state.trust.clone();
    let removed = fingerprint_list_ui(ui, app, "settings-roots", &trust.roots);
    if let Some((domain, fingerprint)) = removed {
        app.send(Command::Identity(IdentityCommand::RemoveRoot {
            domain,
            fingerprint,
        }));
    }
    ui.add_space(theme::GAP);
    if let Some((user_id, _)) = fingerprint_list_ui(ui, app, "settings-pins", &trust.pins) {
        app.send(Command::Identity(IdentityCommand::Unpin { user_id }));
    }
}

/// A titled list of (name, fingerprint) rows; returns the row whose Remove was clicked.
fn fingerprint_list_ui(
    ui: &mut egui::Ui,
    app: &SixChatApp,
    title_key: &str,
    rows: &[(String, String)],
) -> Option<(String, String)> {
    ui.label(RichText::new(app.i18n.t(title_key)).strong());
    if rows.is_empty() {
        ui.label(RichText::new(app.i18n.t("settings-none")).weak());
    }
    let mut removed = None;
    for (name, fingerprint) in rows {
        ui.horizontal(|ui| {
            ui.label(name);
            ui.label(
                RichText::new(&fingerprint[..fingerprint.len().min(16)])
                    .monospace()
                    .small(),
            )
            .on_hover_text(fingerprint);
            if ui.button(app.i18n.t("remove")).clicked() {
                removed = Some((name.clone(), fingerprint.clone()));
            }
        });
    }
    removed
}

fn appearance_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    language_ui(ui, app);
    ui.horizontal(|ui| {
        ui.label(app.i18n.t("settings-theme"));
        for choice in theme::ThemeChoice::ALL {
            if ui
                .selectable_label(app.prefs.theme == choice, app.i18n.t(choice.label_key()))
                .clicked()
            {
                app.prefs.theme = choice;
                choice.apply(ui.ctx());
                app.send(Command::App(AppCommand::SetSetting {
                    key: "theme".into(),
                    value: choice.code().into(),
                }));
            }
        }
    });
    let mut notifications = app.prefs.notifications;
    if ui
        .checkbox(&mut notifications, app.i18n.t("settings-notifications"))
        .changed()
    {
        app.prefs.notifications = notifications;
        app.send(Command::App(AppCommand::SetSetting {
            key: "notifications".into(),
            value: if notifications { "on" } else { "off" }.into(),
        }));
    }
}
