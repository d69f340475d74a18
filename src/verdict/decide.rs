//! One verdict per planned function: skipped ones from the plan, the others from the run
//! that judged them (its outcome against the baseline, then the probe's statistics) and the
//! baseline's call map. Pure.

use super::curve::Sizing;
use super::thresholds::judge_statistics;
use super::{FunctionVerdict, Timing, Verdict};
use crate::config::manifest::Thresholds;
use crate::outcome::baseline::Baseline;
use crate::outcome::judgement::RunJudgement;
use crate::outcome::record::RunRecord;
use crate::outcome::trial::TrialResult;
use crate::plan::{Action, FunctionIndex, Plan, PlannedFunction};
use crate::probe::protocol::{Divergence, ProbeVerify, TargetState};
use crate::probe::{Observation, SESSION_KEY};

/// Verdicts for every planned function this trial judges (its shard's, or all).
pub(crate) fn decide(
    plan: &Plan,
    trial: &TrialResult,
    thresholds: &Thresholds,
) -> Vec<FunctionVerdict> {
    plan.functions
        .iter()
        .enumerate()
        .map(|(index, function)| (FunctionIndex(index), function))
        .filter(|(index, _)| {
            trial.assigned.as_ref().is_none_or(|assigned| assigned.contains(index))
        })
        .map(|(index, function)| verdict(index, function, trial, thresholds))
        .collect()
}

fn verdict(
    index: FunctionIndex,
    function: &PlannedFunction,
    trial: &TrialResult,
    thresholds: &Thresholds,
) -> FunctionVerdict {
    let skipped = |detail: String| FunctionVerdict {
        function: index,
        verdict: Verdict::Skipped,
        detail,
        stats: None,
        broken: Vec::new(),
        timing: None,
        checks: None,
        sizing: None,
    };
    if function.action == Action::Skip {
        return skipped(format!("not patched: {}", function.blocking_hazards()));
    }
    // The baseline's checks of its would-be hits, when hits are verified.
    let checks = trial.baseline.checks(&function.id).filter(|_| trial.verification.is_some());
    // Unsafe on the baseline alone (a divergent would-be hit, or a key whose hashing calls
    // the function again): no run cached it.
    if trial
        .verification
        .as_ref()
        .is_some_and(|verification| verification.divergent.contains(&index))
    {
        let detail = match trial.baseline.divergence(&function.id) {
            Some(divergence) => Some(divergence_detail(&function.qualname, divergence)),
            None => trial.baseline.reentrant(&function.id).then(|| REENTRANT.to_owned()),
        };
        if let Some(detail) = detail {
            return FunctionVerdict {
                function: index,
                verdict: Verdict::Unsafe,
                detail,
                stats: None,
                broken: Vec::new(),
                timing: None,
                checks: checks.cloned(),
                sizing: sizing(&trial.baseline, function),
            };
        }
    }
    let Some(judged) = trial.evidence.get(&index) else {
        return skipped("not tried".to_owned());
    };
    let checks = checks.cloned();
    let record = &judged.record;
    let stats = record
        .observation
        .as_ref()
        .and_then(|observation| observation.targets.get(&function.id))
        .cloned();
    let timing = timing(&trial.baseline.observation, record, &function.id);
    let sizing = sizing(&trial.baseline, function);
    let (verdict, detail, broken) = match &judged.judgement {
        RunJudgement::Broken { tests, reason } => {
            (Verdict::Unsafe, format!("caching it breaks the suite: {reason}"), tests.clone())
        }
        RunJudgement::Clean
            if record.selection.is_some()
                && stats.as_ref().is_none_or(|stats| stats.state != TargetState::Stats)
                && never_called_by_a_test(&trial.baseline, &function.id) =>
        {
            // The judging run left out the tests that do not call it, so it may not have
            // loaded the module at all: the baseline knows better.
            let detail = "loaded by the tests; the baseline's call map shows no test calls it";
            (Verdict::NotCalled, detail.to_owned(), Vec::new())
        }
        RunJudgement::Clean => {
            let (verdict, mut detail) = judge_statistics(stats.as_ref(), thresholds);
            if verdict == Verdict::Safe {
                detail.push_str(&hits_checked(trial.verification.is_some(), checks.as_ref()));
            }
            (verdict, detail, Vec::new())
        }
    };
    FunctionVerdict { function: index, verdict, detail, stats, broken, timing, checks, sizing }
}

/// What the baseline's key trace predicts for the function's cache, when it was traced.
fn sizing(baseline: &Baseline, function: &PlannedFunction) -> Option<Sizing> {
    let profile = baseline.observation.targets.get(&function.id)?.reuse.as_ref()?;
    Some(Sizing::new(profile, function.cache_size))
}

/// The detail of a function whose key's hashing calls it again.
pub(crate) const REENTRANT: &str = "hashing its arguments calls it again (its class's __hash__ or __eq__ reads it): cached, every call would recurse until RecursionError";

/// `a cache hit would differ from a fresh call (mutated): its cache would answer
/// tags('sale') with [...], a fresh call returns [...]`.
fn divergence_detail(qualname: &str, divergence: &Divergence) -> String {
    format!(
        "a cache hit would differ from a fresh call ({}): its cache would answer {qualname}({}) with {}, a fresh call returns {}",
        divergence.kind.as_str(),
        divergence.args,
        divergence.cached,
        divergence.fresh
    )
}

/// What a `safe` verdict says of the hits: how many were checked against a fresh call.
fn hits_checked(verifying: bool, checks: Option<&ProbeVerify>) -> String {
    if !verifying {
        return "; hits not verified (--no-verify-hits)".to_owned();
    }
    let Some(checks) = checks else { return "; no hit was checked".to_owned() };
    let mut text = format!("; {} of {} hits verified", checks.verified, checks.hits);
    if checks.unverified > 0 {
        text.push_str(&format!(", {} not comparable", checks.unverified));
    }
    if checks.skipped > 0 {
        text.push_str(&format!(", {} left out of the sample", checks.skipped));
    }
    text
}

/// The baseline loaded the function's module and no test (nor anything outside tests that
/// the observer saw) called it.
fn never_called_by_a_test(baseline: &Baseline, id: &str) -> bool {
    let loaded =
        baseline.observation.targets.get(id).is_some_and(|stats| {
            matches!(stats.state, TargetState::NotWrapped | TargetState::Stats)
        });
    loaded && baseline.callers([id]).is_some_and(|callers| callers.is_empty())
}

/// Time inside `id` during the tests of `record`, in the baseline and in `record`.
fn timing(baseline: &Observation, record: &RunRecord, id: &str) -> Option<Timing> {
    let observation = record.observation.as_ref()?;
    let observed = |observation: &Observation| {
        observation.targets.get(id).is_some_and(|stats| stats.is_observed())
    };
    if !observed(baseline) || !observed(observation) {
        return None;
    }
    let mut tests: Vec<&str> = observation.tests.keys().map(String::as_str).collect();
    if record.selection.is_none() {
        tests.push(SESSION_KEY);
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
