//! One trial: the runs of one `apply`. Get the baseline (cached, whole, or in parts beside
//! the screen: `baseline`), take this shard's functions (`shard`), then run the strategy:
//! the culprit search (`search`) or one run per function. The [`Runner`] holds what the
//! trial shares; it is also the executor that runs in the user's tree (`in_place`) and the
//! lab that hands work to scratch copies (`parallel`).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::context::{RunContext, probe_targets};
use super::error::RunnerError;
use super::events::{Reporter, RunnerEvent};
use super::timeout::Timeout;
use super::{baseline_cache, scratch, search, shard, verify};
use crate::config::manifest::Manifest;
use crate::config::options::{RunOptions, Strategy};
use crate::outcome::baseline::Baseline;
use crate::outcome::trial::{JobsInfo, RunCounts, TrialResult};
use crate::plan::{FunctionIndex, Plan};
use crate::probe::{BytecodeCache, ProbeSetup};
use crate::safety::interrupt::Interrupt;
use crate::safety::journal::Journal;
use crate::safety::state_dir::StateDir;

/// The runner of one `apply`.
pub(crate) struct Runner<'a> {
    pub(super) manifest: &'a Manifest,
    pub(super) plan: &'a Plan,
    pub(super) reporter: &'a dyn Reporter,
    pub(super) interrupt: &'a Interrupt,
    pub(super) state: &'a StateDir,
    pub(super) journal: &'a mut Journal,
    /// The probe of runs in place.
    pub(super) probe: ProbeSetup,
    /// Runs made so far, in place and in copies: numbers the logs of runs in place.
    pub(super) counts: RunCounts,
    pub(super) timeout: Timeout,
    pub(super) options: RunOptions,
    pub(super) baseline: Option<Arc<Baseline>>,
    pub(super) jobs: JobsInfo,
    /// The tree is hashed once: it keys the baseline cache and names the sources in reports.
    pub(super) source_sha256: String,
    pub(super) cache_key: String,
    /// Scratch copies put their source roots first on `PYTHONPATH` (learned from a copy
    /// whose tests imported the original tree).
    pub(super) source_roots_first: AtomicBool,
    /// How the baseline checks would-be hits (`CACHESCAN_PROBE_VERIFY`); `None` with
    /// `--no-verify-hits`.
    pub(super) verify: Option<String>,
}

impl std::fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("counts", &self.counts).finish_non_exhaustive()
    }
}

impl<'a> Runner<'a> {
    pub(crate) fn new(
        manifest: &'a Manifest,
        plan: &'a Plan,
        reporter: &'a dyn Reporter,
        interrupt: &'a Interrupt,
        journal: &'a mut Journal,
        state: &'a StateDir,
        options: RunOptions,
    ) -> Result<Self, RunnerError> {
        let setup = RunnerError::setup("");
        let runs_dir = state.runs_dir();
        let _ = std::fs::remove_dir_all(&runs_dir);
        std::fs::create_dir_all(&runs_dir).map_err(&setup)?;
        let source_sha256 = baseline_cache::tree_hash(&manifest.root);
        let verify = options.verify.probe_setting();
        let cache_key =
            baseline_cache::cache_key(manifest, plan, &source_sha256, verify.as_deref());
        let bytecode = BytecodeCache::new(state.bytecode_dir(), &manifest.root);
        let probe =
            ProbeSetup::new(state.path(), &probe_targets(plan, None), bytecode).map_err(&setup)?;
        Ok(Self {
            manifest,
            plan,
            reporter,
            interrupt,
            state,
            journal,
            probe,
            counts: RunCounts::default(),
            timeout: Timeout::new(options.timeout),
            options,
            baseline: None,
            jobs: JobsInfo { requested: options.jobs, used: 1, fallback: None },
            source_sha256,
            cache_key,
            source_roots_first: AtomicBool::new(false),
            verify,
        })
    }

    /// What executors share, as it stands now.
    pub(super) fn context(&self) -> RunContext<'_> {
        RunContext {
            manifest: self.manifest,
            plan: self.plan,
            reporter: self.reporter,
            interrupt: self.interrupt,
            state: self.state,
            timeout: self.timeout.get(),
            baseline: self.baseline.as_deref(),
            source_roots_first: &self.source_roots_first,
            verify: self.verify.as_deref(),
        }
    }

    /// Only the baseline, cached or run (whole, or in `--jobs` parts): what `discover`
    /// needs. Nothing is patched.
    pub(crate) fn baseline_only(mut self) -> Result<(Arc<Baseline>, RunCounts), RunnerError> {
        self.check_copies();
        let baseline = self.get_baseline(None)?.baseline;
        self.reporter.report(RunnerEvent::Finished);
        Ok((baseline, self.counts))
    }

    /// With `--jobs`, scratch copies cannot stand for a project whose files lie outside it.
    fn check_copies(&mut self) {
        if self.options.jobs > 1
            && let Some(reason) = scratch::files_outside_the_project(self.plan)
        {
            let event = RunnerEvent::CopiesNotUsed { reason: &reason, during_baseline: true };
            self.reporter.report(event);
            self.jobs.fallback = Some(reason);
        }
    }

    /// Run the chosen strategy over `functions` (the plan's patchable functions).
    pub(crate) fn trial(
        mut self,
        functions: Vec<FunctionIndex>,
    ) -> Result<TrialResult, RunnerError> {
        let RunOptions { strategy, shard, .. } = self.options;
        self.check_copies();
        // The screen (whole suite, everything patched) may run beside the baseline's parts:
        // it does not need the baseline until it is judged.
        let screen_early = strategy == Strategy::Bisect && shard.is_none() && !functions.is_empty();
        let start = self.get_baseline(screen_early.then_some(functions.as_slice()))?;
        let baseline = start.baseline;
        self.jobs.used = if baseline.reused { 1 } else { baseline.parts };
        let assigned = shard.map(|shard| shard::assign(self.plan, &baseline, shard));
        let functions: Vec<FunctionIndex> = match &assigned {
            Some(assigned) => {
                functions.into_iter().filter(|function| assigned.contains(function)).collect()
            }
            None => functions,
        };
        if let Some(shard) = shard {
            self.reporter.report(RunnerEvent::ShardAssigned { shard, functions: functions.len() });
        }
        let ids = self.plan.ids();
        // Functions whose would-be hits diverged in the baseline are unsafe on that alone:
        // no run needs them, and the search has fewer culprits to find.
        let verification =
            self.verify.is_some().then(|| verify::diverged(&ids, &baseline, &functions));
        let (functions, screen) = match &verification {
            Some(verification) if !verification.divergent.is_empty() => {
                let targets = verification.divergent.len();
                self.reporter.report(RunnerEvent::HitsDiverged { targets });
                let rest = functions
                    .into_iter()
                    .filter(|function| !verification.divergent.contains(function))
                    .collect();
                (rest, verify::screen_for_the_rest(&self, start.early_screen)?)
            }
            _ => (functions, start.early_screen),
        };
        let evidence = match strategy {
            Strategy::Individual => search::individually(&mut self, &ids, functions)?,
            Strategy::Bisect => search::bisect(&mut self, &ids, &baseline, functions, screen)?,
        };
        self.reporter.report(RunnerEvent::Finished);
        Ok(TrialResult {
            baseline,
            assigned,
            evidence,
            verification,
            counts: self.counts,
            jobs: self.jobs,
            source_sha256: self.source_sha256,
        })
    }
}
