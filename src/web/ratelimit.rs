//! In-memory rate limits (SPEC §9), per process.
//!
//! Keys are the parsed account (normalised subscriber number, staff
//! username or id) and the client address (see [`super::client`]), never the
//! raw text typed. Failed attempts throttle the pair (account, client): an
//! attacker is stopped without stopping the owner on another client. The
//! account as a whole only gets a progressive delay, never a lock. Each map
//! holds a bounded number of keys (least recently used forgotten first),
//! whatever keys arrive.

use lru::LruCache;
use std::{
    collections::VecDeque,
    num::NonZeroUsize,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Keys each limiter remembers at most.
pub const MAX_KEYS: usize = 50_000;

/// A sliding window of events per key, in a bounded map.
#[derive(Debug)]
pub struct RateLimiter {
    max: usize,
    window: Duration,
    hits: Mutex<LruCache<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        Self::with_capacity(max, window, MAX_KEYS)
    }

    pub fn with_capacity(max: usize, window: Duration, keys: usize) -> Self {
        Self {
            max,
            window,
            hits: Mutex::new(LruCache::new(
                NonZeroUsize::new(keys.max(1)).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// Runs `f` on the live events of `key` (expired ones dropped).
    fn with<T>(&self, key: &str, f: impl FnOnce(&mut VecDeque<Instant>, usize) -> T) -> T {
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        if hits.peek(key).is_none() {
            hits.put(key.to_string(), VecDeque::new());
        }
        let entry = hits.get_mut(key).expect("just inserted");
        while entry
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            entry.pop_front();
        }
        let out = f(entry, self.max);
        // Never more than `max` events kept per key.
        while entry.len() > self.max {
            entry.pop_front();
        }
        out
    }

    /// Records an attempt for `key`; false (nothing recorded) when over the limit.
    pub fn allow(&self, key: &str) -> bool {
        self.with(key, |entry, max| {
            if entry.len() >= max {
                return false;
            }
            entry.push_back(Instant::now());
            true
        })
    }

    /// True when `key` has used its allowance (nothing recorded).
    pub fn exceeded(&self, key: &str) -> bool {
        self.with(key, |entry, max| entry.len() >= max)
    }

    /// Records an event for `key` whatever the count.
    pub fn record(&self, key: &str) {
        self.with(key, |entry, _| entry.push_back(Instant::now()));
    }

    /// Live events of `key`.
    pub fn count(&self, key: &str) -> usize {
        self.with(key, |entry, _| entry.len())
    }

    /// Keys currently remembered.
    pub fn keys(&self) -> usize {
        self.hits.lock().map(|h| h.len()).unwrap_or_default()
    }
}

/// Failures of one account (all clients) that pass without any delay.
pub const FREE_FAILURES: usize = 5;
/// Delay added per failure of the account beyond [`FREE_FAILURES`].
pub const DELAY_STEP: Duration = Duration::from_millis(200);
/// The longest delay an account's attempts ever wait.
pub const MAX_DELAY: Duration = Duration::from_secs(3);

/// The progressive delay of an account after `failures` recent failures.
pub fn account_delay(failures: usize) -> Duration {
    let extra = u32::try_from(failures.saturating_sub(FREE_FAILURES)).unwrap_or(u32::MAX);
    DELAY_STEP.saturating_mul(extra).min(MAX_DELAY)
}

/// The limits of the public and staff pages.
#[derive(Debug)]
pub struct Limits {
    /// Failed sign-ins (and password checks) per pair (account, client).
    pub failures_pair: RateLimiter,
    /// Failed sign-ins per account, all clients: only a delay, never a lock.
    pub failures_account: RateLimiter,
    /// Sign-in, forgot-password and token attempts per client address.
    pub per_client: RateLimiter,
    /// Reset-link requests per pair (subscriber number, client).
    pub forgot_pair: RateLimiter,
    /// Reset-link mails per subscriber number, all clients (bounds the mail
    /// its owner receives; high enough that an attacker on one client never
    /// takes the owner's turn).
    pub forgot_account: RateLimiter,
}

impl Default for Limits {
    fn default() -> Self {
        let quarter = Duration::from_secs(15 * 60);
        let hour = Duration::from_secs(60 * 60);
        Self {
            failures_pair: RateLimiter::new(10, quarter),
            failures_account: RateLimiter::new(1000, quarter),
            per_client: RateLimiter::new(60, quarter),
            forgot_pair: RateLimiter::new(5, hour),
            forgot_account: RateLimiter::new(20, hour),
        }
    }
}

/// Outcome of [`Limits::before_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Go on, after this delay (already waited).
    Go,
    /// Refused: too many attempts from this client, or too many failures of this pair.
    Refused,
}

impl Limits {
    fn pair(account: &str, client: &str) -> String {
        format!("{account}|{client}")
    }

    /// Before checking a password of `account` from `client`: refuses an
    /// over-limit client or pair, otherwise waits the account's delay.
    /// `scope` separates the per-client allowances of different pages.
    pub async fn before_attempt(&self, scope: &str, account: &str, client: &str) -> Attempt {
        if !self.per_client.allow(&format!("{scope}:{client}"))
            || self.failures_pair.exceeded(&Self::pair(account, client))
        {
            return Attempt::Refused;
        }
        let delay = account_delay(self.failures_account.count(account));
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Attempt::Go
    }

    /// After a wrong password of `account` from `client`.
    pub fn failed(&self, account: &str, client: &str) {
        self.failures_pair.record(&Self::pair(account, client));
        self.failures_account.record(account);
    }

    /// May a reset link for `account` be sent on behalf of `client`?
    pub fn allow_forgot(&self, account: &str, client: &str) -> bool {
        self.per_client.allow(&format!("forgot:{client}"))
            && self.forgot_pair.allow(&Self::pair(account, client))
            && self.forgot_account.allow(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_and_keeps_keys_apart() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        assert!(l.allow("a"));
        assert!(l.allow("a"));
        assert!(!l.allow("a"));
        assert!(l.allow("b"));
    }

    #[test]
    fn memory_is_bounded_whatever_keys_arrive() {
        let l = RateLimiter::with_capacity(3, Duration::from_secs(60), 1000);
        for i in 0..20_000 {
            l.record(&format!("k{i}"));
        }
        assert_eq!(l.keys(), 1000);
        for _ in 0..100 {
            l.record("one");
        }
        assert_eq!(l.count("one"), 3, "at most `max` events per key");
    }

    #[test]
    fn the_account_delay_grows_and_stays_bounded() {
        assert_eq!(account_delay(0), Duration::ZERO);
        assert_eq!(account_delay(FREE_FAILURES), Duration::ZERO);
        assert!(account_delay(FREE_FAILURES + 2) > account_delay(FREE_FAILURES + 1));
        assert_eq!(account_delay(100_000), MAX_DELAY);
    }

    #[tokio::test]
    async fn failures_stop_the_pair_not_the_owner_elsewhere() {
        let l = Limits::default();
        for _ in 0..10 {
            assert_eq!(
                l.before_attempt("signin", "abonne:10002", "203.0.113.9")
                    .await,
                Attempt::Go
            );
            l.failed("abonne:10002", "203.0.113.9");
        }
        assert_eq!(
            l.before_attempt("signin", "abonne:10002", "203.0.113.9")
                .await,
            Attempt::Refused
        );
        assert_eq!(
            l.before_attempt("signin", "abonne:10002", "198.51.100.7")
                .await,
            Attempt::Go
        );
    }
}
