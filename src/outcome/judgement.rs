//! How a patched run compares with the baseline: clean, or broken with the tests that
//! changed outcome. [`Judged`] is a run together with its judgement, the evidence a verdict
//! rests on.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::record::RunRecord;
use crate::probe::protocol::Outcome;

/// A test whose outcome differs from the baseline (part of the JSON report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BrokenTest {
    pub nodeid: String,
    /// Its outcome in the baseline; `None` for a test the baseline did not have.
    pub baseline: Option<Outcome>,
    /// Its outcome in the run; `None` for a test the run lost.
    pub outcome: Option<Outcome>,
    pub message: Option<String>,
}

/// How a patched run compares with the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunJudgement {
    Clean,
    Broken { tests: Vec<BrokenTest>, reason: String },
}

impl RunJudgement {
    pub(crate) fn is_clean(&self) -> bool {
        matches!(self, RunJudgement::Clean)
    }

    /// Node ids of the broken tests.
    pub(crate) fn broken_nodeids(&self) -> BTreeSet<String> {
        match self {
            RunJudgement::Clean => BTreeSet::new(),
            RunJudgement::Broken { tests, .. } => {
                tests.iter().map(|test| test.nodeid.clone()).collect()
            }
        }
    }

    /// Whether a test went missing (an import-time failure, a crash in the middle).
    pub(crate) fn lost_tests(&self) -> bool {
        matches!(self, RunJudgement::Broken { tests, .. } if tests.iter().any(|test| test.outcome.is_none()))
    }
}

/// A run and what it showed. The record is shared: one screen judges every function that
/// it shows clean.
#[derive(Debug, Clone)]
pub(crate) struct Judged {
    pub record: Arc<RunRecord>,
    pub judgement: RunJudgement,
}

impl Judged {
    pub(crate) fn new(record: RunRecord, judgement: RunJudgement) -> Self {
        Self { record: Arc::new(record), judgement }
    }

    /// The same run, judged clean for another function.
    pub(crate) fn clean(record: &Arc<RunRecord>) -> Self {
        Self { record: Arc::clone(record), judgement: RunJudgement::Clean }
    }

    pub(crate) fn is_clean(&self) -> bool {
        self.judgement.is_clean()
    }
}
