//! Desktop notifications (called from the backend, never from the UI thread).

/// Shows one notification; a desktop without a notification service just
/// does not show it.
pub fn show(title: &str, body: &str) {
    if let Err(e) = notify_rust::Notification::new()
        .appname("SixChat")
        .summary(title)
        .body(body)
        .show()
    {
        tracing::debug!("no desktop notification: {e}");
    }
}
