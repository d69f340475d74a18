//! The reporter of a run: the runner's events as status lines on stderr, or, on a terminal,
//! as one progress line ("test run 3: bisecting 8 targets [00:12]") with warnings above it.
//! `-v` adds a line per finished run. The words of every step live here, not in the runner.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::runner::events::{Reporter, RunnerEvent, Step};
use crate::ui::shell::{Shell, Verbosity};
use crate::ui::text::plural;

/// Status lines and the progress line of one command.
#[derive(Debug)]
pub(crate) struct Progress<'s> {
    shell: &'s Shell,
    bar: ProgressBar,
}

impl<'s> Progress<'s> {
    /// A progress line on a terminal at normal verbosity; status lines otherwise.
    pub(crate) fn new(shell: &'s Shell) -> Self {
        let bar = if shell.is_terminal() && shell.verbosity >= Verbosity::Normal {
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
        Self { shell, bar }
    }

    /// Status lines only, never a progress line (commands that run no tests).
    pub(crate) fn lines(shell: &'s Shell) -> Self {
        Self { shell, bar: ProgressBar::hidden() }
    }

    fn warn(&self, message: String) {
        self.bar.suspend(|| self.shell.warn(message));
    }

    /// A status line above the progress line.
    fn status(&self, verb: &str, message: impl std::fmt::Display) {
        self.bar.suspend(|| self.shell.status(verb, message));
    }

    /// A `-v` line above the progress line.
    fn verbose(&self, verb: &str, message: impl std::fmt::Display) {
        self.bar.suspend(|| self.shell.verbose(verb, message));
    }

    fn step(&self, step: Step<'_>, copy: Option<&str>) {
        let (verb, message) = words(step);
        if self.bar.is_hidden() {
            match copy {
                Some(copy) => self.status(verb, format!("{message} ({copy})")),
                None => self.status(verb, message),
            }
        } else {
            self.bar.set_message(format!("{} {message}", verb.to_lowercase()));
        }
    }
}

/// A command that stops early (an error, an interrupt) leaves no progress line behind its
/// diagnostics.
impl Drop for Progress<'_> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The verb and message of a step.
fn words(step: Step<'_>) -> (&'static str, String) {
    match step {
        Step::Baseline { parts, checked } => {
            let mut words = "running the test suite unmodified".to_owned();
            if parts > 1 {
                words.push_str(&format!(", in {parts} parts at once"));
            }
            if checked {
                words.push_str(", checking every would-be cache hit");
            }
            ("Baseline", words)
        }
        Step::ScreeningBesideBaseline { targets } => {
            ("Screening", format!("{} beside the baseline", plural(targets, "target")))
        }
        Step::Screening { targets } => ("Screening", plural(targets, "target")),
        Step::Bisecting { targets } => ("Bisecting", plural(targets, "target")),
        Step::Confirming { id } => ("Confirming", id.to_owned()),
        Step::ConfirmingRest { targets } => {
            ("Confirming", format!("{} together", plural(targets, "remaining target")))
        }
        Step::Controlling { id } => ("Controlling", format!("{id}: its tests, uncached")),
        Step::Trying { id } => ("Trying", id.to_owned()),
    }
}

impl Reporter for Progress<'_> {
    fn report(&self, event: RunnerEvent<'_>) {
        match event {
            RunnerEvent::Step { step, copy } => self.step(step, copy),
            RunnerEvent::RunStarted { number } => self.bar.set_position(number as u64),
            RunnerEvent::RunFinished { label, copy, patched, record } => {
                let label = match copy {
                    Some(copy) => format!("{label} ({copy})"),
                    None => label.to_owned(),
                };
                self.verbose(
                    "Ran",
                    format!(
                        "{label}: {patched} patched, {} tests, {:?} in {:.1} s, log {}",
                        record.tests_run(),
                        record.end,
                        record.duration.as_secs_f64(),
                        record.log.display()
                    ),
                );
            }
            RunnerEvent::RetryingWithSourceRootsFirst { label, reason } => self.verbose(
                "Retrying",
                format!("{label} with the copy's source roots first on PYTHONPATH: {reason}"),
            ),
            RunnerEvent::BaselineReused => self.status("Baseline", "reused: sources, test command and environment are unchanged"),
            RunnerEvent::HitsDiverged { targets } => self.status(
                "Verified",
                format!(
                    "{} diverged: a would-be cache hit differs from the call itself, or hashing its key calls it again (unsafe, not run with a cache)",
                    plural(targets, "target")
                ),
            ),
            RunnerEvent::BaselinePartsRejected { reason } => {
                self.warn(format!("{reason}; the baseline runs again, whole and in place"));
            }
            RunnerEvent::CopiesNotUsed { reason, during_baseline: true } => self.warn(format!(
                "{reason}; scratch copies are not used, the baseline and every later run happen in place, one at a time"
            )),
            RunnerEvent::CopiesNotUsed { reason, during_baseline: false } => self.warn(format!(
                "{reason}; scratch copies are not used, runs continue in place, one at a time"
            )),
            RunnerEvent::ShardAssigned { shard, functions } => self.status("Shard", format!("{shard}: {} to patch", plural(functions, "function"))),
            RunnerEvent::StoppingOrphan { group, in_copy: true } => self.status(
                "Stopping",
                format!("a test run left behind in a scratch copy (process group {group})"),
            ),
            RunnerEvent::StoppingOrphan { group, in_copy: false } => self.status(
                "Stopping",
                format!("the test run left behind (process group {group})"),
            ),
            RunnerEvent::RemovingCopy { dir } => {
                self.status("Removing", format!("scratch copy {}", dir.display()));
            }
            RunnerEvent::Finished => self.bar.finish_and_clear(),
        }
    }
}
