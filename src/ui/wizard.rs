//! The first-run wizard: join a directory with an invite, import a PKCS#12
//! file, or create a standalone identity.

use std::path::PathBuf;
use std::sync::mpsc;

use eframe::egui::{self, RichText};
use zeroize::Zeroizing;

use super::{SixChatApp, theme, widgets};
use crate::app::command::{AppCommand, Command, SetupCommand};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Way {
    #[default]
    Choose,
    Invite,
    Import,
    Create,
}

#[derive(Default)]
pub struct WizardForm {
    pub way: Way,
    pub invite: String,
    pub name: String,
    pub user_id: String,
    pub p12_path: String,
    pub p12_password: Zeroizing<String>,
    pub passphrase: Zeroizing<String>,
    pub repeat: Zeroizing<String>,
    /// A native file dialog runs on its own thread; its answer arrives here.
    picking: Option<mpsc::Receiver<Option<PathBuf>>>,
}

/// A labelled single-line field; the label names it for screen readers and tests.
pub fn field_ui(
    ui: &mut egui::Ui,
    label: &str,
    text: &mut String,
    password: bool,
) -> egui::Response {
    let label = ui.label(label);
    ui.add(
        egui::TextEdit::singleline(text)
            .password(password)
            .desired_width(f32::INFINITY),
    )
    .labelled_by(label.id)
}

pub fn wizard_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    if let Some(picked) = app
        .view
        .wizard
        .picking
        .as_ref()
        .and_then(|r| r.try_recv().ok())
    {
        app.view.wizard.picking = None;
        if let Some(path) = picked {
            app.view.wizard.p12_path = path.display().to_string();
        }
    }
    egui::CentralPanel::default().show(ui, |ui| {
        ui.vertical_centered(|ui| {
            ui.set_max_width(520.0);
            ui.add_space(theme::GAP * 3.0);
            ui.heading(RichText::new(app.i18n.t("wizard-title")).size(26.0));
            ui.label(app.i18n.t("wizard-intro"));
            ui.add_space(theme::GAP * 2.0);
            let busy = app.state.busy.is_some();
            ui.add_enabled_ui(!busy, |ui| {
                // The choice is centred; the forms read left to right.
                ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
                    match app.view.wizard.way {
                        Way::Choose => choose_ui(ui, app),
                        Way::Invite => invite_ui(ui, app),
                        Way::Import => import_ui(ui, app),
                        Way::Create => create_ui(ui, app),
                    }
                });
            });
            let failure = app.failure().cloned();
            widgets::progress_ui(ui, &app.i18n, app.state.busy, failure.as_ref());
        });
    });
}

fn choose_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    for (way, title, hint) in [
        (Way::Invite, "wizard-invite", "wizard-invite-hint"),
        (Way::Import, "wizard-import", "wizard-import-hint"),
        (Way::Create, "wizard-create", "wizard-create-hint"),
    ] {
        let button = egui::Button::new(RichText::new(app.i18n.t(title)).size(17.0))
            .min_size(egui::vec2(ui.available_width(), 44.0));
        if ui.add(button).clicked() {
            app.view.wizard.way = way;
            app.dismiss_failure();
        }
        ui.label(RichText::new(app.i18n.t(hint)).weak());
        ui.add_space(theme::GAP);
    }
    ui.separator();
    language_ui(ui, app);
}

/// The language menu (also in settings): switching is immediate.
pub fn language_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    ui.horizontal(|ui| {
        ui.label(app.i18n.t("settings-language"));
        for language in crate::i18n::Language::ALL {
            if ui
                .selectable_label(app.i18n.language() == language, language.native_name())
                .clicked()
            {
                app.i18n.set_language(language);
                app.send(Command::App(AppCommand::SetSetting {
                    key: "language".into(),
                    value: language.code().into(),
                }));
            }
        }
    });
}

/// The passphrase and its repetition; returns it once both match and are long enough.
fn passphrase_ui(
    ui: &mut egui::Ui,
    app: &mut SixChatApp,
    optional: bool,
) -> Result<Option<Zeroizing<String>>, String> {
    let form = &mut app.view.wizard;
    field_ui(
        ui,
        &app.i18n.t("wizard-passphrase"),
        &mut form.passphrase,
        true,
    );
    field_ui(
        ui,
        &app.i18n.t("wizard-passphrase-repeat"),
        &mut form.repeat,
        true,
    );
    ui.label(
        RichText::new(app.i18n.t("wizard-passphrase-hint"))
            .weak()
            .small(),
    );
    if optional && form.passphrase.is_empty() && form.repeat.is_empty() {
        return Ok(None);
    }
    if form.passphrase.chars().count() < 8 {
        return Err(app.i18n.t("wizard-passphrase-short"));
    }
    if *form.passphrase != *form.repeat {
        return Err(app.i18n.t("wizard-passphrase-differ"));
    }
    Ok(Some(form.passphrase.clone()))
}

/// Back and the main button; the main one is enabled when `problem` is None.
fn actions_ui(ui: &mut egui::Ui, app: &mut SixChatApp, go: &str, problem: Option<&str>) -> bool {
    // While the backend works the fields are already cleared: no hint about them.
    if let Some(problem) = problem.filter(|_| app.state.busy.is_none()) {
        ui.label(RichText::new(problem).weak());
    }
    let mut clicked = false;
    ui.horizontal(|ui| {
        if ui.button(app.i18n.t("back")).clicked() {
            app.view.wizard.way = Way::Choose;
            app.dismiss_failure();
        }
        clicked = ui
            .add_enabled(problem.is_none(), egui::Button::new(app.i18n.t(go)))
            .clicked();
    });
    clicked
}

fn clear_secrets(form: &mut WizardForm) {
    form.passphrase = Zeroizing::default();
    form.repeat = Zeroizing::default();
    form.p12_password = Zeroizing::default();
}

fn invite_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    ui.heading(app.i18n.t("wizard-invite"));
    field_ui(
        ui,
        &app.i18n.t("wizard-invite-field"),
        &mut app.view.wizard.invite,
        false,
    );
    // No name field: the directory certifies the name its administrator
    // gave the invite, whatever the request asks for.
    let passphrase = passphrase_ui(ui, app, false);
    let problem = if app.view.wizard.invite.trim().is_empty() {
        Some(app.i18n.t("wizard-invite-missing"))
    } else {
        passphrase.as_ref().err().cloned()
    };
    if actions_ui(ui, app, "wizard-join", problem.as_deref()) {
        if let Ok(Some(passphrase)) = passphrase {
            let form = &mut app.view.wizard;
            let command = Command::Setup(SetupCommand::Enroll {
                invite: form.invite.clone(),
                name: String::new(),
                passphrase,
            });
            clear_secrets(form);
            app.send(command);
        }
    }
}

fn import_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    ui.heading(app.i18n.t("wizard-import"));
    ui.horizontal(|ui| {
        let form = &mut app.view.wizard;
        let label = ui.label(app.i18n.t("wizard-file"));
        ui.add(egui::TextEdit::singleline(&mut form.p12_path).desired_width(300.0))
            .labelled_by(label.id);
        if ui
            .add_enabled(
                form.picking.is_none(),
                egui::Button::new(app.i18n.t("wizard-browse")),
            )
            .clicked()
        {
            let (tx, rx) = mpsc::channel();
            form.picking = Some(rx);
            let ctx = ui.ctx().clone();
            std::thread::spawn(move || {
                let picked = rfd::FileDialog::new()
                    .add_filter("PKCS#12", &["p12", "pfx"])
                    .pick_file();
                let _ = tx.send(picked);
                ctx.request_repaint();
            });
        }
    });
    field_ui(
        ui,
        &app.i18n.t("wizard-file-password"),
        &mut app.view.wizard.p12_password,
        true,
    );
    ui.label(
        RichText::new(app.i18n.t("wizard-import-passphrase-hint"))
            .weak()
            .small(),
    );
    let passphrase = passphrase_ui(ui, app, true);
    let problem = if app.view.wizard.p12_path.trim().is_empty() {
        Some(app.i18n.t("wizard-file-missing"))
    } else {
        passphrase.as_ref().err().cloned()
    };
    if actions_ui(ui, app, "wizard-import-go", problem.as_deref()) {
        if let Ok(passphrase) = passphrase {
            let form = &mut app.view.wizard;
            let command = Command::Setup(SetupCommand::ImportPkcs12 {
                path: PathBuf::from(form.p12_path.trim()),
                password: form.p12_password.clone(),
                passphrase: passphrase.unwrap_or_default(),
            });
            clear_secrets(form);
            app.send(command);
        }
    }
}

fn create_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    ui.heading(app.i18n.t("wizard-create"));
    field_ui(
        ui,
        &app.i18n.t("wizard-user-id"),
        &mut app.view.wizard.user_id,
        false,
    );
    field_ui(
        ui,
        &app.i18n.t("wizard-name"),
        &mut app.view.wizard.name,
        false,
    );
    let passphrase = passphrase_ui(ui, app, false);
    let form = &app.view.wizard;
    let problem = if !form.user_id.contains('@') {
        Some(app.i18n.t("wizard-user-id-missing"))
    } else if form.name.trim().is_empty() {
        Some(app.i18n.t("wizard-name-missing"))
    } else {
        passphrase.as_ref().err().cloned()
    };
    if actions_ui(ui, app, "wizard-create-go", problem.as_deref()) {
        if let Ok(Some(passphrase)) = passphrase {
            let form = &mut app.view.wizard;
            let command = Command::Setup(SetupCommand::CreateIdentity {
                user_id: form.user_id.clone(),
                name: form.name.clone(),
                passphrase,
            });
            clear_secrets(form);
            app.send(command);
        }
    }
}
