//! sixchat-cli: the headless SixChat User Agent.
//!
//! The command names and options here are an interface that scripts rely on.

mod chat;
mod dir;
mod docs;
mod files;
mod identity;
mod mail;
mod output;
mod run;
mod secret;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sixchat_agent::Profile;

/// Exit status for a refused handshake.
pub const EXIT_REFUSED: u8 = 1;
/// Exit status for a local error (bad input, wrong passphrase, unreadable file).
pub const EXIT_ERROR: u8 = 2;
/// Exit status when messages stay queued because the peer could not be reached.
pub const EXIT_QUEUED: u8 = 3;

#[derive(Parser)]
#[command(
    name = "sixchat-cli",
    version = sixchat_host::VERSION,
    about = "SixChat from a terminal: identities, trust, a listening agent, and direct chat",
    long_about = "SixChat from a terminal: identities, trust, a listening agent, and direct chat.\n\n\
Each profile is one identity with its own folder (the platform data folder, or --data-dir). \
The private key is stored only inside an encrypted PKCS#12 file; commands that need it ask for \
the passphrase (from --password-file, the SIXCHAT_PASSWORD variable, or a prompt).",
    after_help = "Quick start on one machine:\n  \
sixchat-cli --profile alice id new --user alice@a.example --name Alice\n  \
sixchat-cli --profile bob id new --user bob@b.example --name Bob\n  \
sixchat-cli --profile alice trust pin bob@b.example <bob's fingerprint from `id show`>\n  \
sixchat-cli --profile bob trust pin alice@a.example <alice's fingerprint>\n  \
sixchat-cli --profile alice run --listen 127.0.0.1:4605 &\n  \
sixchat-cli --profile bob chat alice@a.example --addr 127.0.0.1:4605 hello\n\n\
With a DIR (see `sixchat-dir`), each profile enrolls with its invite instead of `id new`, \
and `chat` needs no --addr: the peer is looked up, and reached through the DIR's store if offline:\n  \
sixchat-cli --profile alice enroll - < alice-invite.txt\n  \
sixchat-cli --profile bob chat alice@example.org hello\n\n\
Exit status: 0 done, 1 the handshake was refused (the line says why), 2 a local error, \
3 messages stay queued in the outbox (the peer could not be reached)."
)]
struct Cli {
    /// Which profile (identity and its data) to use.
    #[arg(long, global = true, default_value = "default", value_name = "NAME")]
    profile: String,
    /// Keep profiles under DIR instead of the platform data folder.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print one JSON object per line on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Read the passphrase from the first line of FILE (else SIXCHAT_PASSWORD, else a prompt).
    #[arg(long, global = true, value_name = "FILE")]
    password_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create, import, export or show this profile's identity.
    #[command(subcommand)]
    Id(identity::IdCommand),
    /// Trust a directory root for a domain, pin a peer's certificate, or list both.
    #[command(subcommand)]
    Trust(identity::TrustCommand),
    /// Get a certificate from a domain's DIR with an invite; the profile then uses the DIR
    /// (address registration, lookups, renewal, the offline store).
    Enroll {
        /// The invite string from the DIR administrator:
        /// sixchat-invite:1:<dir host:port>:<user id>:<secret>:<root sha256>,
        /// or `-` to read it from standard input. Given here, the invite's secret is visible
        /// to other users of this machine (`ps`, /proc) while the command runs: prefer `-`
        /// or --invite-file.
        #[arg(
            value_name = "INVITE",
            required_unless_present = "invite_file",
            conflicts_with = "invite_file"
        )]
        invite: Option<String>,
        /// Read the invite from the first line of FILE (`-`: standard input).
        #[arg(long, value_name = "FILE")]
        invite_file: Option<PathBuf>,
        /// The name asked for in the request (default: the UserID's local part). The DIR
        /// certifies the name its administrator gave the invite, whatever is asked for.
        #[arg(long)]
        name: Option<String>,
        /// RSA key size: 2048, 3072 or 4096.
        #[arg(long, default_value_t = 2048)]
        bits: usize,
        /// If the DIR holds the request for approval, keep asking this long.
        #[arg(long, default_value_t = 0, value_name = "SECONDS")]
        wait_approval_secs: u64,
    },
    /// Run the agent: accept sessions and print chats as they arrive, until SIGINT/SIGTERM.
    /// With a DIR it also registers its addresses, renews its certificate, refreshes the CRL,
    /// fetches messages left for it while offline, and retries its outbox.
    Run(run::RunArgs),
    /// Send a chat: dial, authenticate, send, wait for each delivery receipt.
    Chat(chat::ChatArgs),
    /// Print the stored conversation with a peer.
    History {
        /// The peer's UserID.
        user_id: String,
    },
    /// List a folder of a peer's shared folder (name, size, date).
    Ls(files::LsArgs),
    /// Fetch a file or a whole folder from a peer's shared folder. Every 16 KiB is checked
    /// against the file's BLAKE3 hash as it arrives; a file gets its name only when complete.
    /// Interrupted (or the peer offline: exit 3), the transfer waits in the queue: `transfers
    /// resume ID` (or `run`) goes on from what was already verified. Exit status: 0 every file
    /// complete and verified; 1 refused, declined, cancelled or bad data from the peer; 2 a
    /// local error or a peer that stopped sending; 3 queued for later.
    Get(transfer::GetArgs),
    /// Offer files and folders to a peer: it accepts into its incoming folder (unasked when it
    /// set `trust auto-accept` for you). Verified and resumable as `get`. A peer that cannot be
    /// reached now gets it later: the transfer waits in the queue (exit 3) and `run` starts it.
    /// Exit status as for `get`.
    Send(transfer::SendArgs),
    /// The transfer queue: list it, pause, resume or cancel one by its id (a prefix will do),
    /// or clear the finished ones.
    Transfers {
        #[command(subcommand)]
        command: Option<transfer::TransfersCommand>,
    },
    /// The folder this profile shares with its verified and known contacts (and new ones
    /// whose code was compared); `run` serves it. Nothing is shared until it is set.
    #[command(subcommand)]
    Share(files::FolderCommand),
    /// S/MIME mail without mail servers: send (signed, encrypted, handed to each recipient's
    /// running agent or else left at their DIR), list, show, export, import, fetch, delete.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// The folder `get` puts files in when --to is not given (else the current folder), and
    /// where accepted offers go (without one, offers are declined). It must exist.
    #[command(subcommand)]
    Incoming(files::FolderCommand),
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell), for
    /// example `sixchat-cli completions bash > ~/.local/share/bash-completion/completions/sixchat-cli`.
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (sixchat-cli.1 and one per subcommand) into DIR (for packagers).
    #[command(hide = true)]
    Manpages {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// What the command line sees: context shared by every command.
pub struct Context {
    pub profile: Profile,
    pub out: output::Output,
    pub password_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SIXCHAT_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        // Log lines quote peers; each is written with its controls escaped.
        .with_writer(sixchat_agent::log::SafeStderr)
        .with_ansi(false)
        .init();
    let out = output::Output::new(cli.json);
    // These need no profile.
    match &cli.command {
        Command::Completions { shell } => {
            return match docs::completions(*shell) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => out.fail(EXIT_ERROR, &format!("{e:#}")),
            };
        }
        Command::Manpages { dir } => {
            return match docs::manpages(dir) {
                Ok(n) => {
                    println!("wrote {n} man pages to {}", dir.display());
                    ExitCode::SUCCESS
                }
                Err(e) => out.fail(EXIT_ERROR, &format!("{e:#}")),
            };
        }
        _ => {}
    }
    let profile = match Profile::locate(&cli.profile, cli.data_dir.as_deref()) {
        Ok(profile) => profile,
        Err(e) => return out.fail(EXIT_ERROR, &e.to_string()),
    };
    let ctx = Context {
        profile,
        out,
        password_file: cli.password_file,
    };
    let result = match cli.command {
        Command::Id(cmd) => identity::id(&ctx, cmd),
        Command::Trust(cmd) => identity::trust(&ctx, cmd),
        Command::Enroll {
            invite,
            invite_file,
            name,
            bits,
            wait_approval_secs,
        } => dir::read_invite(invite.as_deref(), invite_file.as_deref())
            .and_then(|invite| dir::enroll(&ctx, &invite, name, bits, wait_approval_secs)),
        Command::Run(args) => run::run(&ctx, &args),
        Command::Chat(args) => chat::chat(&ctx, &args),
        Command::History { user_id } => chat::history(&ctx, &user_id),
        Command::Ls(args) => files::ls(&ctx, &args),
        Command::Get(args) => transfer::get(&ctx, &args),
        Command::Send(args) => transfer::send(&ctx, &args),
        Command::Transfers { command } => transfer::transfers(&ctx, command),
        Command::Share(cmd) => files::folder_setting(&ctx, files::SHARE_KEY, cmd),
        Command::Incoming(cmd) => files::folder_setting(&ctx, files::INCOMING_KEY, cmd),
        Command::Mail(cmd) => mail::mail(&ctx, cmd),
        Command::Completions { .. } | Command::Manpages { .. } => Ok(0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => ctx.out.fail(EXIT_ERROR, &format!("{e:#}")),
    }
}
