//! The baseline: the unmodified suite's outcomes, call map, timings and checks of would-be
//! cache hits, and the one query the search and the shards ask of it: which tests call a
//! function.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::probe::protocol::{Divergence, ProbeVerify};
use crate::probe::{Observation, SESSION_KEY};

/// The baseline: what the unmodified suite did.
#[derive(Debug, Clone)]
pub(crate) struct Baseline {
    pub observation: Observation,
    /// What one run of the whole suite costs (the sum of its parts when run in parts).
    pub duration: Duration,
    /// Tests that fail already: listed, ignored in comparisons.
    pub failures: BTreeSet<String>,
    /// Taken from `.cachescan/baseline.json` instead of a run.
    pub reused: bool,
    /// How many test processes ran the suite at once, each a part of its files (`--jobs`).
    pub parts: usize,
}

impl Baseline {
    pub(crate) fn new(
        observation: Observation,
        duration: Duration,
        reused: bool,
        parts: usize,
    ) -> Self {
        let failures = observation.failing_tests();
        Self { observation, duration, failures, reused, parts }
    }

    /// What the checks saw of a target's would-be hits (`--verify-hits`); `None` without
    /// checks, or when the target could not be observed.
    pub(crate) fn checks(&self, id: &str) -> Option<&ProbeVerify> {
        self.observation.targets.get(id)?.verify.as_ref()
    }

    /// A target's first divergent would-be hit, if any.
    pub(crate) fn divergence(&self, id: &str) -> Option<&Divergence> {
        self.checks(id)?.divergence.as_ref()
    }

    /// Whether hashing a call's key called the target again (its class's `__hash__` or
    /// `__eq__` reads it): cached, every call would recurse.
    pub(crate) fn reentrant(&self, id: &str) -> bool {
        self.observation
            .targets
            .get(id)
            .and_then(|stats| stats.reuse.as_ref())
            .is_some_and(|reuse| reuse.reentrant > 0)
    }

    /// The tests that called any of `ids`, by the baseline's call map; `None` when the map
    /// cannot tell (a target was not observed, or was called outside any test).
    pub(crate) fn callers<'i>(
        &self,
        ids: impl IntoIterator<Item = &'i str>,
    ) -> Option<BTreeSet<String>> {
        let mut tests = BTreeSet::new();
        for id in ids {
            let stats = self.observation.targets.get(id);
            // A file the tests never load cannot change any test by being patched.
            if stats.is_some_and(|stats| stats.state.never_loaded()) {
                continue;
            }
            let observed = stats.is_some_and(|stats| stats.is_observed());
            let in_session = self
                .observation
                .test_calls
                .get(SESSION_KEY)
                .is_some_and(|calls| calls.get(id).is_some_and(|stats| stats.calls > 0));
            if !observed || in_session {
                return None;
            }
            tests.extend(
                self.observation
                    .test_calls
                    .iter()
                    .filter(|(nodeid, calls)| *nodeid != SESSION_KEY && calls.contains_key(id))
                    .map(|(nodeid, _)| nodeid.clone()),
            );
        }
        Some(tests)
    }
}

/// `parts` of a baseline written before there were parts (the cache, reports): one piece.
pub(crate) fn one_part() -> usize {
    1
}
