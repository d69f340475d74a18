//! The runner: it writes patch sets through the journal, runs the test command, collects
//! what the probe saw, and restores every file before the next patch set. It decides only
//! which runs to make next (screen, bisect, confirm); whether a run is clean is asked of
//! [`crate::verdict`]. Every run is recorded with its log under `.cachescan/runs/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::manifest::Manifest;
use crate::config::options::{RunOptions, Strategy};
use crate::plan::Plan;
use crate::probe::{self, BytecodeCache, Observation, Part, ProbeSetup, ProbeTarget};
use crate::safety::interrupt::Interrupt;
use crate::safety::journal::{Conflict, Journal, JournalError};
use crate::safety::process::{self, RunEnd, RunRequest, SpawnError};
use crate::ui::shell::Shell;
use crate::verdict::{self, BrokenTest};

/// Why a trial stopped early.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum TrialError {
    #[error("interrupted")]
    Interrupted,
    #[error("{} file(s) could not be restored", .0.len())]
    RestoreIncomplete(Vec<Conflict>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Spawn(#[from] SpawnError),
    #[error("{message}")]
    #[diagnostic(code(cachescan::baseline::unusable))]
    Baseline {
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("cannot prepare the test run: {0}")]
    #[diagnostic(code(cachescan::run::setup))]
    Setup(String),
    /// A scratch copy's run did not test the copy (handled by falling back, never shown).
    #[error("scratch copies are not visible to the tests: {0}")]
    #[diagnostic(code(cachescan::run::copy_invisible))]
    CopyInvisible(String),
}

/// One test run: which functions were patched and what came of it.
#[derive(Debug, Clone)]
pub(crate) struct RunRecord {
    pub end: RunEnd,
    pub duration: Duration,
    pub observation: Option<Observation>,
    pub probe_error: Option<String>,
    pub log: PathBuf,
    /// The tests the run was limited to; `None` for the whole suite.
    pub selection: Option<BTreeSet<String>>,
}

impl RunRecord {
    /// Node ids of the tests that ran.
    pub(crate) fn tests_run(&self) -> usize {
        self.observation.as_ref().map_or(0, |observation| observation.tests.len())
    }

    /// The `-v` line of a finished run.
    pub(crate) fn show(&self, shell: &Shell, label: &str, patched: usize) {
        shell.verbose(
            "Ran",
            format!(
                "{label}: {patched} patched, {} tests, {:?} in {:.1} s, log {}",
                self.tests_run(),
                self.end,
                self.duration.as_secs_f64(),
                self.log.display()
            ),
        );
    }
}

/// How a patched run compares with the baseline.
#[derive(Debug, Clone)]
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
}

/// The baseline: the unmodified suite's outcomes, call map and timings.
#[derive(Debug, Clone)]
pub(crate) struct Baseline {
    pub record: RunRecord,
    pub observation: Observation,
    /// Tests that fail already: listed, ignored in comparisons.
    pub failures: BTreeSet<String>,
    /// Taken from `.cachescan/baseline.json` instead of a run.
    pub reused: bool,
    /// How many test processes ran the suite at once, each a part of its files (`--jobs`).
    pub parts: usize,
}

impl Baseline {
    /// The tests that called any of `ids`, by the baseline's call map; `None` when the map
    /// cannot tell (a target was not observed, or was called outside any test).
    pub(crate) fn callers<'i>(
        &self,
        ids: impl IntoIterator<Item = &'i str>,
    ) -> Option<BTreeSet<String>> {
        let mut tests = BTreeSet::new();
        for id in ids {
            // A file the tests never load cannot change any test by being patched.
            let never_loaded =
                self.observation.targets.get(id).is_some_and(|stats| {
                    matches!(stats.state.as_str(), "not-loaded" | "other-file")
                });
            if never_loaded {
                continue;
            }
            let observed =
                self.observation.targets.get(id).is_some_and(|stats| stats.observer == "code-swap");
            let in_session = self
                .observation
                .test_calls
                .get(crate::probe::SESSION_KEY)
                .is_some_and(|calls| calls.get(id).is_some_and(|stats| stats.calls > 0));
            if !observed || in_session {
                return None;
            }
            tests.extend(
                self.observation
                    .test_calls
                    .iter()
                    .filter(|(nodeid, calls)| {
                        *nodeid != crate::probe::SESSION_KEY && calls.contains_key(id)
                    })
                    .map(|(nodeid, _)| nodeid.clone()),
            );
        }
        Some(tests)
    }
}

/// What a whole trial found, for the verdicts.
#[derive(Debug)]
pub(crate) struct TrialResult {
    pub baseline: Baseline,
    /// With `--shard`: the planned functions this shard judges.
    pub assigned: Option<BTreeSet<usize>>,
    /// Per patched function: the run that judges it (clean, or its solo failing run).
    pub evidence: BTreeMap<usize, (RunRecord, RunJudgement)>,
    /// Test runs made (a reused baseline is not one).
    pub test_runs: usize,
    /// Tests executed over all runs.
    pub tests_executed: usize,
    pub jobs: JobsInfo,
    /// [`crate::baseline::tree_hash`] of the project, taken before the first run.
    pub source_sha256: String,
}

/// How parallel the isolation runs were.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct JobsInfo {
    pub requested: usize,
    pub used: usize,
    /// Why copies were not used, when they were asked for and could not be.
    pub fallback: Option<String>,
}

/// The runner for one `apply`.
pub(crate) struct Runner<'a> {
    pub manifest: &'a Manifest,
    pub plan: &'a Plan,
    pub shell: &'a Shell,
    pub interrupt: &'a Interrupt,
    pub journal: &'a mut Journal,
    probe: ProbeSetup,
    state_dir: PathBuf,
    runs_dir: PathBuf,
    progress: ProgressBar,
    runs: usize,
    tests_executed: usize,
    timeout: Duration,
    options: RunOptions,
    baseline: Option<Baseline>,
    /// The tree is hashed once: it keys the baseline cache and names the sources in reports.
    source_sha256: String,
    cache_key: String,
    /// Scratch copies put their source roots first on `PYTHONPATH` (learned from a copy
    /// whose tests imported the original tree).
    source_roots_first: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("runs", &self.runs).finish_non_exhaustive()
    }
}

/// Timeout of the baseline when none is configured: generous, it only guards a hang.
const BASELINE_TIMEOUT: Duration = Duration::from_secs(3600);

impl<'a> Runner<'a> {
    pub(crate) fn new(
        manifest: &'a Manifest,
        plan: &'a Plan,
        shell: &'a Shell,
        interrupt: &'a Interrupt,
        journal: &'a mut Journal,
        state_dir: &std::path::Path,
        options: RunOptions,
    ) -> Result<Self, TrialError> {
        let targets: Vec<ProbeTarget> = plan
            .patched_functions()
            .map(|function| ProbeTarget {
                id: function.id.clone(),
                module: function.module.clone(),
                qualname: function.qualname.clone(),
                path: plan.files[function.file].path.clone(),
            })
            .collect();
        let probe = ProbeSetup::new(
            state_dir,
            &targets,
            BytecodeCache::new(state_dir.join("pycache"), &manifest.root),
        )
        .map_err(|error| TrialError::Setup(error.to_string()))?;
        let runs_dir = state_dir.join("runs");
        let _ = std::fs::remove_dir_all(&runs_dir);
        crate::safety::fsio::create_dir_all(&runs_dir)
            .map_err(|error| TrialError::Setup(error.to_string()))?;
        let progress = if shell.is_terminal()
            && shell.verbosity >= crate::ui::shell::Verbosity::Normal
        {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner:.green} test run {pos}: {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        let timeout = options.timeout.unwrap_or(BASELINE_TIMEOUT);
        let source_sha256 = crate::baseline::tree_hash(&manifest.root);
        let cache_key = crate::baseline::cache_key(manifest, plan, &source_sha256);
        Ok(Self {
            manifest,
            plan,
            shell,
            interrupt,
            journal,
            probe,
            state_dir: state_dir.to_path_buf(),
            runs_dir,
            progress,
            runs: 0,
            tests_executed: 0,
            timeout,
            options,
            baseline: None,
            source_sha256,
            cache_key,
            source_roots_first: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn step(&self, verb: &str, message: String) {
        if self.progress.is_hidden() {
            self.shell.status(verb, &message);
        } else {
            self.progress.set_message(format!("{} {message}", verb.to_lowercase()));
        }
    }

    /// Run the test command with `functions` patched (limited to `selection` when given),
    /// then restore every file.
    pub(crate) fn run_group(
        &mut self,
        functions: &[usize],
        selection: Option<&BTreeSet<String>>,
        label: &str,
    ) -> Result<RunRecord, TrialError> {
        if self.interrupt.is_set() {
            return Err(TrialError::Interrupted);
        }
        self.runs += 1;
        self.progress.set_position(self.runs as u64);
        let log = self.runs_dir.join(log_name("", self.runs, label));
        let prepared = PreparedRun::new(
            &self.probe,
            self.manifest,
            &self.manifest.root,
            log,
            self.runs,
            selection.into(),
            self.timeout,
        )?;
        let outcome = self.patch_and_run(functions, &prepared.request);
        let conflicts = self.journal.restore(false)?;
        if !conflicts.is_empty() {
            return Err(TrialError::RestoreIncomplete(conflicts));
        }
        let record = prepared.finish(outcome?, self.interrupt)?;
        self.tests_executed += record.tests_run();
        record.show(self.shell, label, functions.len());
        Ok(record)
    }

    fn patch_and_run(
        &mut self,
        functions: &[usize],
        request: &RunRequest,
    ) -> Result<process::RunOutcome, TrialError> {
        for (file, patched) in self.plan.patch_files(functions) {
            let file = &self.plan.files[file];
            self.journal.write(&file.path, &file.relative, &file.bytes, &patched.bytes, false)?;
        }
        let journal = &mut *self.journal;
        let mut group_error = None;
        let outcome = process::run(request, self.interrupt, |group| {
            if let Err(error) = journal.set_test_group(Some(group)) {
                group_error = Some(error);
            }
        });
        if let Some(error) = group_error {
            return Err(error.into());
        }
        self.journal.set_test_group(None)?;
        Ok(outcome?)
    }

    /// The baseline from one run of the unmodified suite, in place, checked for being
    /// usable.
    fn run_baseline(&mut self) -> Result<Baseline, TrialError> {
        self.step("Baseline", "running the test suite unmodified".to_owned());
        let record = self.run_group(&[], None, "baseline")?;
        let observation = self.check_baseline(&record)?;
        Ok(self.store_baseline(record, observation, 1))
    }

    /// The cached baseline, unless `--fresh-baseline` or anything it depends on changed.
    fn cached_baseline(&mut self) -> Option<Baseline> {
        if self.options.fresh_baseline {
            return None;
        }
        let cached = crate::baseline::load(&self.state_dir, &self.cache_key)?;
        self.shell
            .status("Baseline", "reused: sources, test command and environment are unchanged");
        let record = RunRecord {
            end: RunEnd::Exited(Some(0)),
            duration: Duration::from_secs_f64(cached.duration_s),
            observation: Some(cached.observation.clone()),
            probe_error: None,
            log: crate::baseline::path(&self.state_dir),
            selection: None,
        };
        Some(self.accept_baseline(record, cached.observation, true, cached.parts))
    }

    fn store_baseline(
        &mut self,
        record: RunRecord,
        observation: Observation,
        parts: usize,
    ) -> Baseline {
        let duration_s = record.duration.as_secs_f64();
        crate::baseline::store(&self.state_dir, &self.cache_key, &observation, duration_s, parts);
        self.accept_baseline(record, observation, false, parts)
    }

    fn accept_baseline(
        &mut self,
        record: RunRecord,
        observation: Observation,
        reused: bool,
        parts: usize,
    ) -> Baseline {
        if self.options.timeout.is_none() {
            self.timeout = Duration::from_secs_f64((record.duration.as_secs_f64() * 5.0).max(60.0));
        }
        let failures = verdict::baseline_failures(&observation);
        let baseline = Baseline { record, observation, failures, reused, parts };
        self.baseline = Some(baseline.clone());
        baseline
    }

    /// A baseline must have run pytest, collected tests and had no collection errors.
    fn check_baseline(&self, record: &RunRecord) -> Result<Observation, TrialError> {
        let observation = self.check_ran(record)?;
        check_suite(observation, record)
    }

    /// A baseline run (or part of one) must have finished in time and run pytest.
    fn check_ran(&self, record: &RunRecord) -> Result<Observation, TrialError> {
        let tail = || process::log_tail(&record.log, 25);
        let observation = match (&record.end, &record.observation) {
            (RunEnd::TimedOut, _) => {
                return Err(TrialError::Baseline {
                    message: format!(
                        "the baseline test run timed out after {:.0} s",
                        self.timeout.as_secs_f64()
                    ),
                    help: Some("raise project.timeout or --timeout".to_owned()),
                });
            }
            (_, None) => {
                let output = tail();
                let help = if output.contains("No module named pytest")
                    || output.contains("pytest: not found")
                {
                    "pytest is not installed for this Python: python -m pip install pytest"
                        .to_owned()
                } else {
                    format!(
                        "the test command must run pytest; its output is in {}",
                        record.log.display()
                    )
                };
                return Err(TrialError::Baseline {
                    message: format!(
                        "the test command did not run pytest ({}):\n{output}",
                        record.probe_error.clone().unwrap_or_default()
                    ),
                    help: Some(help),
                });
            }
            (_, Some(observation)) => observation.clone(),
        };
        Ok(observation)
    }

    /// With `--jobs N`: the baseline runs as N parts at once, each in a scratch copy
    /// (nothing is patched, so a copy answers as the tree would), and the screen, when
    /// `screen` names functions, runs in the first copy that is free. When the copies turn
    /// out invisible to the tests, the baseline runs again, whole and in place, and the
    /// screen comes back as `Err(reason)`: copies are of no use. When the parts cannot
    /// stand for the whole suite ([`Runner::baseline_from_parts`]), the baseline runs again
    /// too, and the screen stands.
    fn baseline_in_parts(
        &mut self,
        screen: Option<&[usize]>,
    ) -> Result<(Baseline, Result<Option<RunRecord>, String>), TrialError> {
        enum Early {
            Part(Part),
            Screen(Vec<usize>),
        }
        let count = self.jobs();
        let mut early: Vec<Early> =
            (1..=count).map(|index| Early::Part(Part { index, count })).collect();
        early.extend(screen.map(|functions| Early::Screen(functions.to_vec())));
        self.step(
            "Baseline",
            format!("running the test suite unmodified, in {count} parts at once"),
        );
        let (outcome, runs, tests_executed) = crate::scratch::in_copies(
            self.context_for_copies(None),
            &self.progress,
            early,
            count,
            &|copy, run| match run {
                Early::Part(part) => Ok((copy.baseline_part(part)?, Vec::new())),
                Early::Screen(functions) => {
                    copy.announce(
                        "Screening",
                        format!(
                            "{} beside the baseline",
                            crate::ui::text::plural(functions.len(), "target")
                        ),
                    );
                    Ok((copy.screen(&functions)?, Vec::new()))
                }
            },
        );
        self.add_runs(runs, tests_executed);
        let mut records = match outcome {
            Ok(records) => records,
            Err(TrialError::CopyInvisible(reason)) => {
                self.shell.warn(format!(
                    "{reason}; scratch copies are not used, the baseline and every later run happen in place, one at a time"
                ));
                return Ok((self.run_baseline()?, Err(reason)));
            }
            Err(error) => return Err(error),
        };
        let screen = if screen.is_some() { records.pop() } else { None };
        match self.baseline_from_parts(records, count)? {
            Ok(baseline) => Ok((baseline, Ok(screen))),
            Err(reason) => {
                self.shell.warn(format!("{reason}; the baseline runs again, whole and in place"));
                Ok((self.run_baseline()?, Ok(screen)))
            }
        }
    }

    /// One baseline from the records of its parts; `Ok(Err(reason))` when they cannot stand
    /// for a run of the whole suite.
    fn baseline_from_parts(
        &mut self,
        records: Vec<RunRecord>,
        count: usize,
    ) -> Result<Result<Baseline, String>, TrialError> {
        let mut observations = Vec::with_capacity(records.len());
        for record in &records {
            observations.push(self.check_ran(record)?);
        }
        let observation = match probe::merge_parts(observations) {
            Ok(observation) => observation,
            Err(reason) => return Ok(Err(reason)),
        };
        let record = RunRecord {
            end: RunEnd::Exited(
                observation.exitstatus.and_then(|status| i32::try_from(status).ok()),
            ),
            // What one run of the whole suite costs, as later runs' timeout expects.
            duration: records.iter().map(|record| record.duration).sum(),
            observation: Some(observation.clone()),
            probe_error: None,
            log: records[0].log.clone(),
            selection: None,
        };
        let observation = check_suite(observation, &record)?;
        // A test that fails in a part may pass in the whole suite (it needs what a test in
        // another file leaves behind); as a baseline failure it would be ignored by every
        // comparison, and caching could break it unseen. Only a green suite is split.
        let failing = verdict::baseline_failures(&observation).len();
        if failing > 0 {
            return Ok(Err(format!(
                "{} failed in the baseline's parts, and a test may fail only when split from the rest of the suite",
                crate::ui::text::plural(failing, "test")
            )));
        }
        Ok(Ok(self.store_baseline(record, observation, count)))
    }

    /// Compare a patched run with the baseline, over the tests the run was limited to.
    pub(crate) fn judge(&self, record: &RunRecord) -> RunJudgement {
        match &self.baseline {
            Some(baseline) => judge(baseline, self.timeout, record),
            None => RunJudgement::Broken { tests: Vec::new(), reason: "no baseline".to_owned() },
        }
    }

    pub(crate) fn plan(&self) -> &'a Plan {
        self.plan
    }

    pub(crate) fn jobs(&self) -> usize {
        self.options.jobs.max(1)
    }

    /// What scratch copies share with this runner.
    pub(crate) fn copy_context(&self) -> Option<(crate::scratch::CopyContext<'_>, ProgressBar)> {
        let baseline = self.baseline.as_ref()?;
        Some((self.context_for_copies(Some(baseline)), self.progress.clone()))
    }

    /// The context of scratch copies; `baseline` is `None` only while the baseline runs.
    fn context_for_copies<'s>(
        &'s self,
        baseline: Option<&'s Baseline>,
    ) -> crate::scratch::CopyContext<'s> {
        crate::scratch::CopyContext {
            manifest: self.manifest,
            plan: self.plan,
            shell: self.shell,
            interrupt: self.interrupt,
            baseline,
            timeout: self.timeout,
            runs_dir: &self.runs_dir,
            state_dir: &self.state_dir,
            source_roots_first: &self.source_roots_first,
        }
    }

    /// Count runs made elsewhere (scratch copies) as this trial's.
    pub(crate) fn add_runs(&mut self, runs: usize, tests_executed: usize) {
        self.runs += runs;
        self.tests_executed += tests_executed;
    }

    /// The current baseline, once [`Runner::trial`] has it.
    pub(crate) fn baseline_ref(&self) -> Option<&Baseline> {
        self.baseline.as_ref()
    }

    /// Run the chosen strategy over `functions` (indices of planned, patchable functions).
    pub(crate) fn trial(mut self, functions: Vec<usize>) -> Result<TrialResult, TrialError> {
        let RunOptions { strategy, shard, .. } = self.options;
        // With copies, the screen (whole suite, everything patched) runs beside the
        // baseline's parts: it does not need the baseline until it is judged.
        let screen = (strategy == Strategy::Bisect && shard.is_none() && !functions.is_empty())
            .then_some(functions.as_slice());
        let (baseline, early_screen) = match self.cached_baseline() {
            Some(cached) => (cached, Ok(None)),
            None if self.jobs() > 1 => self.baseline_in_parts(screen)?,
            None => (self.run_baseline()?, Ok(None)),
        };
        // A screen whose copy the tests did not see settles that copies are of no use.
        let (early_screen, fallback) = match early_screen {
            Ok(screen) => (screen, None),
            Err(reason) => (None, Some(reason)),
        };
        let assigned = shard.map(|shard| crate::shard::assign(self.plan, &baseline, shard));
        let functions: Vec<usize> = match &assigned {
            Some(assigned) => {
                functions.into_iter().filter(|function| assigned.contains(function)).collect()
            }
            None => functions,
        };
        if let Some(shard) = shard {
            self.shell.status(
                "Shard",
                format!(
                    "{shard}: {} to patch",
                    crate::ui::text::plural(functions.len(), "function")
                ),
            );
        }
        let mut evidence = BTreeMap::new();
        let used = if baseline.reused { 1 } else { baseline.parts };
        let mut jobs = JobsInfo { requested: self.options.jobs, used, fallback };
        match strategy {
            Strategy::Individual => {
                let singles = functions.into_iter().map(|function| vec![function]).collect();
                let tried = crate::search::in_parallel(
                    &mut self,
                    singles,
                    &mut jobs,
                    |executor, group| {
                        let function = group[0];
                        executor.announce("Trying", executor_id(executor, function));
                        let label = format!("individual-{}", executor_id(executor, function));
                        let found = executor.try_group(&[function], None, &label)?;
                        Ok(found.map(|found| vec![(function, found)]).unwrap_or_default())
                    },
                )?;
                evidence.extend(tried.into_iter().flatten());
            }
            Strategy::Bisect => {
                crate::search::bisect(&mut self, functions, early_screen, &mut evidence, &mut jobs)?
            }
        }
        self.progress.finish_and_clear();
        Ok(TrialResult {
            baseline,
            assigned,
            evidence,
            test_runs: self.runs,
            tests_executed: self.tests_executed,
            jobs,
            source_sha256: self.source_sha256,
        })
    }
}

/// Compare a patched run with the baseline, over the tests the run was limited to.
pub(crate) fn judge(baseline: &Baseline, timeout: Duration, record: &RunRecord) -> RunJudgement {
    match (&record.end, &record.observation) {
        (RunEnd::TimedOut, _) => RunJudgement::Broken {
            tests: Vec::new(),
            reason: format!(
                "the test run timed out after {:.0} s and was killed",
                timeout.as_secs_f64()
            ),
        },
        (_, None) => RunJudgement::Broken {
            tests: Vec::new(),
            reason: format!(
                "the test run crashed: {}",
                record.probe_error.clone().unwrap_or_default()
            ),
        },
        (_, Some(observation)) => {
            let expected = match &record.selection {
                None => std::borrow::Cow::Borrowed(&baseline.observation),
                Some(selection) => {
                    std::borrow::Cow::Owned(restrict(&baseline.observation, selection))
                }
            };
            let tests = verdict::broken_tests(&expected, observation, &baseline.failures);
            let collect_errors = observation.collect_errors.len();
            if let Some((nodeid, message)) = observation.collect_errors.first() {
                // Collection broke (an import-time failure): that is the news, not the
                // tests that went missing because of it.
                let reason = format!(
                    "{collect_errors} collection error(s), the first in {nodeid}: {message}"
                );
                RunJudgement::Broken { tests, reason }
            } else if !tests.is_empty() {
                let reason =
                    format!("{} changed outcome", crate::ui::text::plural(tests.len(), "test"));
                RunJudgement::Broken { tests, reason }
            } else if collect_errors > 0 {
                RunJudgement::Broken {
                    tests,
                    reason: format!("{collect_errors} collection error(s)"),
                }
            } else {
                RunJudgement::Clean
            }
        }
    }
}

/// A baseline must have collected tests and had no collection errors.
fn check_suite(observation: Observation, record: &RunRecord) -> Result<Observation, TrialError> {
    let tail = || process::log_tail(&record.log, 25);
    if !observation.collect_errors.is_empty() {
        let errors: Vec<String> = observation
            .collect_errors
            .iter()
            .map(|(nodeid, message)| format!("  {nodeid}: {message}"))
            .collect();
        return Err(TrialError::Baseline {
            message: format!(
                "the baseline run has collection errors:\n{}\n\n{}",
                errors.join("\n"),
                tail()
            ),
            help: Some(
                "fix the test suite so that `pytest --collect-only` succeeds, then run again"
                    .to_owned(),
            ),
        });
    }
    if observation.tests.is_empty() {
        return Err(TrialError::Baseline {
            message: format!("the baseline run collected no tests:\n{}", tail()),
            help: Some(
                "check `project.test_command` and that it runs in the project root".to_owned(),
            ),
        });
    }
    Ok(observation)
}

/// `002-confirm-pkg-mod-f.log`: runs in order, named by what they did.
pub(crate) fn log_name(prefix: &str, run: usize, label: &str) -> String {
    let slug: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!("{prefix}{run:03}-{slug}.log")
}

/// One test run prepared, in place or in a scratch copy: the request with the probe's
/// environment, and where the probe will answer.
pub(crate) struct PreparedRun {
    pub request: RunRequest,
    output: PathBuf,
    selection: Option<BTreeSet<String>>,
    bytecode: BytecodeCache,
}

/// Which tests of the suite one run runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'s> {
    /// The whole suite.
    Suite,
    /// Only these node ids.
    Selected(&'s BTreeSet<String>),
    /// One part of the suite, split by test file (a baseline run in parts).
    Part(Part),
}

impl<'s> From<Option<&'s BTreeSet<String>>> for Scope<'s> {
    fn from(selection: Option<&'s BTreeSet<String>>) -> Self {
        selection.map_or(Scope::Suite, Scope::Selected)
    }
}

impl PreparedRun {
    pub(crate) fn new(
        probe: &ProbeSetup,
        manifest: &Manifest,
        cwd: &std::path::Path,
        log: PathBuf,
        run: usize,
        scope: Scope<'_>,
        timeout: Duration,
    ) -> Result<Self, TrialError> {
        let setup = |error: std::io::Error| TrialError::Setup(error.to_string());
        let output = probe.output_dir(run).map_err(setup)?;
        let (selection, part) = match scope {
            Scope::Suite => (None, None),
            Scope::Selected(nodeids) => (Some(nodeids), None),
            Scope::Part(part) => (None, Some(part)),
        };
        let selection_file = match selection {
            Some(nodeids) => Some(probe.write_selection(run, nodeids).map_err(setup)?),
            None => None,
        };
        let mut env = manifest.env.clone();
        env.extend(probe.environment(&manifest.env, &output, selection_file.as_deref(), part));
        let request = RunRequest {
            argv: manifest.test_command.clone(),
            cwd: cwd.to_path_buf(),
            env,
            env_remove: ProbeSetup::environment_removed(),
            log,
            timeout,
        };
        Ok(Self {
            request,
            output,
            selection: selection.cloned(),
            bytecode: probe.bytecode().clone(),
        })
    }

    /// The record of the finished run (files already restored); an interrupt stops here.
    pub(crate) fn finish(
        self,
        outcome: process::RunOutcome,
        interrupt: &Interrupt,
    ) -> Result<RunRecord, TrialError> {
        self.bytecode.forget_project();
        if outcome.end == RunEnd::Interrupted || interrupt.is_set() {
            return Err(TrialError::Interrupted);
        }
        let (observation, probe_error) = match probe::collect(&self.output) {
            Ok(observation) => (Some(observation), None),
            Err(error) => (None, Some(error.to_string())),
        };
        Ok(RunRecord {
            end: outcome.end,
            duration: outcome.duration,
            observation,
            probe_error,
            log: self.request.log,
            selection: self.selection,
        })
    }
}

/// The id of a planned function, for any executor.
fn executor_id(executor: &dyn Executor, function: usize) -> String {
    executor.plan().functions[function].id.clone()
}

/// Where patched test runs happen: the user's tree through the journal ([`Runner`]), or a
/// scratch copy ([`crate::scratch::CopyRunner`]). The culprit search works on either.
pub(crate) trait Executor {
    /// Run `functions` patched, limited to `selection` (`None`: the whole suite), and put
    /// every file back.
    fn run_patched(
        &mut self,
        functions: &[usize],
        selection: Option<&BTreeSet<String>>,
        label: &str,
    ) -> Result<RunRecord, TrialError>;

    /// Compare a run with the baseline.
    fn judge_run(&self, record: &RunRecord) -> Result<RunJudgement, TrialError>;

    /// Say what is being run.
    fn announce(&self, verb: &str, message: String);

    /// The plan the runs patch.
    fn plan(&self) -> &Plan;

    /// Run a group and judge it; `None` when the selection is empty (no test can change,
    /// so the group is clean without a run).
    fn try_group(
        &mut self,
        functions: &[usize],
        selection: Option<&BTreeSet<String>>,
        label: &str,
    ) -> Result<Option<(RunRecord, RunJudgement)>, TrialError> {
        if selection.is_some_and(BTreeSet::is_empty) {
            return Ok(None);
        }
        let record = self.run_patched(functions, selection, label)?;
        let judgement = self.judge_run(&record)?;
        Ok(Some((record, judgement)))
    }
}

impl Executor for Runner<'_> {
    fn run_patched(
        &mut self,
        functions: &[usize],
        selection: Option<&BTreeSet<String>>,
        label: &str,
    ) -> Result<RunRecord, TrialError> {
        self.run_group(functions, selection, label)
    }

    fn judge_run(&self, record: &RunRecord) -> Result<RunJudgement, TrialError> {
        Ok(self.judge(record))
    }

    fn announce(&self, verb: &str, message: String) {
        self.step(verb, message);
    }

    fn plan(&self) -> &Plan {
        self.plan
    }
}

/// The baseline's results for the selected tests only.
fn restrict(observation: &Observation, selection: &BTreeSet<String>) -> Observation {
    let mut restricted = observation.clone();
    restricted.tests.retain(|nodeid, _| selection.contains(nodeid));
    restricted
}
