//! One test run, as the runner records it: how it ended, how long it took, what the probe
//! saw, where its log is, and which tests it was limited to.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::probe::Observation;
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

    /// Whether collection broke (then its outcomes say little about single tests).
    pub(crate) fn has_collect_errors(&self) -> bool {
        self.observation.as_ref().is_some_and(|observation| !observation.collect_errors.is_empty())
    }
}
