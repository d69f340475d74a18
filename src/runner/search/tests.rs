//! Longer than 500 lines: one fake lab and one test per branch of the search; split, the fake
//! would have to be shared across files for no gain in reading.
//!
//! The culprit search, driven by a fake lab: a suite described by which test calls which
//! function, which functions break which tests when cached (alone or only together), and
//! which tests need another test to run first. Every branch of the search, and the number
//! and size of its runs, checked in milliseconds.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{bisect, individually};
use crate::outcome::baseline::Baseline;
use crate::outcome::judgement::{Judged, RunJudgement};
use crate::outcome::record::RunRecord;
use crate::outcome::trial::Evidence;
use crate::plan::FunctionIndex;
use crate::probe::protocol::{CallStats, Observer, Outcome, TargetState};
use crate::probe::{Observation, SESSION_KEY, TargetStats, TestResult};
use crate::runner::error::RunnerError;
use crate::runner::events::Step;
use crate::runner::executor::{Executor, Lab, ParallelWork};
use crate::safety::process::RunEnd;

/// One run the fake made.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    label: String,
    functions: Vec<usize>,
    /// `None`: the whole suite.
    selection: Option<BTreeSet<String>>,
}

/// A suite and what caching does to it.
#[derive(Debug, Default)]
struct Suite {
    /// Every test, in the order the suite runs them.
    tests: Vec<String>,
    /// Per test, the functions it calls (the baseline's call map).
    calls: BTreeMap<String, BTreeSet<usize>>,
    /// Per function, the tests its cache breaks on its own.
    breaks: BTreeMap<usize, BTreeSet<String>>,
    /// Functions that break these tests only when all of them are cached together.
    interaction: Option<(BTreeSet<usize>, BTreeSet<String>)>,
    /// A test that fails unless the named test ran before it in the same run.
    needs: BTreeMap<String, String>,
    /// Functions the probe could not observe: the call map cannot tell their callers.
    unobserved: BTreeSet<usize>,
    /// Functions named in the plan.
    functions: usize,
}

impl Suite {
    /// `functions` functions, each called by its own `tests_each` tests (`f3` by `t3_0`..).
    fn separate(functions: usize, tests_each: usize) -> Self {
        let mut suite = Suite { functions, ..Suite::default() };
        for function in 0..functions {
            for test in 0..tests_each {
                suite.add_test(&format!("t{function}_{test}"), &[function]);
            }
        }
        suite
    }

    fn add_test(&mut self, name: &str, calls: &[usize]) {
        self.tests.push(name.to_owned());
        self.calls.insert(name.to_owned(), calls.iter().copied().collect());
    }

    fn breaking(mut self, function: usize, tests: &[&str]) -> Self {
        self.breaks.insert(function, tests.iter().map(|test| (*test).to_owned()).collect());
        self
    }

    fn ids(&self) -> Vec<String> {
        (0..self.functions).map(|function| format!("m:f{function}")).collect()
    }

    fn outcomes(
        &self,
        tests: &[String],
        functions: &BTreeSet<usize>,
    ) -> BTreeMap<String, TestResult> {
        tests
            .iter()
            .map(|test| {
                let broken = functions.iter().any(|function| {
                    self.breaks.get(function).is_some_and(|broken| broken.contains(test))
                });
                let together = self.interaction.as_ref().is_some_and(|(members, broken)| {
                    members.is_subset(functions) && broken.contains(test)
                });
                let missing_setup =
                    self.needs.get(test).is_some_and(|setup| !tests.contains(setup));
                let outcome = if broken || together || missing_setup {
                    Outcome::Failed
                } else {
                    Outcome::Passed
                };
                (test.clone(), TestResult { outcome, message: None })
            })
            .collect()
    }

    fn targets(&self, state: TargetState) -> BTreeMap<String, TargetStats> {
        self.ids()
            .into_iter()
            .enumerate()
            .map(|(function, id)| {
                let observer = if self.unobserved.contains(&function) {
                    Observer::Unavailable
                } else {
                    Observer::CodeSwap
                };
                let stats = TargetStats {
                    state,
                    loaded_files: BTreeSet::new(),
                    hits: 0,
                    misses: 0,
                    currsize: 0,
                    observer: Some(observer),
                    verify: None,
                    reuse: None,
                };
                (id, stats)
            })
            .collect()
    }

    fn baseline(&self) -> Baseline {
        let ids = self.ids();
        let mut test_calls: BTreeMap<String, BTreeMap<String, CallStats>> = self
            .calls
            .iter()
            .map(|(test, functions)| {
                let cells = functions
                    .iter()
                    .filter(|function| !self.unobserved.contains(function))
                    .map(|&function| (ids[function].clone(), CallStats { calls: 1, time_ns: 1 }))
                    .collect();
                (test.clone(), cells)
            })
            .collect();
        test_calls.insert(SESSION_KEY.to_owned(), BTreeMap::new());
        let observation = Observation {
            tests: self.outcomes(&self.tests, &BTreeSet::new()),
            collected: self.tests.len() as u64,
            targets: self.targets(TargetState::NotWrapped),
            test_calls,
            ..Observation::default()
        };
        Baseline::new(observation, Duration::from_secs(1), false, 1)
    }
}

/// The fake lab: runs are computed from the [`Suite`], recorded, and judged by the real
/// comparison with the baseline.
struct FakeLab {
    suite: Suite,
    baseline: Baseline,
    jobs: usize,
    /// Whether parallel runs are refused (scratch copies invisible to the tests).
    copies_invisible: bool,
    runs: Vec<Run>,
    /// How many times work went to parallel executors.
    parallel_batches: usize,
}

impl FakeLab {
    fn new(suite: Suite) -> Self {
        let baseline = suite.baseline();
        FakeLab {
            suite,
            baseline,
            jobs: 1,
            copies_invisible: false,
            runs: Vec::new(),
            parallel_batches: 0,
        }
    }

    fn with_jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }

    fn bisect(&mut self) -> Evidence {
        let ids = self.suite.ids();
        let baseline = self.baseline.clone();
        let functions = (0..self.suite.functions).map(FunctionIndex).collect();
        bisect(self, &ids, &baseline, functions, None).expect("the search runs")
    }

    fn labels(&self) -> Vec<&str> {
        self.runs.iter().map(|run| run.label.as_str()).collect()
    }

    fn run(&self, label: &str) -> &Run {
        self.runs
            .iter()
            .find(|run| run.label == label)
            .unwrap_or_else(|| panic!("no run {label} in {:?}", self.labels()))
    }
}

impl Executor for FakeLab {
    fn run_patched(
        &mut self,
        functions: &[FunctionIndex],
        selection: Option<&BTreeSet<String>>,
        label: &str,
    ) -> Result<RunRecord, RunnerError> {
        let patched: BTreeSet<usize> = functions.iter().map(|function| function.0).collect();
        let tests: Vec<String> = self
            .suite
            .tests
            .iter()
            .filter(|test| selection.is_none_or(|selection| selection.contains(*test)))
            .cloned()
            .collect();
        let observation = Observation {
            tests: self.suite.outcomes(&tests, &patched),
            collected: tests.len() as u64,
            targets: self.suite.targets(TargetState::Stats),
            ..Observation::default()
        };
        self.runs.push(Run {
            label: label.to_owned(),
            functions: patched.into_iter().collect(),
            selection: selection.cloned(),
        });
        Ok(RunRecord {
            end: RunEnd::Exited(Some(0)),
            duration: Duration::from_secs(1),
            observation: Some(observation),
            probe_error: None,
            log: PathBuf::from(label),
            selection: selection.cloned(),
        })
    }

    fn judge_run(&self, record: &RunRecord) -> Result<RunJudgement, RunnerError> {
        Ok(crate::verdict::compare::judge(&self.baseline, Duration::from_secs(60), record))
    }

    fn announce(&self, step: Step<'_>) {
        // `announce` takes `&self`, as executors report through shared reporters; the fake
        // keeps what it announced in the runs' labels instead.
        let _ = step;
    }
}

impl Lab for FakeLab {
    fn jobs(&self) -> usize {
        self.jobs
    }

    /// Like the pool of scratch copies, but one item after the other: a queue that work
    /// adds to, results in the order items were queued.
    fn in_parallel<T: Send, R: Send>(
        &mut self,
        items: Vec<T>,
        executors: usize,
        work: &ParallelWork<'_, T, R>,
    ) -> Result<Option<Vec<R>>, RunnerError> {
        assert!(executors >= 2, "parallel work for {executors} executor(s)");
        if self.copies_invisible {
            return Ok(None);
        }
        self.parallel_batches += 1;
        let mut queue: VecDeque<(usize, T)> = items.into_iter().enumerate().collect();
        let mut next = queue.len();
        let mut results = Vec::new();
        while let Some((position, item)) = queue.pop_front() {
            let (result, more) = work(self, item)?;
            results.push((position, result));
            for item in more {
                queue.push_back((next, item));
                next += 1;
            }
        }
        results.sort_by_key(|(position, _)| *position);
        Ok(Some(results.into_iter().map(|(_, result)| result).collect()))
    }
}

/// The node ids of a judgement's broken tests.
fn broken(judged: &Judged) -> Vec<String> {
    judged.judgement.broken_nodeids().into_iter().collect()
}

/// The functions judged unsafe (broken), by number.
fn culprits(evidence: &Evidence) -> Vec<usize> {
    evidence
        .iter()
        .filter(|(_, judged)| !judged.is_clean())
        .map(|(function, _)| function.0)
        .collect()
}

fn tests(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn a_clean_screen_judges_every_function_in_one_run() {
    let mut lab = FakeLab::new(Suite::separate(3, 2));
    let evidence = lab.bisect();
    assert_eq!(lab.labels(), ["screen"]);
    assert_eq!(lab.runs[0].functions, [0, 1, 2]);
    assert_eq!(lab.runs[0].selection, None, "the screen runs the whole suite");
    assert_eq!(evidence.len(), 3);
    assert!(culprits(&evidence).is_empty());
    let screen = &evidence[&FunctionIndex(0)].record;
    assert!(evidence.values().all(|judged| Arc::ptr_eq(&judged.record, screen)));
}

#[test]
fn one_culprit_is_confirmed_on_its_own_tests_and_the_screen_clears_the_rest() {
    let mut lab = FakeLab::new(Suite::separate(8, 5).breaking(3, &["t3_1"]));
    let evidence = lab.bisect();
    assert_eq!(lab.labels(), ["screen", "confirm-m:f3"]);
    assert_eq!(
        lab.run("confirm-m:f3").selection,
        Some(tests(&["t3_0", "t3_1", "t3_2", "t3_3", "t3_4"])),
        "the confirmation runs only the culprit's callers"
    );
    assert_eq!(culprits(&evidence), [3]);
    assert_eq!(broken(&evidence[&FunctionIndex(3)]), ["t3_1"]);
    let screen = &evidence[&FunctionIndex(0)].record;
    assert_eq!(screen.log, PathBuf::from("screen"), "the rest is confirmed by the screen");
    assert_eq!(evidence.len(), 8);
}

#[test]
fn sixty_four_targets_with_one_culprit_take_two_runs_after_the_baseline() {
    // The scale the design promises (at most 9 runs with the baseline) when every target
    // has tests of its own, as in `benches/apply_scale.py`.
    let mut lab = FakeLab::new(Suite::separate(64, 3).breaking(0, &["t0_0"]));
    let evidence = lab.bisect();
    assert_eq!(lab.labels(), ["screen", "confirm-m:f0"]);
    assert_eq!(culprits(&evidence), [0]);
    assert_eq!(evidence.len(), 64);
}

/// 64 functions that all share one test (so the map cannot separate them), `culprit`
/// breaking it.
fn shared_by_64(culprit: usize) -> Suite {
    let mut suite = Suite { functions: 64, ..Suite::default() };
    suite.add_test("shared", &(0..64).collect::<Vec<_>>());
    suite.breaking(culprit, &["shared"])
}

#[test]
fn halving_one_component_of_64_skips_every_right_half_after_a_clean_left_one() {
    let mut lab = FakeLab::new(shared_by_64(63));
    let evidence = lab.bisect();
    // Six halvings, each running only the left half, then the suspect alone.
    assert_eq!(
        lab.labels(),
        [
            "screen",
            "bisect-32",
            "bisect-16",
            "bisect-8",
            "bisect-4",
            "bisect-2",
            "bisect-1",
            "confirm-m:f63"
        ]
    );
    assert_eq!(culprits(&evidence), [63]);
    assert!(lab.runs[1..].iter().all(|run| run.selection == Some(tests(&["shared"]))));
}

#[test]
fn halving_one_component_of_64_runs_both_halves_when_the_left_one_breaks() {
    let mut lab = FakeLab::new(shared_by_64(0));
    let evidence = lab.bisect();
    // When the left half breaks, the right one may hold a culprit too: two runs a level,
    // and the last left half is the suspect's solo run, so no confirmation.
    assert_eq!(lab.runs.len(), 1 + 2 * 6, "{:?}", lab.labels());
    assert_eq!(lab.labels().iter().filter(|label| label.starts_with("confirm")).count(), 0);
    assert_eq!(culprits(&evidence), [0]);
    assert_eq!(evidence[&FunctionIndex(0)].record.log, PathBuf::from("bisect-1"));
}

#[test]
fn several_culprits_in_one_component_are_each_isolated_and_confirmed() {
    let mut suite = Suite { functions: 8, ..Suite::default() };
    suite.add_test("shared", &(0..8).collect::<Vec<_>>());
    for function in 0..8 {
        suite.add_test(&format!("own{function}"), &[function]);
    }
    let suite = suite.breaking(1, &["shared"]).breaking(6, &["shared", "own6"]);
    let mut lab = FakeLab::new(suite);
    let evidence = lab.bisect();
    assert_eq!(culprits(&evidence), [1, 6]);
    assert_eq!(broken(&evidence[&FunctionIndex(6)]), ["own6", "shared"]);
    assert_eq!(
        lab.labels(),
        [
            "screen",
            "bisect-4",
            "bisect-2",
            "bisect-1",
            "bisect-2",
            "bisect-4",
            "bisect-2",
            "bisect-1",
            "bisect-1",
            "confirm-m:f1",
        ],
        "a clean left half sends the search right without a run; f1 never ran alone, so it is confirmed"
    );
    assert!(!lab.labels().contains(&"confirm-rest"), "the culprits explain the screen");
}

/// Six functions that share one test and each have their own; `culprits` break their own
/// test, and the first of them the shared one too (so all six are one component).
fn dense(culprits: &[usize]) -> Suite {
    let mut suite = Suite { functions: 6, ..Suite::default() };
    suite.add_test("shared", &(0..6).collect::<Vec<_>>());
    for function in 0..6 {
        suite.add_test(&format!("own{function}"), &[function]);
    }
    for (position, &culprit) in culprits.iter().enumerate() {
        let own = format!("own{culprit}");
        let broken: &[&str] = if position == 0 { &["shared", &own] } else { &[&own] };
        suite = suite.breaking(culprit, broken);
    }
    suite
}

#[test]
fn a_component_proven_dense_runs_each_suspect_alone_instead_of_halving() {
    // Four broken tests with no suspect in common prove four culprits among six: halving
    // takes ten runs here (eight halvings, two confirmations), one run each takes six, and
    // each is its own confirmation.
    let mut lab = FakeLab::new(dense(&[0, 2, 3, 5]));
    let evidence = lab.bisect();
    assert_eq!(
        lab.labels(),
        [
            "screen",
            "confirm-m:f0",
            "confirm-m:f1",
            "confirm-m:f2",
            "confirm-m:f3",
            "confirm-m:f4",
            "confirm-m:f5"
        ]
    );
    assert_eq!(culprits(&evidence), [0, 2, 3, 5]);
    assert_eq!(lab.run("confirm-m:f4").selection, Some(tests(&["own4", "shared"])));
}

#[test]
fn a_component_with_too_few_proven_culprits_is_still_halved() {
    // Two culprits proven among six (a third, not more): halving is cheaper on average.
    let mut lab = FakeLab::new(dense(&[0, 5]));
    let evidence = lab.bisect();
    assert_eq!(culprits(&evidence), [0, 5]);
    assert!(lab.labels().iter().any(|label| label.starts_with("bisect-")), "{:?}", lab.labels());
}

#[test]
fn in_parallel_a_dense_component_runs_its_suspects_side_by_side() {
    let mut serial = FakeLab::new(dense(&[0, 2, 3, 5]));
    let mut parallel = FakeLab::new(dense(&[0, 2, 3, 5])).with_jobs(2);
    let (serial_evidence, parallel_evidence) = (serial.bisect(), parallel.bisect());
    assert_eq!(culprits(&parallel_evidence), culprits(&serial_evidence));
    assert_eq!(parallel.labels(), serial.labels());
    assert_eq!(parallel.parallel_batches, 1);
}

#[test]
fn independent_components_are_searched_apart() {
    let suite = Suite::separate(6, 2).breaking(1, &["t1_0"]).breaking(4, &["t4_1"]);
    let mut lab = FakeLab::new(suite);
    let evidence = lab.bisect();
    assert_eq!(lab.labels(), ["screen", "confirm-m:f1", "confirm-m:f4"]);
    assert_eq!(lab.run("confirm-m:f4").functions, [4]);
    assert_eq!(lab.run("confirm-m:f4").selection, Some(tests(&["t4_0", "t4_1"])));
    assert_eq!(culprits(&evidence), [1, 4]);
}

/// The `order_dependent` fixture: `test_b` needs `test_a` (which calls nothing) to run
/// first; `tags` (f0) breaks `test_c`, which also calls `double` (f1), as `test_b` does.
fn order_dependent() -> Suite {
    let mut suite = Suite { functions: 2, ..Suite::default() };
    suite.add_test("test_a", &[]);
    suite.add_test("test_b", &[1]);
    suite.add_test("test_c", &[0, 1]);
    suite.needs.insert("test_b".to_owned(), "test_a".to_owned());
    suite.breaking(0, &["test_c"])
}

#[test]
fn a_control_run_clears_a_suspect_whose_selection_broke_an_order_dependent_test() {
    let mut lab = FakeLab::new(order_dependent());
    let evidence = lab.bisect();
    assert_eq!(
        lab.labels(),
        ["screen", "bisect-1", "bisect-1", "control-m:f1"],
        "double ran alone on its callers, test_b failed there without test_a, and the control (uncached) showed it fails anyway"
    );
    assert_eq!(lab.run("control-m:f1").functions, Vec::<usize>::new(), "the control is uncached");
    assert_eq!(lab.run("control-m:f1").selection, Some(tests(&["test_b", "test_c"])));
    assert_eq!(culprits(&evidence), [0]);
    assert_eq!(broken(&evidence[&FunctionIndex(0)]), ["test_c"], "test_b is not held against tags");
}

#[test]
fn runs_of_a_function_the_map_cannot_see_take_the_whole_suite() {
    // f0 breaks t0_0; f2 is unobserved, so the broken test t2_0 is unattributed: every
    // function is one component, and every run of f2 takes the whole suite.
    let mut suite = Suite::separate(3, 1).breaking(0, &["t0_0"]);
    suite.unobserved.insert(2);
    let suite = suite.breaking(2, &["t2_0"]);
    let mut lab = FakeLab::new(suite);
    let evidence = lab.bisect();
    assert_eq!(culprits(&evidence), [0, 2]);
    assert!(
        lab.runs.iter().filter(|run| run.functions.contains(&2)).all(|run| run.selection.is_none()),
        "the map cannot tell f2's callers: its runs take the whole suite: {:?}",
        lab.runs
    );
}

#[test]
fn the_rest_is_confirmed_together_and_an_interaction_is_tried_one_by_one() {
    // f0 and f1 break `both` only together; f2 breaks `own2` alone.
    let mut suite = Suite { functions: 3, ..Suite::default() };
    suite.add_test("both", &[0, 1]);
    suite.add_test("own2", &[2]);
    suite.interaction = Some(([0, 1].into(), tests(&["both"])));
    let mut lab = FakeLab::new(suite.breaking(2, &["own2"]));
    let evidence = lab.bisect();
    assert_eq!(
        lab.labels(),
        [
            "screen",
            "bisect-1",
            "confirm-m:f1",
            "confirm-m:f2",
            "confirm-rest",
            "individual-m:f0",
            "individual-m:f1",
        ]
    );
    assert_eq!(lab.run("confirm-rest").functions, [0, 1]);
    assert_eq!(culprits(&evidence), [2], "alone, neither f0 nor f1 breaks a test");
    assert_eq!(evidence[&FunctionIndex(0)].record.log, PathBuf::from("individual-m:f0"));
}

#[test]
fn a_clean_rest_run_judges_the_rest() {
    // f2 breaks own2 alone, and `x` only together with f0: the culprit found (f2) does not
    // explain `x`, so the rest (f0, f1) runs together, clean without f2.
    let mut suite = Suite { functions: 3, ..Suite::default() };
    suite.add_test("x", &[0, 2]);
    suite.add_test("own2", &[2]);
    suite.add_test("t1", &[1]);
    suite.interaction = Some(([0, 2].into(), tests(&["x"])));
    let mut lab = FakeLab::new(suite.breaking(2, &["own2"]));
    let evidence = lab.bisect();
    assert_eq!(lab.labels(), ["screen", "bisect-1", "confirm-m:f2", "confirm-rest"]);
    let rest = lab.run("confirm-rest");
    assert_eq!(rest.functions, [0, 1]);
    assert_eq!(rest.selection, Some(tests(&["t1", "x"])));
    assert_eq!(evidence[&FunctionIndex(1)].record.log, PathBuf::from("confirm-rest"));
    assert_eq!(culprits(&evidence), [2]);
}

#[test]
fn a_screen_that_lost_tests_makes_every_run_take_the_whole_suite() {
    // An import-time failure: the screen loses tests, so the map cannot tell who is hit.
    let mut suite = Suite::separate(4, 1);
    suite.breaks.insert(2, tests(&["t0_0", "t1_0", "t2_0", "t3_0"]));
    let mut lab = FakeLab::new(suite);
    // The fake cannot lose a test, so the screen's loss is simulated on its record.
    let ids = lab.suite.ids();
    let baseline = lab.baseline.clone();
    let functions: Vec<FunctionIndex> = (0..4).map(FunctionIndex).collect();
    let mut screen = lab.run_patched(&functions, None, "screen").expect("screen");
    screen.observation.as_mut().expect("observation").tests.remove("t3_0");
    let evidence = bisect(&mut lab, &ids, &baseline, functions, Some(screen)).expect("search");
    assert_eq!(culprits(&evidence), [2]);
    assert!(lab.runs.iter().all(|run| run.selection.is_none()), "{:?}", lab.runs);
}

#[test]
fn a_screen_that_ran_beside_the_baseline_is_not_run_again() {
    let mut lab = FakeLab::new(Suite::separate(2, 1).breaking(1, &["t1_0"]));
    let ids = lab.suite.ids();
    let baseline = lab.baseline.clone();
    let functions: Vec<FunctionIndex> = (0..2).map(FunctionIndex).collect();
    let screen = lab.run_patched(&functions, None, "early-screen").expect("screen");
    let evidence = bisect(&mut lab, &ids, &baseline, functions, Some(screen)).expect("search");
    assert_eq!(lab.labels(), ["early-screen", "confirm-m:f1"]);
    assert_eq!(culprits(&evidence), [1]);
}

#[test]
fn in_parallel_both_halves_of_every_group_run_side_by_side() {
    let mut suite = Suite { functions: 8, ..Suite::default() };
    suite.add_test("shared", &(0..8).collect::<Vec<_>>());
    let mut lab = FakeLab::new(suite.breaking(0, &["shared"])).with_jobs(2);
    let evidence = lab.bisect();
    assert_eq!(
        lab.labels(),
        ["screen", "bisect-4", "bisect-4", "bisect-2", "bisect-2", "confirm-m:f0", "confirm-m:f1"]
    );
    assert_eq!(lab.parallel_batches, 1, "one queue for the whole halving");
    assert_eq!(culprits(&evidence), [0]);
}

#[test]
fn in_parallel_the_components_are_confirmed_at_once_with_the_same_verdicts() {
    let suite = || Suite::separate(6, 2).breaking(1, &["t1_0"]).breaking(4, &["t4_1"]);
    let mut serial = FakeLab::new(suite());
    let mut parallel = FakeLab::new(suite()).with_jobs(2);
    let (serial_evidence, parallel_evidence) = (serial.bisect(), parallel.bisect());
    assert_eq!(culprits(&parallel_evidence), culprits(&serial_evidence));
    assert_eq!(parallel.labels(), serial.labels());
    assert_eq!(parallel.parallel_batches, 1);
}

#[test]
fn when_copies_are_refused_the_work_runs_here_one_item_at_a_time() {
    let suite = || {
        let mut suite = Suite { functions: 8, ..Suite::default() };
        suite.add_test("shared", &(0..8).collect::<Vec<_>>());
        suite.breaking(5, &["shared"])
    };
    let mut serial = FakeLab::new(suite());
    let mut refused = FakeLab::new(suite()).with_jobs(2);
    refused.copies_invisible = true;
    let (serial_evidence, refused_evidence) = (serial.bisect(), refused.bisect());
    assert_eq!(refused.labels(), serial.labels(), "the serial halving, not the parallel one");
    assert_eq!(culprits(&refused_evidence), culprits(&serial_evidence));
    assert_eq!(refused.parallel_batches, 0);
}

#[test]
fn the_individual_strategy_runs_each_function_alone_on_the_whole_suite() {
    let mut lab = FakeLab::new(Suite::separate(3, 1).breaking(1, &["t1_0"]));
    let ids = lab.suite.ids();
    let evidence = individually(&mut lab, &ids, (0..3).map(FunctionIndex).collect()).expect("runs");
    assert_eq!(lab.labels(), ["individual-m:f0", "individual-m:f1", "individual-m:f2"]);
    assert!(lab.runs.iter().all(|run| run.selection.is_none() && run.functions.len() == 1));
    assert_eq!(culprits(&evidence), [1]);
    assert_eq!(evidence.len(), 3);
}
