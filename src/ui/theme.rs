//! Colours, spacing and fonts: the only place the UI picks them.

use std::sync::Arc;

use eframe::egui::{self, Color32, FontData, FontDefinitions, FontFamily, ThemePreference};

/// Outer gap between blocks.
pub const GAP: f32 = 8.0;
/// Inner padding of a chat bubble.
pub const BUBBLE_PAD: f32 = 8.0;
pub const BUBBLE_ROUNDING: u8 = 10;
/// A bubble is at most this share of the conversation's width.
pub const BUBBLE_MAX_SHARE: f32 = 0.72;
/// Height of a day separator row.
pub const DAY_ROW: f32 = 28.0;
pub const CONTACTS_WIDTH: f32 = 260.0;
/// The smallest window (points) in which nothing overlaps or is cut off.
pub const MIN_WINDOW: [f32; 2] = [760.0, 500.0];
pub const CONTACTS_MIN_WIDTH: f32 = 200.0;
pub const CONTACTS_MAX_WIDTH: f32 = 420.0;

/// Light, dark, or whatever the system says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeChoice {
    System,
    Light,
    Dark,
}

impl ThemeChoice {
    pub const ALL: [Self; 3] = [Self::System, Self::Light, Self::Dark];

    pub fn code(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }

    pub fn from_code(code: &str) -> Self {
        match code {
            "light" => Self::Light,
            "dark" => Self::Dark,
            _ => Self::System,
        }
    }

    /// The i18n key of its name.
    pub fn label_key(self) -> &'static str {
        match self {
            Self::System => "theme-system",
            Self::Light => "theme-light",
            Self::Dark => "theme-dark",
        }
    }

    pub fn apply(self, ctx: &egui::Context) {
        ctx.set_theme(match self {
            Self::System => ThemePreference::System,
            Self::Light => ThemePreference::Light,
            Self::Dark => ThemePreference::Dark,
        });
    }
}

/// egui's fonts plus a CJK fallback (Droid Sans Fallback, GB 2312 subset,
/// Apache-2.0), so Chinese renders on every system.
pub fn install_fonts(ctx: &egui::Context) {
    let mut fonts = FontDefinitions::default();
    fonts.font_data.insert(
        "cjk".into(),
        Arc::new(FontData::from_static(include_bytes!(
            "../../assets/fonts/DroidSansFallback-GB2312.ttf"
        ))),
    );
    for family in [FontFamily::Proportional, FontFamily::Monospace] {
        fonts.families.entry(family).or_default().push("cjk".into());
    }
    ctx.set_fonts(fonts);
}

/// The badge colour of a trust level.
pub fn trust_color(level: sixchat_proto::TrustLevel, dark: bool) -> Color32 {
    use sixchat_proto::TrustLevel;
    match (level, dark) {
        (TrustLevel::Verified, false) => Color32::from_rgb(0x1b, 0x7f, 0x3b),
        (TrustLevel::Verified, true) => Color32::from_rgb(0x3f, 0xb9, 0x5f),
        (TrustLevel::Known, false) => Color32::from_rgb(0x1f, 0x5f, 0xbf),
        (TrustLevel::Known, true) => Color32::from_rgb(0x5a, 0x9c, 0xf5),
        (TrustLevel::New, false) => Color32::from_rgb(0xb3, 0x5c, 0x00),
        (TrustLevel::New, true) => Color32::from_rgb(0xf0, 0xa0, 0x40),
        (TrustLevel::Anonymous, false) => Color32::from_rgb(0x6b, 0x6b, 0x6b),
        (TrustLevel::Anonymous, true) => Color32::from_rgb(0xa0, 0xa0, 0xa0),
    }
}

pub fn presence_color(online: bool, reachable: bool) -> Color32 {
    if online {
        Color32::from_rgb(0x2e, 0xa0, 0x4f)
    } else if reachable {
        Color32::from_rgb(0xd0, 0xa0, 0x20)
    } else {
        Color32::from_rgb(0x90, 0x90, 0x90)
    }
}

pub fn bubble_fill(outgoing: bool, dark: bool) -> Color32 {
    match (outgoing, dark) {
        (true, false) => Color32::from_rgb(0xd8, 0xea, 0xff),
        (true, true) => Color32::from_rgb(0x1e, 0x3a, 0x5c),
        (false, false) => Color32::from_rgb(0xf0, 0xf0, 0xf0),
        (false, true) => Color32::from_rgb(0x33, 0x33, 0x36),
    }
}

/// The "read" ticks' colour.
pub fn read_color(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(0x5a, 0xb4, 0xff)
    } else {
        Color32::from_rgb(0x10, 0x7a, 0xd8)
    }
}

pub fn error_color(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(0xff, 0x70, 0x70)
    } else {
        Color32::from_rgb(0xb0, 0x20, 0x20)
    }
}
