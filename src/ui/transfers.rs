//! Transfers outside the commander's panes: the queue panel (one row per
//! operation, as in WinSCP: source, destination, transferred, speed, time
//! left, progress; pause, resume, cancel, retry), contacts' offers in the
//! conversation with Accept and Decline, and files dropped on the window.

use eframe::egui::{self, RichText};
use fluent_bundle::FluentValue;

use super::SixChatApp;
use super::files::human_size;
use crate::app::command::{Command, FileCommand};
use crate::app::event::QueueRow;

#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)] // shown to a few digits; speeds are never negative
fn left(row: &QueueRow) -> String {
    if row.speed <= 0.0 || row.state != "running" {
        return String::new();
    }
    let seconds = (row.bytes.saturating_sub(row.verified) as f64 / row.speed).round() as u64;
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // bytes per second, never negative
fn speed(row: &QueueRow) -> u64 {
    row.speed.max(0.0) as u64
}

#[allow(clippy::cast_precision_loss)] // a fraction for a progress bar
fn fraction(row: &QueueRow) -> f32 {
    if row.bytes == 0 {
        return if row.state == "done" { 1.0 } else { 0.0 };
    }
    (row.verified as f64 / row.bytes as f64) as f32
}

/// The queue panel: every operation, newest last.
pub fn queue_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    ui.label(RichText::new(app.i18n.t("queue-title")).strong());
    if app.state.files.queue.is_empty() {
        ui.label(RichText::new(app.i18n.t("queue-empty")).weak());
        return;
    }
    let rows = app.state.files.queue.clone();
    egui::ScrollArea::vertical()
        .id_salt("queue")
        .max_height(160.0)
        .show(ui, |ui| {
            egui::Grid::new("queue-grid")
                .striped(true)
                .num_columns(7)
                .show(ui, |ui| {
                    for key in [
                        "queue-source",
                        "queue-destination",
                        "queue-transferred",
                        "queue-speed",
                        "queue-left",
                        "queue-progress",
                        "queue-actions",
                    ] {
                        ui.label(RichText::new(app.i18n.t(key)).weak());
                    }
                    ui.end_row();
                    for row in &rows {
                        row_ui(ui, app, row);
                        ui.end_row();
                    }
                });
        });
}

fn row_ui(ui: &mut egui::Ui, app: &mut SixChatApp, row: &QueueRow) {
    ui.label(&row.source).on_hover_text(&row.id);
    ui.label(&row.destination);
    ui.label(format!(
        "{} / {}",
        human_size(row.verified),
        human_size(row.bytes)
    ));
    ui.label(if row.state == "running" {
        format!("{}/s", human_size(speed(row)))
    } else {
        String::new()
    });
    ui.label(left(row));
    let state = app.i18n.t(&format!("queue-state-{}", row.state));
    ui.add(
        egui::ProgressBar::new(fraction(row))
            .desired_width(140.0)
            .text(state),
    )
    .on_hover_text(&row.reason);
    ui.horizontal(|ui| {
        if row.kind == "receive" {
            return;
        }
        let id = row.id.clone();
        let action = match row.state.as_str() {
            "running" | "waiting" => Some(("queue-pause", FileCommand::Pause { id: id.clone() })),
            "paused" => Some(("queue-resume", FileCommand::Resume { id: id.clone() })),
            "failed" => Some(("queue-retry", FileCommand::Resume { id: id.clone() })),
            _ => None,
        };
        if let Some((key, command)) = action
            && ui.small_button(app.i18n.t(key)).clicked()
        {
            app.send(Command::Files(command));
        }
        if !matches!(row.state.as_str(), "done" | "cancelled")
            && ui.small_button(app.i18n.t("queue-cancel")).clicked()
        {
            app.send(Command::Files(FileCommand::Cancel { id }));
        }
    });
}

/// Contacts' offers from `peer`, in the conversation: Accept or Decline.
pub fn offers_ui(ui: &mut egui::Ui, app: &mut SixChatApp, peer: &str) {
    let offers: Vec<_> = app
        .state
        .files
        .offers
        .iter()
        .filter(|o| o.user_id == peer)
        .cloned()
        .collect();
    for offer in offers {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            let name = app
                .state
                .contact(peer)
                .map_or_else(|| peer.to_owned(), |c| c.name.clone());
            ui.label(app.i18n.f(
                "offer-text",
                &[
                    ("name", FluentValue::from(name)),
                    ("files", FluentValue::from(offer.files)),
                    ("size", FluentValue::from(human_size(offer.bytes))),
                ],
            ));
            ui.label(RichText::new(offer.names.join(", ")).weak().small());
            ui.horizontal(|ui| {
                for (key, accept) in [("offer-accept", true), ("offer-decline", false)] {
                    if ui.button(app.i18n.t(key)).clicked() {
                        app.send(Command::Files(FileCommand::AnswerOffer {
                            transfer: offer.transfer.clone(),
                            accept,
                        }));
                    }
                }
            });
        });
    }
}

/// Files dropped on the window go to the contact shown: the commander's
/// peer (into its folder shown), else the open conversation's contact.
pub fn dropped_files(ctx: &egui::Context, app: &mut SixChatApp) {
    let paths: Vec<_> = ctx.input(|i| {
        i.raw
            .dropped_files
            .iter()
            .map(|f| f.path().to_path_buf())
            .collect()
    });
    if paths.is_empty() {
        return;
    }
    let (peer, to_folder) = if app.view.files.open {
        let folder = app.view.files.remote_dir.clone();
        (
            app.view.files.peer.clone(),
            Some(folder).filter(|f| !f.is_empty()),
        )
    } else {
        (app.view.selected.clone(), None)
    };
    if let Some(user_id) = peer {
        app.send(Command::Files(FileCommand::Send {
            user_id,
            paths,
            to_folder,
        }));
    }
}
