//! Analysis: pure functions from observations to verdicts. No I/O, no processes: the
//! runner records, this module judges. A test run is compared with the baseline test by
//! test; a function's verdict follows from whether it broke tests, what the probe saw of it,
//! and the thresholds.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::config::manifest::Thresholds;
use crate::probe::{Observation, TargetStats};

/// The verdict on one function (part of the JSON interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
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

/// A test whose outcome differs from the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct BrokenTest {
    pub nodeid: String,
    pub baseline: Option<String>,
    pub outcome: Option<String>,
    pub message: Option<String>,
}

/// Tests that fail already in the baseline: listed, and ignored in comparisons.
pub(crate) fn baseline_failures(baseline: &Observation) -> BTreeSet<String> {
    baseline
        .tests
        .iter()
        .filter(|(_, result)| matches!(result.outcome.as_str(), "failed" | "error"))
        .map(|(nodeid, _)| nodeid.clone())
        .collect()
}

/// Every test whose outcome differs from the baseline (missing and new tests included),
/// ignoring tests that already failed there.
pub(crate) fn broken_tests(
    baseline: &Observation,
    run: &Observation,
    ignored: &BTreeSet<String>,
) -> Vec<BrokenTest> {
    let nodeids: BTreeSet<&String> = baseline.tests.keys().chain(run.tests.keys()).collect();
    nodeids
        .into_iter()
        .filter(|nodeid| !ignored.contains(*nodeid))
        .filter_map(|nodeid| {
            let before = baseline.tests.get(nodeid);
            let after = run.tests.get(nodeid);
            let same = matches!((before, after), (Some(before), Some(after)) if before.outcome == after.outcome);
            (!same).then(|| BrokenTest {
                nodeid: nodeid.clone(),
                baseline: before.map(|result| result.outcome.clone()),
                outcome: after.map(|result| result.outcome.clone()),
                message: after.and_then(|result| result.message.clone()),
            })
        })
        .collect()
}

/// What the probe's statistics say, for a function whose tests are unchanged.
pub(crate) fn judge_statistics(
    stats: Option<&TargetStats>,
    thresholds: &Thresholds,
) -> (Verdict, String) {
    let Some(stats) = stats else {
        return (Verdict::Invisible, "the probe reported nothing about this function".to_owned());
    };
    let loaded = stats.loaded_files.iter().cloned().collect::<Vec<_>>().join(", ");
    match stats.state.as_str() {
        "stats" => {}
        "not-loaded" => {
            return (Verdict::Invisible, "the test process never imported this module".to_owned());
        }
        "other-file" => {
            return (
                Verdict::Invisible,
                format!("the test process loaded another copy of the module: {loaded}"),
            );
        }
        "not-wrapped" => {
            return (Verdict::Invisible, "the test process loaded the module, but the function it saw is not the patched one".to_owned());
        }
        "missing" => {
            return (
                Verdict::Invisible,
                "the test process loaded the module, but it has no such function".to_owned(),
            );
        }
        other => {
            return (Verdict::Invisible, format!("the probe reported an unknown state `{other}`"));
        }
    }
    let calls = stats.hits + stats.misses;
    if calls == 0 {
        return (Verdict::NotCalled, "loaded by the tests, never called".to_owned());
    }
    let rate = hit_rate(stats.hits, stats.misses).unwrap_or_default();
    if calls < thresholds.min_calls {
        return (
            Verdict::LowHitRate,
            format!("{calls} calls, fewer than min_calls = {}", thresholds.min_calls),
        );
    }
    if rate < thresholds.min_hit_rate {
        return (
            Verdict::LowHitRate,
            format!("hit rate {rate:.2} below min_hit_rate = {}", thresholds.min_hit_rate),
        );
    }
    (Verdict::Safe, format!("{calls} calls, hit rate {rate:.2}; every test outcome unchanged"))
}

/// hits / (hits + misses), rounded to 4 places; `None` without calls.
pub(crate) fn hit_rate(hits: u64, misses: u64) -> Option<f64> {
    let calls = hits + misses;
    (calls > 0).then(|| (hits as f64 / calls as f64 * 10_000.0).round() / 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::TestResult;

    fn observation(tests: &[(&str, &str)]) -> Observation {
        let mut observation = Observation::default();
        for (nodeid, outcome) in tests {
            observation.tests.insert(
                (*nodeid).to_owned(),
                TestResult { outcome: (*outcome).to_owned(), message: None },
            );
        }
        observation
    }

    fn stats(state: &str, hits: u64, misses: u64) -> TargetStats {
        TargetStats { state: state.to_owned(), hits, misses, ..TargetStats::default() }
    }

    #[test]
    fn changed_missing_and_new_tests_are_broken_but_baseline_failures_are_ignored() {
        let baseline =
            observation(&[("a", "passed"), ("b", "passed"), ("c", "failed"), ("d", "passed")]);
        let run =
            observation(&[("a", "passed"), ("b", "failed"), ("c", "passed"), ("e", "passed")]);
        let ignored = baseline_failures(&baseline);
        let broken: Vec<_> =
            broken_tests(&baseline, &run, &ignored).into_iter().map(|test| test.nodeid).collect();
        assert_eq!(broken, ["b", "d", "e"]);
    }

    #[test]
    fn zero_calls_is_never_safe() {
        let thresholds = Thresholds { min_hit_rate: 0.0, min_calls: 0 };
        assert_eq!(
            judge_statistics(Some(&stats("stats", 0, 0)), &thresholds).0,
            Verdict::NotCalled
        );
        assert_eq!(
            judge_statistics(Some(&stats("not-loaded", 0, 0)), &thresholds).0,
            Verdict::Invisible
        );
        assert_eq!(judge_statistics(None, &thresholds).0, Verdict::Invisible);
    }

    #[test]
    fn thresholds_separate_safe_from_low_hit_rate() {
        let thresholds = Thresholds { min_hit_rate: 0.5, min_calls: 10 };
        assert_eq!(judge_statistics(Some(&stats("stats", 9, 1)), &thresholds).0, Verdict::Safe);
        assert_eq!(
            judge_statistics(Some(&stats("stats", 4, 6)), &thresholds).0,
            Verdict::LowHitRate
        );
        assert_eq!(
            judge_statistics(Some(&stats("stats", 8, 1)), &thresholds).0,
            Verdict::LowHitRate
        );
        assert_eq!(hit_rate(26973, 30), Some(0.9989));
    }
}

/// The verdict on one planned function, with what it rests on.
#[derive(Debug, Clone)]
pub(crate) struct FunctionVerdict {
    /// Index into the plan's functions.
    pub function: usize,
    pub verdict: Verdict,
    pub detail: String,
    pub stats: Option<TargetStats>,
    pub broken: Vec<BrokenTest>,
    pub timing: Option<Timing>,
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

/// Verdicts for every planned function: skipped ones from the plan, the others from the run
/// that judged them and the baseline's call map.
pub(crate) fn decide(
    plan: &crate::plan::Plan,
    trial: &crate::trial::TrialResult,
    thresholds: &Thresholds,
) -> Vec<FunctionVerdict> {
    use crate::plan::Action;
    use crate::trial::RunJudgement;
    plan.functions
        .iter()
        .enumerate()
        .filter(|(index, _)| {
            trial.assigned.as_ref().is_none_or(|assigned| assigned.contains(index))
        })
        .map(|(index, function)| {
            let skipped = |detail: String| FunctionVerdict {
                function: index,
                verdict: Verdict::Skipped,
                detail,
                stats: None,
                broken: Vec::new(),
                timing: None,
            };
            if function.action == Action::Skip {
                let codes: Vec<&str> = function
                    .hazards
                    .iter()
                    .filter(|hazard| {
                        hazard.code.severity() == crate::python::hazard::HazardSeverity::Error
                            && !function.allowed.contains(&hazard.code)
                    })
                    .map(|hazard| hazard.code.as_str())
                    .collect();
                return skipped(format!("not patched: {}", codes.join(", ")));
            }
            let Some((record, judgement)) = trial.evidence.get(&index) else {
                return skipped("not tried".to_owned());
            };
            let stats = record
                .observation
                .as_ref()
                .and_then(|observation| observation.targets.get(&function.id))
                .cloned();
            let timing = timing(&trial.baseline.observation, record, &function.id);
            match judgement {
                RunJudgement::Broken { tests, reason } => FunctionVerdict {
                    function: index,
                    verdict: Verdict::Unsafe,
                    detail: format!("caching it breaks the suite: {reason}"),
                    stats,
                    broken: tests.clone(),
                    timing,
                },
                RunJudgement::Clean => {
                    let (verdict, detail) = if record.selection.is_some()
                        && stats.as_ref().is_none_or(|stats| stats.state != "stats")
                        && never_called_by_a_test(&trial.baseline, &function.id)
                    {
                        // The judging run left out the tests that do not call it, so it
                        // may not have loaded the module at all: the baseline knows better.
                        (
                            Verdict::NotCalled,
                            "loaded by the tests; the baseline's call map shows no test calls it"
                                .to_owned(),
                        )
                    } else {
                        judge_statistics(stats.as_ref(), thresholds)
                    };
                    FunctionVerdict {
                        function: index,
                        verdict,
                        detail,
                        stats,
                        broken: Vec::new(),
                        timing,
                    }
                }
            }
        })
        .collect()
}

/// The baseline loaded the function's module and no test (nor anything outside tests that
/// the observer saw) called it.
fn never_called_by_a_test(baseline: &crate::trial::Baseline, id: &str) -> bool {
    let loaded = baseline
        .observation
        .targets
        .get(id)
        .is_some_and(|stats| matches!(stats.state.as_str(), "not-wrapped" | "stats"));
    loaded && baseline.callers([id]).is_some_and(|callers| callers.is_empty())
}

/// Time inside `id` during the tests of `record`, in the baseline and in `record`.
fn timing(baseline: &Observation, record: &crate::trial::RunRecord, id: &str) -> Option<Timing> {
    let observation = record.observation.as_ref()?;
    let observed = |observation: &Observation| {
        observation.targets.get(id).is_some_and(|stats| stats.observer == "code-swap")
    };
    if !observed(baseline) || !observed(observation) {
        return None;
    }
    let mut tests: Vec<&str> = observation.tests.keys().map(String::as_str).collect();
    if record.selection.is_none() {
        tests.push(crate::probe::SESSION_KEY);
    }
    let total = |observation: &Observation| -> f64 {
        let nanoseconds: u64 = tests
            .iter()
            .filter_map(|test| observation.test_calls.get(*test)?.get(id))
            .map(|stats| stats.time_ns)
            .sum();
        nanoseconds as f64 / 1e9
    };
    Some(Timing { before_s: total(baseline), after_s: total(observation) })
}
