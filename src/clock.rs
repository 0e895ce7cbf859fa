//! Where bytegate reads the time for decisions (deploy windows, job and stage
//! leases, retry delays, staleness, command limits). Injected, so tests drive
//! time instead of sleeping: production uses [`SystemClock`], tests a
//! [`ManualClock`] they move forward.

use chrono::{DateTime, SubsecRound, Utc};
use std::sync::Mutex;
use std::time::Duration;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl Default for ManualClock {
    /// Starts at the real time of its creation, in whole seconds (so times
    /// round-trip through PostgreSQL's microseconds unchanged).
    fn default() -> Self {
        ManualClock::at(Utc::now().trunc_subsecs(0))
    }
}

impl ManualClock {
    /// A clock standing at `at`.
    pub fn at(at: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: Mutex::new(at),
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        if let Ok(mut now) = self.now.lock() {
            *now = now.checked_add_signed(d).unwrap_or(*now);
        }
    }

    /// Sets the clock to `at` (forward or back).
    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut now) = self.now.lock() {
            *now = at;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        // A poisoned lock only means a test thread panicked; its value is still a time.
        match self.now.lock() {
            Ok(now) => *now,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

/// How long ago `then` was at `now` (zero when `then` is in the future).
pub fn since(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (now - then).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = Utc::now();
        let clock = ManualClock::at(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(since(clock.now(), start), Duration::from_secs(90));
        assert_eq!(since(start, clock.now()), Duration::ZERO);
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
