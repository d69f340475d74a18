//! The runner: it writes patch sets through the journal, runs the test command, collects
//! what the probe saw, and restores every file before the next patch set. It decides only
//! which runs to make next (screen, bisect, confirm); whether a run is clean is asked of
//! [`crate::verdict`]. Every run is recorded with its log under `.cachescan/runs/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::Strategy;
use crate::interrupt::Interrupt;
use crate::journal::{Conflict, Journal, JournalError};
use crate::manifest::Manifest;
use crate::plan::Plan;
use crate::probe::{self, Observation, ProbeSetup, ProbeTarget};
use crate::process::{self, RunEnd, RunRequest, SpawnError};
use crate::shell::Shell;
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
}

/// One test run: which functions were patched and what came of it.
#[derive(Debug, Clone)]
pub(crate) struct RunRecord {
    pub end: RunEnd,
    pub duration: Duration,
    pub observation: Option<Observation>,
    pub probe_error: Option<String>,
    pub log: PathBuf,
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
}

/// What a whole trial found, for the verdicts.
#[derive(Debug)]
pub(crate) struct TrialResult {
    pub baseline: RunRecord,
    pub baseline_failures: BTreeSet<String>,
    /// Per patched function: the run that judges it (clean, or its solo failing run).
    pub evidence: BTreeMap<usize, (RunRecord, RunJudgement)>,
    pub test_runs: usize,
}

/// The runner for one `apply`.
pub(crate) struct Runner<'a> {
    pub manifest: &'a Manifest,
    pub plan: &'a Plan,
    pub shell: &'a Shell,
    pub interrupt: &'a Interrupt,
    pub journal: &'a mut Journal,
    probe: ProbeSetup,
    runs_dir: PathBuf,
    progress: ProgressBar,
    runs: usize,
    timeout: Duration,
    configured_timeout: Option<f64>,
    baseline: Option<(Observation, BTreeSet<String>)>,
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
        configured_timeout: Option<f64>,
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
        let probe =
            ProbeSetup::new(&targets).map_err(|error| TrialError::Setup(error.to_string()))?;
        let runs_dir = state_dir.join("runs");
        let _ = std::fs::remove_dir_all(&runs_dir);
        crate::fsio::create_dir_all(&runs_dir)
            .map_err(|error| TrialError::Setup(error.to_string()))?;
        let progress = if shell.is_terminal() && shell.verbosity >= crate::shell::Verbosity::Normal
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
        let timeout = configured_timeout.map_or(BASELINE_TIMEOUT, Duration::from_secs_f64);
        Ok(Self {
            manifest,
            plan,
            shell,
            interrupt,
            journal,
            probe,
            runs_dir,
            progress,
            runs: 0,
            timeout,
            configured_timeout,
            baseline: None,
        })
    }

    fn step(&self, verb: &str, message: String) {
        if self.progress.is_hidden() {
            self.shell.status(verb, &message);
        } else {
            self.progress.set_message(format!("{} {message}", verb.to_lowercase()));
        }
    }

    /// Run the test command with `functions` patched, then restore every file.
    fn run(&mut self, functions: &[usize], label: &str) -> Result<RunRecord, TrialError> {
        if self.interrupt.is_set() {
            return Err(TrialError::Interrupted);
        }
        self.runs += 1;
        self.progress.set_position(self.runs as u64);
        let slug: String =
            label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let log = self.runs_dir.join(format!("{:03}-{slug}.log", self.runs));
        let output = self
            .probe
            .output_dir(self.runs)
            .map_err(|error| TrialError::Setup(error.to_string()))?;
        let mut env = self.manifest.env.clone();
        env.extend(self.probe.environment(&output));
        let request = RunRequest {
            argv: self.manifest.test_command.clone(),
            cwd: self.manifest.root.clone(),
            env,
            env_remove: ProbeSetup::environment_removed(),
            log: log.clone(),
            timeout: self.timeout,
        };
        let outcome = self.patch_and_run(functions, &request);
        let conflicts = self.journal.restore(false)?;
        if !conflicts.is_empty() {
            return Err(TrialError::RestoreIncomplete(conflicts));
        }
        let outcome = outcome?;
        if outcome.end == RunEnd::Interrupted || self.interrupt.is_set() {
            return Err(TrialError::Interrupted);
        }
        let (observation, probe_error) = match probe::collect(&output) {
            Ok(observation) => (Some(observation), None),
            Err(error) => (None, Some(error.to_string())),
        };
        self.shell.verbose(
            "Ran",
            format!(
                "{label} with {} patched: {:?} in {:.1} s, log {}",
                functions.len(),
                outcome.end,
                outcome.duration.as_secs_f64(),
                log.display()
            ),
        );
        Ok(RunRecord {
            end: outcome.end,
            duration: outcome.duration,
            observation,
            probe_error,
            log,
        })
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

    /// Run the unmodified suite and check that it can serve as the baseline.
    pub(crate) fn baseline(&mut self) -> Result<RunRecord, TrialError> {
        self.step("Baseline", "running the test suite unmodified".to_owned());
        let record = self.run(&[], "baseline")?;
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
        let failures = verdict::baseline_failures(&observation);
        if self.configured_timeout.is_none() {
            self.timeout = Duration::from_secs_f64((record.duration.as_secs_f64() * 5.0).max(60.0));
        }
        self.baseline = Some((observation, failures));
        Ok(record)
    }

    /// Compare a patched run with the baseline.
    pub(crate) fn judge(&self, record: &RunRecord) -> RunJudgement {
        let Some((baseline, ignored)) = &self.baseline else {
            return RunJudgement::Broken { tests: Vec::new(), reason: "no baseline".to_owned() };
        };
        match (&record.end, &record.observation) {
            (RunEnd::TimedOut, _) => RunJudgement::Broken {
                tests: Vec::new(),
                reason: format!(
                    "the test run timed out after {:.0} s and was killed",
                    self.timeout.as_secs_f64()
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
                let tests = verdict::broken_tests(baseline, observation, ignored);
                let collect_errors = observation.collect_errors.len();
                if !tests.is_empty() {
                    let reason = format!(
                        "{} changed outcome",
                        crate::report::plan::plural(tests.len(), "test")
                    );
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

    fn id(&self, function: usize) -> &str {
        &self.plan.functions[function].id
    }

    /// Run the chosen strategy over `functions` (indices of planned, patchable functions).
    pub(crate) fn trial(
        mut self,
        strategy: Strategy,
        functions: Vec<usize>,
    ) -> Result<TrialResult, TrialError> {
        let baseline = self.baseline()?;
        let mut evidence = BTreeMap::new();
        match strategy {
            Strategy::Individual => {
                for function in functions {
                    self.step("Trying", self.id(function).to_owned());
                    let record =
                        self.run(&[function], &format!("individual-{}", self.id(function)))?;
                    let judgement = self.judge(&record);
                    evidence.insert(function, (record, judgement));
                }
            }
            Strategy::Bisect => self.bisect(functions, &mut evidence)?,
        }
        self.progress.finish_and_clear();
        let baseline_failures =
            self.baseline.as_ref().map(|(_, failures)| failures.clone()).unwrap_or_default();
        Ok(TrialResult { baseline, baseline_failures, evidence, test_runs: self.runs })
    }

    /// Screen all at once; isolate culprits by halving; confirm each alone; confirm the rest
    /// together once more.
    fn bisect(
        &mut self,
        functions: Vec<usize>,
        evidence: &mut BTreeMap<usize, (RunRecord, RunJudgement)>,
    ) -> Result<(), TrialError> {
        if functions.is_empty() {
            return Ok(());
        }
        self.step("Screening", crate::report::plan::plural(functions.len(), "target"));
        let screen = self.run(&functions, "screen")?;
        let judgement = self.judge(&screen);
        if judgement.is_clean() {
            for function in functions {
                evidence.insert(function, (screen.clone(), RunJudgement::Clean));
            }
            return Ok(());
        }
        let mut suspects = Vec::new();
        self.isolate(functions.clone(), &mut suspects)?;
        let mut culprits = BTreeSet::new();
        for (function, solo) in suspects {
            let (record, judgement) = match solo {
                Some(found) => found,
                None => {
                    self.step("Confirming", self.id(function).to_owned());
                    let record =
                        self.run(&[function], &format!("confirm-{}", self.id(function)))?;
                    let judgement = self.judge(&record);
                    (record, judgement)
                }
            };
            if !judgement.is_clean() {
                culprits.insert(function);
                evidence.insert(function, (record, judgement));
            }
        }
        let rest: Vec<usize> =
            functions.into_iter().filter(|function| !culprits.contains(function)).collect();
        if rest.is_empty() {
            return Ok(());
        }
        self.step(
            "Confirming",
            format!("{} together", crate::report::plan::plural(rest.len(), "remaining target")),
        );
        let record = self.run(&rest, "confirm-rest")?;
        let judgement = self.judge(&record);
        if judgement.is_clean() {
            for function in rest {
                evidence.insert(function, (record.clone(), RunJudgement::Clean));
            }
            return Ok(());
        }
        // They break tests only together: judge each alone, the slow and certain way.
        for function in rest {
            self.step("Trying", self.id(function).to_owned());
            let record = self.run(&[function], &format!("individual-{}", self.id(function)))?;
            let judgement = self.judge(&record);
            evidence.insert(function, (record, judgement));
        }
        Ok(())
    }

    /// `group` is known to break tests. Halve it until each failing part is one function.
    /// Suspects come with their own solo run when one was made on the way.
    fn isolate(
        &mut self,
        group: Vec<usize>,
        suspects: &mut Vec<(usize, Option<(RunRecord, RunJudgement)>)>,
    ) -> Result<(), TrialError> {
        if group.len() == 1 {
            suspects.push((group[0], None));
            return Ok(());
        }
        let right = group[group.len() / 2..].to_vec();
        let left = group[..group.len() / 2].to_vec();
        self.step("Bisecting", crate::report::plan::plural(group.len(), "target"));
        let record = self.run(&left, &format!("bisect-{}", left.len()))?;
        let judgement = self.judge(&record);
        if judgement.is_clean() {
            // The culprit is on the right; no need to run it to know.
            return self.isolate(right, suspects);
        }
        if left.len() == 1 {
            suspects.push((left[0], Some((record, judgement))));
        } else {
            self.isolate(left, suspects)?;
        }
        let record = self.run(&right, &format!("bisect-{}", right.len()))?;
        let judgement = self.judge(&record);
        if judgement.is_clean() {
            return Ok(());
        }
        if right.len() == 1 {
            suspects.push((right[0], Some((record, judgement))));
            Ok(())
        } else {
            self.isolate(right, suspects)
        }
    }
}
