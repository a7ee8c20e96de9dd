//! The desktop app driven by label with egui_kittest, over real backends:
//! real profiles on disk, real agents on loopback, a real `sixchat-dir`
//! child process, and PKCS#12 files made by OpenSSL. One test binary
//! (`cargo test --test ui`), one module per area.

mod chat;
mod files;
mod mail;
mod support;
mod window;
mod wizard;
