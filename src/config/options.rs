//! The options of one `apply`, as the core takes them: built by the command from clap's
//! arguments and the effective settings, so nothing below `cli` sees a clap type.

use std::time::Duration;

/// How `apply` finds the functions that break tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Patch everything at once, split failing groups in halves until each is one function.
    Bisect,
    /// One run per function (simple and slow; for comparison).
    Individual,
}

/// What the runner of one `apply` is asked to do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunOptions {
    pub strategy: Strategy,
    /// Time one test run may take; `None` derives it from the baseline.
    pub timeout: Option<Duration>,
    /// Ignore a cached baseline.
    pub fresh_baseline: bool,
    /// Test runs at once, each in its own scratch copy: the parts of a fresh baseline, then
    /// isolation runs.
    pub jobs: usize,
    /// Judge only this shard of the planned functions.
    pub shard: Option<Shard>,
}

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
