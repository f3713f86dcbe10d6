//! In-memory rate limits per account and per client (SPEC §9): a sliding
//! window of attempts per key. Limits hold per process.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Debug)]
pub struct RateLimiter {
    max: usize,
    window: Duration,
    hits: Mutex<HashMap<String, Vec<Instant>>>,
}

impl RateLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Records an attempt for `key`; false when the key is over its limit.
    pub fn allow(&self, key: &str) -> bool {
        let now = Instant::now();
        let Ok(mut hits) = self.hits.lock() else {
            return false;
        };
        if hits.len() > 100_000 {
            hits.retain(|_, v| v.iter().any(|t| now.duration_since(*t) < self.window));
        }
        let entry = hits.entry(key.to_string()).or_default();
        entry.retain(|t| now.duration_since(*t) < self.window);
        if entry.len() >= self.max {
            return false;
        }
        entry.push(now);
        true
    }
}

/// The limits of the public and staff pages.
#[derive(Debug)]
pub struct Limits {
    /// Sign-in attempts per account (subscriber number or username).
    pub sign_in_account: RateLimiter,
    /// Sign-in, forgot-password and token attempts per client address.
    pub per_client: RateLimiter,
    /// Reset-link requests per subscriber number.
    pub forgot_account: RateLimiter,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            sign_in_account: RateLimiter::new(10, Duration::from_secs(15 * 60)),
            per_client: RateLimiter::new(60, Duration::from_secs(15 * 60)),
            forgot_account: RateLimiter::new(5, Duration::from_secs(60 * 60)),
        }
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
}
