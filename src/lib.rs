//! SixChat, the desktop User Agent: an egui window over the same agent as
//! `sixchat-cli`.
//!
//! # Layout
//!
//! - [`app`]: state, the `Command` and `Event` enums, and the backend thread
//!   that owns the agent (no egui).
//! - [`ui`]: egui only, one file per screen or window; colours and spacing
//!   in `ui::theme`.
//! - [`i18n`]: Fluent strings from `i18n/<lang>/sixchat.ftl`.
//! - [`demo`]: `sixchat demo`, a DIR on loopback and two enrolled profiles.
//! - [`startup`]: what is read before the window opens.

pub mod app;
pub mod demo;

/// The reverse-DNS application id: the window's app id (Wayland finds the
/// icon and desktop entry by it), the desktop entry's and the AppStream
/// metainfo's name in `packaging/linux/`.
pub const APP_ID: &str = "org.sixchat.SixChat";
pub mod i18n;
pub mod startup;
pub mod ui;

#[cfg(test)]
mod tests {
    use super::APP_ID;

    fn packaging(file: &str) -> String {
        let path = format!("{}/packaging/linux/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_desktop_entry_and_metainfo_are_named_by_the_app_id_and_this_version() {
        let desktop = packaging(&format!("{APP_ID}.desktop"));
        assert!(desktop.contains(&format!("\nIcon={APP_ID}\n")), "{desktop}");
        assert!(desktop.contains(&format!("\nStartupWMClass={APP_ID}\n")));
        let metainfo = packaging(&format!("{APP_ID}.metainfo.xml"));
        assert!(metainfo.contains(&format!("<id>{APP_ID}</id>")));
        assert!(metainfo.contains(&format!(
            "<launchable type=\"desktop-id\">{APP_ID}.desktop<"
        )));
        assert!(
            metainfo.contains(&format!(
                "<release version=\"{}\"",
                env!("CARGO_PKG_VERSION")
            )),
            "the newest release in the metainfo is this crate's version"
        );
    }
}
