//! Verified hits: which functions' caches would answer differently from the functions
//! themselves, read from the baseline.
//!
//! With `--verify-hits` the baseline's probe shadows each target with the cache it would
//! get (same key, `maxsize` and order of eviction, see `_verify.py`): every call still runs,
//! and a call that the cache would have answered is compared with what it remembered. So
//! the checks add no call: the baseline's test outcomes are the unmodified suite's, and no
//! verdict rests on an outcome the checks caused. Each shadow is its function cached alone,
//! so no other cache can hide a divergence.
//!
//! A divergence belongs to its function by construction: the divergent functions are
//! `unsafe` without a run and leave the culprit search, which then has fewer culprits to
//! find and screens only the rest. So do the functions whose key's hashing called them
//! again in the baseline (the key trace counts it): cached, every call would recurse.

use std::collections::BTreeSet;

use super::error::RunnerError;
use super::executor::Executor;
use crate::outcome::baseline::Baseline;
use crate::outcome::record::RunRecord;
use crate::outcome::trial::Verification;
use crate::plan::FunctionIndex;

/// The functions among `functions` whose would-be hits diverged in the baseline, or whose
/// keys' hashing called them again. `ids` names the planned functions.
pub(crate) fn diverged(
    ids: &[String],
    baseline: &Baseline,
    functions: &[FunctionIndex],
) -> Verification {
    let divergent: BTreeSet<FunctionIndex> = functions
        .iter()
        .copied()
        .filter(|function| {
            let id = &ids[function.0];
            baseline.divergence(id).is_some() || baseline.reentrant(id)
        })
        .collect();
    Verification { divergent }
}

/// The screen that ran beside the baseline's parts, before the divergences were known, had
/// the divergent functions cached too. Clean, it stands for the rest (with everything
/// cached nothing broke); otherwise it is dropped and the search screens the rest alone,
/// since its broken tests may be the divergent functions' doing.
pub(super) fn screen_for_the_rest(
    executor: &dyn Executor,
    screen: Option<RunRecord>,
) -> Result<Option<RunRecord>, RunnerError> {
    let Some(screen) = screen else { return Ok(None) };
    Ok(executor.judge_run(&screen)?.is_clean().then_some(screen))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::probe::protocol::{Divergence, Kind, ProbeVerify, TargetState};
    use crate::probe::{Observation, TargetStats};

    fn checks(divergence: Option<Divergence>) -> ProbeVerify {
        ProbeVerify {
            rate: 1.0,
            hits: 3,
            verified: if divergence.is_some() { 2 } else { 3 },
            unverified: 0,
            divergent: u64::from(divergence.is_some()),
            skipped: 0,
            divergence,
        }
    }

    #[test]
    fn only_functions_whose_would_be_hits_diverged_are_divergent() {
        let divergence = Divergence {
            test: Some("tests/test_a.py::test_tags".to_owned()),
            kind: Kind::Mutated,
            args: "'sale'".to_owned(),
            cached: "['new', 'sale', 'mine']".to_owned(),
            fresh: "['new', 'sale']".to_owned(),
        };
        let target = |verify| TargetStats {
            state: TargetState::NotWrapped,
            loaded_files: BTreeSet::new(),
            hits: 0,
            misses: 0,
            currsize: 0,
            observer: None,
            verify,
            reuse: None,
        };
        let targets = BTreeMap::from([
            ("m:tags".to_owned(), target(Some(checks(Some(divergence))))),
            ("m:price".to_owned(), target(Some(checks(None)))),
            ("m:unseen".to_owned(), target(None)),
        ]);
        let observation = Observation { targets, ..Observation::default() };
        let baseline = Baseline::new(observation, Duration::ZERO, false, 1);
        let ids = ["m:price", "m:tags", "m:unseen"].map(str::to_owned);
        let functions = [FunctionIndex(0), FunctionIndex(1), FunctionIndex(2)];
        let verification = diverged(&ids, &baseline, &functions);
        assert_eq!(verification.divergent, BTreeSet::from([FunctionIndex(1)]));
    }
}
