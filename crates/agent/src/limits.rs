//! The limits that keep a reachable agent standing (protocol.md: a UA caps
//! concurrent unauthenticated handshakes, rate-limits failures per source
//! address, and accepts at most 10 sessions a minute at the new and anonymous
//! levels).
//!
//! Against connections that never speak: a caller must complete its first
//! message within [`Limits::first_message_timeout`]; one source (an IPv4
//! address, an IPv6 /64) may hold at most [`Limits::max_pending_per_source`]
//! handshakes; and when every slot is taken, the oldest handshake that has
//! not yet completed a message is evicted for the newcomer
//! ([`PendingHandshakes`]), so silent connections cannot lock anyone out.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The agent's limits; the defaults are the protocol's.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The whole handshake must finish within this.
    pub handshake_timeout: Duration,
    /// The peer's first message must be complete within this.
    pub first_message_timeout: Duration,
    /// Each later handshake message of the peer must come within this.
    pub message_timeout: Duration,
    /// Handshakes in progress at once (inbound).
    pub max_pending_handshakes: usize,
    /// Handshakes in progress at once from one source (IPv4 address, IPv6 /64).
    pub max_pending_per_source: usize,
    /// Sessions at once with one peer (UserID); a newer one closes the oldest.
    pub max_sessions_per_peer: usize,
    /// Sessions at once in total; more are turned away after the handshake.
    pub max_sessions: usize,
    /// A verified peer's CRL is fetched again from its DIR when the one held
    /// is older than this (so a revocation counts within seconds).
    pub crl_recheck_after: Duration,
    /// Failed handshakes per source address per minute before it is turned away.
    pub max_failures_per_minute: u32,
    /// Sessions per minute, in total, at the new and anonymous levels.
    pub max_unverified_sessions_per_minute: usize,
    /// A session with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// Mails one peer may hand over directly (over sessions) in 24 hours;
    /// more are refused and go through the DIR store and its quotas.
    pub mail_per_peer_per_day: usize,
    /// Bytes of mail one peer may hand over directly in 24 hours.
    pub mail_bytes_per_peer_per_day: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(30),
            first_message_timeout: Duration::from_secs(5),
            message_timeout: Duration::from_secs(10),
            max_pending_handshakes: 64,
            max_pending_per_source: 8,
            max_sessions_per_peer: 2,
            max_sessions: 512,
            crl_recheck_after: Duration::from_secs(5),
            max_failures_per_minute: 20,
            max_unverified_sessions_per_minute: 10,
            idle_timeout: Duration::from_secs(15 * 60),
            mail_per_peer_per_day: 500,
            mail_bytes_per_peer_per_day: 256 << 20,
        }
    }
}

const WINDOW: Duration = Duration::from_secs(60);

pub use sixchat_proto::source::Source;

struct PendingEntry {
    source: Source,
    started: Instant,
    spoke: Arc<AtomicBool>,
    evict: Arc<Notify>,
}

#[derive(Default)]
struct PendingTable {
    next_id: u64,
    entries: HashMap<u64, PendingEntry>,
    per_source: HashMap<Source, usize>,
}

impl PendingTable {
    /// Whose slot a newcomer from `newcomer` takes when all are taken: the
    /// oldest caller that has not completed a message; else, when the
    /// newcomer's source holds no slot, the oldest caller of the source
    /// holding the most (at least two), so a few sources that each spoke
    /// once cannot keep everyone else out. `None`: turn the newcomer away.
    fn victim_for(&self, newcomer: Source) -> Option<u64> {
        let silent = self
            .entries
            .iter()
            .filter(|(_, e)| !e.spoke.load(Ordering::Relaxed))
            .min_by_key(|(_, e)| e.started)
            .map(|(id, _)| *id);
        if silent.is_some() || self.per_source.contains_key(&newcomer) {
            return silent;
        }
        let (greedy, held) = self
            .per_source
            .iter()
            .max_by_key(|(_, count)| **count)
            .map(|(source, count)| (*source, *count))?;
        if held < 2 {
            return None;
        }
        self.entries
            .iter()
            .filter(|(_, e)| e.source == greedy)
            .min_by_key(|(_, e)| e.started)
            .map(|(id, _)| *id)
    }

    fn remove(&mut self, id: u64) -> Option<PendingEntry> {
        let entry = self.entries.remove(&id)?;
        if let Some(count) = self.per_source.get_mut(&entry.source) {
            *count -= 1;
            if *count == 0 {
                self.per_source.remove(&entry.source);
            }
        }
        Some(entry)
    }
}

/// Inbound handshakes in progress: at most `max` in all and `per_source` from
/// one source. When all slots are taken, the oldest handshake whose caller
/// has not completed a message yet is evicted for the newcomer; only when
/// every slot holds a caller that spoke is the newcomer turned away.
#[derive(Clone)]
pub struct PendingHandshakes {
    table: Arc<Mutex<PendingTable>>,
    max: usize,
    per_source: usize,
}

/// One admitted handshake's slot; dropping it frees the slot.
pub struct PendingTicket {
    table: Arc<Mutex<PendingTable>>,
    id: u64,
    spoke: Arc<AtomicBool>,
    evict: Arc<Notify>,
}

fn lock_table(table: &Mutex<PendingTable>) -> std::sync::MutexGuard<'_, PendingTable> {
    table
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl PendingHandshakes {
    pub fn new(max: usize, per_source: usize) -> Self {
        Self {
            table: Arc::default(),
            max: max.max(1),
            per_source: per_source.max(1),
        }
    }

    /// A slot for a caller from `source`, or `None` to turn it away.
    pub fn admit(&self, source: IpAddr, now: Instant) -> Option<PendingTicket> {
        let key = Source::of(source);
        let mut table = lock_table(&self.table);
        if table.per_source.get(&key).copied().unwrap_or(0) >= self.per_source {
            return None;
        }
        if table.entries.len() >= self.max {
            let victim = table.victim_for(key)?;
            if let Some(evicted) = table.remove(victim) {
                evicted.evict.notify_one();
            }
        }
        let id = table.next_id;
        table.next_id += 1;
        let spoke = Arc::new(AtomicBool::new(false));
        let evict = Arc::new(Notify::new());
        table.entries.insert(
            id,
            PendingEntry {
                source: key,
                started: now,
                spoke: spoke.clone(),
                evict: evict.clone(),
            },
        );
        *table.per_source.entry(key).or_default() += 1;
        Some(PendingTicket {
            table: self.table.clone(),
            id,
            spoke,
            evict,
        })
    }

    /// Handshakes in progress.
    pub fn len(&self) -> usize {
        lock_table(&self.table).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PendingTicket {
    /// Set once the caller's first message is complete.
    pub fn spoke(&self) -> &AtomicBool {
        &self.spoke
    }

    /// Resolves when the slot was given to a newcomer.
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }
}

impl Drop for PendingTicket {
    fn drop(&mut self) {
        lock_table(&self.table).remove(self.id);
    }
}

/// Counts failed handshakes per source (IPv4 address, IPv6 /64) in a sliding minute.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    per_source: HashMap<Source, VecDeque<Instant>>,
}

impl FailureLimiter {
    /// True when `source` has failed too often in the last minute.
    pub fn is_blocked(&mut self, source: IpAddr, max: u32, now: Instant) -> bool {
        let Some(times) = self.per_source.get_mut(&Source::of(source)) else {
            return false;
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            times.pop_front();
        }
        times.len() >= max as usize
    }

    pub fn record_failure(&mut self, source: IpAddr, now: Instant) {
        // Keep the table bounded: forget quiet sources when it grows.
        if self.per_source.len() > 10_000 {
            self.per_source.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) <= WINDOW)
            });
        }
        self.per_source
            .entry(Source::of(source))
            .or_default()
            .push_back(now);
    }
}

/// Admits at most `max` events in any sliding minute.
#[derive(Debug, Default)]
pub struct MinuteBudget {
    times: VecDeque<Instant>,
}

impl MinuteBudget {
    pub fn try_take(&mut self, max: usize, now: Instant) -> bool {
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            self.times.pop_front();
        }
        if self.times.len() >= max {
            return false;
        }
        self.times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_a_source_for_a_minute() {
        let mut limiter = FailureLimiter::default();
        let ip: IpAddr = "::1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(!limiter.is_blocked(ip, 3, t0));
            limiter.record_failure(ip, t0);
        }
        assert!(limiter.is_blocked(ip, 3, t0));
        assert!(!limiter.is_blocked("127.0.0.2".parse().unwrap(), 3, t0));
        assert!(!limiter.is_blocked(ip, 3, t0 + Duration::from_secs(61)));
    }

    #[test]
    fn silent_callers_are_evicted_oldest_first_and_one_source_is_capped() {
        let pending = PendingHandshakes::new(3, 2);
        let t0 = Instant::now();
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let a = pending.admit(ip("127.0.0.2"), t0).unwrap();
        let b = pending
            .admit(ip("127.0.0.2"), t0 + Duration::from_secs(1))
            .unwrap();
        // The same /64 is one source; a third from 127.0.0.2 is turned away.
        assert!(pending.admit(ip("127.0.0.2"), t0).is_none());
        let c = pending
            .admit(ip("2001:db8::1"), t0 + Duration::from_secs(2))
            .unwrap();
        assert!(pending.admit(ip("2001:db8::2"), t0).is_some_and(|d| {
            // Full: the oldest silent one (a) made room.
            drop(d);
            true
        }));
        a.spoke().store(true, Ordering::Relaxed);
        b.spoke().store(true, Ordering::Relaxed);
        c.spoke().store(true, Ordering::Relaxed);
        // `a` was evicted, so its ticket no longer counts; b and c spoke.
        assert_eq!(pending.len(), 2);
        let e = pending.admit(ip("127.0.0.9"), t0).unwrap();
        e.spoke().store(true, Ordering::Relaxed);
        // Every slot holds a caller that spoke: the newcomer is turned away.
        assert!(pending.admit(ip("127.0.0.10"), t0).is_none());
        drop(b);
        assert!(pending.admit(ip("127.0.0.10"), t0).is_some());
    }

    #[test]
    fn a_source_holding_many_slots_yields_one_to_a_new_source() {
        let pending = PendingHandshakes::new(4, 3);
        let t0 = Instant::now();
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let mut held = Vec::new();
        for (n, from) in ["127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3"]
            .iter()
            .enumerate()
        {
            let ticket = pending
                .admit(ip(from), t0 + Duration::from_secs(n as u64))
                .unwrap();
            ticket.spoke().store(true, Ordering::Relaxed);
            held.push(ticket);
        }
        // All spoke; a new source takes the oldest slot of 127.0.0.2.
        let newcomer = pending.admit(ip("127.0.0.4"), t0).unwrap();
        newcomer.spoke().store(true, Ordering::Relaxed);
        assert_eq!(pending.len(), 4);
        // 127.0.0.3 already holds one, so it may not take another's.
        assert!(pending.admit(ip("127.0.0.3"), t0).is_none());
    }

    #[test]
    fn budget_allows_ten_a_minute() {
        let mut budget = MinuteBudget::default();
        let t0 = Instant::now();
        assert_eq!((0..12).filter(|_| budget.try_take(10, t0)).count(), 10);
        assert!(budget.try_take(10, t0 + Duration::from_secs(61)));
    }
}
