//! Throttles repeated sign-in failures per username, in memory on this node.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Counts failures per key in a sliding window and refuses further attempts past a limit.
#[derive(Debug)]
pub struct FailureThrottle {
    max_failures: u32,
    window: Duration,
    entries: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Above this many keys, expired entries are swept so memory stays bounded.
const SWEEP_ABOVE: usize = 10_000;

impl FailureThrottle {
    /// Allows `max_failures` failures per key within `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when `key` has failed too often recently.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some(&(count, since)) if count >= self.max_failures => {
                let elapsed = since.elapsed();
                if elapsed < self.window {
                    Err((self.window - elapsed).as_secs().max(1))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Records one failure of `key`.
    pub fn failed(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > SWEEP_ABOVE {
            let window = self.window;
            entries.retain(|_, (_, since)| since.elapsed() < window);
        }
        let now = Instant::now();
        let entry = entries.entry(key.to_owned()).or_insert((0, now));
        if entry.1.elapsed() >= self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// Forgets `key`'s failures after a success.
    pub fn succeeded(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_resets_on_success() {
        let t = FailureThrottle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(t.check("alice").is_ok());
            t.failed("alice");
        }
        let wait = t.check("alice").unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(t.check("bob").is_ok(), "other keys are not affected");
        t.succeeded("alice");
        assert!(t.check("alice").is_ok());
    }

    #[test]
    fn window_expires() {
        let t = FailureThrottle::new(1, Duration::ZERO);
        t.failed("x");
        assert!(t.check("x").is_ok());
    }
}
