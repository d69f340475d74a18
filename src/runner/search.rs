//! The culprit search: which patched functions break tests, in few and small test runs.
//!
//! 1. Screen: every function patched, the whole suite (import-time effects show here).
//! 2. If outcomes changed, the suspects are the functions that the baseline's call map says
//!    the broken tests call (all of them when the map cannot tell). Suspects that share a
//!    broken test form one component; components are searched independently, so a culprit
//!    found in one never re-runs another.
//! 3. Within a component, halve the group: when the left half is clean, the culprit is on
//!    the right without running it. k culprits among N cost about k x log2(N) runs. When
//!    the broken tests prove that more than a third of a component are culprits (that many
//!    broken tests share no suspect, so each needs a culprit of its own), halving costs
//!    more than it saves: each suspect is run alone instead, N runs that are also the
//!    confirmations.
//! 4. Confirm each suspect alone (unless a halving already ran it alone). When that run,
//!    limited to the suspect's callers, broke a test the screen did not break, run the same
//!    tests uncached (a control): a test failing there too needs a test the selection left
//!    out (order dependence), and is no evidence against the suspect.
//! 5. Confirm the rest together, unless the screen's broken tests are all explained by the
//!    confirmed culprits (then the screen itself showed the rest clean together). If the
//!    rest breaks tests together (an interaction), try each alone.
//!
//! Every run after the screen runs only the tests that call a function of its group (by
//! the call map), plus the screen's broken tests that the map does not attribute to any
//! function. A test that the map says never calls a function cannot be broken by caching
//! it, with these exceptions, each handled: calls the probe could not observe (a generator,
//! calls outside tests) make the map say "unknown" and the whole suite runs; effects at
//! import time are covered by the screen; a test broken through shared state without a
//! call is in the screen's broken set, which every later run includes.
//!
//! With `--jobs N`, the work runs in N executors at once ([`Lab::in_parallel`]): every
//! component is halved at the same time, both halves of a group side by side (a clean left
//! half then tells nothing the right half's own run does not, so this costs more runs, but
//! the halvings of one component stop waiting for each other); confirmations and individual
//! runs go N at a time. When that cannot be done, everything runs here, one at a time.
//!
//! The search runs against the [`Lab`] and [`Executor`] traits only, so the unit tests below
//! drive every branch with a fake in milliseconds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::error::RunnerError;
use super::events::Step;
use super::executor::{Executor, Lab};
use crate::outcome::baseline::Baseline;
use crate::outcome::judgement::{Judged, RunJudgement};
use crate::outcome::record::RunRecord;
use crate::outcome::trial::Evidence;
use crate::plan::FunctionIndex;
use crate::ui::text::plural;

/// A suspect, with its solo run when a halving made one.
type Suspect = (FunctionIndex, Option<Judged>);

/// What one step of a halving in parallel found: a confirmed function, or groups to run next.
type Halving = (Option<(FunctionIndex, Judged)>, Vec<Vec<FunctionIndex>>);

/// One run per function, the whole suite each (`--strategy individual`). `ids` names the
/// planned functions by [`FunctionIndex`].
pub(crate) fn individually<L: Lab>(
    lab: &mut L,
    ids: &[String],
    functions: Vec<FunctionIndex>,
) -> Result<Evidence, RunnerError> {
    let singles = functions.into_iter().map(|function| vec![function]).collect();
    let tried = each(lab, singles, |executor, group| {
        let function = group[0];
        let id = &ids[function.0];
        executor.announce(Step::Trying { id });
        let found = executor.try_group(&[function], None, &format!("individual-{id}"))?;
        Ok(found.map(|found| (function, found)))
    })?;
    Ok(tried.into_iter().flatten().collect())
}

/// Screen, isolate, confirm: evidence for every function. `screen` is the screen when it
/// already ran (beside the baseline's parts).
pub(crate) fn bisect<L: Lab>(
    lab: &mut L,
    ids: &[String],
    baseline: &Baseline,
    functions: Vec<FunctionIndex>,
    screen: Option<RunRecord>,
) -> Result<Evidence, RunnerError> {
    let mut evidence = Evidence::new();
    if functions.is_empty() {
        return Ok(evidence);
    }
    let screen = match screen {
        Some(screen) => screen,
        None => {
            lab.announce(Step::Screening { targets: functions.len() });
            lab.run_patched(&functions, None, "screen")?
        }
    };
    let screen_judgement = lab.judge_run(&screen)?;
    let screen = Arc::new(screen);
    if screen_judgement.is_clean() {
        evidence.extend(functions.into_iter().map(|function| (function, Judged::clean(&screen))));
        return Ok(evidence);
    }
    let search = Search::new(ids, baseline, &functions, &screen, &screen_judgement);
    let components = search.components(&functions);
    let mut culprits = BTreeSet::new();
    let mut explained = BTreeSet::new();
    for (function, judged) in find_culprits(lab, &search, components)? {
        if !judged.is_clean() {
            culprits.insert(function);
            explained.extend(judged.judgement.broken_nodeids());
            evidence.insert(function, judged);
        }
    }
    let rest: Vec<FunctionIndex> =
        functions.into_iter().filter(|function| !culprits.contains(function)).collect();
    if rest.is_empty() {
        return Ok(evidence);
    }
    let screen_explained = !search.whole_suite
        && search.screen_has_tests
        && !culprits.is_empty()
        && search.broken.is_subset(&explained);
    if screen_explained {
        evidence.extend(rest.into_iter().map(|function| (function, Judged::clean(&screen))));
        return Ok(evidence);
    }
    lab.announce(Step::ConfirmingRest { targets: rest.len() });
    match lab.try_group(&rest, search.selection(&rest).as_ref(), "confirm-rest")? {
        None => {
            evidence.extend(rest.into_iter().map(|function| (function, Judged::clean(&screen))));
        }
        Some(together) if together.is_clean() => {
            let record = together.record;
            evidence.extend(rest.into_iter().map(|function| (function, Judged::clean(&record))));
        }
        Some(_) => {
            // They break tests only together: judge each alone, the slow and certain way.
            let singles = rest.iter().map(|&function| vec![function]).collect();
            let tried = each(lab, singles, |executor, group| {
                let function = group[0];
                let id = search.id(function);
                executor.announce(Step::Trying { id });
                let selection = search.selection(&[function]);
                let label = format!("individual-{id}");
                match executor.try_group(&[function], selection.as_ref(), &label)? {
                    Some(found) => {
                        Ok(Some((function, search.controlled(executor, function, found)?)))
                    }
                    None => Ok(None),
                }
            })?;
            let mut tried: Evidence = tried.into_iter().flatten().collect();
            for function in rest {
                let judged = tried.remove(&function).unwrap_or_else(|| Judged::clean(&screen));
                evidence.insert(function, judged);
            }
        }
    }
    Ok(evidence)
}

/// Each component's culprits, confirmed alone. In parallel, every component is halved at
/// once and both halves of a group run side by side; here, one component after the other.
fn find_culprits<L: Lab>(
    lab: &mut L,
    search: &Search<'_>,
    components: Vec<Vec<FunctionIndex>>,
) -> Result<Vec<(FunctionIndex, Judged)>, RunnerError> {
    let halves: Vec<Vec<FunctionIndex>> = components
        .iter()
        .flat_map(|component| match component.len() {
            1 => vec![component.clone()],
            _ if search.is_dense(component) => {
                component.iter().map(|&function| vec![function]).collect()
            }
            _ => {
                let (left, right) = halves(component);
                vec![left, right]
            }
        })
        .collect();
    let executors = lab.jobs();
    if executors >= 2 && halves.len() >= 2 {
        let halve = |executor: &mut dyn Executor, group| search.halve(executor, group);
        if let Some(found) = lab.in_parallel(halves, executors, &halve)? {
            return Ok(found.into_iter().flatten().collect());
        }
    }
    let mut confirmed = Vec::new();
    for component in components {
        confirmed.extend(search.component(lab, component)?);
    }
    Ok(confirmed)
}

/// Do `work` for every group: in parallel when the lab runs more than one job and there is
/// more than one group, here otherwise (and whenever parallel runs cannot be had).
pub(super) fn each<L: Lab, R: Send>(
    lab: &mut L,
    groups: Vec<Vec<FunctionIndex>>,
    work: impl Fn(&mut dyn Executor, Vec<FunctionIndex>) -> Result<R, RunnerError> + Sync,
) -> Result<Vec<R>, RunnerError> {
    let executors = lab.jobs().min(groups.len());
    if executors >= 2 {
        let in_parallel =
            |executor: &mut dyn Executor, group| Ok((work(executor, group)?, Vec::new()));
        if let Some(results) = lab.in_parallel(groups.clone(), executors, &in_parallel)? {
            return Ok(results);
        }
    }
    groups.into_iter().map(|group| work(lab, group)).collect()
}

/// The two halves of a group of two or more functions (the left one the smaller).
fn halves(group: &[FunctionIndex]) -> (Vec<FunctionIndex>, Vec<FunctionIndex>) {
    let (left, right) = group.split_at(group.len() / 2);
    (left.to_vec(), right.to_vec())
}

/// What the screen told us, for choosing later runs.
struct Search<'s> {
    /// The planned functions' ids, by [`FunctionIndex`].
    ids: &'s [String],
    baseline: &'s Baseline,
    /// Tests the screen broke.
    broken: BTreeSet<String>,
    /// Broken tests that no function is known to call: included in every later run.
    unattributed: BTreeSet<String>,
    /// Whether the screen produced test outcomes (not a crash or timeout).
    screen_has_tests: bool,
    /// The screen crashed, timed out, broke collection or lost tests (an import-time
    /// failure): the call map cannot say which tests a function affects, so every later
    /// run takes the whole suite and every function stays a suspect.
    whole_suite: bool,
}

impl<'s> Search<'s> {
    fn new(
        ids: &'s [String],
        baseline: &'s Baseline,
        functions: &[FunctionIndex],
        screen: &RunRecord,
        judgement: &RunJudgement,
    ) -> Self {
        let broken = judgement.broken_nodeids();
        let screen_has_tests = screen.observation.is_some() && !broken.is_empty();
        let whole_suite =
            !screen_has_tests || screen.has_collect_errors() || judgement.lost_tests();
        let mut attributed = BTreeSet::new();
        for &function in functions {
            if let Some(callers) = baseline.callers([ids[function.0].as_str()]) {
                attributed.extend(callers.intersection(&broken).cloned());
            }
        }
        let unattributed = broken.difference(&attributed).cloned().collect();
        Self { ids, baseline, broken, unattributed, screen_has_tests, whole_suite }
    }

    fn id(&self, function: FunctionIndex) -> &str {
        &self.ids[function.0]
    }

    /// The tests a run of `group` needs: their callers plus the unattributed broken tests;
    /// `None` (the whole suite) when the call map cannot tell.
    fn selection(&self, group: &[FunctionIndex]) -> Option<BTreeSet<String>> {
        if self.whole_suite {
            return None;
        }
        let mut tests = self.baseline.callers(group.iter().map(|&function| self.id(function)))?;
        tests.extend(self.unattributed.iter().cloned());
        Some(tests)
    }

    /// Suspects grouped by the broken tests they share. Without usable test outcomes, or
    /// when some broken test is not explained by the map, every function is one group.
    fn components(&self, functions: &[FunctionIndex]) -> Vec<Vec<FunctionIndex>> {
        if self.whole_suite || !self.unattributed.is_empty() {
            return vec![functions.to_vec()];
        }
        let mut unknown = Vec::new();
        let mut components: Vec<(Vec<FunctionIndex>, BTreeSet<String>)> = Vec::new();
        for &function in functions {
            let Some(callers) = self.baseline.callers([self.id(function)]) else {
                unknown.push(function);
                continue;
            };
            let broken: BTreeSet<String> = callers.intersection(&self.broken).cloned().collect();
            if broken.is_empty() {
                continue;
            }
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
        let mut groups: Vec<Vec<FunctionIndex>> =
            components.into_iter().map(|(members, _)| members).collect();
        if !unknown.is_empty() {
            groups.push(unknown);
        }
        if groups.is_empty() {
            groups.push(functions.to_vec());
        }
        groups
    }

    /// Whether the broken tests prove that more than a third of `component` are culprits:
    /// then running each alone costs fewer runs than halving (adaptive group testing stops
    /// paying near that density). The proof is a set of broken tests no two of which share
    /// a suspect, each needing a culprit of its own, gathered greedily from the tests with
    /// the fewest suspects; a lower bound, so a sparse component is never run one by one.
    fn is_dense(&self, component: &[FunctionIndex]) -> bool {
        // Two suspects cost two runs either way.
        if component.len() < 3 || self.whole_suite || !self.unattributed.is_empty() {
            return false;
        }
        let mut suspects_of: BTreeMap<String, BTreeSet<FunctionIndex>> = BTreeMap::new();
        for &function in component {
            let Some(callers) = self.baseline.callers([self.id(function)]) else { return false };
            for test in callers.intersection(&self.broken) {
                suspects_of.entry(test.clone()).or_default().insert(function);
            }
        }
        let mut tests: Vec<&BTreeSet<FunctionIndex>> = suspects_of.values().collect();
        tests.sort_by_key(|suspects| suspects.len());
        let mut used = BTreeSet::new();
        let mut culprits_at_least = 0;
        for suspects in tests {
            if suspects.is_disjoint(&used) {
                used.extend(suspects.iter().copied());
                culprits_at_least += 1;
            }
        }
        culprits_at_least * 3 > component.len()
    }

    /// Say that `function` is confirmed alone; the label of that run.
    fn confirming(&self, executor: &dyn Executor, function: FunctionIndex) -> String {
        let id = self.id(function);
        executor.announce(Step::Confirming { id });
        format!("confirm-{id}")
    }

    /// One step of the halving in parallel: run `group`; when it breaks tests, a single
    /// function is a suspect confirmed alone (with its control when needed), a larger group
    /// queues its two halves.
    fn halve(
        &self,
        executor: &mut dyn Executor,
        group: Vec<FunctionIndex>,
    ) -> Result<Halving, RunnerError> {
        let label = match group.as_slice() {
            [function] => self.confirming(executor, *function),
            _ => {
                executor.announce(Step::Bisecting { targets: group.len() });
                format!("bisect-{}", group.len())
            }
        };
        let found = executor.try_group(&group, self.selection(&group).as_ref(), &label)?;
        let Some(found) = found.filter(|found| !found.is_clean()) else {
            return Ok((None, Vec::new()));
        };
        if let [function] = group.as_slice() {
            return Ok((
                Some((*function, self.controlled(executor, *function, found)?)),
                Vec::new(),
            ));
        }
        let (left, right) = halves(&group);
        Ok((None, vec![left, right]))
    }

    /// Isolate the culprits of one component and confirm each alone.
    fn component(
        &self,
        executor: &mut dyn Executor,
        component: Vec<FunctionIndex>,
    ) -> Result<Vec<(FunctionIndex, Judged)>, RunnerError> {
        let mut suspects = Vec::new();
        if self.is_dense(&component) {
            suspects.extend(component.into_iter().map(|function| (function, None)));
        } else {
            self.isolate(executor, component, &mut suspects)?;
        }
        let mut confirmed = Vec::new();
        for (function, solo) in suspects {
            let found = match solo {
                Some(found) => Some(found),
                None => {
                    let label = self.confirming(executor, function);
                    executor.try_group(&[function], self.selection(&[function]).as_ref(), &label)?
                }
            };
            if let Some(found) = found {
                confirmed.push((function, self.controlled(executor, function, found)?));
            }
        }
        Ok(confirmed)
    }

    /// A run of `function` alone, limited to some tests, broke a test that the screen (the
    /// whole suite with every function cached) did not: run the same tests uncached. A test
    /// that fails there too fails because of the selection (it needs what a test left out
    /// leaves behind), not because of the cache, and is no evidence against `function`;
    /// a run left without other broken tests is clean.
    fn controlled(
        &self,
        executor: &mut dyn Executor,
        function: FunctionIndex,
        found: Judged,
    ) -> Result<Judged, RunnerError> {
        let RunJudgement::Broken { tests, .. } = &found.judgement else { return Ok(found) };
        let unexplained = tests.iter().any(|test| !self.broken.contains(&test.nodeid));
        let selection = match &found.record.selection {
            Some(selection) if unexplained && !found.record.has_collect_errors() => selection,
            _ => return Ok(found),
        };
        let id = self.id(function);
        executor.announce(Step::Controlling { id });
        let control = executor.run_patched(&[], Some(selection), &format!("control-{id}"))?;
        let failing_anyway = executor.judge_run(&control)?.broken_nodeids();
        let kept: Vec<_> =
            tests.iter().filter(|test| !failing_anyway.contains(&test.nodeid)).cloned().collect();
        let judgement = if kept.is_empty() {
            RunJudgement::Clean
        } else if kept.len() == tests.len() {
            return Ok(found);
        } else {
            let reason = format!("{} changed outcome", plural(kept.len(), "test"));
            RunJudgement::Broken { tests: kept, reason }
        };
        Ok(Judged { record: found.record, judgement })
    }

    /// `group` is known to break tests. Halve it until each failing part is one function.
    fn isolate(
        &self,
        executor: &mut dyn Executor,
        group: Vec<FunctionIndex>,
        suspects: &mut Vec<Suspect>,
    ) -> Result<(), RunnerError> {
        if group.len() == 1 {
            suspects.push((group[0], None));
            return Ok(());
        }
        let (left, right) = halves(&group);
        executor.announce(Step::Bisecting { targets: group.len() });
        let label = format!("bisect-{}", left.len());
        let left_failed = match executor.try_group(&left, self.selection(&left).as_ref(), &label)? {
            Some(found) if !found.is_clean() => {
                if left.len() == 1 {
                    suspects.push((left[0], Some(found)));
                } else {
                    self.isolate(executor, left, suspects)?;
                }
                true
            }
            _ => false,
        };
        if !left_failed {
            // The left half is clean, so the right half holds the culprit: no run needed.
            return self.isolate(executor, right, suspects);
        }
        let label = format!("bisect-{}", right.len());
        match executor.try_group(&right, self.selection(&right).as_ref(), &label)? {
            Some(found) if !found.is_clean() => {
                if right.len() == 1 {
                    suspects.push((right[0], Some(found)));
                    Ok(())
                } else {
                    self.isolate(executor, right, suspects)
                }
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
