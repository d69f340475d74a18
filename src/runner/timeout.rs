//! How long one test run may take: `project.timeout` (or `--timeout`) when set; otherwise
//! an hour for the baseline (it only guards a hang), then max(60 s, 5 x the baseline), which
//! leaves room for a slow machine without waiting forever on a patched run that hangs.

use std::time::Duration;

/// The baseline's timeout when none is configured.
const BASELINE: Duration = Duration::from_secs(3600);
/// The shortest derived timeout.
const MINIMUM: Duration = Duration::from_secs(60);
/// A patched run may take this many times the baseline.
const FACTOR: f64 = 5.0;

/// The timeout of test runs, learned from the baseline unless configured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeout {
    configured: Option<Duration>,
    current: Duration,
}

impl Timeout {
    pub(crate) fn new(configured: Option<Duration>) -> Self {
        Self { configured, current: configured.unwrap_or(BASELINE) }
    }

    /// The timeout of the next run.
    pub(crate) fn get(&self) -> Duration {
        self.current
    }

    /// After the baseline: runs get what the rule derives from its duration.
    pub(crate) fn learn_from_baseline(&mut self, baseline: Duration) {
        if self.configured.is_none() {
            self.current = baseline.mul_f64(FACTOR).max(MINIMUM);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_gets_an_hour_then_runs_get_five_times_the_baseline_but_a_minute_at_least() {
        let mut timeout = Timeout::new(None);
        assert_eq!(timeout.get(), Duration::from_secs(3600));
        timeout.learn_from_baseline(Duration::from_secs(30));
        assert_eq!(timeout.get(), Duration::from_secs(150));
        timeout.learn_from_baseline(Duration::from_secs(2));
        assert_eq!(timeout.get(), Duration::from_secs(60));
    }

    #[test]
    fn a_configured_timeout_holds_for_every_run() {
        let mut timeout = Timeout::new(Some(Duration::from_secs(7)));
        assert_eq!(timeout.get(), Duration::from_secs(7));
        timeout.learn_from_baseline(Duration::from_secs(30));
        assert_eq!(timeout.get(), Duration::from_secs(7));
    }
}
