//! The conversation: a virtual list (only visible rows are laid out, so
//! 100 000 messages scroll smoothly), day separators, delivery ticks, the
//! typing indicator, search, emoji, and the composer (Enter sends,
//! Shift+Enter starts a new line).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use eframe::egui::{self, RichText};
use fluent_bundle::FluentValue;

use super::widgets::badge::badge_ui;
use super::{SixChatApp, contacts::presence_text, theme};
use crate::app::command::{ChatCommand, Command, ContactCommand, SessionCommand};
use crate::app::event::{ChatMessage, DeliveryState, Failure};
use crate::app::state::Conversation;
use crate::i18n::I18n;

/// The typing notice is repeated at most this often while typing.
const TYPING_EVERY: Duration = Duration::from_secs(3);
/// The composer's tallest (points): about six lines, then it scrolls.
const COMPOSER_MAX_HEIGHT: f32 = 120.0;
/// The picker's emoji: each one is drawn by a font the app carries (egui's
/// Noto Emoji), which a test checks.
pub const EMOJI: &[&str] = &[
    "😀", "😂", "😊", "😍", "😎", "😮", "😢", "😡", "👍", "👎", "👏", "🙏", "💪", "🎉", "❤", "🔥",
    "✅", "❌", "⭐", "☕", "🍕", "🚀", "💡", "📎", "🔒", "🔑", "📁", "📷", "🌍", "☀", "🌙", "⚡",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Row {
    /// A day separator: the local day number.
    Day(i64),
    Message(usize),
}

/// Row positions of the open conversation. Heights start as estimates and
/// become exact once a row is drawn.
#[derive(Default)]
struct Layout {
    peer: String,
    filter: String,
    width: f32,
    /// How many messages `rows` covers.
    covered: usize,
    rows: Vec<Row>,
    heights: Vec<f32>,
    /// `offsets[i]` is the top of row `i`; one more entry than rows.
    offsets: Vec<f32>,
    dirty: bool,
}

#[derive(Default)]
pub struct ConversationView {
    pub search: String,
    pub searching: bool,
    pub drafts: HashMap<String, String>,
    typing_sent: Option<(String, Instant)>,
    layout: Layout,
    utc_offset_secs: Option<i64>,
}

fn local_offset() -> i64 {
    i64::from(chrono::Local::now().offset().local_minus_utc())
}

fn day_of(unix: i64, offset: i64) -> i64 {
    (unix + offset).div_euclid(86_400)
}

fn estimate(message: &ChatMessage, text_width: f32) -> f32 {
    // About 7.5 points per character at the body size; newlines count.
    let per_line = (text_width / 7.5).max(8.0);
    let lines: f32 = message
        .text
        .split('\n')
        // A line's length only needs to be roughly right for an estimate.
        .map(|line| {
            (f32::from(u16::try_from(line.chars().count()).unwrap_or(u16::MAX)) / per_line)
                .ceil()
                .max(1.0)
        })
        .sum();
    lines * 18.0 + 16.0 + theme::BUBBLE_PAD * 2.0 + theme::GAP
}

impl Layout {
    /// Brings the rows up to date with `conversation` (extending them when
    /// messages were only appended).
    fn update(
        &mut self,
        peer: &str,
        conversation: &Conversation,
        filter: &str,
        width: f32,
        offset: i64,
    ) {
        let rebuild = self.peer != peer
            || self.filter != filter
            || conversation.messages.len() < self.covered
            || (self.width - width).abs() > 1.0;
        if rebuild {
            *self = Self {
                peer: peer.to_owned(),
                filter: filter.to_owned(),
                width,
                ..Self::default()
            };
        }
        if self.covered == conversation.messages.len() && !rebuild {
            return;
        }
        let needle = filter.to_lowercase();
        let text_width = width * theme::BUBBLE_MAX_SHARE - theme::BUBBLE_PAD * 2.0;
        let mut last_day = self.rows.iter().rev().find_map(|row| match row {
            Row::Message(i) => Some(day_of(conversation.messages[*i].sent_unix, offset)),
            Row::Day(_) => None,
        });
        for (index, message) in conversation.messages.iter().enumerate().skip(self.covered) {
            if !needle.is_empty() && !message.text.to_lowercase().contains(&needle) {
                continue;
            }
            let day = day_of(message.sent_unix, offset);
            if last_day != Some(day) {
                self.rows.push(Row::Day(day));
                self.heights.push(theme::DAY_ROW);
                last_day = Some(day);
            }
            self.rows.push(Row::Message(index));
            self.heights.push(estimate(message, text_width));
        }
        self.covered = conversation.messages.len();
        self.dirty = true;
    }

    fn offsets(&mut self) -> &[f32] {
        if self.dirty || self.offsets.len() != self.rows.len() + 1 {
            self.offsets.clear();
            self.offsets.reserve(self.rows.len() + 1);
            let mut top = 0.0;
            self.offsets.push(top);
            for height in &self.heights {
                top += height;
                self.offsets.push(top);
            }
            self.dirty = false;
        }
        &self.offsets
    }
}

#[allow(clippy::too_many_lines)] // the conversation screen as laid out: header, search, the virtual list, composer
pub fn conversation_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    let Some(peer) = app.view.selected.clone() else {
        ui.centered_and_justified(|ui| {
            ui.label(
                RichText::new(app.i18n.t("conversation-none"))
                    .weak()
                    .size(16.0),
            );
        });
        return;
    };
    header_ui(ui, app, &peer);
    ui.separator();
    super::transfers::offers_ui(ui, app, &peer);
    egui::Panel::bottom("composer").show(ui, |ui| composer_ui(ui, app, &peer));
    let Some(conversation) = app.state.conversations.get(&peer).filter(|c| c.loaded) else {
        ui.centered_and_justified(egui::Ui::spinner);
        return;
    };
    if conversation.messages.is_empty() {
        ui.centered_and_justified(|ui| {
            ui.label(RichText::new(app.i18n.t("conversation-empty")).weak());
        });
        return;
    }
    let offset = *app
        .view
        .conversation
        .utc_offset_secs
        .get_or_insert_with(local_offset);
    let filter = if app.view.conversation.searching {
        app.view.conversation.search.clone()
    } else {
        String::new()
    };
    let width = ui.available_width();
    let layout = &mut app.view.conversation.layout;
    layout.update(&peer, conversation, &filter, width, offset);
    if !filter.is_empty() {
        let count = layout
            .rows
            .iter()
            .filter(|r| matches!(r, Row::Message(_)))
            .count();
        ui.label(
            RichText::new(
                app.i18n
                    .f("search-matches", &[("count", FluentValue::from(count))]),
            )
            .weak(),
        );
    }
    let last_outgoing = conversation.messages.iter().rposition(|m| m.outgoing);
    let i18n = &app.i18n;
    egui::ScrollArea::vertical()
        .id_salt(("conversation", &peer))
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .show_viewport(ui, |ui, viewport| {
            let total = *layout.offsets().last().unwrap_or(&0.0);
            ui.set_height(total);
            let origin = ui.max_rect().min;
            let first = layout
                .offsets()
                .partition_point(|top| *top <= viewport.min.y)
                .saturating_sub(1);
            let mut row = first;
            let mut changed = false;
            while row < layout.rows.len() {
                let top = layout.offsets()[row];
                if top > viewport.max.y {
                    break;
                }
                let rect = egui::Rect::from_min_size(
                    origin + egui::vec2(0.0, top),
                    egui::vec2(width, layout.heights[row]),
                );
                let drawn = match layout.rows[row] {
                    Row::Day(day) => day_ui(ui, rect, day, i18n),
                    Row::Message(index) => message_ui(
                        ui,
                        rect,
                        &conversation.messages[index],
                        Some(index) == last_outgoing,
                        offset,
                        i18n,
                    ),
                };
                if (drawn - layout.heights[row]).abs() > 0.5 {
                    layout.heights[row] = drawn;
                    changed = true;
                }
                row += 1;
            }
            if changed {
                layout.dirty = true;
                ui.ctx().request_repaint();
            }
        });
}

fn day_ui(ui: &mut egui::Ui, rect: egui::Rect, day: i64, i18n: &I18n) -> f32 {
    let date = chrono::DateTime::from_timestamp(day * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let today = day_of(chrono::Utc::now().timestamp(), local_offset());
    let text = match today - day {
        0 => i18n.t("day-today"),
        1 => i18n.t("day-yesterday"),
        _ => date,
    };
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(rect)
            .layout(egui::Layout::top_down(egui::Align::Center)),
    );
    child.add_space(6.0);
    child.label(RichText::new(text).small().weak());
    theme::DAY_ROW
}

fn tick_text(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Queued => "🕓",
        DeliveryState::Sent => "✔",
        DeliveryState::Delivered | DeliveryState::Read => "✔✔",
    }
}

pub fn state_key(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Queued => "state-queued",
        DeliveryState::Sent => "state-sent",
        DeliveryState::Delivered => "state-delivered",
        DeliveryState::Read => "state-read",
    }
}

/// One message bubble; returns the height it took.
fn message_ui(
    ui: &mut egui::Ui,
    rect: egui::Rect,
    message: &ChatMessage,
    last_outgoing: bool,
    offset: i64,
    i18n: &I18n,
) -> f32 {
    let dark = ui.visuals().dark_mode;
    let align = if message.outgoing {
        egui::Align::Max
    } else {
        egui::Align::Min
    };
    let max_rect = egui::Rect::from_min_size(rect.min, egui::vec2(rect.width(), f32::INFINITY));
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(max_rect.shrink2(egui::vec2(theme::GAP, 0.0)))
            .layout(egui::Layout::top_down(align)),
    );
    child.add_space(theme::GAP / 2.0);
    egui::Frame::new()
        .fill(theme::bubble_fill(message.outgoing, dark))
        .corner_radius(theme::BUBBLE_ROUNDING)
        .inner_margin(theme::BUBBLE_PAD)
        .show(&mut child, |ui| {
            ui.set_max_width(rect.width() * theme::BUBBLE_MAX_SHARE);
            ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
                ui.add(egui::Label::new(&message.text).wrap().selectable(true));
                ui.horizontal(|ui| {
                    let time = chrono::DateTime::from_timestamp(message.sent_unix + offset, 0)
                        .map(|t| t.format("%H:%M").to_string())
                        .unwrap_or_default();
                    ui.label(RichText::new(time).small().weak());
                    if message.outgoing {
                        let color = if message.state == DeliveryState::Read {
                            theme::read_color(dark)
                        } else {
                            ui.visuals().weak_text_color()
                        };
                        ui.label(RichText::new(tick_text(message.state)).small().color(color))
                            .on_hover_text(i18n.t(state_key(message.state)));
                        if last_outgoing {
                            ui.label(
                                RichText::new(i18n.t(state_key(message.state)))
                                    .small()
                                    .weak(),
                            );
                        }
                    }
                });
            });
        });
    child.add_space(theme::GAP / 2.0);
    child.min_rect().height()
}

fn header_ui(ui: &mut egui::Ui, app: &mut SixChatApp, peer: &str) {
    let contact = app.state.contact(peer).cloned();
    let name = contact.as_ref().map_or(peer, |c| c.name.as_str());
    ui.horizontal(|ui| {
        ui.heading(name);
        if let Some(card) = app.state.cards.get(peer) {
            badge_ui(ui, &app.i18n, card.level);
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button(app.i18n.t("conversation-connect")).clicked() {
                app.view.connect.peer = Some(peer.to_owned());
                app.send(Command::Session(SessionCommand::Dial {
                    user_id: peer.to_owned(),
                    address: None,
                }));
            }
            let search = ui
                .selectable_label(app.view.conversation.searching, "🔍")
                .on_hover_text(app.i18n.t("conversation-search"));
            if search.clicked() {
                app.view.conversation.searching = !app.view.conversation.searching;
            }
            if let Some(contact) = &contact {
                let mut always = contact.always_accept;
                if ui
                    .checkbox(&mut always, app.i18n.t("conversation-always-accept"))
                    .changed()
                {
                    app.send(Command::Contacts(ContactCommand::SetAlwaysAccept {
                        user_id: peer.to_owned(),
                        always,
                    }));
                }
            }
        });
    });
    let status = contact
        .as_ref()
        .map(|c| presence_text(&app.i18n, c))
        .unwrap_or_default();
    ui.label(RichText::new(format!("{peer} · {status}")).small().weak());
    // Once this side may send (a new peer's code compared), until the peer accepts.
    let confirmed = app.state.cards.get(peer).is_some_and(|c| c.confirmed);
    if confirmed && app.state.awaiting.contains(peer) {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(
                RichText::new(app.i18n.f(
                    "waiting-accept",
                    &[("name", FluentValue::from(name.to_owned()))],
                ))
                .italics(),
            );
        });
    }
    if app.view.conversation.searching {
        ui.horizontal(|ui| {
            let label = ui.label(app.i18n.t("conversation-search"));
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut app.view.conversation.search)
                        .desired_width(240.0),
                )
                .labelled_by(label.id);
            if !field.has_focus() && app.view.conversation.search.is_empty() {
                field.request_focus();
            }
            if ui.button("✖").clicked() {
                app.view.conversation.search.clear();
                app.view.conversation.searching = false;
            }
        });
    }
}

#[allow(clippy::too_many_lines)] // the composer as laid out: emoji, field, typing, send
fn composer_ui(ui: &mut egui::Ui, app: &mut SixChatApp, peer: &str) {
    ui.add_space(theme::GAP / 2.0);
    if app.state.is_typing(peer, Instant::now()) {
        let name = app
            .state
            .contact(peer)
            .map_or(peer.to_owned(), |c| c.name.clone());
        ui.label(
            RichText::new(app.i18n.f("typing", &[("name", FluentValue::from(name))]))
                .italics()
                .weak(),
        );
    }
    let id = egui::Id::unique(("composer", peer));
    // Enter sends (consumed before the editor sees it); Shift+Enter is a new
    // line. Each key event carries its own modifiers: `consume_key` with no
    // modifiers matches Shift too, and the input's current modifiers may
    // already say Shift is up when press and release came in one frame.
    let focused = ui.memory(|m| m.has_focus(id));
    let enter = focused
        && ui.input_mut(|i| {
            let before = i.events.len();
            i.events.retain(|event| {
                !matches!(
                    event,
                    egui::Event::Key {
                        key: egui::Key::Enter,
                        pressed: true,
                        modifiers,
                        ..
                    } if modifiers.is_none()
                )
            });
            i.events.len() != before
        });
    let label_text = app.i18n.t("composer-label");
    let mut send = enter;
    ui.horizontal(|ui| {
        let draft = app
            .view
            .conversation
            .drafts
            .entry(peer.to_owned())
            .or_default();
        let emoji = ui
            .button(RichText::new("😀").size(18.0))
            .on_hover_text(app.i18n.t("composer-emoji"));
        egui::Popup::menu(&emoji).show(|ui| {
            egui::Grid::new("emoji").show(ui, |ui| {
                for (i, e) in EMOJI.iter().enumerate() {
                    if ui.button(RichText::new(*e).size(18.0)).clicked() {
                        draft.push_str(e);
                    }
                    if i % 8 == 7 {
                        ui.end_row();
                    }
                }
            });
        });
        let label = ui.label(RichText::new(&label_text).weak());
        let width = (ui.available_width() - 72.0).max(80.0);
        // At most about six lines tall; a longer draft scrolls inside it
        // instead of covering the conversation.
        let edit = egui::ScrollArea::vertical()
            .id_salt(("composer-scroll", peer))
            .max_height(COMPOSER_MAX_HEIGHT)
            .show(ui, |ui| {
                ui.add(
                    egui::TextEdit::multiline(draft)
                        .id(id)
                        .desired_rows(2)
                        .hint_text(app.i18n.t("composer-hint"))
                        .desired_width(width),
                )
            })
            .inner
            .labelled_by(label.id);
        if edit.changed() {
            let due = app
                .view
                .conversation
                .typing_sent
                .as_ref()
                .is_none_or(|(to, at)| to != peer || at.elapsed() > TYPING_EVERY);
            if due && !draft.trim().is_empty() {
                app.view.conversation.typing_sent = Some((peer.to_owned(), Instant::now()));
                app.backend.send(Command::Chat(ChatCommand::Typing {
                    user_id: peer.to_owned(),
                    active: true,
                }));
            }
        }
        if ui.button(app.i18n.t("composer-send")).clicked() {
            send = true;
        }
        if send {
            edit.request_focus();
        }
    });
    if send {
        let draft = app
            .view
            .conversation
            .drafts
            .entry(peer.to_owned())
            .or_default();
        // A control character (pasted) other than tab and newline is not sent:
        // the draft stays for the person to fix, and the toast says why.
        if let Some(problem) = sixchat_proto::text::chat_body_problem(&draft.replace("\r\n", "\n"))
        {
            app.view.local_failure = Some(Failure::Invalid(problem));
        } else {
            let text = std::mem::take(draft);
            if !text.trim().is_empty() {
                app.view.conversation.typing_sent = None;
                app.send(Command::Chat(ChatCommand::Typing {
                    user_id: peer.to_owned(),
                    active: false,
                }));
                app.send(Command::Chat(ChatCommand::Send {
                    user_id: peer.to_owned(),
                    text,
                }));
            }
        }
    }
    ui.add_space(theme::GAP / 2.0);
}
