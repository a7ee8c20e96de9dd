//! The limits that keep a DIR standing: connections, request rate, frame
//! sizes, timeouts, the offline-store quota, and recovery attempts.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::store::data::Quota;

/// The server's limits; `serve`'s flags set the first six.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once; more are closed at once.
    pub max_connections: usize,
    /// Requests per second per connection (token bucket refill rate).
    pub rate_per_sec: u32,
    /// Requests a connection may send at once before the rate applies.
    pub burst: u32,
    /// A connection with no complete request for this long is closed.
    pub idle: Duration,
    /// The TLS handshake must finish within this.
    pub handshake: Duration,
    /// Whether `lookup` is answered without a client certificate.
    pub public_lookup: bool,
    /// Whether callers and lookup answers are cached in memory.
    pub cache: bool,
    /// Per-recipient limits of the offline store.
    pub quota: Quota,
    /// Memory for frame bodies over 64 KiB, summed over all connections, in
    /// MiB (at least 64: one largest frame).
    pub large_frame_budget_mib: u32,
    /// Recovery attempts per UserID per window.
    pub recovery_attempts: usize,
    pub recovery_window: Duration,
    /// Slow hashes (PBKDF2) running at once.
    pub slow_hashes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 20_000,
            rate_per_sec: 2000,
            burst: 2000,
            idle: Duration::from_secs(120),
            handshake: Duration::from_secs(10),
            public_lookup: false,
            cache: true,
            quota: Quota::default(),
            large_frame_budget_mib: 512,
            recovery_attempts: 5,
            recovery_window: Duration::from_secs(15 * 60),
            slow_hashes: 2,
        }
    }
}

/// A token bucket: `burst` tokens, refilled at `rate_per_sec`.
#[derive(Debug)]
pub struct TokenBucket {
    tokens: f64,
    capacity: f64,
    rate_per_sec: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate_per_sec: u32, burst: u32, now: Instant) -> Self {
        let capacity = f64::from(burst.max(1));
        Self {
            tokens: capacity,
            capacity,
            rate_per_sec: f64::from(rate_per_sec.max(1)),
            last: now,
        }
    }

    /// Takes a token, or says how long until one is there.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate_per_sec).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.rate_per_sec,
            ))
        }
    }
}

/// At most `max` attempts per key in any sliding `window`.
#[derive(Debug)]
pub struct AttemptLimiter {
    per_key: HashMap<String, VecDeque<Instant>>,
    max: usize,
    window: Duration,
}

/// Keys remembered before quiet ones are forgotten.
const MAX_KEYS: usize = 100_000;

impl AttemptLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            per_key: HashMap::new(),
            max: max.max(1),
            window,
        }
    }

    /// Counts an attempt, or refuses it with the time until one is allowed.
    pub fn try_attempt(&mut self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_key.len() >= MAX_KEYS {
            let window = self.window;
            self.per_key.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < window)
            });
        }
        let times = self.per_key.entry(key.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.max {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(self
                .window
                .saturating_sub(now.saturating_duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

/// Whole seconds to tell a client to wait, at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 3, start);
        for _ in 0..3 {
            assert!(bucket.try_take(start).is_ok());
        }
        let wait = bucket.try_take(start).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert_eq!(retry_after_secs(wait), 1);
        assert!(bucket.try_take(start + Duration::from_millis(100)).is_ok());
        assert!(bucket.try_take(start + Duration::from_millis(100)).is_err());
        // A long pause refills to the burst, no more.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(bucket.try_take(later).is_ok());
        }
        assert!(bucket.try_take(later).is_err());
    }

    #[test]
    fn five_recovery_attempts_per_user_per_window() {
        let start = Instant::now();
        let window = Duration::from_secs(900);
        let mut limiter = AttemptLimiter::new(5, window);
        for _ in 0..5 {
            assert!(limiter.try_attempt("a@x.org", start).is_ok());
        }
        let wait = limiter.try_attempt("a@x.org", start).unwrap_err();
        assert_eq!(wait, window);
        assert!(limiter.try_attempt("b@x.org", start).is_ok(), "per user");
        assert!(limiter.try_attempt("a@x.org", start + window).is_ok());
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
