//! The contact list: add by UserID (and, to reach it without a directory,
//! an address), search, presence, unread counts.

use eframe::egui::{self, RichText};
use fluent_bundle::FluentValue;

use super::{SixChatApp, theme, widgets};
use crate::app::command::{Command, ContactCommand};
use crate::app::event::{ContactInfo, Presence};
use crate::i18n::I18n;

#[derive(Default)]
pub struct ContactsView {
    pub add: String,
    /// Where the contact to add can be reached (optional).
    pub add_address: String,
    pub search: String,
}

/// "online", "last seen …", "offline".
pub fn presence_text(i18n: &I18n, contact: &ContactInfo) -> String {
    match (contact.presence, contact.last_seen_unix) {
        (Presence::Online, _) => i18n.t("presence-online"),
        (Presence::Reachable, _) => i18n.t("presence-reachable"),
        (_, Some(seen)) => i18n.f(
            "presence-last-seen",
            &[("when", FluentValue::from(widgets::local_datetime(seen)))],
        ),
        (_, None) => i18n.t("presence-offline"),
    }
}

pub fn contacts_ui(ui: &mut egui::Ui, app: &mut SixChatApp) {
    ui.add_space(theme::GAP);
    let add_label = app.i18n.t("contacts-add");
    let response = ui
        .horizontal(|ui| {
            let label = ui.label(&add_label);
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut app.view.contacts.add)
                        .hint_text("name@example.org")
                        .desired_width((ui.available_width() - 44.0).max(60.0)),
                )
                .labelled_by(label.id);
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let add = ui.button("➕").on_hover_text(&add_label).clicked();
            enter || add
        })
        .inner;
    let address_label = app.i18n.t("contacts-address");
    let address_enter = ui
        .horizontal(|ui| {
            let label = ui.label(RichText::new(&address_label).small());
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut app.view.contacts.add_address)
                        .hint_text("[2001:db8::5]:4605")
                        .desired_width((ui.available_width() - 44.0).max(60.0)),
                )
                .labelled_by(label.id);
            field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
        })
        .inner;
    if (response || address_enter) && !app.view.contacts.add.trim().is_empty() {
        let user_id = std::mem::take(&mut app.view.contacts.add).trim().to_owned();
        // The backend reads it (a blank one is none).
        let address = std::mem::take(&mut app.view.contacts.add_address);
        app.send(Command::Contacts(ContactCommand::Add {
            user_id: user_id.clone(),
            address: Some(address),
        }));
        app.view.selected = Some(user_id);
    }
    ui.horizontal(|ui| {
        let label = ui.label("🔍");
        ui.add(
            egui::TextEdit::singleline(&mut app.view.contacts.search)
                .hint_text(app.i18n.t("contacts-search"))
                .desired_width(ui.available_width()),
        )
        .labelled_by(label.id);
    });
    ui.separator();
    let needle = app.view.contacts.search.to_lowercase();
    let shown: Vec<usize> = app
        .state
        .contacts
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            needle.is_empty()
                || c.name.to_lowercase().contains(&needle)
                || c.user_id.to_lowercase().contains(&needle)
        })
        .map(|(i, _)| i)
        .collect();
    if app.state.contacts.is_empty() {
        ui.label(RichText::new(app.i18n.t("contacts-empty")).weak());
        return;
    }
    let row_height = 44.0;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show_rows(ui, row_height, shown.len(), |ui, range| {
            for &index in &shown[range] {
                let contact = app.state.contacts[index].clone();
                if contact_row_ui(ui, app, &contact, row_height) {
                    app.view.selected = Some(contact.user_id.clone());
                    app.view.conversation.search.clear();
                }
            }
        });
}

/// One row; returns whether it was clicked.
fn contact_row_ui(ui: &mut egui::Ui, app: &SixChatApp, contact: &ContactInfo, height: f32) -> bool {
    let selected = app.view.selected.as_deref() == Some(contact.user_id.as_str());
    let (rect, response) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), height),
        egui::Sense::click(),
    );
    let visuals = ui.style().interact_selectable(&response, selected);
    if selected || response.hovered() {
        ui.painter().rect_filled(rect, 6, visuals.weak_bg_fill);
    }
    let dot = theme::presence_color(
        contact.presence == Presence::Online,
        contact.presence == Presence::Reachable,
    );
    ui.painter()
        .circle_filled(rect.left_center() + egui::vec2(10.0, 0.0), 5.0, dot);
    let painter = ui.painter();
    let text_color = ui.visuals().text_color();
    let weak = ui.visuals().weak_text_color();
    let left = rect.left() + 22.0;
    let name_font = egui::FontId::proportional(14.0);
    painter.text(
        egui::pos2(left, rect.top() + 5.0),
        egui::Align2::LEFT_TOP,
        &contact.name,
        name_font,
        text_color,
    );
    painter.text(
        egui::pos2(left, rect.top() + 25.0),
        egui::Align2::LEFT_TOP,
        format!(
            "{} · {}",
            contact.user_id,
            presence_text(&app.i18n, contact)
        ),
        egui::FontId::proportional(11.0),
        weak,
    );
    if contact.unread > 0 {
        let center = egui::pos2(rect.right() - 16.0, rect.center().y);
        painter.circle_filled(center, 10.0, theme::read_color(ui.visuals().dark_mode));
        painter.text(
            center,
            egui::Align2::CENTER_CENTER,
            contact.unread.min(999).to_string(),
            egui::FontId::proportional(11.0),
            egui::Color32::WHITE,
        );
    }
    let response = response.on_hover_text(&contact.user_id);
    response.widget_info(|| {
        egui::WidgetInfo::selected(egui::Role::Button, true, selected, &contact.name)
    });
    response.clicked()
}
