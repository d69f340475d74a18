//! How the runner meets its reporter: it says what happens as [`RunnerEvent`]s and never
//! formats a line or draws a progress bar itself (as nextest's runner meets its reporter
//! only through an event enum). The reporter (`report::progress`) decides the words, the
//! colours and the progress line.

use std::path::Path;

use crate::config::options::Shard;
use crate::outcome::record::RunRecord;

/// What the runner is doing now: the progress line, or a status line without a terminal.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step<'e> {
    /// The unmodified suite, whole (`parts` 1) or in parts at once; `checked`: every
    /// would-be cache hit checked (`--verify-hits`).
    Baseline { parts: usize, checked: bool },
    /// The screen (every target cached, the whole suite) in a copy beside the baseline.
    ScreeningBesideBaseline { targets: usize },
    /// The screen, in place.
    Screening { targets: usize },
    /// A group of targets, to halve the suspects.
    Bisecting { targets: usize },
    /// One suspect alone.
    Confirming { id: &'e str },
    /// The targets left after the culprits, together.
    ConfirmingRest { targets: usize },
    /// A suspect's tests again, uncached (a control for order-dependent tests).
    Controlling { id: &'e str },
    /// One target alone (`--strategy individual`, or after an interaction).
    Trying { id: &'e str },
}

/// Something the runner did that a user may want to see.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RunnerEvent<'e> {
    /// A step begins; `copy` names the scratch copy it runs in.
    Step { step: Step<'e>, copy: Option<&'e str> },
    /// A run in place starts; runs are numbered from 1 over the whole trial.
    RunStarted { number: usize },
    /// A run finished (`label` as in its log's name).
    RunFinished { label: &'e str, copy: Option<&'e str>, patched: usize, record: &'e RunRecord },
    /// A scratch copy's tests imported the original tree; the run goes again with the copy's
    /// source roots first on `PYTHONPATH`.
    RetryingWithSourceRootsFirst { label: &'e str, reason: &'e str },
    /// The cached baseline still matches and is used.
    BaselineReused,
    /// The baseline's checks found `targets` functions whose would-be cache hits differ
    /// from the calls themselves: unsafe, and left out of every later run.
    HitsDiverged { targets: usize },
    /// The baseline's parts cannot stand for the whole suite; it runs again whole.
    BaselinePartsRejected { reason: &'e str },
    /// Scratch copies cannot stand for the tree (the tests import the original, or a
    /// planned file lies outside the project): every run from now on happens in place.
    CopiesNotUsed { reason: &'e str, during_baseline: bool },
    /// `--shard`: how many functions this shard patches.
    ShardAssigned { shard: Shard, functions: usize },
    /// A test run that a killed cachescan left behind is being stopped.
    StoppingOrphan { group: u32, in_copy: bool },
    /// A scratch copy that a killed cachescan left behind is being deleted.
    RemovingCopy { dir: &'e Path },
    /// The trial is over: the progress line goes.
    Finished,
}

/// Receives the runner's events. Scratch copies report from their own threads.
pub(crate) trait Reporter: Sync {
    fn report(&self, event: RunnerEvent<'_>);
}
