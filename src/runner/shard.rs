//! Sharding: `apply --shard K/N` takes one part of the planned functions, the same part on
//! every machine, so N CI jobs split the work and `cachescan merge` joins their reports.
//!
//! The split must not depend on the machine, so it is balanced by a weight every machine
//! computes alike from the baseline's call map: one plus the number of tests that call the
//! function (the tests an isolation run of it would execute), not by measured durations.
//! Functions are taken heaviest first (ties by id) and each goes to the lightest shard
//! (ties to the lowest index): greedy longest-processing-time scheduling.

use std::collections::BTreeSet;

use crate::config::options::Shard;
use crate::outcome::baseline::Baseline;
use crate::plan::{Action, FunctionIndex, Plan};

/// The planned functions that belong to `shard`.
pub(crate) fn assign(plan: &Plan, baseline: &Baseline, shard: Shard) -> BTreeSet<FunctionIndex> {
    let all_tests = baseline.observation.tests.len();
    let mut weighted: Vec<(usize, &str, usize)> = plan
        .functions
        .iter()
        .enumerate()
        .map(|(index, function)| {
            let weight = match function.action {
                Action::Skip => 0,
                Action::Patch => {
                    1 + baseline
                        .callers([function.id.as_str()])
                        .map_or(all_tests, |tests| tests.len())
                }
            };
            (weight, function.id.as_str(), index)
        })
        .collect();
    weighted.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)).then_with(|| a.2.cmp(&b.2)));
    let mut loads = vec![0usize; shard.count];
    let mut mine = BTreeSet::new();
    for (weight, _, index) in weighted {
        let lightest =
            (0..shard.count).min_by_key(|&candidate| (loads[candidate], candidate)).unwrap_or(0);
        loads[lightest] += weight;
        if lightest + 1 == shard.index {
            mine.insert(FunctionIndex(index));
        }
    }
    mine
}
