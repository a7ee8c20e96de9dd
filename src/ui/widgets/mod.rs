//! Small pieces more than one screen uses.

pub mod badge;
pub mod peer_card;

use crate::app::event::{Failure, Task};
use crate::i18n::I18n;

/// The translated text of a failure, with the library's own words after it.
pub fn failure_text(i18n: &I18n, failure: &Failure) -> String {
    let (key, detail) = match failure {
        Failure::WrongPassphrase => ("failure-wrong-passphrase", None),
        Failure::WrongPassword => ("failure-wrong-password", None),
        Failure::NotPkcs12 => ("failure-not-pkcs12", None),
        Failure::Invalid(detail) => ("failure-invalid", Some(detail)),
        Failure::Refused(detail) => ("failure-refused", Some(detail)),
        Failure::Unreachable(detail) => ("failure-unreachable", Some(detail)),
        Failure::NoAddress => ("failure-no-address", None),
        Failure::NoDirectory => ("failure-no-directory", None),
        Failure::Other(detail) => ("failure-other", Some(detail)),
    };
    match detail {
        Some(detail) => format!("{}\n{detail}", i18n.t(key)),
        None => i18n.t(key),
    }
}

/// A spinner with what runs, and the last failure in the error colour.
pub fn progress_ui(
    ui: &mut eframe::egui::Ui,
    i18n: &I18n,
    busy: Option<Task>,
    failure: Option<&Failure>,
) {
    if let Some(task) = busy {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(task_text(i18n, task));
        });
    }
    if let Some(failure) = failure {
        ui.colored_label(
            crate::ui::theme::error_color(ui.visuals().dark_mode),
            failure_text(i18n, failure),
        );
    }
}

/// What a spinner says while `task` runs.
pub fn task_text(i18n: &I18n, task: Task) -> String {
    i18n.t(match task {
        Task::Creating => "task-creating",
        Task::Importing => "task-importing",
        Task::Enrolling => "task-enrolling",
        Task::Unlocking => "task-unlocking",
        Task::Renewing => "task-renewing",
        Task::Exporting => "task-exporting",
        Task::BackingUp => "task-backing-up",
    })
}

/// A date and time in the local zone, `YYYY-MM-DD HH:MM`.
pub fn local_datetime(unix: i64) -> String {
    use chrono::TimeZone as _;
    chrono::Local
        .timestamp_opt(unix, 0)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A fingerprint in groups of four, two lines.
pub fn grouped_fingerprint(hex: &str) -> String {
    let groups: Vec<&str> = hex
        .as_bytes()
        .chunks(4)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    groups
        .chunks(8)
        .map(|line| line.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}
