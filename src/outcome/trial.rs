//! What one trial (the runs of one `apply`) found, for the verdicts and the report.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::baseline::Baseline;
use super::judgement::Judged;
use crate::plan::FunctionIndex;

/// Per patched function: the run that judges it (clean, or its own failing run).
pub(crate) type Evidence = BTreeMap<FunctionIndex, Judged>;

/// Test runs made, and tests executed over them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RunCounts {
    pub runs: usize,
    pub tests_executed: usize,
}

impl std::ops::AddAssign for RunCounts {
    fn add_assign(&mut self, other: Self) {
        self.runs += other.runs;
        self.tests_executed += other.tests_executed;
    }
}

/// How parallel the runs were (part of the JSON report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobsInfo {
    pub requested: usize,
    pub used: usize,
    /// Why copies were not used, when they were asked for and could not be.
    pub fallback: Option<String>,
}

/// What the baseline's checks found (`--verify-hits`).
#[derive(Debug)]
pub(crate) struct Verification {
    /// The functions whose would-be hits diverged from the calls themselves: unsafe.
    pub divergent: BTreeSet<FunctionIndex>,
}

/// What a whole trial found.
#[derive(Debug)]
pub(crate) struct TrialResult {
    pub baseline: Arc<Baseline>,
    /// With `--shard`: the planned functions this shard judges.
    pub assigned: Option<BTreeSet<FunctionIndex>>,
    pub evidence: Evidence,
    /// The checks' findings; `None` with `--no-verify-hits`.
    pub verification: Option<Verification>,
    /// Test runs made (a reused baseline is not one) and tests executed.
    pub counts: RunCounts,
    pub jobs: JobsInfo,
    /// The hash of the project tree, taken before the first run.
    pub source_sha256: String,
}
