//! The limits that keep a DIR standing: connections (in all and per
//! source), request rate, frame sizes and the time a frame may take to
//! arrive, timeouts, the offline-store quotas, recovery attempts, and the
//! budget of slow (PBKDF2) requests per source.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::data::Quota;

/// The server's limits; `serve`'s flags set some of them (see `--help`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once; more are closed at once.
    pub max_connections: usize,
    /// Connections open at once from one source (an IPv4 address, or an
    /// IPv6 /64); more from that source are closed at once.
    pub max_per_source: usize,
    /// Requests per second per connection (token bucket refill rate).
    pub rate_per_sec: u32,
    /// Requests a connection may send at once before the rate applies.
    pub burst: u32,
    /// A connection whose next frame header does not arrive within this
    /// is closed (its body then has `frame_deadline`).
    pub idle: Duration,
    /// The TLS handshake must finish within this.
    pub handshake: Duration,
    /// Once a frame's header is in, its body must arrive within
    /// `max(frame_floor, length / frame_min_rate)`, or the connection is
    /// dropped (a body trickling in one byte a second holds nothing long).
    pub frame_floor: Duration,
    /// Bytes per second a frame body must at least average (see `frame_floor`).
    pub frame_min_rate: u64,
    /// A frame over 64 KiB is parsed on the blocking pool and must be parsed
    /// within this; else it is answered 1103 and the connection closed.
    pub parse_deadline: Duration,
    /// Whether `lookup` is answered without a client certificate.
    pub public_lookup: bool,
    /// Whether callers and lookup answers are cached in memory.
    pub cache: bool,
    /// Limits of the offline store: per recipient, per sender and recipient,
    /// per sender, and in all.
    pub quota: Quota,
    /// Memory for frame bodies over 64 KiB, summed over all connections, in
    /// MiB (at least 64: one largest frame). Reserved 1 MiB at a time as
    /// the bytes arrive, not from the header.
    pub large_frame_budget_mib: u32,
    /// Recovery attempts (`backup_get`) per source and UserID per window.
    pub recovery_attempts: usize,
    /// Recovery attempts per UserID per window, from all sources together.
    pub recovery_attempts_per_user: usize,
    pub recovery_window: Duration,
    /// Slow hashes (PBKDF2) running at once.
    pub slow_hashes: usize,
    /// Requests that need a slow hash (`backup_get`, `backup_put`) one
    /// source may make at once, before `slow_per_minute` applies.
    pub slow_burst: u32,
    /// Such requests per minute per source after the burst.
    pub slow_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 20_000,
            max_per_source: 64,
            rate_per_sec: 2000,
            burst: 2000,
            idle: Duration::from_secs(120),
            handshake: Duration::from_secs(10),
            frame_floor: Duration::from_secs(10),
            frame_min_rate: 64 << 10,
            parse_deadline: Duration::from_secs(30),
            public_lookup: false,
            cache: true,
            quota: Quota::default(),
            large_frame_budget_mib: 512,
            recovery_attempts: 5,
            recovery_attempts_per_user: 100,
            recovery_window: Duration::from_secs(15 * 60),
            slow_hashes: 2,
            slow_burst: 10,
            slow_per_minute: 6,
        }
    }
}

impl Limits {
    /// How long the body of a frame of `len` bytes may take to arrive.
    pub fn frame_deadline(&self, len: usize) -> Duration {
        let rate = u128::from(self.frame_min_rate.max(1));
        let millis = (len as u128).saturating_mul(1000) / rate;
        let proportional = Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX));
        // Clamped: an administrator's huge --frame-secs must not overflow
        // an Instant.
        proportional.max(self.frame_floor).min(MAX_FRAME_DEADLINE)
    }
}

/// Longest time any one frame may take to arrive or to be written.
const MAX_FRAME_DEADLINE: Duration = Duration::from_secs(86_400);

/// Where a connection comes from (an IPv4 address, an IPv6 /64), shared
/// with the agent's listener.
pub use sixchat_proto::source::Source;

/// Connections open per source, for the per-source cap.
#[derive(Debug, Clone, Default)]
pub struct SourceCounts {
    open: Arc<Mutex<HashMap<Source, usize>>>,
}

/// One counted connection; uncounted when dropped.
#[derive(Debug)]
pub struct SourceSlot {
    open: Arc<Mutex<HashMap<Source, usize>>>,
    source: Source,
}

impl SourceCounts {
    /// Counts a connection from `source`, unless `max` are open already.
    pub fn try_enter(&self, source: Source, max: usize) -> Option<SourceSlot> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(source).or_insert(0);
        if *count >= max.max(1) {
            return None;
        }
        *count += 1;
        Some(SourceSlot {
            open: Arc::clone(&self.open),
            source,
        })
    }

    /// Sources with a connection open (for tests and logs).
    pub fn sources(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.source) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.source);
            }
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
        Self::with_rate(f64::from(rate_per_sec.max(1)), burst, now)
    }

    /// A bucket refilled at `per_minute` tokens a minute.
    pub fn per_minute(per_minute: u32, burst: u32, now: Instant) -> Self {
        Self::with_rate(f64::from(per_minute.max(1)) / 60.0, burst, now)
    }

    fn with_rate(rate_per_sec: f64, burst: u32, now: Instant) -> Self {
        let capacity = f64::from(burst.max(1));
        Self {
            tokens: capacity,
            capacity,
            rate_per_sec,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate_per_sec).min(self.capacity);
    }

    /// Takes a token, or says how long until one is there.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.rate_per_sec,
            ))
        }
    }

    /// Whether the bucket is full again (so it may be forgotten).
    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

/// One token bucket per source, for requests that cost the server dearly
/// (the slow hash of a recovery secret).
#[derive(Debug)]
pub struct SourceBuckets {
    buckets: Mutex<HashMap<Source, TokenBucket>>,
    per_minute: u32,
    burst: u32,
}

impl SourceBuckets {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            per_minute,
            burst,
        }
    }

    /// Takes a token from `source`'s bucket, or says how long to wait.
    pub fn try_take(&self, source: Source, now: Instant) -> Result<(), Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS {
            // A full bucket is the same as a new one.
            buckets.retain(|_, bucket| !bucket.is_full(now));
        }
        buckets
            .entry(source)
            .or_insert_with(|| TokenBucket::per_minute(self.per_minute, self.burst, now))
            .try_take(now)
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

    /// The attempts of `key` still within the window (older ones dropped).
    fn recent(&mut self, key: &str, now: Instant) -> &mut VecDeque<Instant> {
        if self.per_key.len() >= MAX_KEYS {
            let window = self.window;
            self.per_key.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < window)
            });
        }
        let window = self.window;
        let times = self.per_key.entry(key.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            times.pop_front();
        }
        times
    }

    /// The time until `key` may make an attempt, if it may not now.
    pub fn wait(&mut self, key: &str, now: Instant) -> Option<Duration> {
        let (max, window) = (self.max, self.window);
        let times = self.recent(key, now);
        if times.len() >= max {
            let oldest = times.front().copied().unwrap_or(now);
            return Some(window.saturating_sub(now.saturating_duration_since(oldest)));
        }
        None
    }

    /// Counts an attempt, or refuses it with the time until one is allowed.
    pub fn try_attempt(&mut self, key: &str, now: Instant) -> Result<(), Duration> {
        if let Some(wait) = self.wait(key, now) {
            return Err(wait);
        }
        self.recent(key, now).push_back(now);
        Ok(())
    }
}

/// Recovery attempts: a few per source and UserID (so guesses from one
/// place lock out only that place), and a higher ceiling per UserID.
#[derive(Debug)]
pub struct RecoveryLimiter {
    per_source_user: AttemptLimiter,
    per_user: AttemptLimiter,
}

impl RecoveryLimiter {
    pub fn new(limits: &Limits) -> Self {
        Self {
            per_source_user: AttemptLimiter::new(limits.recovery_attempts, limits.recovery_window),
            per_user: AttemptLimiter::new(
                limits.recovery_attempts_per_user,
                limits.recovery_window,
            ),
        }
    }

    /// Counts an attempt on `user_id` from `source` against both limits, or
    /// refuses it (counting nothing) with the time until one is allowed.
    pub fn try_attempt(
        &mut self,
        source: Source,
        user_id: &str,
        now: Instant,
    ) -> Result<(), Duration> {
        let pair = format!("{source} {user_id}");
        let wait = [
            self.per_source_user.wait(&pair, now),
            self.per_user.wait(user_id, now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        self.per_source_user.recent(&pair, now).push_back(now);
        self.per_user.recent(user_id, now).push_back(now);
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

    #[test]
    fn recovery_guesses_lock_out_one_source_and_a_user_only_at_its_ceiling() {
        let start = Instant::now();
        let limits = Limits {
            recovery_attempts: 5,
            recovery_attempts_per_user: 12,
            ..Limits::default()
        };
        let mut limiter = RecoveryLimiter::new(&limits);
        let a = Source::of("192.0.2.1".parse().unwrap());
        let b = Source::of("192.0.2.2".parse().unwrap());
        let c = Source::of("192.0.2.3".parse().unwrap());
        for _ in 0..5 {
            assert!(limiter.try_attempt(a, "u@x.org", start).is_ok());
        }
        assert!(
            limiter.try_attempt(a, "u@x.org", start).is_err(),
            "A is out"
        );
        assert!(limiter.try_attempt(a, "v@x.org", start).is_ok(), "per user");
        for _ in 0..5 {
            assert!(limiter.try_attempt(b, "u@x.org", start).is_ok(), "B is not");
        }
        // 10 counted for u; refused ones did not count. Two more reach 12.
        assert!(limiter.try_attempt(c, "u@x.org", start).is_ok());
        assert!(limiter.try_attempt(c, "u@x.org", start).is_ok());
        let wait = limiter.try_attempt(c, "u@x.org", start).unwrap_err();
        assert_eq!(wait, limits.recovery_window, "the user's ceiling");
        let later = start + limits.recovery_window;
        assert!(limiter.try_attempt(a, "u@x.org", later).is_ok());
    }

    #[test]
    fn connections_are_capped_per_source() {
        let of = |text: &str| Source::of(text.parse().unwrap());
        let counts = SourceCounts::default();
        let a = of("192.0.2.7");
        let slots: Vec<_> = (0..3).map(|_| counts.try_enter(a, 3).unwrap()).collect();
        assert!(counts.try_enter(a, 3).is_none(), "a fourth is over the cap");
        assert!(counts.try_enter(of("192.0.2.8"), 3).is_some(), "per source");
        drop(slots);
        assert_eq!(counts.sources(), 0, "forgotten when the last one ends");
        assert!(counts.try_enter(a, 3).is_some());
    }

    #[test]
    fn slow_requests_have_a_budget_per_source() {
        let start = Instant::now();
        let buckets = SourceBuckets::new(6, 2);
        let a = Source::of("192.0.2.1".parse().unwrap());
        let b = Source::of("192.0.2.2".parse().unwrap());
        assert!(buckets.try_take(a, start).is_ok());
        assert!(buckets.try_take(a, start).is_ok());
        let wait = buckets.try_take(a, start).unwrap_err();
        assert_eq!(retry_after_secs(wait), 10, "six a minute");
        assert!(buckets.try_take(b, start).is_ok(), "another source");
        assert!(buckets.try_take(a, start + Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn a_frame_body_gets_time_in_proportion_with_a_floor() {
        let limits = Limits::default();
        assert_eq!(limits.frame_deadline(100), Duration::from_secs(10));
        assert_eq!(limits.frame_deadline(64 << 20), Duration::from_secs(1024));
    }
}
