//! `sixchat`: the desktop User Agent, and `sixchat demo`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use eframe::egui;

#[derive(Parser)]
#[command(
    name = "sixchat",
    version = sixchat_host::VERSION,
    about = "SixChat: secure, direct, peer-to-peer chat",
    long_about = "SixChat: secure, direct, peer-to-peer chat.\n\n\
        Opens the window for one profile (an identity with its contacts and messages). \
        The first start shows a wizard: join a directory with an invite, import a PKCS#12 \
        file, or create a standalone identity for a LAN without a directory.\n\n\
        Set SIXCHAT_PASSWORD to unlock without the passphrase prompt (for demos and kiosks; \
        anyone who can read the environment can read it). RUST_LOG=info shows what the agent does."
)]
struct Args {
    /// Which profile (identity and its data) to open; run several side by side with different names.
    #[arg(long, default_value = "default", value_name = "NAME", global = true)]
    profile: String,
    /// Keep profiles under DIR instead of the platform data folder.
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start a DIR on loopback with the domain demo.sixchat.test, enroll two profiles
    /// (alice and bob) and open a window for each. Ends when both windows close.
    Demo {
        /// Keep the demo's folder (DIR, profiles) after the windows close.
        #[arg(long)]
        keep: bool,
        /// Only prepare the DIR and the two profiles, print how to open them, and wait for Ctrl-C.
        #[arg(long)]
        no_windows: bool,
    },
}

fn main() -> ExitCode {
    let _ = sixchat::startup::STARTED.set(std::time::Instant::now());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        // Log lines quote peers; each is written with its controls escaped.
        .with_writer(sixchat_agent::log::SafeStderr)
        .with_ansi(false)
        .init();
    let args = Args::parse();
    let result = match args.command {
        Some(Cmd::Demo { keep, no_windows }) => {
            sixchat::demo::run(args.data_dir.as_deref(), keep, !no_windows)
        }
        None => window(&args.profile, args.data_dir.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sixchat: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn window(profile: &str, data_dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let profile = sixchat_agent::Profile::locate(profile, data_dir)?;
    let passphrase = sixchat::startup::passphrase_from_env();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(format!("SixChat ({})", profile.name))
            .with_app_id(sixchat::APP_ID)
            .with_inner_size([980.0, 680.0])
            .with_min_inner_size(sixchat::ui::theme::MIN_WINDOW),
        ..Default::default()
    };
    eframe::run_native(
        "SixChat",
        options,
        Box::new(move |cc| {
            let app = sixchat::startup::build_app(&cc.egui_ctx, profile, passphrase)?;
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
