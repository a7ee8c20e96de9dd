//! The two-pane commander: this computer on the left, a contact's shared
//! folder on the right, as in Total Commander. Tab switches panes, Enter
//! opens a folder, Backspace goes up, F5 copies the selection (or the row
//! under the cursor) to the other side, F7 makes a folder, Insert or Space
//! selects, Ctrl+R rereads; a click on a column sorts. Rows drag to the
//! other pane. Listings come from the backend: the UI touches no disk.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};
use fluent_bundle::FluentValue;

use super::{SixChatApp, widgets};
use crate::app::command::{Command, FileCommand};
use crate::app::event::{FileEntry, Listing};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    Local,
    Remote,
}

impl Pane {
    fn index(self) -> usize {
        match self {
            Self::Local => 0,
            Self::Remote => 1,
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Local => Self::Remote,
            Self::Remote => Self::Local,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    Name,
    Size,
    Date,
}

/// What the commander keeps (the view's, not the backend's).
#[derive(Default)]
pub struct FilesView {
    /// The commander is the screen shown (else the conversation).
    pub open: bool,
    pub focus: Pane,
    pub local_dir: Option<PathBuf>,
    pub peer: Option<String>,
    /// A folder of the peer's share (`""`: its top).
    pub remote_dir: String,
    pub cursor: [usize; 2],
    pub selected: [BTreeSet<String>; 2],
    pub sort: [(SortBy, bool); 2],
    /// The name typed for a new folder (F7), while the prompt is open.
    pub new_folder: Option<String>,
    /// Tab pressed on the commander, taken from the raw input before egui
    /// could move the keyboard focus with it.
    pub tab: bool,
    /// Transfers seen done (when more end, the local pane is read again).
    ended: usize,
    /// What was last asked of the backend, so each listing is asked once.
    asked_local: Option<PathBuf>,
    asked_remote: Option<(String, String)>,
}

/// Rows dragged from a pane.
#[derive(Debug, Clone)]
struct Dragged {
    from: Pane,
    names: Vec<String>,
}

/// The entries of a listing in the pane's order: folders first, then by
/// the chosen column.
fn sorted(listing: &Listing, (by, descending): (SortBy, bool)) -> Vec<FileEntry> {
    let mut entries = listing.entries.clone();
    entries.sort_by(|a, b| {
        let order = match by {
            SortBy::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            SortBy::Size => a.size.cmp(&b.size),
            SortBy::Date => a.modified.cmp(&b.modified),
        };
        b.folder
            .cmp(&a.folder)
            .then(if descending { order.reverse() } else { order })
    });
    entries
}

/// Bytes as a person reads them.
#[allow(clippy::cast_precision_loss)] // shown to one decimal
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn home() -> PathBuf {
    directories::UserDirs::new()
        .map(|dirs| dirs.home_dir().to_path_buf())
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn remote_join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

fn remote_parent(dir: &str) -> String {
    dir.rsplit_once('/')
        .map(|(parent, _)| parent.to_owned())
        .unwrap_or_default()
}

impl SixChatApp {
    /// Asks the backend for the listings the commander shows, once each.
    fn ask_listings(&mut self) {
        // A transfer that ended may have put files here: read it again.
        let ended = self
            .state
            .files
            .queue
            .iter()
            .filter(|row| row.state == "done")
            .count();
        if ended != self.view.files.ended {
            self.view.files.ended = ended;
            self.view.files.asked_local = None;
        }
        let local = self.view.files.local_dir.get_or_insert_with(home).clone();
        if self.view.files.asked_local.as_ref() != Some(&local) {
            self.view.files.asked_local = Some(local.clone());
            self.send(Command::Files(FileCommand::ListLocal { path: local }));
        }
        if let Some(peer) = self.view.files.peer.clone() {
            let wanted = (peer.clone(), self.view.files.remote_dir.clone());
            if self.view.files.asked_remote.as_ref() != Some(&wanted) {
                self.view.files.asked_remote = Some(wanted);
                self.send(Command::Files(FileCommand::ListRemote {
                    user_id: peer,
                    path: self.view.files.remote_dir.clone(),
                }));
            }
        }
    }

    /// Lists both panes again (Ctrl+R).
    fn reread(&mut self) {
        self.view.files.asked_local = None;
        self.view.files.asked_remote = None;
    }

    /// The pane's entries as shown, if its listing is the one wanted.
    fn pane_entries(&self, pane: Pane) -> Vec<FileEntry> {
        let files = &self.view.files;
        let listing = match pane {
            Pane::Local => self.state.files.local.as_ref().filter(|l| {
                files
                    .local_dir
                    .as_ref()
                    .is_some_and(|dir| Path::new(&l.path) == dir)
            }),
            Pane::Remote => self
                .state
                .files
                .remote
                .as_ref()
                .filter(|(peer, l)| {
                    files.peer.as_deref() == Some(peer.as_str()) && l.path == files.remote_dir
                })
                .map(|(_, l)| l),
        };
        listing.map_or_else(Vec::new, |l| sorted(l, files.sort[pane.index()]))
    }

    fn open_entry(&mut self, pane: Pane, entry: &FileEntry) {
        if !entry.folder {
            return;
        }
        let files = &mut self.view.files;
        match pane {
            Pane::Local => {
                let dir = files.local_dir.get_or_insert_with(home);
                *dir = dir.join(&entry.name);
            }
            Pane::Remote => files.remote_dir = remote_join(&files.remote_dir, &entry.name),
        }
        files.cursor[pane.index()] = 0;
        files.selected[pane.index()].clear();
    }

    fn go_up(&mut self, pane: Pane) {
        let files = &mut self.view.files;
        match pane {
            Pane::Local => {
                if let Some(parent) = files.local_dir.as_ref().and_then(|d| d.parent()) {
                    files.local_dir = Some(parent.to_path_buf());
                }
            }
            Pane::Remote => files.remote_dir = remote_parent(&files.remote_dir),
        }
        files.cursor[pane.index()] = 0;
        files.selected[pane.index()].clear();
    }

    /// The names F5 copies: the selection, else the row under the cursor.
    fn chosen(&self, pane: Pane) -> Vec<String> {
        let selected = &self.view.files.selected[pane.index()];
        if !selected.is_empty() {
            return selected.iter().cloned().collect();
        }
        self.pane_entries(pane)
            .get(self.view.files.cursor[pane.index()])
            .map(|e| vec![e.name.clone()])
            .unwrap_or_default()
    }

    /// Copies `names` of `from` to the other pane's folder (F5, a drop).
    fn copy(&mut self, from: Pane, names: Vec<String>) {
        let Some(peer) = self.view.files.peer.clone() else {
            return;
        };
        if names.is_empty() {
            return;
        }
        let local = self.view.files.local_dir.get_or_insert_with(home).clone();
        let remote = self.view.files.remote_dir.clone();
        match from {
            Pane::Local => self.send(Command::Files(FileCommand::Send {
                user_id: peer,
                paths: names.iter().map(|n| local.join(n)).collect(),
                to_folder: Some(remote).filter(|r| !r.is_empty()),
            })),
            Pane::Remote => {
                for name in names {
                    self.send(Command::Files(FileCommand::Get {
                        user_id: peer.clone(),
                        remote: remote_join(&remote, &name),
                        into: local.clone(),
                    }));
                }
            }
        }
        self.view.files.selected[from.index()].clear();
    }

    /// The commander's keys, when no text field has the keyboard.
    fn commander_keys(&mut self, ctx: &egui::Context) {
        if ctx.text_edit_focused() || self.view.files.new_folder.is_some() {
            return;
        }
        let pane = self.view.files.focus;
        let count = self.pane_entries(pane).len();
        let (tab, up, down, enter, back, f5, f7, select, reread) = ctx.input_mut(|i| {
            (
                i.consume_key(egui::Modifiers::NONE, egui::Key::Tab),
                i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowUp),
                i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowDown),
                i.consume_key(egui::Modifiers::NONE, egui::Key::Enter),
                i.consume_key(egui::Modifiers::NONE, egui::Key::Backspace),
                i.consume_key(egui::Modifiers::NONE, egui::Key::F5),
                i.consume_key(egui::Modifiers::NONE, egui::Key::F7),
                i.consume_key(egui::Modifiers::NONE, egui::Key::Insert)
                    || i.consume_key(egui::Modifiers::NONE, egui::Key::Space),
                i.consume_key(egui::Modifiers::COMMAND, egui::Key::R),
            )
        });
        let cursor = &mut self.view.files.cursor[pane.index()];
        if up {
            *cursor = cursor.saturating_sub(1);
        }
        if down && *cursor + 1 < count {
            *cursor += 1;
        }
        if tab || std::mem::take(&mut self.view.files.tab) {
            self.view.files.focus = pane.other();
        }
        if select {
            let at = self.view.files.cursor[pane.index()];
            if let Some(entry) = self.pane_entries(pane).get(at) {
                let set = &mut self.view.files.selected[pane.index()];
                if !set.remove(&entry.name) {
                    set.insert(entry.name.clone());
                }
                if at + 1 < count {
                    self.view.files.cursor[pane.index()] += 1;
                }
            }
        }
        if enter {
            let at = self.view.files.cursor[pane.index()];
            if let Some(entry) = self.pane_entries(pane).get(at).cloned() {
                self.open_entry(pane, &entry);
            }
        }
        if back {
            self.go_up(pane);
        }
        if f5 {
            let names = self.chosen(pane);
            self.copy(pane, names);
        }
        if f7 && pane == Pane::Local {
            self.view.files.new_folder = Some(String::new());
        }
        if reread {
            self.reread();
        }
    }
}

/// Takes Tab out of the raw input while the commander is shown (and no
/// text is being typed), before egui would move the keyboard focus to some
/// button with it: Tab switches the panes.
pub fn take_tab(app: &mut SixChatApp, ctx: &egui::Context, raw: &mut egui::RawInput) {
    if !app.view.files.open || app.view.files.new_folder.is_some() || ctx.text_edit_focused() {
        return;
    }
    raw.events.retain(|event| {
        let tab = matches!(
            event,
            egui::Event::Key { key: egui::Key::Tab, pressed: true, modifiers, .. }
                if modifiers.is_none()
        );
        if tab {
            app.view.files.tab = true;
        }
        !tab
            && !matches!(event, egui::Event::Key { key: egui::Key::Tab, modifiers, .. } if modifiers.is_none())
    });
}

/// The commander screen.
pub fn files_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    app.ask_listings();
    app.commander_keys(ui.ctx());
    toolbar_ui(ui, app);
    ui.separator();
    let height = ui.available_height();
    ui.columns(2, |columns| {
        for (column, pane) in columns.iter_mut().zip([Pane::Local, Pane::Remote]) {
            column.set_min_height(height);
            pane_ui(column, app, pane);
        }
    });
    new_folder_ui(ui.ctx(), app);
}

fn toolbar_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    ui.horizontal(|ui| {
        let label = ui.label(app.i18n.t("files-contact"));
        let current = app.view.files.peer.clone();
        let shown = current
            .as_deref()
            .and_then(|p| app.state.contact(p))
            .map_or_else(|| app.i18n.t("files-no-peer"), |c| c.name.clone());
        let picker = egui::ComboBox::from_id_salt("files-peer")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                for contact in &app.state.contacts {
                    let chosen = current.as_deref() == Some(contact.user_id.as_str());
                    if ui.selectable_label(chosen, &contact.name).clicked() && !chosen {
                        app.view.files.peer = Some(contact.user_id.clone());
                        app.view.files.remote_dir.clear();
                        app.view.files.cursor[1] = 0;
                        app.view.files.selected[1].clear();
                    }
                }
            });
        picker.response.labelled_by(label.id);
        if ui.button(app.i18n.t("files-reread")).clicked() {
            app.reread();
        }
        let pane = app.view.files.focus;
        if ui.button(app.i18n.t("files-copy")).clicked() {
            let names = app.chosen(pane);
            app.copy(pane, names);
        }
        if ui.button(app.i18n.t("files-new-folder")).clicked() {
            app.view.files.new_folder = Some(String::new());
        }
        if ui.button(app.i18n.t("files-add")).clicked() {
            pick_and_send(app);
        }
    });
}

/// "Add files…": the platform's file dialog (where drops do not arrive,
/// as on Wayland); the files go to the peer's folder shown.
fn pick_and_send(app: &mut SixChatApp) {
    let Some(peer) = app.view.files.peer.clone() else {
        return;
    };
    if let Some(paths) = rfd::FileDialog::new().pick_files() {
        let remote = app.view.files.remote_dir.clone();
        app.send(Command::Files(FileCommand::Send {
            user_id: peer,
            paths,
            to_folder: Some(remote).filter(|r| !r.is_empty()),
        }));
    }
}

fn new_folder_ui(ctx: &egui::Context, app: &mut SixChatApp) {
    let Some(mut name) = app.view.files.new_folder.take() else {
        return;
    };
    let mut keep = true;
    egui::Window::new(app.i18n.t("files-new-folder"))
        .collapsible(false)
        .resizable(false)
        .show(ctx, |ui| {
            ui.label(app.i18n.t("files-folder-name"));
            // Read before the field takes it (it keeps the focus asked for).
            let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
            let field = ui.add(egui::TextEdit::singleline(&mut name).id_salt("new-folder"));
            field.request_focus();
            let typed = !name.trim().is_empty() && !name.contains(['/', '\\']);
            ui.horizontal(|ui| {
                if (ui.button(app.i18n.t("files-create")).clicked() || enter) && typed {
                    let dir = app.view.files.local_dir.get_or_insert_with(home).clone();
                    app.send(Command::Files(FileCommand::MakeFolder {
                        path: dir.join(name.trim()),
                    }));
                    app.view.files.asked_local = None;
                    keep = false;
                }
                if ui.button(app.i18n.t("queue-cancel")).clicked() {
                    keep = false;
                }
            });
        });
    if keep {
        app.view.files.new_folder = Some(name);
    }
}

#[allow(clippy::too_many_lines)] // one pane: heading, columns, rows, drop zone, top to bottom
fn pane_ui(ui: &mut egui::Ui, app: &mut SixChatApp, pane: Pane) {
    let focused = app.view.files.focus == pane;
    let title = match pane {
        Pane::Local => format!(
            "{}: {}",
            app.i18n.t("files-local"),
            app.view
                .files
                .local_dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        ),
        Pane::Remote => match app.view.files.peer.as_deref() {
            Some(peer) => app.i18n.f(
                "files-remote",
                &[
                    ("peer", FluentValue::from(peer.to_owned())),
                    (
                        "path",
                        FluentValue::from(format!("/{}", app.view.files.remote_dir)),
                    ),
                ],
            ),
            None => app.i18n.t("files-no-peer"),
        },
    };
    let heading = RichText::new(title).strong();
    ui.label(if focused {
        heading.underline()
    } else {
        heading
    });
    let error = match pane {
        Pane::Local => app.state.files.local.as_ref().and_then(|l| l.error.clone()),
        Pane::Remote => app
            .state
            .files
            .remote
            .as_ref()
            .and_then(|(_, l)| l.error.clone()),
    };
    if let Some(error) = error {
        ui.colored_label(super::theme::error_color(ui.visuals().dark_mode), error);
    }
    ui.horizontal(|ui| {
        for (by, key) in [
            (SortBy::Name, "files-name"),
            (SortBy::Size, "files-size"),
            (SortBy::Date, "files-date"),
        ] {
            let sort = &mut app.view.files.sort[pane.index()];
            let arrow = match (sort.0 == by, sort.1) {
                (true, false) => " ^",
                (true, true) => " v",
                (false, _) => "",
            };
            if ui.button(format!("{}{arrow}", app.i18n.t(key))).clicked() {
                *sort = if sort.0 == by {
                    (by, !sort.1)
                } else {
                    (by, false)
                };
            }
        }
    });
    let entries = app.pane_entries(pane);
    let frame = egui::Frame::group(ui.style());
    let (_, dropped) = ui.dnd_drop_zone::<Dragged, ()>(frame, |ui| {
        ui.set_min_width(ui.available_width());
        egui::ScrollArea::vertical()
            .id_salt(("pane", pane.index()))
            .auto_shrink([false, false])
            .max_height(ui.available_height() - 8.0)
            .show(ui, |ui| {
                if pane == Pane::Remote && app.view.files.peer.is_none() {
                    ui.label(RichText::new(app.i18n.t("files-pick-peer")).weak());
                }
                for (at, entry) in entries.iter().enumerate() {
                    let cursor = focused && app.view.files.cursor[pane.index()] == at;
                    let chosen = app.view.files.selected[pane.index()].contains(&entry.name);
                    let size = if entry.folder {
                        String::new()
                    } else {
                        human_size(entry.size)
                    };
                    let date = widgets::local_datetime(entry.modified);
                    let row = file_row(ui, entry, (&size, &date), cursor, chosen);
                    if row.drag_started() {
                        let names = if chosen {
                            app.view.files.selected[pane.index()]
                                .iter()
                                .cloned()
                                .collect()
                        } else {
                            vec![entry.name.clone()]
                        };
                        row.dnd_set_drag_payload(Dragged { from: pane, names });
                    }
                    if row.dragged() {
                        ui.ctx().set_cursor_icon(egui::CursorIcon::Grabbing);
                    }
                    if row.clicked() || row.drag_started() {
                        app.view.files.focus = pane;
                        app.view.files.cursor[pane.index()] = at;
                    }
                    if row.double_clicked() {
                        app.open_entry(pane, entry);
                    }
                }
            });
    });
    if let Some(dragged) = dropped
        && dragged.from != pane
    {
        app.copy(dragged.from, dragged.names.clone());
    }
}

/// Width of the size column, and of the date column, in points.
const SIZE_WIDTH: f32 = 80.0;
const DATE_WIDTH: f32 = 130.0;

/// One row of a pane: the name, the size right-aligned in its column and
/// the date in its own, highlighted under the cursor or when selected;
/// clicked to move the cursor, dragged to copy.
fn file_row(
    ui: &mut egui::Ui,
    entry: &FileEntry,
    (size, date): (&str, &str),
    cursor: bool,
    chosen: bool,
) -> egui::Response {
    let font = egui::TextStyle::Body.resolve(ui.style());
    let height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let (rect, row) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), height),
        egui::Sense::click_and_drag(),
    );
    let name = format!("{} {}", if entry.folder { "📁" } else { "📄" }, entry.name);
    row.widget_info(|| {
        egui::WidgetInfo::selected(
            egui::Role::Button,
            true,
            cursor || chosen,
            format!("{name} {size} {date}"),
        )
    });
    if !ui.is_rect_visible(rect) {
        return row;
    }
    let visuals = ui.visuals();
    let color = if cursor || chosen {
        visuals.selection.stroke.color
    } else if row.hovered() {
        visuals.strong_text_color()
    } else {
        visuals.text_color()
    };
    let painter = ui.painter_at(rect);
    if cursor || chosen {
        painter.rect_filled(rect, 2.0, visuals.selection.bg_fill);
    } else if row.hovered() {
        painter.rect_filled(rect, 2.0, visuals.widgets.hovered.weak_bg_fill);
    }
    let y = rect.center().y;
    let date_x = rect.right() - DATE_WIDTH;
    let size_x = date_x - 12.0;
    // A folder has no size: its name may use that column too.
    let name_end = if entry.folder {
        date_x - 8.0
    } else {
        size_x - SIZE_WIDTH
    };
    let name_rect = egui::Rect::from_min_max(rect.left_top(), egui::pos2(name_end, rect.bottom()));
    painter.with_clip_rect(name_rect).text(
        egui::pos2(rect.left() + 4.0, y),
        egui::Align2::LEFT_CENTER,
        name,
        font.clone(),
        color,
    );
    painter.text(
        egui::pos2(size_x, y),
        egui::Align2::RIGHT_CENTER,
        size,
        font.clone(),
        color,
    );
    painter.text(
        egui::pos2(date_x, y),
        egui::Align2::LEFT_CENTER,
        date,
        font,
        color,
    );
    row
}
