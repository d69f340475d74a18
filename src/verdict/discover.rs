//! `discover`'s ranking: from one baseline that traced every planned function's keys, what
//! a cache would do for each function, whether it is a candidate, and why not. Pure.
//!
//! A function is a candidate when the plan would patch it, the tests called it, hashing
//! its key does not call it again, most of its calls could be keyed, no would-be hit differed from a fresh call (with checks on),
//! some call repeated its arguments, and at the recommended size it meets the manifest's
//! thresholds. The ranking is by the time its configured cache would have saved.

use super::curve::{self, CurvePoint, Sizing};
use crate::config::manifest::Thresholds;
use crate::outcome::baseline::Baseline;
use crate::plan::{Action, FunctionIndex, Plan, PlannedFunction};
use crate::probe::ReuseProfile;
use crate::probe::protocol::TargetState;

/// One function's place in `discover`'s report.
#[derive(Debug, Clone)]
pub(crate) struct Discovery {
    pub function: FunctionIndex,
    /// What its calls would do to a cache; `None` when the probe saw none of its calls.
    pub usage: Option<Usage>,
    /// `None`: a candidate; else why it is not.
    pub reason: Option<String>,
}

/// What a traced function's calls would do to a cache.
#[derive(Debug, Clone)]
pub(crate) struct Usage {
    pub profile: ReuseProfile,
    pub curve: Vec<CurvePoint>,
    pub sizing: Sizing,
}

impl Discovery {
    pub(crate) fn is_candidate(&self) -> bool {
        self.reason.is_none()
    }

    /// Seconds its configured cache would have saved (0 without calls): the ranking key.
    pub(crate) fn predicted_saved_s(&self) -> f64 {
        self.usage.as_ref().map_or(0.0, |usage| usage.sizing.saved_s)
    }
}

/// Every planned function, ranked: highest predicted time saved first, then by id.
/// `checked`: whether the baseline compared would-be hits with fresh calls.
pub(crate) fn rank(
    plan: &Plan,
    baseline: &Baseline,
    thresholds: &Thresholds,
    checked: bool,
) -> Vec<Discovery> {
    let mut found: Vec<Discovery> = plan
        .functions
        .iter()
        .enumerate()
        .map(|(index, function)| {
            discover(FunctionIndex(index), function, baseline, thresholds, checked)
        })
        .collect();
    found.sort_by(|a, b| {
        b.predicted_saved_s()
            .total_cmp(&a.predicted_saved_s())
            .then_with(|| b.usage.is_some().cmp(&a.usage.is_some()))
            .then_with(|| plan.function(a.function).id.cmp(&plan.function(b.function).id))
    });
    found
}

fn discover(
    index: FunctionIndex,
    function: &PlannedFunction,
    baseline: &Baseline,
    thresholds: &Thresholds,
    checked: bool,
) -> Discovery {
    let stats = baseline.observation.targets.get(&function.id);
    let usage = stats.and_then(|stats| stats.reuse.as_ref()).map(|profile| Usage {
        profile: profile.clone(),
        curve: curve::curve(profile),
        sizing: Sizing::new(profile, function.cache_size),
    });
    let reason = if function.action == Action::Skip {
        Some(format!("cannot be cached: {}", function.blocking_hazards()))
    } else {
        // Unpatched, a loaded function has no cache: `not-wrapped` is the state of one the
        // probe could observe.
        match (stats, &usage) {
            (None, _) => Some("the probe reported nothing about it".to_owned()),
            (Some(stats), _) if stats.state == TargetState::NotLoaded => {
                Some("the tests never imported its module".to_owned())
            }
            (Some(stats), _) if stats.state == TargetState::OtherFile => {
                let loaded: Vec<&str> = stats.loaded_files.iter().map(String::as_str).collect();
                Some(format!("the tests loaded its module from {}", loaded.join(", ")))
            }
            (Some(stats), _) if stats.state == TargetState::Missing => {
                Some("the module the tests loaded has no such function".to_owned())
            }
            (Some(_), Some(usage)) => {
                let divergence = checked.then(|| baseline.divergence(&function.id)).flatten();
                match divergence {
                    Some(divergence) => Some(format!(
                        "a would-be cache hit differed from a fresh call ({}): {}({})",
                        divergence.kind.as_str(),
                        function.qualname,
                        divergence.args
                    )),
                    None => usage_reason(usage, thresholds),
                }
            }
            (Some(_), None) => Some("the probe could not trace its calls".to_owned()),
        }
    };
    Discovery { function: index, usage, reason }
}

/// Why a traced function that raised no flag is still not a candidate, if it is not.
fn usage_reason(usage: &Usage, thresholds: &Thresholds) -> Option<String> {
    let profile = &usage.profile;
    if profile.calls == 0 {
        return Some("the tests never called it".to_owned());
    }
    if profile.reentrant > 0 {
        return Some(super::decide::REENTRANT.to_owned());
    }
    if profile.unhashable * 2 > profile.calls {
        return Some(format!(
            "{} of its {} calls had unhashable arguments (lru_cache raises TypeError)",
            profile.unhashable, profile.calls
        ));
    }
    if usage.sizing.recommended.is_none() {
        return Some("no call repeated the arguments of an earlier one".to_owned());
    }
    if profile.calls < thresholds.min_calls {
        return Some(format!(
            "{} calls, fewer than min_calls = {}",
            profile.calls, thresholds.min_calls
        ));
    }
    let best = usage.sizing.recommended_hit_rate;
    (best < thresholds.min_hit_rate).then(|| {
        format!("hit rate {best:.2} at best, below min_hit_rate = {}", thresholds.min_hit_rate)
    })
}
