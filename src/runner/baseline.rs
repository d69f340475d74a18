//! Getting the baseline: the cached one while nothing it depends on changed; else one run
//! of the unmodified suite in place; or, with `--jobs N`, N parts at once in scratch copies
//! with the screen beside them. A baseline must have run pytest, collected tests and had no
//! collection errors; otherwise the trial stops with a diagnostic that says why.

use std::sync::Arc;
use std::time::Duration;

use super::baseline_cache;
use super::error::RunnerError;
use super::events::{RunnerEvent, Step};
use super::executor::Executor;
use super::prepare::Scope;
use super::scratch::CopyRunner;
use super::trial::Runner;
use crate::outcome::baseline::Baseline;
use crate::outcome::record::RunRecord;
use crate::plan::FunctionIndex;
use crate::probe::{self, Observation, Part};
use crate::safety::process::{self, RunEnd};
use crate::ui::text::plural;

/// The baseline, and the screen when it ran beside the baseline's parts.
#[derive(Debug)]
pub(super) struct BaselineStart {
    pub baseline: Arc<Baseline>,
    pub early_screen: Option<RunRecord>,
}

/// One run of the baseline in parts: a part of the suite, or the screen beside them.
enum EarlyRun {
    Part(Part),
    Screen(Vec<FunctionIndex>),
}

impl Runner<'_> {
    /// The baseline: cached, run whole in place, or (`--jobs N`) run in N parts at once,
    /// with the screen of `screen`'s functions beside the parts when asked for.
    pub(super) fn get_baseline(
        &mut self,
        screen: Option<&[FunctionIndex]>,
    ) -> Result<BaselineStart, RunnerError> {
        if let Some(baseline) = self.cached_baseline() {
            return Ok(BaselineStart { baseline, early_screen: None });
        }
        if self.options.jobs > 1 && self.jobs.fallback.is_none() {
            return self.baseline_in_parts(screen);
        }
        Ok(BaselineStart { baseline: self.run_baseline()?, early_screen: None })
    }

    /// The cached baseline, unless `--fresh-baseline` or anything it depends on changed.
    fn cached_baseline(&mut self) -> Option<Arc<Baseline>> {
        if self.options.fresh_baseline {
            return None;
        }
        let cached = baseline_cache::load(self.state, &self.cache_key)?;
        self.reporter.report(RunnerEvent::BaselineReused);
        let duration = Duration::from_secs_f64(cached.duration_s);
        Some(self.accept(Baseline::new(cached.observation, duration, true, cached.parts)))
    }

    /// The baseline from one run of the unmodified suite, in place.
    fn run_baseline(&mut self) -> Result<Arc<Baseline>, RunnerError> {
        self.announce(Step::Baseline { parts: 1, checked: self.verify.is_some() });
        let record = self.run_in_place(&[], Scope::Suite, "baseline", true)?;
        let observation = check_suite(check_ran(&record, self.timeout.get())?, &record)?;
        Ok(self.store(observation, record.duration, 1))
    }

    /// With `--jobs N`: the baseline runs as N parts at once, each in a scratch copy
    /// (nothing is patched, so a copy answers as the tree would), and the screen, when
    /// `screen` names functions, runs in the first copy that is free. When the copies turn
    /// out invisible to the tests, the baseline runs again, whole and in place, and copies
    /// are not used again (the screen is dropped: it tested nothing). When the parts cannot
    /// stand for the whole suite ([`Runner::baseline_from_parts`]), the baseline runs again
    /// too, and the screen stands.
    fn baseline_in_parts(
        &mut self,
        screen: Option<&[FunctionIndex]>,
    ) -> Result<BaselineStart, RunnerError> {
        let count = self.options.jobs;
        let mut early: Vec<EarlyRun> =
            (1..=count).map(|index| EarlyRun::Part(Part { index, count })).collect();
        early.extend(screen.map(|functions| EarlyRun::Screen(functions.to_vec())));
        self.announce(Step::Baseline { parts: count, checked: self.verify.is_some() });
        let work = |copy: &mut CopyRunner<'_>, run| {
            let record = match run {
                EarlyRun::Part(part) => copy.baseline_part(part)?,
                EarlyRun::Screen(functions) => {
                    copy.announce(Step::ScreeningBesideBaseline { targets: functions.len() });
                    copy.screen(&functions)?
                }
            };
            Ok((record, Vec::new()))
        };
        let mut records = match self.in_copies(early, count, &work) {
            Ok(records) => records,
            Err(RunnerError::CopyInvisible(reason)) => {
                self.reporter
                    .report(RunnerEvent::CopiesNotUsed { reason: &reason, during_baseline: true });
                self.jobs.fallback = Some(reason);
                return Ok(BaselineStart { baseline: self.run_baseline()?, early_screen: None });
            }
            Err(error) => return Err(error),
        };
        let early_screen = if screen.is_some() { records.pop() } else { None };
        let baseline = match self.baseline_from_parts(records, count)? {
            Ok(baseline) => baseline,
            Err(reason) => {
                self.reporter.report(RunnerEvent::BaselinePartsRejected { reason: &reason });
                self.run_baseline()?
            }
        };
        Ok(BaselineStart { baseline, early_screen })
    }

    /// One baseline from the records of its parts; `Ok(Err(reason))` when they cannot stand
    /// for a run of the whole suite.
    fn baseline_from_parts(
        &mut self,
        records: Vec<RunRecord>,
        count: usize,
    ) -> Result<Result<Arc<Baseline>, String>, RunnerError> {
        let mut observations = Vec::with_capacity(records.len());
        for record in &records {
            observations.push(check_ran(record, self.timeout.get())?);
        }
        let observation = match probe::merge_parts(observations) {
            Ok(observation) => observation,
            Err(reason) => return Ok(Err(reason)),
        };
        // What one run of the whole suite costs, as later runs' timeout expects.
        let duration: Duration = records.iter().map(|record| record.duration).sum();
        let merged = RunRecord {
            end: RunEnd::Exited(
                observation.exitstatus.and_then(|status| i32::try_from(status).ok()),
            ),
            duration,
            observation: None,
            probe_error: None,
            log: records[0].log.clone(),
            selection: None,
        };
        let observation = check_suite(observation, &merged)?;
        // A test that fails in a part may pass in the whole suite (it needs what a test in
        // another file leaves behind); as a baseline failure it would be ignored by every
        // comparison, and caching could break it unseen. Only a green suite is split.
        let failing = observation.failing_tests().len();
        if failing > 0 {
            return Ok(Err(format!(
                "{} failed in the baseline's parts, and a test may fail only when split from the rest of the suite",
                plural(failing, "test")
            )));
        }
        Ok(Ok(self.store(observation, duration, count)))
    }

    /// A baseline that ran: cached for the next `apply`, then accepted.
    fn store(
        &mut self,
        observation: Observation,
        duration: Duration,
        parts: usize,
    ) -> Arc<Baseline> {
        baseline_cache::store(
            self.state,
            &self.cache_key,
            &observation,
            duration.as_secs_f64(),
            parts,
        );
        self.accept(Baseline::new(observation, duration, false, parts))
    }

    /// The baseline of this trial: later runs are judged against it, and their timeout
    /// follows from its duration.
    fn accept(&mut self, baseline: Baseline) -> Arc<Baseline> {
        self.timeout.learn_from_baseline(baseline.duration);
        let baseline = Arc::new(baseline);
        self.baseline = Some(Arc::clone(&baseline));
        baseline
    }
}

/// A baseline run (or part of one) must have finished in time and run pytest.
fn check_ran(record: &RunRecord, timeout: Duration) -> Result<Observation, RunnerError> {
    let tail = || process::log_tail(&record.log, 25);
    match (&record.end, &record.observation) {
        (RunEnd::TimedOut, _) => Err(RunnerError::Baseline {
            message: format!(
                "the baseline test run timed out after {:.0} s",
                timeout.as_secs_f64()
            ),
            help: Some("raise project.timeout or --timeout".to_owned()),
        }),
        (_, None) => {
            let output = tail();
            let help = if output.contains("No module named pytest")
                || output.contains("pytest: not found")
            {
                "pytest is not installed for this Python: python -m pip install pytest".to_owned()
            } else {
                format!(
                    "the test command must run pytest; its output is in {}",
                    record.log.display()
                )
            };
            Err(RunnerError::Baseline {
                message: format!(
                    "the test command did not run pytest ({}):\n{output}",
                    record.probe_error.clone().unwrap_or_default()
                ),
                help: Some(help),
            })
        }
        (_, Some(observation)) => Ok(observation.clone()),
    }
}

/// A baseline must have collected tests and had no collection errors.
fn check_suite(observation: Observation, record: &RunRecord) -> Result<Observation, RunnerError> {
    let tail = || process::log_tail(&record.log, 25);
    if !observation.collect_errors.is_empty() {
        let errors: Vec<String> = observation
            .collect_errors
            .iter()
            .map(|(nodeid, message)| format!("  {nodeid}: {message}"))
            .collect();
        return Err(RunnerError::Baseline {
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
        return Err(RunnerError::Baseline {
            message: format!("the baseline run collected no tests:\n{}", tail()),
            help: Some(
                "check `project.test_command` and that it runs in the project root".to_owned(),
            ),
        });
    }
    Ok(observation)
}
