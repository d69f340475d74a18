//! The culprit search: which patched functions break tests, in few and small test runs.
//!
//! 1. Screen: every function patched, the whole suite (import-time effects show here).
//! 2. If outcomes changed, the suspects are the functions that the baseline's call map says
//!    the broken tests call (all of them when the map cannot tell). Suspects that share a
//!    broken test form one component; components are searched independently, so a culprit
//!    found in one never re-runs another.
//! 3. Within a component, halve the group: when the left half is clean, the culprit is on
//!    the right without running it. k culprits among N cost about k x log2(N) runs.
//! 4. Confirm each suspect alone (unless a halving already ran it alone).
//! 5. Confirm the rest together, unless the screen's broken tests are all explained by the
//!    confirmed culprits (then the screen itself showed the rest clean together).
//!
//! Every run after the screen runs only the tests that call a function of its group (by
//! the call map), plus the screen's broken tests that the map does not attribute to any
//! function. A test that the map says never calls a function cannot be broken by caching
//! it, with these exceptions, each handled: calls the probe could not observe (a closure,
//! calls outside tests) make the map say "unknown" and the whole suite runs; effects at
//! import time are covered by the screen; a test broken through shared state without a
//! call is in the screen's broken set, which every later run includes.

use std::collections::{BTreeMap, BTreeSet};

use crate::report::plan::plural;
use crate::trial::{RunJudgement, RunRecord, Runner, TrialError};

type Evidence = BTreeMap<usize, (RunRecord, RunJudgement)>;

/// A suspect, with its solo run when a halving made one.
type Suspect = (usize, Option<(RunRecord, RunJudgement)>);

/// Screen, isolate, confirm; fills `evidence` for every function.
pub(crate) fn bisect(
    runner: &mut Runner<'_>,
    functions: Vec<usize>,
    evidence: &mut Evidence,
) -> Result<(), TrialError> {
    if functions.is_empty() {
        return Ok(());
    }
    runner.announce("Screening", plural(functions.len(), "target"));
    let screen = runner.run_group(&functions, None, "screen")?;
    let screen_judgement = runner.judge(&screen);
    if screen_judgement.is_clean() {
        for function in functions {
            evidence.insert(function, (screen.clone(), RunJudgement::Clean));
        }
        return Ok(());
    }
    let search = Search::new(runner, &functions, &screen, &screen_judgement);
    let mut suspects = Vec::new();
    for component in search.components(runner, &functions) {
        search.isolate(runner, component, &mut suspects)?;
    }
    let mut culprits = BTreeSet::new();
    let mut explained = BTreeSet::new();
    for (function, solo) in suspects {
        let (record, judgement) = match solo {
            Some(found) => found,
            None => {
                runner.announce("Confirming", runner.id(function).to_owned());
                let selection = search.selection(runner, &[function]);
                let label = format!("confirm-{}", runner.id(function));
                match runner.try_group(&[function], selection.as_ref(), &label)? {
                    Some(found) => found,
                    None => continue,
                }
            }
        };
        if !judgement.is_clean() {
            culprits.insert(function);
            explained.extend(judgement.broken_nodeids());
            evidence.insert(function, (record, judgement));
        }
    }
    let rest: Vec<usize> =
        functions.into_iter().filter(|function| !culprits.contains(function)).collect();
    if rest.is_empty() {
        return Ok(());
    }
    let screen_explained =
        search.screen_has_tests && !culprits.is_empty() && search.broken.is_subset(&explained);
    if screen_explained {
        for function in rest {
            evidence.insert(function, (screen.clone(), RunJudgement::Clean));
        }
        return Ok(());
    }
    runner.announce("Confirming", format!("{} together", plural(rest.len(), "remaining target")));
    let selection = search.selection(runner, &rest);
    let together = runner.try_group(&rest, selection.as_ref(), "confirm-rest")?;
    match together {
        None => {
            for function in rest {
                evidence.insert(function, (screen.clone(), RunJudgement::Clean));
            }
        }
        Some((record, judgement)) if judgement.is_clean() => {
            for function in rest {
                evidence.insert(function, (record.clone(), RunJudgement::Clean));
            }
        }
        Some(_) => {
            // They break tests only together: judge each alone, the slow and certain way.
            for function in rest {
                runner.announce("Trying", runner.id(function).to_owned());
                let selection = search.selection(runner, &[function]);
                let label = format!("individual-{}", runner.id(function));
                let found = runner.try_group(&[function], selection.as_ref(), &label)?;
                let (record, judgement) =
                    found.unwrap_or_else(|| (screen.clone(), RunJudgement::Clean));
                evidence.insert(function, (record, judgement));
            }
        }
    }
    Ok(())
}

/// What the screen told us, for choosing later runs.
struct Search {
    /// Tests the screen broke.
    broken: BTreeSet<String>,
    /// Broken tests that no function is known to call: included in every later run.
    unattributed: BTreeSet<String>,
    /// Whether the screen produced test outcomes (not a crash or timeout).
    screen_has_tests: bool,
}

impl Search {
    fn new(
        runner: &Runner<'_>,
        functions: &[usize],
        screen: &RunRecord,
        judgement: &RunJudgement,
    ) -> Self {
        let broken = judgement.broken_nodeids();
        let screen_has_tests = screen.observation.is_some() && !broken.is_empty();
        let mut attributed = BTreeSet::new();
        for &function in functions {
            if let Some(callers) =
                runner.baseline_ref().and_then(|baseline| baseline.callers([runner.id(function)]))
            {
                attributed.extend(callers.intersection(&broken).cloned());
            }
        }
        let unattributed = broken.difference(&attributed).cloned().collect();
        Self { broken, unattributed, screen_has_tests }
    }

    /// The tests a run of `group` needs: their callers plus the unattributed broken tests;
    /// `None` (the whole suite) when the call map cannot tell.
    fn selection(&self, runner: &Runner<'_>, group: &[usize]) -> Option<BTreeSet<String>> {
        let baseline = runner.baseline_ref()?;
        let mut tests = baseline.callers(group.iter().map(|&function| runner.id(function)))?;
        tests.extend(self.unattributed.iter().cloned());
        Some(tests)
    }

    /// Suspects grouped by the broken tests they share. Without usable test outcomes, or
    /// when the map attributes nothing, every function is one suspect group.
    fn components(&self, runner: &Runner<'_>, functions: &[usize]) -> Vec<Vec<usize>> {
        let Some(baseline) = runner.baseline_ref() else { return vec![functions.to_vec()] };
        if !self.screen_has_tests {
            return vec![functions.to_vec()];
        }
        let mut unknown = Vec::new();
        let mut touching: Vec<(usize, BTreeSet<String>)> = Vec::new();
        for &function in functions {
            match baseline.callers([runner.id(function)]) {
                None => unknown.push(function),
                Some(callers) => {
                    let broken: BTreeSet<String> =
                        callers.intersection(&self.broken).cloned().collect();
                    if !broken.is_empty() || !self.unattributed.is_empty() {
                        touching.push((function, broken));
                    }
                }
            }
        }
        if !self.unattributed.is_empty() {
            // Some broken test is not explained by the map: every function stays a suspect.
            return vec![functions.to_vec()];
        }
        let mut components: Vec<(Vec<usize>, BTreeSet<String>)> = Vec::new();
        for (function, broken) in touching {
            let (joined, separate): (Vec<_>, Vec<_>) =
                components.into_iter().partition(|(_, tests)| !tests.is_disjoint(&broken));
            let mut members = vec![function];
            let mut tests = broken;
            for (other_members, other_tests) in joined {
                members.extend(other_members);
                tests.extend(other_tests);
            }
            members.sort_unstable();
            components = separate;
            components.push((members, tests));
        }
        let mut groups: Vec<Vec<usize>> =
            components.into_iter().map(|(members, _)| members).collect();
        if !unknown.is_empty() {
            groups.push(unknown);
        }
        if groups.is_empty() {
            groups.push(functions.to_vec());
        }
        groups
    }

    /// `group` is known to break tests. Halve it until each failing part is one function.
    fn isolate(
        &self,
        runner: &mut Runner<'_>,
        group: Vec<usize>,
        suspects: &mut Vec<Suspect>,
    ) -> Result<(), TrialError> {
        if group.len() == 1 {
            suspects.push((group[0], None));
            return Ok(());
        }
        let right = group[group.len() / 2..].to_vec();
        let left = group[..group.len() / 2].to_vec();
        runner.announce("Bisecting", plural(group.len(), "target"));
        let selection = self.selection(runner, &left);
        let label = format!("bisect-{}", left.len());
        let left_result = runner.try_group(&left, selection.as_ref(), &label)?;
        let left_failed = match left_result {
            Some((record, judgement)) if !judgement.is_clean() => {
                if left.len() == 1 {
                    suspects.push((left[0], Some((record, judgement))));
                } else {
                    self.isolate(runner, left.clone(), suspects)?;
                }
                true
            }
            _ => false,
        };
        if !left_failed {
            // The left half is clean, so the right half holds the culprit: no run needed.
            return self.isolate(runner, right, suspects);
        }
        let selection = self.selection(runner, &right);
        let label = format!("bisect-{}", right.len());
        match runner.try_group(&right, selection.as_ref(), &label)? {
            Some((record, judgement)) if !judgement.is_clean() => {
                if right.len() == 1 {
                    suspects.push((right[0], Some((record, judgement))));
                    Ok(())
                } else {
                    self.isolate(runner, right, suspects)
                }
            }
            _ => Ok(()),
        }
    }
}
