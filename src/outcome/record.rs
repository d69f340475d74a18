//! One test run, as the runner records it: how it ended, how long it took, what the probe
//! saw, where its log is, and which tests it was limited to.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::probe::protocol::{Divergence, ProbeVerify};
use crate::probe::{Observation, TargetStats};
use crate::safety::process::RunEnd;

/// One test run: which tests ran and what came of it.
#[derive(Debug, Clone)]
pub(crate) struct RunRecord {
    pub end: RunEnd,
    pub duration: Duration,
    /// What the probe saw; `None` when it wrote nothing readable (`probe_error` says why).
    pub observation: Option<Observation>,
    pub probe_error: Option<String>,
    pub log: PathBuf,
    /// The tests the run was limited to; `None` for the whole suite.
    pub selection: Option<BTreeSet<String>>,
}

impl RunRecord {
    /// How many tests ran.
    pub(crate) fn tests_run(&self) -> usize {
        self.observation.as_ref().map_or(0, |observation| observation.tests.len())
    }

    /// What the probe found of one target.
    pub(crate) fn target(&self, id: &str) -> Option<&TargetStats> {
        self.observation.as_ref()?.targets.get(id)
    }

    /// What a checked run's verifier saw of one target's hits.
    pub(crate) fn checks(&self, id: &str) -> Option<&ProbeVerify> {
        self.target(id)?.verify.as_ref()
    }

    /// The divergence of one target in a checked run: its cache answered a hit
    /// differently from a fresh call.
    pub(crate) fn divergence(&self, id: &str) -> Option<&Divergence> {
        self.checks(id).filter(|checks| checks.divergent > 0)?.divergence.as_ref()
    }

    /// Whether collection broke (then its outcomes say little about single tests).
    pub(crate) fn has_collect_errors(&self) -> bool {
        self.observation.as_ref().is_some_and(|observation| !observation.collect_errors.is_empty())
    }
}
