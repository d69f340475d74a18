//! The traits the culprit search runs against, so it can be driven by a fake in unit tests.
//!
//! An [`Executor`] runs one patch set and judges the run: the user's tree through the
//! journal (the runner), or one scratch copy. A [`Lab`] is an executor that can also hand
//! work to several executors at once (scratch copies, `--jobs N`).

use std::collections::BTreeSet;

use super::error::RunnerError;
use super::events::Step;
use crate::outcome::judgement::{Judged, RunJudgement};
use crate::outcome::record::RunRecord;
use crate::plan::FunctionIndex;

/// Where patched test runs happen.
pub(crate) trait Executor {
    /// Run `functions` patched, limited to `selection` (`None`: the whole suite), and put
    /// every file back.
    fn run_patched(
        &mut self,
        functions: &[FunctionIndex],
        selection: Option<&BTreeSet<String>>,
        label: &str,
    ) -> Result<RunRecord, RunnerError>;

    /// Compare a run with the baseline.
    fn judge_run(&self, record: &RunRecord) -> Result<RunJudgement, RunnerError>;

    /// Say what is being run.
    fn announce(&self, step: Step<'_>);

    /// Run a group and judge it; `None` when the selection is empty (no test can change,
    /// so the group is clean without a run).
    fn try_group(
        &mut self,
        functions: &[FunctionIndex],
        selection: Option<&BTreeSet<String>>,
        label: &str,
    ) -> Result<Option<Judged>, RunnerError> {
        if selection.is_some_and(BTreeSet::is_empty) {
            return Ok(None);
        }
        let record = self.run_patched(functions, selection, label)?;
        let judgement = self.judge_run(&record)?;
        Ok(Some(Judged::new(record, judgement)))
    }
}

/// Work for one item in a parallel executor: a result, and more items to queue.
pub(crate) type ParallelWork<'w, T, R> =
    dyn Fn(&mut dyn Executor, T) -> Result<(R, Vec<T>), RunnerError> + Sync + 'w;

/// An executor that may also run work in several executors at once.
pub(crate) trait Lab: Executor {
    /// How many runs may go at once (`--jobs`).
    fn jobs(&self) -> usize;

    /// Do `work` for every item in `executors` executors at once, each item in the first
    /// one free; work may queue more items. Results come in the order items were queued.
    /// `Ok(None)` when that cannot be done (scratch copies turned out invisible to the
    /// tests, now or before): the caller does the work here instead, one item at a time.
    fn in_parallel<T: Send, R: Send>(
        &mut self,
        items: Vec<T>,
        executors: usize,
        work: &ParallelWork<'_, T, R>,
    ) -> Result<Option<Vec<R>>, RunnerError>;
}
