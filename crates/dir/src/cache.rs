//! In-memory answers for the two hottest reads: who a presented certificate
//! belongs to (every request made as a caller) and `lookup`.
//!
//! Correctness rules:
//! - every revocation reissues the CRL in the same transaction, so the CRL
//!   bytes change whenever any certificate's status changes, in this process
//!   or in an admin command. Before using the cache the server asks SQLite,
//!   at most every [`RECHECK`], whether anything was committed since
//!   ([`crate::db::Db::crl_if_changed`]), and [`Cache::observe_crl`] empties
//!   the cache when the CRL differs; the server's own revocations empty it
//!   at once;
//! - a user's own writes (register, enroll, issue) drop that user's lookup
//!   entry ([`Cache::forget_user`]); a read that raced with such a write is
//!   not cached ([`Cache::generation`] is compared before it is stored);
//! - entries also age out after [`MAX_AGE`] (certificates expire) and the
//!   cache is emptied when it holds [`MAX_ENTRIES`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sixchat_host::lock;
use sixchat_proto::irp::LookupResult;

use crate::handlers::Caller;

/// How often the database is asked whether anything was committed.
pub const RECHECK: Duration = Duration::from_millis(100);
/// The longest an entry is trusted.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// Entries kept per map before it is emptied.
pub const MAX_ENTRIES: usize = 200_000;

struct Entry<T> {
    value: T,
    stored: Instant,
}

/// A cached caller: its certificate bytes (compared in full) and when it expires.
struct CallerEntry {
    der: Vec<u8>,
    not_after_unix: i64,
    caller: Caller,
}

pub struct Cache {
    enabled: bool,
    created: Instant,
    /// Milliseconds after `created` when the database is next asked.
    next_recheck_ms: AtomicU64,
    generation: AtomicU64,
    crl: Mutex<Vec<u8>>,
    callers: Mutex<HashMap<u64, Entry<CallerEntry>>>,
    lookups: Mutex<HashMap<String, Entry<LookupResult>>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

fn fresh<T>(entry: &Entry<T>) -> bool {
    entry.stored.elapsed() < MAX_AGE
}

impl Cache {
    /// A cache; a disabled one never holds anything.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            created: Instant::now(),
            next_recheck_ms: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            crl: Mutex::default(),
            callers: Mutex::default(),
            lookups: Mutex::default(),
        }
    }

    /// True (for one caller) when the database should be asked again.
    pub fn recheck_due(&self) -> bool {
        let now_ms = u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_recheck_ms.load(Ordering::Acquire);
        let after = now_ms.saturating_add(u64::try_from(RECHECK.as_millis()).unwrap_or(100));
        now_ms >= next
            && self
                .next_recheck_ms
                .compare_exchange(next, after, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Read before a database read whose result may be cached.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Empties everything.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        lock(&self.callers).clear();
        lock(&self.lookups).clear();
    }

    /// Compares the stored CRL with the last one seen; a change empties the cache.
    pub fn observe_crl(&self, crl_der: &[u8]) {
        let mut seen = lock(&self.crl);
        if seen.as_slice() != crl_der {
            seen.clear();
            seen.extend_from_slice(crl_der);
            drop(seen);
            self.clear();
        }
    }

    /// Drops one user's lookup answer after a write that changes it.
    pub fn forget_user(&self, user_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        lock(&self.lookups).remove(user_id);
    }

    /// The caller for a certificate serial, if cached with the same bytes and unexpired.
    pub fn caller(&self, serial: u64, der: &[u8], now_unix: i64) -> Option<Caller> {
        let callers = lock(&self.callers);
        let entry = callers.get(&serial)?;
        (fresh(entry) && entry.value.der == der && entry.value.not_after_unix > now_unix)
            .then(|| entry.value.caller.clone())
    }

    pub fn put_caller(&self, generation: u64, der: &[u8], not_after_unix: i64, caller: &Caller) {
        let mut callers = lock(&self.callers);
        if !self.enabled || self.generation() != generation {
            return;
        }
        if callers.len() >= MAX_ENTRIES {
            callers.clear();
        }
        callers.insert(
            caller.serial,
            Entry {
                value: CallerEntry {
                    der: der.to_vec(),
                    not_after_unix,
                    caller: caller.clone(),
                },
                stored: Instant::now(),
            },
        );
    }

    pub fn lookup(&self, user_id: &str) -> Option<LookupResult> {
        let lookups = lock(&self.lookups);
        let entry = lookups.get(user_id)?;
        fresh(entry).then(|| entry.value.clone())
    }

    pub fn put_lookup(&self, generation: u64, result: &LookupResult) {
        let mut lookups = lock(&self.lookups);
        if !self.enabled || self.generation() != generation {
            return;
        }
        if lookups.len() >= MAX_ENTRIES {
            lookups.clear();
        }
        lookups.insert(
            result.user_id.to_string(),
            Entry {
                value: result.clone(),
                stored: Instant::now(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sixchat_proto::UserId;
    use sixchat_proto::irp::CertState;

    fn result(user: &str) -> LookupResult {
        LookupResult {
            user_id: UserId::parse(user).unwrap(),
            name: "A".into(),
            email: None,
            chain: vec![vec![1]],
            state: CertState::Valid,
            encryption_certificate: None,
            record: None,
            last_seen_unix: None,
        }
    }

    #[test]
    fn a_write_or_a_new_crl_invalidates_and_a_racing_read_is_not_kept() {
        let cache = Cache::new(true);
        let g = cache.generation();
        cache.put_lookup(g, &result("a@x.org"));
        assert!(cache.lookup("a@x.org").is_some());
        cache.forget_user("a@x.org");
        assert!(cache.lookup("a@x.org").is_none());
        // A read that started before a write is not cached.
        cache.put_lookup(g, &result("a@x.org"));
        assert!(cache.lookup("a@x.org").is_none());

        let caller = Caller {
            user_id: UserId::parse("a@x.org").unwrap(),
            serial: 7,
            spki: vec![],
        };
        cache.observe_crl(b"crl 1");
        let g = cache.generation();
        cache.put_caller(g, b"cert", 100, &caller);
        assert!(cache.caller(7, b"cert", 50).is_some());
        assert!(cache.caller(7, b"other cert", 50).is_none());
        assert!(cache.caller(7, b"cert", 100).is_none(), "expired");
        cache.observe_crl(b"crl 1");
        assert!(cache.caller(7, b"cert", 50).is_some(), "same CRL keeps it");
        cache.observe_crl(b"crl 2");
        assert!(
            cache.caller(7, b"cert", 50).is_none(),
            "a new CRL empties it"
        );

        let off = Cache::new(false);
        off.put_lookup(off.generation(), &result("a@x.org"));
        assert!(off.lookup("a@x.org").is_none());
    }
}
