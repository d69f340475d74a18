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
    /// Check would-be cache hits against the calls themselves (`--verify-hits`, the
    /// default).
    pub verify: Verification,
}

/// Whether, and how many, would-be cache hits the baseline compares with the calls
/// themselves.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub(crate) enum Verification {
    /// `--no-verify-hits`: `safe` means only that no test changed outcome.
    Off,
    /// Every hit (`rate` 1.0), or a reproducible sample of them (`--verify-sample`).
    On { rate: f64, seed: u64 },
}

impl Verification {
    /// The probe's `CACHESCAN_PROBE_VERIFY`: `1`, or `RATE:SEED` for a sample.
    pub(crate) fn probe_setting(self) -> Option<String> {
        match self {
            Verification::Off => None,
            Verification::On { rate, .. } if rate >= 1.0 => Some("1".to_owned()),
            Verification::On { rate, seed } => Some(format!("{rate}:{seed}")),
        }
    }
}

/// `--verify-sample`: a fraction of hits in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleRate(pub f64);

impl std::str::FromStr for SampleRate {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().parse::<f64>() {
            Ok(rate) if rate > 0.0 && rate <= 1.0 => Ok(SampleRate(rate)),
            _ => {
                Err(format!("`{text}` is not a sample rate: write a fraction in (0, 1], e.g. 0.25"))
            }
        }
    }
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
    use super::{SampleRate, Shard, Verification};

    #[test]
    fn sample_rates_are_fractions_and_reach_the_probe_as_rate_and_seed() {
        assert_eq!("0.25".parse::<SampleRate>(), Ok(SampleRate(0.25)));
        assert!("0".parse::<SampleRate>().is_err());
        assert!("1.5".parse::<SampleRate>().is_err());
        assert!("half".parse::<SampleRate>().is_err());
        assert_eq!(Verification::On { rate: 1.0, seed: 3 }.probe_setting().as_deref(), Some("1"));
        let sampled = Verification::On { rate: 0.25, seed: 3 };
        assert_eq!(sampled.probe_setting().as_deref(), Some("0.25:3"));
        assert_eq!(Verification::Off.probe_setting(), None);
    }

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("two".parse::<Shard>().is_err());
    }
}
