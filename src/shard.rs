//! Sharding: `apply --shard K/N` takes one part of the planned functions, the same part on
//! every machine, so N CI jobs split the work and `cachescan merge` joins their reports.
//!
//! The split must not depend on the machine, so it is balanced by a weight every machine
//! computes alike from the baseline's call map: one plus the number of tests that call the
//! function (the tests an isolation run of it would execute), not by measured durations.
//! Functions are taken heaviest first (ties by id) and each goes to the lightest shard
//! (ties to the lowest index): greedy longest-processing-time scheduling.

use std::collections::BTreeSet;

use crate::plan::{Action, Plan};
use crate::trial::Baseline;

/// `K/N`: this is shard K (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || format!("`{text}` is not a shard: write K/N with 1 <= K <= N, e.g. 2/4");
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let index: usize = index.trim().parse().map_err(|_| usage())?;
        let count: usize = count.trim().parse().map_err(|_| usage())?;
        if index == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The planned functions (indices) that belong to `shard`.
pub(crate) fn assign(plan: &Plan, baseline: &Baseline, shard: Shard) -> BTreeSet<usize> {
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
            mine.insert(index);
        }
    }
    mine
}

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("two".parse::<Shard>().is_err());
    }
}
