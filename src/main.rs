//! SixChat, the desktop User Agent.
//!
//! This first version opens the window and shows which profile it would
//! drive; the full interface (wizard, contacts, conversations, trust dialogs)
//! is built on the same agent as `sixchat-cli`.

use std::path::PathBuf;

use clap::Parser;
use eframe::egui;

#[derive(Parser)]
#[command(
    name = "sixchat",
    version,
    about = "SixChat: secure, direct, peer-to-peer chat"
)]
struct Args {
    /// Which profile (identity and its data) to open.
    #[arg(long, default_value = "default", value_name = "NAME")]
    profile: String,
    /// Keep profiles under DIR instead of the platform data folder.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// What the window shows about the profile, read once before the window opens.
struct ProfileSummary {
    profile: String,
    identity: Option<(String, String, String)>,
    note: Option<String>,
}

struct SixChatApp {
    summary: ProfileSummary,
}

impl eframe::App for SixChatApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("SixChat");
            ui.label(format!("Profile: {}", self.summary.profile));
            match &self.summary.identity {
                Some((user, name, fingerprint)) => {
                    ui.label(format!("Identity: {name} <{user}>"));
                    ui.monospace(format!("Fingerprint: {fingerprint}"));
                }
                None => {
                    ui.label("No identity yet. Create one with: sixchat-cli id new --user you@example.org --name \"Your Name\"");
                }
            }
            if let Some(note) = &self.summary.note {
                ui.colored_label(ui.visuals().warn_fg_color, note);
            }
        });
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut summary = ProfileSummary {
        profile: args.profile.clone(),
        identity: None,
        note: None,
    };
    match sixchat_agent::Profile::locate(&args.profile, args.data_dir.as_deref()) {
        Ok(profile) => match profile.public_identity() {
            Ok((_, info)) => {
                summary.identity = Some((
                    info.user_id.to_string(),
                    info.name,
                    info.fingerprint.to_hex(),
                ));
            }
            Err(sixchat_agent::ProfileError::NoIdentity(_)) => {}
            Err(e) => summary.note = Some(e.to_string()),
        },
        Err(e) => summary.note = Some(e.to_string()),
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("SixChat")
            .with_inner_size([720.0, 480.0]),
        ..Default::default()
    };
    eframe::run_native(
        "SixChat",
        options,
        Box::new(|_cc| Ok(Box::new(SixChatApp { summary }))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
