//! `serve`: load the keys, accept connections up to the cap, run the
//! periodic work (CRL refresh, purge of expired envelopes), and shut down
//! cleanly: stop accepting, tell every connection, let in-flight requests
//! finish (bounded), return.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, broadcast};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::conn::{self, ConnContext};
use crate::db::Db;
use crate::files::{DataDir, FileError, Passphrase, load_identity};
use crate::handlers::{Dir, Fail};
use crate::limits::{Limits, Source, SourceCounts};
use crate::store::{StoreError, certs, data};
use crate::tls::{TlsError, server_config};
use crate::{crl, now_unix};

/// Read connections in the pool.
const READERS: usize = 4;
/// How often the periodic work runs.
const PERIODIC: Duration = Duration::from_secs(300);
/// How long in-flight requests get at shutdown.
const DRAIN: Duration = Duration::from_secs(30);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A server ready to listen: keys loaded, database open.
pub struct Server {
    ctx: Arc<ConnContext>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("domain", &self.ctx.dir.domain)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the database and the key files (slow: PKCS#12 key derivation).
    pub fn prepare(
        data: &DataDir,
        passphrase: &Passphrase,
        limits: Limits,
    ) -> Result<Self, ServeError> {
        let (db, meta) = Db::open(&data.db_path(), READERS)?;
        let ca = data.load_ca(&meta.domain, passphrase)?;
        let server = load_identity(&data.server_key_path(), passphrase)?;
        let tls = server_config(&server.chain, server.key.pkcs8_der(), &meta.root_der)?;
        // At least one largest frame must fit, or a store_put would wait for ever.
        let budget_kib = (limits.large_frame_budget_mib.max(64) as usize) << 10;
        let large_frames = Arc::new(Semaphore::new(budget_kib));
        let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let dir = Arc::new(Dir::new(meta, ca, db, limits));
        Ok(Self {
            ctx: Arc::new(ConnContext {
                dir,
                acceptor: TlsAcceptor::from(tls),
                large_frames,
                anonymous_frames: Arc::new(Semaphore::new(crate::conn::ANONYMOUS_BUDGET_KIB)),
                budget_kib,
                parses: Arc::new(Semaphore::new(cpus.max(2))),
            }),
        })
    }

    /// Serves on `listen` until `stop` completes. `ready` is told the bound
    /// address once the listener is up.
    pub async fn run(
        self,
        listen: SocketAddr,
        ready: impl FnOnce(SocketAddr),
        stop: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let listener = sixchat_host::listen::bind(listen).map_err(|source| ServeError::Listen {
            addr: listen,
            source,
        })?;
        let local = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: listen,
            source,
        })?;
        let dir = Arc::clone(&self.ctx.dir);
        tracing::info!(domain = %dir.domain, %local, "serving");
        ready(local);
        let (shutdown, _) = broadcast::channel::<()>(1);
        let slots = Arc::new(Semaphore::new(dir.limits.max_connections.max(1)));
        let per_source = SourceCounts::default();
        let mut connections = JoinSet::new();
        let over_cap = Arc::new(OverCap::default());
        let periodic = tokio::spawn(periodic(
            Arc::clone(&dir),
            Arc::clone(&over_cap),
            shutdown.subscribe(),
        ));
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer_addr)) => {
                        let source = Source::of(peer_addr.ip());
                        let Some(source_slot) =
                            per_source.try_enter(source, dir.limits.max_per_source)
                        else {
                            tracing::debug!(%peer_addr, "per-source cap reached; closing");
                            over_cap.per_source.fetch_add(1, Ordering::Relaxed);
                            drop(tcp);
                            continue;
                        };
                        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                            tracing::debug!(%peer_addr, "connection cap reached; closing");
                            over_cap.total.fetch_add(1, Ordering::Relaxed);
                            drop(tcp);
                            continue;
                        };
                        let _ = tcp.set_nodelay(true);
                        let ctx = Arc::clone(&self.ctx);
                        let rx = shutdown.subscribe();
                        connections.spawn(async move {
                            conn::serve(ctx, tcp, peer_addr, rx).await;
                            drop(slot);
                            drop(source_slot);
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        tracing::info!(open = connections.len(), "shutting down");
        let _ = shutdown.send(());
        let drained = tokio::time::timeout(DRAIN, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("in-flight requests did not finish in time; aborting them");
            connections.shutdown().await;
        }
        let _ = periodic.await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Connections turned away since the last report.
#[derive(Debug, Default)]
struct OverCap {
    /// At `max_connections`.
    total: AtomicU64,
    /// At `max_per_source`.
    per_source: AtomicU64,
}

/// Refreshes the CRL before its nextUpdate and purges expired envelopes.
/// Also reports connections turned away at the caps since the last run (one
/// line, not one per connection).
async fn periodic(dir: Arc<Dir>, over_cap: Arc<OverCap>, mut shutdown: broadcast::Receiver<()>) {
    let mut tick = tokio::time::interval(PERIODIC);
    loop {
        tokio::select! {
            _ = shutdown.recv() => return,
            _ = tick.tick() => {}
        }
        let refused = over_cap.total.swap(0, Ordering::Relaxed);
        if refused > 0 {
            tracing::warn!(
                refused,
                max = dir.limits.max_connections,
                "connections closed at the cap"
            );
        }
        let refused = over_cap.per_source.swap(0, Ordering::Relaxed);
        if refused > 0 {
            tracing::warn!(
                refused,
                max = dir.limits.max_per_source,
                "connections closed at the per-source cap"
            );
        }
        let ca = Arc::clone(&dir.ca);
        let result = dir
            .db
            .write(move |tx| {
                let now = now_unix();
                if crl::needs_refresh(certs::crl(tx)?.as_ref(), now) {
                    crl::reissue(tx, &ca, now)?;
                    tracing::info!("CRL reissued");
                }
                let purged = data::purge_expired(tx, now)?;
                if purged > 0 {
                    tracing::info!(purged, "expired envelopes purged");
                }
                Ok::<(), Fail>(())
            })
            .await;
        if let Err(
            Fail::Internal(reason)
            | Fail::Refused(sixchat_proto::irp::ErrorResponse {
                description: reason,
                ..
            }),
        ) = result
        {
            tracing::error!(%reason, "periodic work failed");
        }
    }
}
