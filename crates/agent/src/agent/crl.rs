//! Revocation within seconds: the CRL of a peer's DIR fetched again, when
//! older than `crl_recheck_after`, as a handshake starts.

use std::time::{Duration, Instant};

use sixchat_host::lock;

use super::Agent;

/// How long a handshake waits, in all, for fresh CRLs (then the CRLs held count).
const CRL_WAIT_LIMIT: Duration = Duration::from_secs(2);
/// How long one CRL fetch before a handshake may take (it runs on after the
/// handshake stopped waiting for it).
const CRL_FETCH_LIMIT: Duration = Duration::from_secs(10);
/// A DIR that did not give its CRL is not asked again before a handshake for
/// this long (an agent offline from its DIR does not wait at every handshake;
/// the CRL held counts until its nextUpdate).
const CRL_RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// One domain's CRL freshness.
pub(super) struct CrlCheck {
    /// No fetch starts before this.
    next_due: Instant,
    /// Becomes `true` when the fetch under way ends.
    in_flight: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Agent {
    /// Fetches the CRL of every DIR the profile knows (their own DIR and the
    /// roots added with `--dir`), each within `limit`, and stores it; returns
    /// the domains that failed, with why. A failure leaves the CRL held
    /// before in place (it still counts until its nextUpdate).
    pub async fn refresh_crls(&self, limit: Duration) -> Vec<(String, String)> {
        let dirs = match lock(&self.inner.store).dirs() {
            Ok(dirs) => dirs,
            Err(e) => return vec![(String::new(), e.to_string())],
        };
        let mut failed = Vec::new();
        for dir in dirs {
            let stored =
                crate::irp::directory::fetch_and_store_crl(&self.inner.store, &dir, limit).await;
            match stored {
                Ok(()) => {
                    // Fresh now: the next handshake need not ask again.
                    let due = Instant::now() + self.inner.options.limits.crl_recheck_after;
                    lock(&self.inner.crl_checks)
                        .entry(dir.domain)
                        .and_modify(|check| check.next_due = check.next_due.max(due))
                        .or_insert(CrlCheck {
                            next_due: due,
                            in_flight: None,
                        });
                }
                Err(reason) => failed.push((dir.domain, reason)),
            }
        }
        failed
    }

    /// Revocation counts within seconds: when a handshake starts, the CRL of
    /// the peer's domain (of every known DIR for a caller, whose domain is
    /// not known yet) is asked of its DIR again if the one held is older than
    /// `crl_recheck_after`. The fetches run as tasks of their own, one per
    /// domain at a time and at most one per `crl_recheck_after` however many
    /// handshakes start (a caller that hangs up cancels nothing); the
    /// returned future resolves when they are done, and the handshake waits
    /// for it, at most [`CRL_WAIT_LIMIT`], before it judges the peer's
    /// certificate. A DIR that does not answer leaves the CRL held in force
    /// (it still counts until its nextUpdate) and is not asked again for
    /// [`CRL_RETRY_AFTER_FAILURE`].
    pub(super) fn freshen_crls(
        &self,
        domain: Option<&str>,
    ) -> impl std::future::Future<Output = ()> + use<> {
        let dirs = {
            let store = lock(&self.inner.store);
            match domain {
                Some(domain) => store.dir(domain).ok().flatten().into_iter().collect(),
                None => store.dirs().unwrap_or_default(),
            }
        };
        let max_age = self.inner.options.limits.crl_recheck_after;
        let mut waits = Vec::new();
        {
            let mut checks = lock(&self.inner.crl_checks);
            let now = Instant::now();
            for dir in dirs {
                let check = checks.entry(dir.domain.clone()).or_insert(CrlCheck {
                    next_due: now,
                    in_flight: None,
                });
                if let Some(done) = check.in_flight.as_ref().filter(|done| !*done.borrow()) {
                    waits.push(done.clone());
                    continue;
                }
                if now < check.next_due {
                    continue;
                }
                let (finished, done) = tokio::sync::watch::channel(false);
                check.in_flight = Some(done.clone());
                check.next_due = now + max_age;
                waits.push(done);
                let agent = self.clone();
                tokio::spawn(async move {
                    let stored = crate::irp::directory::fetch_and_store_crl(
                        &agent.inner.store,
                        &dir,
                        CRL_FETCH_LIMIT,
                    )
                    .await;
                    if let Err(e) = stored {
                        tracing::info!(domain = %dir.domain, "CRL recheck failed: {e}");
                        if let Some(check) = lock(&agent.inner.crl_checks).get_mut(&dir.domain) {
                            check.next_due = Instant::now() + CRL_RETRY_AFTER_FAILURE;
                        }
                    }
                    let _ = finished.send(true);
                });
            }
        }
        async move {
            let _ = tokio::time::timeout(CRL_WAIT_LIMIT, async {
                for mut done in waits {
                    let _ = done.wait_for(|finished| *finished).await;
                }
            })
            .await;
        }
    }
}
