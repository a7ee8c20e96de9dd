//! The limits that keep a reachable agent standing (protocol.md: a UA caps
//! concurrent unauthenticated handshakes, rate-limits failures per source
//! address, and accepts at most 10 sessions a minute at the new and anonymous
//! levels).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The agent's limits; the defaults are the protocol's.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The whole handshake must finish within this.
    pub handshake_timeout: Duration,
    /// Handshakes in progress at once (inbound).
    pub max_pending_handshakes: usize,
    /// Failed handshakes per source address per minute before it is turned away.
    pub max_failures_per_minute: u32,
    /// Sessions per minute, in total, at the new and anonymous levels.
    pub max_unverified_sessions_per_minute: usize,
    /// A session with no traffic for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(30),
            max_pending_handshakes: 64,
            max_failures_per_minute: 20,
            max_unverified_sessions_per_minute: 10,
            idle_timeout: Duration::from_secs(15 * 60),
        }
    }
}

const WINDOW: Duration = Duration::from_secs(60);

/// Counts failed handshakes per source address in a sliding minute.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    per_source: HashMap<IpAddr, VecDeque<Instant>>,
}

impl FailureLimiter {
    /// True when `source` has failed too often in the last minute.
    pub fn is_blocked(&mut self, source: IpAddr, max: u32, now: Instant) -> bool {
        let Some(times) = self.per_source.get_mut(&source) else {
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
        self.per_source.entry(source).or_default().push_back(now);
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
    fn budget_allows_ten_a_minute() {
        let mut budget = MinuteBudget::default();
        let t0 = Instant::now();
        assert_eq!((0..12).filter(|_| budget.try_take(10, t0)).count(), 10);
        assert!(budget.try_take(10, t0 + Duration::from_secs(61)));
    }
}
