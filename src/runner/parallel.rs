//! The runner as a [`Lab`]: work handed to N scratch copies at once (`--jobs N`), through
//! the pool. When a copy's tests turn out to import the original tree, copies are of no use
//! for the rest of the trial: the report says why, and the work is done in place.

use super::error::RunnerError;
use super::events::RunnerEvent;
use super::executor::{Lab, ParallelWork};
use super::pool;
use super::scratch::CopyRunner;
use super::trial::Runner;
use crate::outcome::trial::RunCounts;

impl Runner<'_> {
    /// `work` over `items` in `copies` scratch copies at once; their runs count as this
    /// trial's.
    pub(super) fn in_copies<T: Send, R: Send>(
        &mut self,
        items: Vec<T>,
        copies: usize,
        work: &(impl for<'c> Fn(&mut CopyRunner<'c>, T) -> Result<(R, Vec<T>), RunnerError> + Sync),
    ) -> Result<Vec<R>, RunnerError> {
        let context = self.context();
        let start = |number| CopyRunner::new(context, number);
        let pool::PoolOutcome { results, workers } = pool::run(copies, &start, items, work);
        let counts = workers.iter().fold(RunCounts::default(), |mut total, copy| {
            total += copy.counts;
            total
        });
        // The copies are deleted here, before the runner counts their runs as its own.
        drop(workers);
        self.counts += counts;
        results
    }
}

impl Lab for Runner<'_> {
    fn jobs(&self) -> usize {
        self.options.jobs.max(1)
    }

    fn in_parallel<T: Send, R: Send>(
        &mut self,
        items: Vec<T>,
        executors: usize,
        work: &ParallelWork<'_, T, R>,
    ) -> Result<Option<Vec<R>>, RunnerError> {
        if self.jobs.fallback.is_some() {
            return Ok(None);
        }
        let in_copy = |copy: &mut CopyRunner<'_>, item| work(copy, item);
        match self.in_copies(items, executors, &in_copy) {
            Ok(results) => {
                self.jobs.used = self.jobs.used.max(executors);
                Ok(Some(results))
            }
            Err(RunnerError::CopyInvisible(reason)) => {
                self.reporter
                    .report(RunnerEvent::CopiesNotUsed { reason: &reason, during_baseline: false });
                self.jobs.fallback = Some(reason);
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }
}
