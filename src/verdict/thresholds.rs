//! What the probe's statistics say of a function whose tests are unchanged: invisible, not
//! called, low hit rate, or safe, by the manifest's thresholds. Pure.

use super::Verdict;
use crate::config::manifest::Thresholds;
use crate::probe::TargetStats;
use crate::probe::protocol::TargetState;

/// The verdict and its detail line for a function whose tests are unchanged.
pub(crate) fn judge_statistics(
    stats: Option<&TargetStats>,
    thresholds: &Thresholds,
) -> (Verdict, String) {
    let Some(stats) = stats else {
        return (Verdict::Invisible, "the probe reported nothing about this function".to_owned());
    };
    let invisible = match stats.state {
        TargetState::Stats => None,
        TargetState::NotLoaded => Some("the test process never imported this module".to_owned()),
        TargetState::OtherFile => {
            let loaded = stats.loaded_files.iter().cloned().collect::<Vec<_>>().join(", ");
            Some(format!("the test process loaded another copy of the module: {loaded}"))
        }
        TargetState::NotWrapped => Some(
            "the test process loaded the module, but the function it saw is not the patched one"
                .to_owned(),
        ),
        TargetState::Missing => {
            Some("the test process loaded the module, but it has no such function".to_owned())
        }
    };
    if let Some(detail) = invisible {
        return (Verdict::Invisible, detail);
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

    fn stats(state: TargetState, hits: u64, misses: u64) -> TargetStats {
        TargetStats {
            state,
            loaded_files: Default::default(),
            hits,
            misses,
            currsize: 0,
            observer: None,
            verify: None,
            reuse: None,
        }
    }

    #[test]
    fn zero_calls_is_never_safe() {
        let thresholds = Thresholds { min_hit_rate: 0.0, min_calls: 0 };
        let judged = |stats| judge_statistics(Some(&stats), &thresholds).0;
        assert_eq!(judged(stats(TargetState::Stats, 0, 0)), Verdict::NotCalled);
        assert_eq!(judged(stats(TargetState::NotLoaded, 0, 0)), Verdict::Invisible);
        assert_eq!(judge_statistics(None, &thresholds).0, Verdict::Invisible);
    }

    #[test]
    fn thresholds_separate_safe_from_low_hit_rate() {
        let thresholds = Thresholds { min_hit_rate: 0.5, min_calls: 10 };
        let judged = |hits, misses| {
            judge_statistics(Some(&stats(TargetState::Stats, hits, misses)), &thresholds).0
        };
        assert_eq!(judged(9, 1), Verdict::Safe);
        assert_eq!(judged(4, 6), Verdict::LowHitRate);
        assert_eq!(judged(8, 1), Verdict::LowHitRate);
        assert_eq!(hit_rate(26973, 30), Some(0.9989));
    }
}
