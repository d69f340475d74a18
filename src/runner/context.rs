//! What every executor of one trial shares, read-only: the manifest and plan, where events
//! go, the interrupt flag, the state directory, the runs' timeout and (once it exists) the
//! baseline runs are judged against.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::error::RunnerError;
use super::events::Reporter;
use crate::config::manifest::Manifest;
use crate::outcome::baseline::Baseline;
use crate::outcome::judgement::RunJudgement;
use crate::outcome::record::RunRecord;
use crate::plan::Plan;
use crate::probe::ProbeTarget;
use crate::safety::interrupt::Interrupt;
use crate::safety::state_dir::StateDir;

#[derive(Clone, Copy)]
pub(crate) struct RunContext<'a> {
    pub manifest: &'a Manifest,
    pub plan: &'a Plan,
    pub reporter: &'a dyn Reporter,
    pub interrupt: &'a Interrupt,
    pub state: &'a StateDir,
    pub timeout: Duration,
    /// `None` only while the baseline runs (a screen beside it is judged later).
    pub baseline: Option<&'a Baseline>,
    /// Set once a scratch copy's tests imported the original tree: from then on every copy
    /// puts its source roots first on `PYTHONPATH`.
    pub source_roots_first: &'a AtomicBool,
    /// How the baseline checks would-be hits (`CACHESCAN_PROBE_VERIFY`); `None`: no checks.
    pub verify: Option<&'a str>,
}

impl std::fmt::Debug for RunContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl RunContext<'_> {
    /// Compare a run with the baseline.
    pub(crate) fn judge(&self, record: &RunRecord) -> Result<RunJudgement, RunnerError> {
        let baseline = self.baseline.ok_or(RunnerError::NoBaseline)?;
        Ok(crate::verdict::compare::judge(baseline, self.timeout, record))
    }
}

/// The probe's target list: each file where the plan found it, or under `copy_root` for a
/// scratch copy.
pub(crate) fn probe_targets(plan: &Plan, copy_root: Option<&Path>) -> Vec<ProbeTarget> {
    plan.patched_functions()
        .map(|function| {
            let file = plan.file_of(function);
            ProbeTarget {
                id: function.id.clone(),
                module: function.module.clone(),
                qualname: function.qualname.clone(),
                path: copy_root.map_or_else(|| file.path.clone(), |root| root.join(&file.relative)),
                typed: function.typed,
                maxsize: function.cache_size,
            }
        })
        .collect()
}
