//! Analysis: pure functions from what the runs recorded to verdicts. No I/O, no processes:
//! the runner records, this layer judges. `compare` holds a run against the baseline test
//! by test (the runner asks it after every run); `thresholds` reads the probe's statistics;
//! `decide` gives every planned function its [`FunctionVerdict`]; `curve` turns a function's
//! key reuse into the hit rate of every cache size.

pub(crate) mod compare;
pub(crate) mod curve;
mod decide;
pub(crate) mod discover;
mod thresholds;

use serde::{Deserialize, Serialize};

pub(crate) use decide::decide;
pub(crate) use thresholds::hit_rate;

use crate::outcome::judgement::BrokenTest;
use crate::plan::FunctionIndex;
use crate::probe::TargetStats;
use crate::probe::protocol::ProbeVerify;

/// The verdict on one function (part of the JSON interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Safe,
    LowHitRate,
    NotCalled,
    Invisible,
    Unsafe,
    Skipped,
}

impl Verdict {
    /// Every verdict, in the order reports count them.
    pub(crate) const ALL: [Verdict; 6] = [
        Verdict::Safe,
        Verdict::LowHitRate,
        Verdict::NotCalled,
        Verdict::Invisible,
        Verdict::Unsafe,
        Verdict::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Safe => "safe",
            Verdict::LowHitRate => "low-hit-rate",
            Verdict::NotCalled => "not-called",
            Verdict::Invisible => "invisible",
            Verdict::Unsafe => "unsafe",
            Verdict::Skipped => "skipped",
        }
    }

    /// Whether this verdict fails the run (exit code 1).
    pub fn is_finding(self) -> bool {
        matches!(self, Verdict::Unsafe | Verdict::Invisible)
    }
}

/// The verdict on one planned function, with what it rests on.
#[derive(Debug, Clone)]
pub(crate) struct FunctionVerdict {
    pub function: FunctionIndex,
    pub verdict: Verdict,
    pub detail: String,
    pub stats: Option<TargetStats>,
    pub broken: Vec<BrokenTest>,
    pub timing: Option<Timing>,
    /// What the checked runs saw of its hits (with its divergence); `None` when no
    /// checked run saw it, or with `--no-verify-hits`.
    pub checks: Option<ProbeVerify>,
    /// What the baseline's key trace predicts for its cache (hit rate at its size, the
    /// size worth recommending); `None` when the baseline did not trace it.
    pub sizing: Option<curve::Sizing>,
}

/// Time spent inside one function by the same tests, unpatched (baseline) and patched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Timing {
    pub before_s: f64,
    pub after_s: f64,
}

impl Timing {
    /// before / after, when the patched time is measurable.
    pub(crate) fn speedup(&self) -> Option<f64> {
        (self.after_s > 0.0).then(|| self.before_s / self.after_s)
    }
}
