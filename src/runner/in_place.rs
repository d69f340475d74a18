//! Runs in the user's tree: every patched file goes through the journal (entry and backup
//! durable before the edit), the test run's process group is journaled while it runs (so
//! `cachescan restore` can stop it after `kill -9`), and every file is put back before the
//! next run. A file that cannot be put back stops the trial.

use std::collections::BTreeSet;

use super::error::RunnerError;
use super::events::{RunnerEvent, Step};
use super::executor::Executor;
use super::prepare::{PreparedRun, RunSettings, Scope, log_name};
use super::trial::Runner;
use crate::outcome::judgement::RunJudgement;
use crate::outcome::record::RunRecord;
use crate::plan::FunctionIndex;
use crate::safety::process::{self, RunOutcome, RunRequest};

impl Runner<'_> {
    /// Run the test command in place with `functions` patched, over `scope`, then restore
    /// every file; `baseline`: the unmodified suite, its keys traced and (with
    /// `--verify-hits`) its would-be cache hits checked.
    pub(super) fn run_in_place(
        &mut self,
        functions: &[FunctionIndex],
        scope: Scope<'_>,
        label: &str,
        baseline: bool,
    ) -> Result<RunRecord, RunnerError> {
        if self.interrupt.is_set() {
            return Err(RunnerError::Interrupted);
        }
        self.counts.runs += 1;
        let number = self.counts.runs;
        self.reporter.report(RunnerEvent::RunStarted { number });
        let prepared = PreparedRun::new(
            &self.probe,
            self.manifest,
            &self.manifest.root,
            self.state.runs_dir().join(log_name("", number, label)),
            number,
            RunSettings {
                scope,
                timeout: self.timeout.get(),
                verify: self.verify.as_deref().filter(|_| baseline),
                trace: baseline,
            },
        )?;
        let outcome = self.patch_and_run(functions, &prepared.request);
        let conflicts = self.journal.restore(false)?;
        if !conflicts.is_empty() {
            return Err(RunnerError::RestoreIncomplete(conflicts));
        }
        let record = prepared.finish(outcome?, self.interrupt)?;
        self.counts.tests_executed += record.tests_run();
        self.reporter.report(RunnerEvent::RunFinished {
            label,
            copy: None,
            patched: functions.len(),
            record: &record,
        });
        Ok(record)
    }

    fn patch_and_run(
        &mut self,
        functions: &[FunctionIndex],
        request: &RunRequest,
    ) -> Result<RunOutcome, RunnerError> {
        for patch in self.plan.patch_files(functions) {
            let file = patch.file;
            self.journal.write(
                &file.path,
                &file.relative,
                &file.bytes,
                &patch.patched.bytes,
                false,
            )?;
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
}

impl Executor for Runner<'_> {
    fn run_patched(
        &mut self,
        functions: &[FunctionIndex],
        selection: Option<&BTreeSet<String>>,
        label: &str,
    ) -> Result<RunRecord, RunnerError> {
        self.run_in_place(functions, selection.into(), label, false)
    }

    fn judge_run(&self, record: &RunRecord) -> Result<RunJudgement, RunnerError> {
        self.context().judge(record)
    }

    fn announce(&self, step: Step<'_>) {
        self.reporter.report(RunnerEvent::Step { step, copy: None });
    }
}
