//! The one wiring of a profile's agent, for `sixchat-cli run` and `chat`
//! and the desktop app alike: [`open`] builds the agent (store, live trust
//! policy, the profile's own DIR); [`start`] runs its listener and its DIR
//! upkeep ([`crate::upkeep`]), or without a DIR fetches the known CRLs and
//! delivers to peers at their last addresses once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::agent::{Agent, AgentEvent, AgentOptions};
use crate::profile::{Profile, ProfileError, UnlockedIdentity};
use crate::upkeep::{self, PersistChain, UpkeepOptions};

/// Why an agent could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("the profile's trust store: {0}")]
    Trust(#[from] crate::trust::TrustLoadError),
}

/// Opens the agent of `profile` for an unlocked identity.
pub fn open(
    profile: &Profile,
    identity: UnlockedIdentity,
    options: AgentOptions,
) -> Result<(Agent, mpsc::Receiver<AgentEvent>), LaunchError> {
    let store = profile.open_store()?;
    let policy: Arc<dyn sixchat_proto::CertificatePolicy> =
        Arc::new(crate::trust::LiveTrust::new(profile.open_store()?)?);
    Ok(Agent::new(identity, store, policy, options))
}

/// The agent at work: its listener and its DIR upkeep.
pub struct Started {
    /// The address the listener took (with the real port when 0 was asked).
    pub listening: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Started {
    /// Stops accepting, closes every session (they say `bye`), stops the
    /// upkeep, and waits for all of it at most `within`.
    pub async fn stop(mut self, within: Duration) {
        let _ = self.stop.send(true);
        let tasks: Vec<_> = self.tasks.drain(..).collect();
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let _ = tokio::time::timeout(within, async {
            for task in tasks {
                let _ = task.await;
            }
        })
        .await;
        for abort in aborts {
            abort.abort();
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Runs `agent`'s listener on `listener` and its DIR upkeep (`options.listen`
/// is replaced by the address the listener took). A renewed certificate is
/// saved in `profile` under `passphrase`. Call inside a tokio runtime.
pub fn start(
    agent: &Agent,
    profile: &Profile,
    passphrase: &Zeroizing<String>,
    listener: TcpListener,
    mut options: UpkeepOptions,
) -> Started {
    let listening = listener.local_addr().unwrap_or(options.listen);
    options.listen = listening;
    let (stop, _) = watch::channel(false);
    let stopped = |stop: &watch::Sender<bool>| {
        let mut stop = stop.subscribe();
        async move {
            let _ = stop.wait_for(|s| *s).await;
        }
    };
    let mut tasks = Vec::new();
    let server = agent.clone();
    let shutdown = stopped(&stop);
    tasks.push(tokio::spawn(async move {
        server.serve(listener, shutdown).await;
    }));
    let agent = agent.clone();
    if agent.dir().is_some() {
        let (profile, key, passphrase) = (profile.clone(), agent.key(), passphrase.clone());
        let persist: PersistChain = Box::new(move |renewed| {
            profile
                .keep_renewal(&key, renewed, &passphrase)
                .map_err(|e| e.to_string())
        });
        tasks.push(tokio::spawn(upkeep::run(
            agent,
            options,
            persist,
            stopped(&stop),
        )));
    } else {
        // A standalone identity that trusts roots added with their DIR: the
        // CRLs once at start; then what waits, to peers whose last address
        // is known.
        let shutdown = stopped(&stop);
        tasks.push(tokio::spawn(async move {
            let once = async {
                for (domain, reason) in agent.refresh_crls(Duration::from_secs(10)).await {
                    tracing::warn!(%domain, "could not refresh the CRL: {reason}");
                }
                agent.deliver_outbox(None).await;
            };
            tokio::select! {
                () = shutdown => {}
                () = once => {}
            }
        }));
    }
    Started {
        listening,
        stop,
        tasks,
    }
}
