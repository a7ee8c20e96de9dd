//! The backend: a thread with a tokio runtime that owns the agent. It takes
//! [`Command`]s, does the work (disk, database, network) and answers with
//! [`Event`]s on a bounded channel, waking the UI after each.
//!
//! - [`setup`]: the wizard's three ways in, and unlocking ([`SetupCommand`]).
//! - [`running`]: the running agent: its tasks, the agent's events, and the
//!   dispatch of each feature's commands to its file:
//!   - [`contacts`]: the list, presence ([`ContactCommand`]);
//!   - [`chat`]: conversations and delivery ([`ChatCommand`]);
//!   - [`sessions`]: dialling, Incoming Chat, the code answers ([`SessionCommand`]);
//!   - [`identity`]: renewal, backup, export, trust ([`IdentityCommand`]);
//!   - [`files`]: the commander, the transfer queue, offers ([`FileCommand`]);
//!   - [`mail`]: the Mail screen ([`MailCommand`]).
//!
//! [`SetupCommand`]: super::command::SetupCommand
//! [`ContactCommand`]: super::command::ContactCommand
//! [`ChatCommand`]: super::command::ChatCommand
//! [`SessionCommand`]: super::command::SessionCommand
//! [`IdentityCommand`]: super::command::IdentityCommand
//! [`FileCommand`]: super::command::FileCommand
//! [`MailCommand`]: super::command::MailCommand

mod chat;
mod contacts;
mod files;
mod identity;
mod mail;
mod running;
mod sessions;
mod setup;

pub use running::DEFAULT_LISTEN;
pub use setup::KEY_BITS;

use std::sync::Arc;

use sixchat_agent::{Profile, ProfileError};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use super::command::{AppCommand, Command};
use super::event::{Event, Failure, Task};

/// Called after each event so the UI repaints (egui's `request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// How many events may wait for the UI before the backend waits for it.
const EVENT_CAPACITY: usize = 1024;

/// Where events go.
#[derive(Clone)]
pub(crate) struct Sink {
    events: mpsc::Sender<Event>,
    waker: Waker,
}

impl Sink {
    pub(crate) async fn emit(&self, event: Event) {
        if self.events.send(event).await.is_ok() {
            (self.waker)();
        }
    }

    pub(crate) async fn fail(&self, task: Option<Task>, failure: Failure) {
        self.emit(Event::Busy(None)).await;
        self.emit(Event::Failed { task, failure }).await;
    }
}

/// What the backend is started with.
#[derive(Default)]
pub struct BackendOptions {
    /// Unlock at once with this passphrase (`SIXCHAT_PASSWORD`, used by the demo).
    pub passphrase: Option<Zeroizing<String>>,
}

/// The UI's end: send commands; dropping it stops the backend.
pub struct Backend {
    commands: mpsc::UnboundedSender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Backend {
    /// Starts the backend thread for `profile`.
    pub fn start(
        profile: Profile,
        options: BackendOptions,
        waker: Waker,
    ) -> std::io::Result<(Self, mpsc::Receiver<Event>)> {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (events, event_rx) = mpsc::channel(EVENT_CAPACITY);
        let sink = Sink { events, waker };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sixchat-agent")
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("sixchat-backend".into())
            .spawn(move || {
                runtime.block_on(run(profile, options, sink, command_rx));
                runtime.shutdown_timeout(std::time::Duration::from_secs(2));
            })?;
        Ok((
            Self {
                commands,
                thread: Some(thread),
            },
            event_rx,
        ))
    }

    /// Hands a command to the backend; never blocks.
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        // Closing the channel ends `run`, which stops the agent.
        let (closed, _) = mpsc::unbounded_channel();
        self.commands = closed;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A command that works in either phase: settings (language and theme may
/// be chosen before there is an identity) and notifications.
async fn app_command(
    profile: &Profile,
    running: Option<&Arc<running::Running>>,
    command: AppCommand,
    sink: &Sink,
) {
    match command {
        AppCommand::SetSetting { key, value } => {
            let stored = match running {
                Some(running) => running.set_setting(&key, &value),
                None => profile
                    .open_store()
                    .map_err(|e| e.to_string())
                    .and_then(|s| s.set_setting(&key, &value).map_err(|e| e.to_string())),
            };
            if let Err(e) = stored {
                sink.fail(None, Failure::Other(e)).await;
            }
        }
        AppCommand::Notify { title, body } => {
            tokio::task::spawn_blocking(move || crate::app::notify::show(&title, &body));
        }
    }
}

async fn run(
    profile: Profile,
    options: BackendOptions,
    sink: Sink,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut running: Option<Arc<running::Running>> = None;
    match profile.public_identity() {
        Ok((_, info)) => {
            sink.emit(Event::Locked {
                user_id: info.user_id.to_string(),
                name: info.name,
            })
            .await;
            if let Some(passphrase) = options.passphrase {
                running = setup::unlock(&profile, passphrase, &sink).await;
            } else if let Some(passphrase) = setup::recall(&profile).await {
                running = setup::unlock(&profile, passphrase, &sink).await;
                if running.is_none() {
                    // The keyring held an old passphrase: ask, and forget it.
                    let stale = profile.clone();
                    let _ =
                        tokio::task::spawn_blocking(move || crate::app::keyring::forget(&stale))
                            .await;
                    sink.emit(Event::Busy(None)).await;
                }
            }
        }
        Err(ProfileError::NoIdentity(_)) => sink.emit(Event::NeedsIdentity).await,
        Err(e) => {
            sink.fail(None, Failure::Other(e.to_string())).await;
            sink.emit(Event::NeedsIdentity).await;
        }
    }
    while let Some(command) = commands.recv().await {
        match (command, &running) {
            (Command::App(command), running) => {
                app_command(&profile, running.as_ref(), command, &sink).await;
            }
            (Command::Setup(command), None) => {
                running = setup::handle(&profile, command, &sink).await;
            }
            (Command::Setup(_), Some(_)) => {
                sink.fail(
                    None,
                    Failure::Other("the identity is already unlocked".into()),
                )
                .await;
            }
            (command, Some(running)) => running.handle(command).await,
            (_, None) => {
                sink.fail(None, Failure::Other("unlock the identity first".into()))
                    .await;
            }
        }
    }
    if let Some(running) = running {
        running.stop().await;
    }
}
