//! Bounds what one user's comments cost the forge: who holds which role
//! (team membership, write permission) is cached per repository and user for
//! a short time, and command comments and `plan` re-runs are limited per pull
//! request and user per time window. State is per process (a replica's
//! workers share it); the limits bound each process, which is what keeps the
//! forge's rate limit safe.

use crate::clock::since;
use crate::event::PrRef;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a resolved role/permission answer is reused.
pub const PEOPLE_TTL: Duration = Duration::from_secs(60);
/// The window command comments and `plan` re-runs are counted in.
pub const COMMAND_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Command comments one user may post on one PR per window.
pub const COMMANDS_PER_WINDOW: usize = 10;
/// `plan` re-runs one user may ask for on one PR per window.
pub const PLANS_PER_WINDOW: usize = 3;

pub use crate::clock::{Clock, ManualClock, SystemClock};

/// What the forge said about a user in a repository.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    /// Roles held (configured users and teams).
    pub roles: BTreeSet<String>,
    /// Write permission on the repository (looked up only when it can matter).
    pub write: bool,
}

/// Whether a command comment is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Within the limit: run it.
    Run,
    /// Over the limit, for the first time in this stretch: answer once.
    LimitReached,
    /// Over the limit and already told: ignore silently.
    Ignore,
}

#[derive(Default)]
struct Window {
    times: VecDeque<DateTime<Utc>>,
    told: bool,
}

/// `(forge, repo, user)` and `(forge, repo, PR, user)`, lowercase.
type UserKey = (String, String, String);
type PrUserKey = (String, String, u64, String);

struct Inner {
    clock: Arc<dyn Clock>,
    people: Mutex<HashMap<UserKey, (DateTime<Utc>, Person)>>,
    comments: Mutex<HashMap<PrUserKey, Window>>,
    plans: Mutex<HashMap<PrUserKey, Window>>,
}

/// The cache and the limits, shared by a process's workers.
#[derive(Clone)]
pub struct CommandGuard {
    inner: Arc<Inner>,
}

impl Default for CommandGuard {
    fn default() -> Self {
        CommandGuard::new(Arc::new(SystemClock))
    }
}

impl std::fmt::Debug for CommandGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandGuard").finish_non_exhaustive()
    }
}

fn user_key(pr: &PrRef, user: &str) -> UserKey {
    (
        pr.repo.forge.as_str().to_string(),
        pr.repo.full_name.to_ascii_lowercase(),
        user.to_ascii_lowercase(),
    )
}

fn pr_user_key(pr: &PrRef, user: &str) -> PrUserKey {
    let (forge, repo, user) = user_key(pr, user);
    (forge, repo, pr.number, user)
}

/// Counts one attempt in a sliding window of `limit` per [`COMMAND_WINDOW`].
fn admit(
    map: &Mutex<HashMap<PrUserKey, Window>>,
    key: PrUserKey,
    now: DateTime<Utc>,
    limit: usize,
) -> Admission {
    // A poisoned lock only means another worker panicked: refuse, never run unbounded.
    let Ok(mut map) = map.lock() else {
        return Admission::Ignore;
    };
    // Forget windows that have emptied, so the map stays as small as the traffic.
    map.retain(|_, w| {
        w.times
            .back()
            .is_some_and(|t| since(now, *t) < COMMAND_WINDOW)
    });
    let w = map.entry(key).or_default();
    while w
        .times
        .front()
        .is_some_and(|t| since(now, *t) >= COMMAND_WINDOW)
    {
        w.times.pop_front();
    }
    if w.times.len() < limit {
        w.times.push_back(now);
        w.told = false;
        Admission::Run
    } else if !w.told {
        w.told = true;
        Admission::LimitReached
    } else {
        Admission::Ignore
    }
}

impl CommandGuard {
    /// A guard reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> CommandGuard {
        CommandGuard {
            inner: Arc::new(Inner {
                clock,
                people: Mutex::new(HashMap::new()),
                comments: Mutex::new(HashMap::new()),
                plans: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The cached answer about `user` in `pr`'s repository, if still fresh.
    pub fn person(&self, pr: &PrRef, user: &str) -> Option<Person> {
        let now = self.inner.clock.now();
        let people = self.inner.people.lock().ok()?;
        people
            .get(&user_key(pr, user))
            .filter(|(at, _)| since(now, *at) < PEOPLE_TTL)
            .map(|(_, p)| p.clone())
    }

    /// Remembers what the forge said about `user`.
    pub fn remember(&self, pr: &PrRef, user: &str, person: Person) {
        let now = self.inner.clock.now();
        if let Ok(mut people) = self.inner.people.lock() {
            people.retain(|_, (at, _)| since(now, *at) < PEOPLE_TTL);
            people.insert(user_key(pr, user), (now, person));
        }
    }

    /// Counts a comment with commands by `user` on `pr`.
    pub fn admit_comment(&self, pr: &PrRef, user: &str) -> Admission {
        let now = self.inner.clock.now();
        admit(
            &self.inner.comments,
            pr_user_key(pr, user),
            now,
            COMMANDS_PER_WINDOW,
        )
    }

    /// Counts a `plan` re-run asked for by `user` on `pr`; false: over the limit.
    pub fn admit_plan(&self, pr: &PrRef, user: &str) -> bool {
        let now = self.inner.clock.now();
        // Every refusal is answered: it is one line of a comment already admitted.
        let admission = admit(
            &self.inner.plans,
            pr_user_key(pr, user),
            now,
            PLANS_PER_WINDOW,
        );
        if admission != Admission::Run
            && let Ok(mut plans) = self.inner.plans.lock()
            && let Some(w) = plans.get_mut(&pr_user_key(pr, user))
        {
            w.told = false;
        }
        admission == Admission::Run
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ForgeKind, RepoRef};

    fn pr(number: u64) -> PrRef {
        PrRef {
            repo: RepoRef {
                forge: ForgeKind::Github,
                full_name: "acme/app".into(),
                id: None,
            },
            number,
        }
    }

    #[test]
    fn comments_over_the_limit_are_answered_once_until_the_window_moves() {
        let clock = Arc::new(ManualClock::default());
        let g = CommandGuard::new(clock.clone());
        for _ in 0..COMMANDS_PER_WINDOW {
            assert_eq!(g.admit_comment(&pr(1), "Mallory"), Admission::Run);
        }
        assert_eq!(g.admit_comment(&pr(1), "mallory"), Admission::LimitReached);
        assert_eq!(g.admit_comment(&pr(1), "mallory"), Admission::Ignore);
        // Another PR and another user have their own windows.
        assert_eq!(g.admit_comment(&pr(2), "mallory"), Admission::Run);
        assert_eq!(g.admit_comment(&pr(1), "alice"), Admission::Run);
        clock.advance(COMMAND_WINDOW);
        assert_eq!(g.admit_comment(&pr(1), "mallory"), Admission::Run);
    }

    #[test]
    fn plans_are_limited_and_every_refusal_counts_as_refused() {
        let clock = Arc::new(ManualClock::default());
        let g = CommandGuard::new(clock.clone());
        for _ in 0..PLANS_PER_WINDOW {
            assert!(g.admit_plan(&pr(1), "bob"));
        }
        assert!(!g.admit_plan(&pr(1), "bob"));
        assert!(!g.admit_plan(&pr(1), "bob"));
        clock.advance(COMMAND_WINDOW);
        assert!(g.admit_plan(&pr(1), "bob"));
    }

    #[test]
    fn people_are_remembered_for_the_ttl() {
        let clock = Arc::new(ManualClock::default());
        let g = CommandGuard::new(clock.clone());
        let p = Person {
            roles: BTreeSet::from(["dba".to_string()]),
            write: false,
        };
        g.remember(&pr(1), "Carol", p.clone());
        assert_eq!(g.person(&pr(7), "carol"), Some(p), "per repository, any PR");
        clock.advance(PEOPLE_TTL);
        assert_eq!(g.person(&pr(1), "carol"), None);
    }
}
