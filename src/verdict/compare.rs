//! A run against the baseline, test by test: which tests changed outcome, and whether the
//! run is clean. Pure. The runner asks this after every run to choose the next one; the
//! verdicts rest on the same answers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::outcome::baseline::Baseline;
use crate::outcome::judgement::{BrokenTest, RunJudgement};
use crate::outcome::record::RunRecord;
use crate::probe::TestResult;
use crate::safety::process::RunEnd;
use crate::ui::text::plural;

/// Every test whose outcome differs from the baseline (missing and new tests included),
/// over the baseline's tests in `selection` (all of them for `None`), ignoring tests that
/// already failed there.
pub(crate) fn broken_tests(
    baseline: &BTreeMap<String, TestResult>,
    selection: Option<&BTreeSet<String>>,
    run: &BTreeMap<String, TestResult>,
    ignored: &BTreeSet<String>,
) -> Vec<BrokenTest> {
    let expected = |nodeid: &String| selection.is_none_or(|selection| selection.contains(nodeid));
    let nodeids: BTreeSet<&String> =
        baseline.keys().filter(|nodeid| expected(nodeid)).chain(run.keys()).collect();
    nodeids
        .into_iter()
        .filter(|nodeid| !ignored.contains(*nodeid))
        .filter_map(|nodeid| {
            let before = baseline.get(nodeid).filter(|_| expected(nodeid));
            let after = run.get(nodeid);
            let same = matches!((before, after), (Some(before), Some(after)) if before.outcome == after.outcome);
            (!same).then(|| BrokenTest {
                nodeid: nodeid.clone(),
                baseline: before.map(|result| result.outcome),
                outcome: after.map(|result| result.outcome),
                message: after.and_then(|result| result.message.clone()),
            })
        })
        .collect()
}

/// Compare a patched run with the baseline, over the tests the run was limited to.
/// `timeout` is what the run was given, for the message when it ran out.
pub(crate) fn judge(baseline: &Baseline, timeout: Duration, record: &RunRecord) -> RunJudgement {
    let observation = match (&record.end, &record.observation) {
        (RunEnd::TimedOut, _) => {
            let reason = format!(
                "the test run timed out after {:.0} s and was killed",
                timeout.as_secs_f64()
            );
            return RunJudgement::Broken { tests: Vec::new(), reason };
        }
        (_, None) => {
            let reason =
                format!("the test run crashed: {}", record.probe_error.clone().unwrap_or_default());
            return RunJudgement::Broken { tests: Vec::new(), reason };
        }
        (_, Some(observation)) => observation,
    };
    let tests = broken_tests(
        &baseline.observation.tests,
        record.selection.as_ref(),
        &observation.tests,
        &baseline.failures,
    );
    let collect_errors = observation.collect_errors.len();
    if let Some((nodeid, message)) = observation.collect_errors.first() {
        // Collection broke (an import-time failure): that is the news, not the tests that
        // went missing because of it.
        let reason =
            format!("{collect_errors} collection error(s), the first in {nodeid}: {message}");
        RunJudgement::Broken { tests, reason }
    } else if !tests.is_empty() {
        let reason = format!("{} changed outcome", plural(tests.len(), "test"));
        RunJudgement::Broken { tests, reason }
    } else {
        RunJudgement::Clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Observation;
    use crate::probe::protocol::Outcome;

    fn tests(outcomes: &[(&str, Outcome)]) -> BTreeMap<String, TestResult> {
        outcomes
            .iter()
            .map(|(nodeid, outcome)| {
                ((*nodeid).to_owned(), TestResult { outcome: *outcome, message: None })
            })
            .collect()
    }

    #[test]
    fn changed_missing_and_new_tests_are_broken_but_baseline_failures_are_ignored() {
        use Outcome::{Failed, Passed};
        let baseline = tests(&[("a", Passed), ("b", Passed), ("c", Failed), ("d", Passed)]);
        let run = tests(&[("a", Passed), ("b", Failed), ("c", Passed), ("e", Passed)]);
        let ignored =
            Observation { tests: baseline.clone(), ..Observation::default() }.failing_tests();
        let broken: Vec<_> = broken_tests(&baseline, None, &run, &ignored)
            .into_iter()
            .map(|test| test.nodeid)
            .collect();
        assert_eq!(broken, ["b", "d", "e"]);
    }

    #[test]
    fn a_selection_limits_the_tests_the_run_owes() {
        use Outcome::Passed;
        let baseline = tests(&[("a", Passed), ("b", Passed), ("c", Passed)]);
        let run = tests(&[("a", Passed)]);
        let selection = BTreeSet::from(["a".to_owned()]);
        assert!(broken_tests(&baseline, Some(&selection), &run, &BTreeSet::new()).is_empty());
        let missing = broken_tests(&baseline, None, &run, &BTreeSet::new());
        assert_eq!(missing.len(), 2, "without the selection, b and c went missing");
        assert!(missing.iter().all(|test| test.outcome.is_none()));
    }
}
