//! The culprit search: which patched functions break tests, in few and small test runs.
//!
//! 1. Screen: every function patched, the whole suite (import-time effects show here).
//! 2. If outcomes changed, the suspects are the functions that the baseline's call map says
//!    the broken tests call (all of them when the map cannot tell). Suspects that share a
//!    broken test form one component; components are searched independently, so a culprit
//!    found in one never re-runs another.
//! 3. Within a component, halve the group: when the left half is clean, the culprit is on
//!    the right without running it. k culprits among N cost about k x log2(N) runs.
//! 4. Confirm each suspect alone (unless a halving already ran it alone). When that run,
//!    limited to the suspect's callers, broke a test the screen did not break, run the same
//!    tests uncached (a control): a test failing there too needs a test the selection left
//!    out (order dependence), and is no evidence against the suspect.
//! 5. Confirm the rest together, unless the screen's broken tests are all explained by the
//!    confirmed culprits (then the screen itself showed the rest clean together).
//!
//! Every run after the screen runs only the tests that call a function of its group (by
//! the call map), plus the screen's broken tests that the map does not attribute to any
//! function. A test that the map says never calls a function cannot be broken by caching
//! it, with these exceptions, each handled: calls the probe could not observe (a generator,
//! calls outside tests) make the map say "unknown" and the whole suite runs; effects at
//! import time are covered by the screen; a test broken through shared state without a
//! call is in the screen's broken set, which every later run includes.
//!
//! With `--jobs N`, the work runs in N scratch copies at once ([`crate::scratch`]): every
//! component is halved at the same time, both halves of a group side by side (a clean left
//! half then tells nothing the right half's own run does not, so this costs more runs, but
//! the halvings of one component stop waiting for each other); confirmations and individual
//! runs go N at a time. When copies turn out not to be what the tests import, everything
//! falls back to serial runs in place.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::Plan;
use crate::scratch::{CopyRunner, in_copies};
use crate::trial::{Baseline, Executor, JobsInfo, RunJudgement, RunRecord, Runner, TrialError};
use crate::ui::text::plural;

type Evidence = BTreeMap<usize, (RunRecord, RunJudgement)>;

/// A run and what it showed.
type Judged = (RunRecord, RunJudgement);

/// A suspect, with its solo run when a halving made one.
type Suspect = (usize, Option<Judged>);

/// What one step of a halving in copies found: a confirmed function, or groups to run next.
type Halving = (Option<(usize, Judged)>, Vec<Vec<usize>>);

/// Screen, isolate, confirm; fills `evidence` for every function.
pub(crate) fn bisect(
    runner: &mut Runner<'_>,
    functions: Vec<usize>,
    screen: Option<RunRecord>,
    evidence: &mut Evidence,
    jobs: &mut JobsInfo,
) -> Result<(), TrialError> {
    if functions.is_empty() {
        return Ok(());
    }
    let screen = match screen {
        // Already run in a scratch copy, beside the baseline.
        Some(screen) => screen,
        None => {
            runner.announce("Screening", plural(functions.len(), "target"));
            runner.run_group(&functions, None, "screen")?
        }
    };
    let screen_judgement = runner.judge(&screen);
    if screen_judgement.is_clean() {
        for function in functions {
            evidence.insert(function, (screen.clone(), RunJudgement::Clean));
        }
        return Ok(());
    }
    let Some(baseline) = runner.baseline_ref().cloned() else {
        return Err(TrialError::Setup("no baseline".to_owned()));
    };
    let search = Search::new(runner.plan(), baseline, &functions, &screen, &screen_judgement);
    let components = search.components(&functions);
    let confirmed = find_culprits(runner, &search, components, jobs)?;
    let mut culprits = BTreeSet::new();
    let mut explained = BTreeSet::new();
    for (function, (record, judgement)) in confirmed {
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
    let screen_explained = !search.whole_suite
        && search.screen_has_tests
        && !culprits.is_empty()
        && search.broken.is_subset(&explained);
    if screen_explained {
        for function in rest {
            evidence.insert(function, (screen.clone(), RunJudgement::Clean));
        }
        return Ok(());
    }
    runner.announce("Confirming", format!("{} together", plural(rest.len(), "remaining target")));
    let selection = search.selection(&rest);
    match runner.try_group(&rest, selection.as_ref(), "confirm-rest")? {
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
            let singles = rest.iter().map(|&function| vec![function]).collect();
            let tried = in_parallel(runner, singles, jobs, |executor, group| {
                let function = group[0];
                let id = search.id(function).to_owned();
                executor.announce("Trying", id.clone());
                let found = executor.try_group(
                    &[function],
                    search.selection(&[function]).as_ref(),
                    &format!("individual-{id}"),
                )?;
                match found {
                    Some(found) => {
                        Ok(Some((function, search.controlled(executor, function, found)?)))
                    }
                    None => Ok(None),
                }
            })?;
            for function in rest {
                let found = tried
                    .iter()
                    .flatten()
                    .find(|(tried, _)| *tried == function)
                    .map(|(_, found)| found.clone());
                evidence.insert(
                    function,
                    found.unwrap_or_else(|| (screen.clone(), RunJudgement::Clean)),
                );
            }
        }
    }
    Ok(())
}

/// Each component's culprits, confirmed alone. With copies, every component is halved at
/// once and both halves of a group run side by side (more runs than one after the other,
/// where a clean left half tells that the right one breaks, but the halvings of one
/// component no longer wait for each other). In place, one component after the other.
fn find_culprits(
    runner: &mut Runner<'_>,
    search: &Search<'_>,
    components: Vec<Vec<usize>>,
    jobs: &mut JobsInfo,
) -> Result<Vec<(usize, Judged)>, TrialError> {
    let halves: Vec<Vec<usize>> = components
        .iter()
        .flat_map(|component| match component.len() {
            1 => vec![component.clone()],
            _ => {
                let (left, right) = halves(component);
                vec![left, right]
            }
        })
        .collect();
    let copies = runner.jobs();
    let halve = |copy: &mut CopyRunner<'_>, group| search.halve(copy, group);
    if let Some(found) = try_in_copies(runner, halves, copies, jobs, &halve)? {
        return Ok(found.into_iter().flatten().collect());
    }
    let mut confirmed = Vec::new();
    for component in components {
        confirmed.extend(search.component(runner, component)?);
    }
    Ok(confirmed)
}

/// Do `work` for every group: in `runner.jobs()` scratch copies at once when more than one
/// job is asked for and there is more than one group; in place otherwise, and whenever the
/// copies turn out invisible to the tests.
pub(crate) fn in_parallel<R: Send>(
    runner: &mut Runner<'_>,
    groups: Vec<Vec<usize>>,
    jobs: &mut JobsInfo,
    work: impl Fn(&mut dyn Executor, Vec<usize>) -> Result<R, TrialError> + Sync,
) -> Result<Vec<R>, TrialError> {
    let copies = runner.jobs().min(groups.len());
    let in_copy = |copy: &mut CopyRunner<'_>, group| Ok((work(copy, group)?, Vec::new()));
    if let Some(results) = try_in_copies(runner, groups.clone(), copies, jobs, &in_copy)? {
        return Ok(results);
    }
    groups.into_iter().map(|group| work(runner, group)).collect()
}

/// `work` over `items` in `copies` scratch copies ([`in_copies`]); `None` when copies are
/// not for this (one copy, fewer than two items, or copies already found invisible to the
/// tests), and when they turn out invisible now, which is remembered in `jobs`.
fn try_in_copies<T: Clone + Send, R: Send>(
    runner: &mut Runner<'_>,
    items: Vec<T>,
    copies: usize,
    jobs: &mut JobsInfo,
    work: &(impl Fn(&mut CopyRunner<'_>, T) -> Result<(R, Vec<T>), TrialError> + Sync),
) -> Result<Option<Vec<R>>, TrialError> {
    if copies < 2 || items.len() < 2 || jobs.fallback.is_some() {
        return Ok(None);
    }
    let (outcome, runs, tests_executed) = match runner.copy_context() {
        Some((context, progress)) => in_copies(context, &progress, items, copies, work),
        None => (Err(TrialError::Setup("no baseline".to_owned())), 0, 0),
    };
    runner.add_runs(runs, tests_executed);
    match outcome {
        Ok(results) => {
            jobs.used = jobs.used.max(copies);
            Ok(Some(results))
        }
        Err(TrialError::CopyInvisible(reason)) => {
            runner.shell.warn(format!(
                "{reason}; scratch copies are not used, runs continue in place, one at a time"
            ));
            jobs.fallback = Some(reason);
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// The two halves of a group of two or more functions (the left one the smaller).
fn halves(group: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let (left, right) = group.split_at(group.len() / 2);
    (left.to_vec(), right.to_vec())
}

/// Whether collection broke in a run (then its outcomes say little about single tests).
fn record_has_collect_errors(record: &RunRecord) -> bool {
    record.observation.as_ref().is_some_and(|observation| !observation.collect_errors.is_empty())
}

/// What the screen told us, for choosing later runs.
struct Search<'p> {
    plan: &'p Plan,
    baseline: Baseline,
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

impl<'p> Search<'p> {
    fn new(
        plan: &'p Plan,
        baseline: Baseline,
        functions: &[usize],
        screen: &RunRecord,
        judgement: &RunJudgement,
    ) -> Self {
        let broken = judgement.broken_nodeids();
        let screen_has_tests = screen.observation.is_some() && !broken.is_empty();
        let collection_broke = screen
            .observation
            .as_ref()
            .is_some_and(|observation| !observation.collect_errors.is_empty());
        let lost_tests = matches!(judgement, RunJudgement::Broken { tests, .. } if tests.iter().any(|test| test.outcome.is_none()));
        let whole_suite = !screen_has_tests || collection_broke || lost_tests;
        let mut attributed = BTreeSet::new();
        for &function in functions {
            if let Some(callers) = baseline.callers([plan.functions[function].id.as_str()]) {
                attributed.extend(callers.intersection(&broken).cloned());
            }
        }
        let unattributed = broken.difference(&attributed).cloned().collect();
        Self { plan, baseline, broken, unattributed, screen_has_tests, whole_suite }
    }

    fn id(&self, function: usize) -> &str {
        &self.plan.functions[function].id
    }

    /// The tests a run of `group` needs: their callers plus the unattributed broken tests;
    /// `None` (the whole suite) when the call map cannot tell.
    fn selection(&self, group: &[usize]) -> Option<BTreeSet<String>> {
        if self.whole_suite {
            return None;
        }
        let mut tests = self.baseline.callers(group.iter().map(|&function| self.id(function)))?;
        tests.extend(self.unattributed.iter().cloned());
        Some(tests)
    }

    /// Suspects grouped by the broken tests they share. Without usable test outcomes, or
    /// when some broken test is not explained by the map, every function is one group.
    fn components(&self, functions: &[usize]) -> Vec<Vec<usize>> {
        if self.whole_suite || !self.unattributed.is_empty() {
            return vec![functions.to_vec()];
        }
        let mut unknown = Vec::new();
        let mut components: Vec<(Vec<usize>, BTreeSet<String>)> = Vec::new();
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

    /// Say that `function` is confirmed alone; the label of that run.
    fn confirming(&self, executor: &dyn Executor, function: usize) -> String {
        executor.announce("Confirming", self.id(function).to_owned());
        format!("confirm-{}", self.id(function))
    }

    /// One step of the halving in copies: run `group`; when it breaks tests, a single
    /// function is a suspect confirmed alone (with its control when needed), a larger group
    /// queues its two halves.
    fn halve(&self, executor: &mut dyn Executor, group: Vec<usize>) -> Result<Halving, TrialError> {
        let label = match group.as_slice() {
            [function] => self.confirming(executor, *function),
            _ => {
                executor.announce("Bisecting", plural(group.len(), "target"));
                format!("bisect-{}", group.len())
            }
        };
        let found = executor.try_group(&group, self.selection(&group).as_ref(), &label)?;
        let Some(found) = found.filter(|(_, judgement)| !judgement.is_clean()) else {
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
        component: Vec<usize>,
    ) -> Result<Vec<(usize, Judged)>, TrialError> {
        let mut suspects = Vec::new();
        self.isolate(executor, component, &mut suspects)?;
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
        function: usize,
        (record, judgement): Judged,
    ) -> Result<Judged, TrialError> {
        let RunJudgement::Broken { tests, .. } = &judgement else { return Ok((record, judgement)) };
        let unexplained = tests.iter().any(|test| !self.broken.contains(&test.nodeid));
        let selection = match &record.selection {
            Some(selection) if unexplained && !record_has_collect_errors(&record) => selection,
            _ => return Ok((record, judgement)),
        };
        let id = self.id(function);
        executor.announce("Controlling", format!("{id}: its tests, uncached"));
        let control = executor.run_patched(&[], Some(selection), &format!("control-{id}"))?;
        let failing_anyway = executor.judge_run(&control)?.broken_nodeids();
        let kept: Vec<_> =
            tests.iter().filter(|test| !failing_anyway.contains(&test.nodeid)).cloned().collect();
        let judgement = if kept.is_empty() {
            RunJudgement::Clean
        } else if kept.len() == tests.len() {
            judgement
        } else {
            let reason = format!("{} changed outcome", plural(kept.len(), "test"));
            RunJudgement::Broken { tests: kept, reason }
        };
        Ok((record, judgement))
    }

    /// `group` is known to break tests. Halve it until each failing part is one function.
    fn isolate(
        &self,
        executor: &mut dyn Executor,
        group: Vec<usize>,
        suspects: &mut Vec<Suspect>,
    ) -> Result<(), TrialError> {
        if group.len() == 1 {
            suspects.push((group[0], None));
            return Ok(());
        }
        let (left, right) = halves(&group);
        executor.announce("Bisecting", plural(group.len(), "target"));
        let label = format!("bisect-{}", left.len());
        let left_failed = match executor.try_group(&left, self.selection(&left).as_ref(), &label)? {
            Some((record, judgement)) if !judgement.is_clean() => {
                if left.len() == 1 {
                    suspects.push((left[0], Some((record, judgement))));
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
            Some((record, judgement)) if !judgement.is_clean() => {
                if right.len() == 1 {
                    suspects.push((right[0], Some((record, judgement))));
                    Ok(())
                } else {
                    self.isolate(executor, right, suspects)
                }
            }
            _ => Ok(()),
        }
    }
}
