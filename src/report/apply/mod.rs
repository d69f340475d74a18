//! Rendering an `apply` result. Here: the JSON report (`version: 1`, also written to
//! `.cachescan/report.json`) and how it is built from the verdicts; `text`: the human table
//! with diagnostics on the `def` lines of unsafe and invisible functions, and Markdown for
//! a pull-request comment.

mod text;

pub(crate) use text::{VerdictMessage, human, markdown, summary, verdict_message};

use serde::{Deserialize, Serialize};

use crate::config::options::{Shard, Verification};
use crate::outcome::baseline::Baseline;
use crate::outcome::judgement::BrokenTest;
use crate::outcome::trial::JobsInfo;
use crate::plan::Plan;
use crate::probe::protocol::{Kind, Outcome, TargetState};
use crate::python::cache_size::CacheSize;
use crate::report::plan::{HazardEntry, hazard_entries};
use crate::report::table::round;
use crate::verdict::{FunctionVerdict, Verdict, hit_rate};

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ApplyReport {
    pub version: u32,
    pub baseline: BaselineSummary,
    pub test_runs: usize,
    pub restored: bool,
    pub targets: Vec<TargetVerdict>,
    /// Tests that already fail without any patch (ignored in comparisons).
    pub baseline_failures: Vec<String>,
    /// Files left patched by `--keep`.
    pub kept: Vec<String>,
    /// Tests executed over all test runs (isolation runs run only the tests that matter).
    pub tests_executed: usize,
    /// Hash of the manifest's text: `merge` joins only reports of the same manifest.
    pub manifest_sha256: String,
    /// Hash of the project tree: `merge` joins only reports of the same sources.
    pub source_sha256: String,
    /// `apply --shard K/N`: which part this report covers; null for a whole run.
    pub shard: Option<Shard>,
    /// `--jobs`: copies asked for, copies used, and why not when they could not be.
    pub jobs: JobsInfo,
    /// Whether cache hits were checked against fresh calls, and how many of them.
    #[serde(default)]
    pub verification: VerificationSummary,
}

/// `verification` of the report: `--verify-hits` (the default) or not, the sample, and the
/// fraction of hits checked over every function.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct VerificationSummary {
    pub enabled: bool,
    /// `--verify-sample`; null: every hit.
    pub sample_rate: Option<f64>,
    pub seed: Option<u64>,
    /// Would-be cache hits the baseline saw, over every function.
    pub hits_seen: u64,
    /// Of those, the hits compared with the call itself (all of them, unless sampled).
    pub hits_checked: u64,
    /// hits_checked / hits_seen; null without any hit.
    pub checked_fraction: Option<f64>,
}

impl VerificationSummary {
    pub(crate) fn new(verification: Verification, verdicts: &[FunctionVerdict]) -> Self {
        let Verification::On { rate, seed } = verification else { return Self::default() };
        let sampled = rate < 1.0;
        let (checked, hits) = verdicts.iter().filter_map(|verdict| verdict.checks.as_ref()).fold(
            (0, 0),
            |(checked, hits), checks| {
                (
                    checked + checks.verified + checks.unverified + checks.divergent,
                    hits + checks.hits,
                )
            },
        );
        let mut summary = Self {
            enabled: true,
            sample_rate: sampled.then_some(rate),
            seed: sampled.then_some(seed),
            hits_seen: hits,
            hits_checked: checked,
            checked_fraction: None,
        };
        summary.compute_fraction();
        summary
    }

    /// Add another shard's counts.
    pub(crate) fn add(&mut self, other: &VerificationSummary) {
        self.hits_seen += other.hits_seen;
        self.hits_checked += other.hits_checked;
        self.compute_fraction();
    }

    fn compute_fraction(&mut self) {
        self.checked_fraction = (self.hits_seen > 0)
            .then(|| round(self.hits_checked as f64 / self.hits_seen as f64, 4));
    }
}

/// The first divergent hit of a function (part of the JSON report).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DivergenceEntry {
    pub test: Option<String>,
    pub kind: Kind,
    pub args: String,
    pub cached: String,
    pub fresh: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BaselineSummary {
    pub tests: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub duration_s: f64,
    /// Taken from `.cachescan/baseline.json` rather than run again.
    pub reused: bool,
    /// Test processes that ran the baseline at once, each the test files of its part
    /// (`--jobs`); 1 for a run in one piece.
    #[serde(default = "crate::outcome::baseline::one_part")]
    pub parts: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TargetVerdict {
    pub id: String,
    pub path: String,
    pub line: usize,
    pub verdict: Verdict,
    pub hits: Option<u64>,
    pub misses: Option<u64>,
    pub hit_rate: Option<f64>,
    pub broken_tests: Vec<BrokenTest>,
    pub hazards: Vec<HazardEntry>,
    pub detail: String,
    /// Files the test process loaded instead of ours (for `invisible`).
    pub loaded_files: Vec<String>,
    /// Seconds the judging run's tests spent inside the function unpatched (baseline).
    pub time_before_s: Option<f64>,
    /// The same tests, patched: time inside the function body (cache misses).
    pub time_after_s: Option<f64>,
    /// time_before_s / time_after_s.
    pub speedup: Option<f64>,
    /// Position in the plan, so merged shard reports keep the plan's order.
    pub plan_index: usize,
    /// Hits its cache would have (were it the only cache) that the baseline compared with
    /// the call itself and found equal; null when the baseline could not observe the
    /// function (or with `--no-verify-hits`).
    #[serde(default)]
    pub hits_verified: Option<u64>,
    /// Hits whose comparison could not decide.
    #[serde(default)]
    pub hits_unverified: Option<u64>,
    /// Hits whose cached value differs from what the call itself returned.
    #[serde(default)]
    pub hits_divergent: Option<u64>,
    /// The first divergent hit, or null.
    #[serde(default)]
    pub divergence: Option<DivergenceEntry>,
    /// The hit rate its configured `maxsize` would have had in the baseline, were it the
    /// only cache (from the baseline's key trace); null when the baseline did not trace it.
    #[serde(default)]
    pub predicted_hit_rate: Option<f64>,
    /// The smallest `maxsize` reaching 95% of an unbounded cache's hits (an integer, or
    /// null for unbounded); see `recommended_hit_rate`.
    #[serde(default)]
    pub recommended_cache_size: Option<CacheSize>,
    /// The hit rate at `recommended_cache_size`; null when no call repeated its arguments
    /// (nothing to recommend) or the baseline did not trace it.
    #[serde(default)]
    pub recommended_hit_rate: Option<f64>,
    /// "maxsize=128 gives 0.61, 512 would give 0.78" when another size would do better
    /// (for `safe` and `low-hit-rate` functions).
    #[serde(default)]
    pub sizing_advice: Option<String>,
}

impl BaselineSummary {
    pub(crate) fn new(baseline: &Baseline) -> Self {
        let observation = &baseline.observation;
        let duration_s = baseline.duration.as_secs_f64();
        let count = |outcomes: &[Outcome]| {
            observation.tests.values().filter(|test| outcomes.contains(&test.outcome)).count()
        };
        Self {
            tests: observation.tests.len(),
            passed: count(&[Outcome::Passed, Outcome::Xpassed]),
            failed: count(&[Outcome::Failed, Outcome::Error]),
            skipped: count(&[Outcome::Skipped, Outcome::Xfailed]),
            duration_s: (duration_s * 100.0).round() / 100.0,
            reused: baseline.reused,
            parts: baseline.parts,
        }
    }
}

impl TargetVerdict {
    pub(crate) fn new(plan: &Plan, verdict: &FunctionVerdict) -> Self {
        let function = plan.function(verdict.function);
        let stats = verdict.stats.as_ref().filter(|stats| stats.state == TargetState::Stats);
        Self {
            id: function.id.clone(),
            path: plan.file_of(function).relative.clone(),
            line: function.line,
            verdict: verdict.verdict,
            hits: stats.map(|stats| stats.hits),
            misses: stats.map(|stats| stats.misses),
            hit_rate: stats.and_then(|stats| hit_rate(stats.hits, stats.misses)),
            broken_tests: verdict.broken.clone(),
            hazards: hazard_entries(plan, function),
            detail: verdict.detail.clone(),
            loaded_files: verdict
                .stats
                .as_ref()
                .filter(|stats| stats.state == TargetState::OtherFile)
                .map(|stats| stats.loaded_files.iter().cloned().collect())
                .unwrap_or_default(),
            time_before_s: verdict.timing.map(|timing| round(timing.before_s, 6)),
            time_after_s: verdict.timing.map(|timing| round(timing.after_s, 6)),
            speedup: verdict
                .timing
                .and_then(|timing| timing.speedup())
                .map(|speedup| round(speedup, 2)),
            plan_index: verdict.function.0,
            hits_verified: verdict.checks.as_ref().map(|checks| checks.verified),
            hits_unverified: verdict.checks.as_ref().map(|checks| checks.unverified),
            hits_divergent: verdict.checks.as_ref().map(|checks| checks.divergent),
            divergence: verdict.checks.as_ref().and_then(|checks| checks.divergence.as_ref()).map(
                |divergence| DivergenceEntry {
                    test: divergence.test.clone(),
                    kind: divergence.kind,
                    args: divergence.args.clone(),
                    cached: divergence.cached.clone(),
                    fresh: divergence.fresh.clone(),
                },
            ),
            predicted_hit_rate: verdict.sizing.map(|sizing| round(sizing.hit_rate, 4)),
            recommended_cache_size: verdict.sizing.and_then(|sizing| sizing.recommended),
            recommended_hit_rate: verdict
                .sizing
                .filter(|sizing| sizing.recommended.is_some())
                .map(|sizing| round(sizing.recommended_hit_rate, 4)),
            sizing_advice: verdict
                .sizing
                .filter(|_| matches!(verdict.verdict, Verdict::Safe | Verdict::LowHitRate))
                .and_then(|sizing| sizing.advice()),
        }
    }
}
