//! What one test run reported, merged over its processes: test outcomes from the
//! controller (or the single process), cache statistics summed over the processes that ran
//! tests (the xdist workers, or the single process), the call map from all of them. A run
//! that wrote no file is an error, never a silent zero. A suite run in parts (`--jobs`)
//! merges its parts' observations into one ([`merge_parts`]).

use std::collections::{BTreeMap, BTreeSet, btree_map};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::protocol::{
    CallMap, FORMAT, Observer, Outcome, ProbeFile, ProbeTargetReport, ProbeVerify, Role,
    TargetState, VERSION,
};
use super::trace::{self, ReuseProfile};

/// One test's combined outcome (setup, call and teardown).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) struct TestResult {
    pub outcome: Outcome,
    #[serde(default)]
    pub message: Option<String>,
}

/// What one run's probe saw about one target.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub(crate) struct TargetStats {
    pub state: TargetState,
    pub loaded_files: BTreeSet<String>,
    pub hits: u64,
    pub misses: u64,
    pub currsize: u64,
    /// How calls were observed; `None` when no process said.
    #[serde(default)]
    pub observer: Option<Observer>,
    /// In a checked run: what the verifier saw of its hits, summed over processes.
    #[serde(default)]
    pub verify: Option<ProbeVerify>,
    /// In a traced run: how its calls reuse their keys, over every process.
    #[serde(default)]
    pub reuse: Option<ReuseProfile>,
}

impl TargetStats {
    /// Whether the probe observed its calls per test (so the call map knows its callers).
    pub(crate) fn is_observed(&self) -> bool {
        self.observer == Some(Observer::CodeSwap)
    }
}

/// Everything one test run reported, merged over its processes.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct Observation {
    pub tests: BTreeMap<String, TestResult>,
    pub collected: u64,
    pub collect_errors: Vec<(String, String)>,
    pub targets: BTreeMap<String, TargetStats>,
    /// pytest's exit status as the probe saw it.
    pub exitstatus: Option<i64>,
    /// Problems the probe itself reported.
    pub probe_errors: Vec<String>,
    pub python: Option<String>,
    /// Which targets each test called (from every process that ran tests).
    #[serde(default)]
    pub test_calls: CallMap,
    /// Tests left out by the selection.
    #[serde(default)]
    pub deselected: u64,
    /// Tests left to the other parts of a suite run in parts.
    #[serde(default)]
    pub parted_out: u64,
}

impl Observation {
    /// Tests that failed or errored.
    pub(crate) fn failing_tests(&self) -> BTreeSet<String> {
        self.tests
            .iter()
            .filter(|(_, result)| result.outcome.is_failure())
            .map(|(nodeid, _)| nodeid.clone())
            .collect()
    }
}

/// The probe's output could not be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum ProbeError {
    #[error("the test process wrote no probe report")]
    #[diagnostic(
        code(cachescan::probe::silent),
        help("the test command must run pytest; check its output in the log")
    )]
    NoReport,
    #[error("unreadable probe report {path}: {message}")]
    #[diagnostic(code(cachescan::probe::unreadable))]
    Unreadable { path: String, message: String },
}

/// Read and merge every probe file of one run.
pub(crate) fn collect(output: &Path) -> Result<Observation, ProbeError> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(output).map_err(|_| ProbeError::NoReport)?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("probe-") && name.ends_with(".json") {
            let path = entry.path();
            let unreadable = |message: String| ProbeError::Unreadable {
                path: path.display().to_string(),
                message,
            };
            let text =
                std::fs::read_to_string(&path).map_err(|error| unreadable(error.to_string()))?;
            let mut file: ProbeFile =
                serde_json::from_str(&text).map_err(|error| unreadable(error.to_string()))?;
            read_traces(&mut file, output);
            if file.format != FORMAT || file.version != VERSION {
                return Err(unreadable(format!(
                    "format {} version {} is not {FORMAT} {VERSION}",
                    file.format, file.version
                )));
            }
            files.push(file);
        }
    }
    if files.is_empty() {
        return Err(ProbeError::NoReport);
    }
    Ok(merge(files))
}

/// Each traced target's profile, from its trace file beside the probe file. A trace that
/// cannot be read leaves the target without a profile and says so in the file's errors.
fn read_traces(file: &mut ProbeFile, output: &Path) {
    let mut errors = Vec::new();
    for target in &mut file.targets {
        let Some(trace) = &target.trace else { continue };
        target.reuse = match &trace.file {
            Some(name) => match trace::read_profile(&output.join(name), trace.unhashable) {
                Ok(profile) => Some(ReuseProfile {
                    calls: profile.calls + trace.unkeyed,
                    reentrant: trace.reentrant,
                    ..profile
                }),
                Err(error) => {
                    errors.push(format!("trace of {}: {error}", target.id));
                    None
                }
            },
            None => Some(ReuseProfile {
                calls: trace.calls,
                unhashable: trace.unhashable,
                reentrant: trace.reentrant,
                ..ReuseProfile::default()
            }),
        };
    }
    if !errors.is_empty() {
        let joined = errors.join("; ");
        file.error = Some(match file.error.take() {
            Some(error) => format!("{error}; {joined}"),
            None => joined,
        });
    }
}

/// Outcomes from the controller or single process; statistics summed over the processes
/// that ran tests (workers, or the single process).
fn merge(files: Vec<ProbeFile>) -> Observation {
    let mut observation = Observation::default();
    let has_workers = files.iter().any(|file| file.role == Role::Worker);
    for file in files {
        observation.probe_errors.extend(file.error);
        add_calls(&mut observation.test_calls, file.test_calls);
        if file.role != Role::Controller {
            observation.deselected =
                observation.deselected.max(file.deselected.unwrap_or_default());
            observation.parted_out =
                observation.parted_out.max(file.parted_out.unwrap_or_default());
        }
        observation.python = observation.python.or(file.python);
        let reports_outcomes = file.role != Role::Worker;
        let reports_stats =
            if has_workers { file.role == Role::Worker } else { file.role != Role::Controller };
        if reports_outcomes {
            observation.exitstatus = file.exitstatus.or(observation.exitstatus);
            observation.collected = observation.collected.max(file.collected.unwrap_or_default());
            for test in file.tests {
                observation.tests.insert(
                    test.nodeid,
                    TestResult { outcome: test.outcome, message: test.message },
                );
            }
            for error in file.collect_errors {
                if !observation.collect_errors.iter().any(|(nodeid, _)| *nodeid == error.nodeid) {
                    observation
                        .collect_errors
                        .push((error.nodeid, error.message.unwrap_or_default()));
                }
            }
        }
        if reports_stats {
            for target in file.targets {
                let id = target.id.clone();
                add_target(&mut observation.targets, id, TargetStats::from(target));
            }
        }
    }
    observation
}

/// Add the calls and times of `calls` to `into`, test by test and target by target.
fn add_calls(into: &mut CallMap, calls: CallMap) {
    for (nodeid, targets) in calls {
        let merged = into.entry(nodeid).or_default();
        for (target, stats) in targets {
            let sum = merged.entry(target).or_default();
            sum.calls += stats.calls;
            sum.time_ns += stats.time_ns;
        }
    }
}

/// One observation of a suite run in parts (each process ran the test files of its part):
/// the union of their tests, call maps and collection errors, the targets merged as over
/// xdist workers. `Err` when the parts did not collect the same suite (a collection that
/// differs from process to process), since then some tests ran twice or not at all.
pub(crate) fn merge_parts(parts: Vec<Observation>) -> Result<Observation, String> {
    let suites: BTreeSet<u64> = parts.iter().map(|part| part.collected + part.parted_out).collect();
    if suites.len() > 1 {
        let sizes: Vec<String> = suites.iter().map(u64::to_string).collect();
        return Err(format!(
            "the parts of the suite collected different numbers of tests ({})",
            sizes.join(", ")
        ));
    }
    let mut merged = Observation::default();
    for part in parts {
        merged.tests.extend(part.tests);
        merged.collected += part.collected;
        for error in part.collect_errors {
            if !merged.collect_errors.contains(&error) {
                merged.collect_errors.push(error);
            }
        }
        for (id, stats) in part.targets {
            add_target(&mut merged.targets, id, stats);
        }
        // Every part runs its own session: the worst status that is not "no tests" (5),
        // which a part without test files of its own ends with.
        merged.exitstatus = match (merged.exitstatus, part.exitstatus) {
            (Some(5) | None, status) => status.or(merged.exitstatus),
            (status, Some(5) | None) => status,
            (Some(left), Some(right)) => Some(left.max(right)),
        };
        merged.probe_errors.extend(part.probe_errors);
        merged.python = merged.python.or(part.python);
        add_calls(&mut merged.test_calls, part.test_calls);
        merged.deselected += part.deselected;
    }
    Ok(merged)
}

impl From<ProbeTargetReport> for TargetStats {
    fn from(report: ProbeTargetReport) -> Self {
        Self {
            state: report.state,
            loaded_files: report.loaded_files.into_iter().collect(),
            hits: report.hits.unwrap_or_default(),
            misses: report.misses.unwrap_or_default(),
            currsize: report.currsize.unwrap_or_default(),
            observer: report.observer,
            verify: report.verify,
            reuse: report.reuse,
        }
    }
}

/// Two processes' (or parts') checks of one target as one: counts summed, the first
/// divergence by a fixed order (so the report does not depend on which file came first).
fn merge_verify(merged: &mut Option<ProbeVerify>, report: Option<ProbeVerify>) {
    let Some(report) = report else { return };
    let Some(into) = merged else {
        *merged = Some(report);
        return;
    };
    into.rate = into.rate.max(report.rate);
    into.hits += report.hits;
    into.verified += report.verified;
    into.unverified += report.unverified;
    into.divergent += report.divergent;
    into.skipped += report.skipped;
    into.divergence = match (into.divergence.take(), report.divergence) {
        (Some(left), Some(right)) => Some(left.min(right)),
        (left, right) => left.or(right),
    };
}

/// One process's (or part's) report on a target, added to what the others said.
fn add_target(targets: &mut BTreeMap<String, TargetStats>, id: String, report: TargetStats) {
    match targets.entry(id) {
        btree_map::Entry::Vacant(entry) => {
            entry.insert(report);
        }
        btree_map::Entry::Occupied(mut entry) => merge_target(entry.get_mut(), report),
    }
}

fn merge_target(merged: &mut TargetStats, report: TargetStats) {
    if report.state.rank() > merged.state.rank() {
        merged.state = report.state;
        merged.loaded_files.clear();
    }
    if report.state == merged.state {
        merged.loaded_files.extend(report.loaded_files);
    }
    if report.observer.is_some()
        && (merged.observer.is_none() || report.observer == Some(Observer::CodeSwap))
    {
        merged.observer = report.observer;
    }
    merge_verify(&mut merged.verify, report.verify);
    match (&mut merged.reuse, report.reuse) {
        (Some(into), Some(reuse)) => into.merge(&reuse),
        (into @ None, reuse) => *into = reuse,
        (Some(_), None) => {}
    }
    if report.state == TargetState::Stats {
        merged.hits += report.hits;
        merged.misses += report.misses;
        merged.currsize += report.currsize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::protocol::{CallStats, SESSION_KEY};

    fn file(role: &str, tests: &[(&str, &str)], hits: u64, state: &str) -> ProbeFile {
        serde_json::from_value(serde_json::json!({
            "format": "cachescan-probe", "version": 2, "role": role, "collected": tests.len(),
            "tests": tests.iter().map(|(nodeid, outcome)| serde_json::json!({"nodeid": nodeid, "outcome": outcome})).collect::<Vec<_>>(),
            "targets": [{"id": "m:f", "state": state, "loaded_files": [], "hits": hits, "misses": 1, "currsize": 1}],
        }))
        .expect("valid probe file")
    }

    #[test]
    fn workers_statistics_are_summed_and_outcomes_come_from_the_controller() {
        let merged = merge(vec![
            file("controller", &[("t::a", "passed"), ("t::b", "failed")], 0, "not-loaded"),
            file("worker", &[], 10, "stats"),
            file("worker", &[], 5, "stats"),
            file("worker", &[], 0, "not-loaded"),
        ]);
        assert_eq!(merged.tests.len(), 2);
        let stats = &merged.targets["m:f"];
        assert_eq!((stats.state, stats.hits, stats.misses), (TargetState::Stats, 15, 2));
    }

    fn part(tests: &[&str], parted_out: u64, exitstatus: i64) -> Observation {
        let calls =
            |count| BTreeMap::from([("m:f".to_owned(), CallStats { calls: count, time_ns: 10 })]);
        let mut test_calls: CallMap =
            tests.iter().map(|nodeid| ((*nodeid).to_owned(), calls(1))).collect();
        test_calls.insert(SESSION_KEY.to_owned(), calls(2));
        Observation {
            tests: tests
                .iter()
                .map(|nodeid| {
                    let result = TestResult { outcome: Outcome::Passed, message: None };
                    ((*nodeid).to_owned(), result)
                })
                .collect(),
            collected: tests.len() as u64,
            parted_out,
            exitstatus: Some(exitstatus),
            test_calls,
            targets: BTreeMap::from([(
                "m:f".to_owned(),
                TargetStats {
                    state: TargetState::NotWrapped,
                    loaded_files: BTreeSet::new(),
                    hits: 0,
                    misses: 0,
                    currsize: 0,
                    observer: Some(Observer::CodeSwap),
                    verify: None,
                    reuse: None,
                },
            )]),
            ..Observation::default()
        }
    }

    #[test]
    fn parts_of_a_suite_merge_into_one_observation_of_the_whole() {
        let merged = merge_parts(vec![
            part(&["a.py::t1", "a.py::t2"], 1, 0),
            part(&["b.py::t3"], 2, 0),
            part(&[], 3, 5),
        ])
        .expect("the parts collected the same suite");
        assert_eq!(merged.tests.keys().collect::<Vec<_>>(), ["a.py::t1", "a.py::t2", "b.py::t3"]);
        assert_eq!((merged.collected, merged.parted_out), (3, 0));
        // A part without tests ends with 5 ("no tests"): the suite's status is the others'.
        assert_eq!(merged.exitstatus, Some(0));
        assert_eq!(merged.test_calls[SESSION_KEY]["m:f"].calls, 6);
        assert_eq!(merged.test_calls["b.py::t3"]["m:f"].calls, 1);
        assert_eq!(merged.targets["m:f"].observer, Some(Observer::CodeSwap));
    }

    #[test]
    fn parts_that_collected_different_suites_are_refused() {
        let refused = merge_parts(vec![part(&["a.py::t1"], 1, 0), part(&["b.py::t2"], 2, 1)]);
        assert!(refused.is_err_and(|reason| reason.contains("(2, 3)")));
    }

    #[test]
    fn call_map_cells_are_read_from_the_probes_arrays() {
        let file: ProbeFile = serde_json::from_value(serde_json::json!({
            "format": "cachescan-probe", "version": 2, "role": "single",
            "test_calls": {"t::a": {"m:f": [3, 1500]}, SESSION_KEY: {}},
        }))
        .expect("valid probe file");
        let merged = merge(vec![file]);
        assert_eq!(merged.test_calls["t::a"]["m:f"], CallStats { calls: 3, time_ns: 1500 });
    }

    /// A sample file of `tests/probe_protocol/`: real output of the plugin.
    fn sample(name: &str) -> ProbeFile {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/probe_protocol")
            .join(name);
        let text = std::fs::read_to_string(&path).expect("read a sample probe file");
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{name}: {error}"))
    }

    #[test]
    fn the_same_suite_merges_alike_from_one_process_and_from_an_xdist_controller_and_worker() {
        let single = merge(vec![sample("single.json")]);
        let xdist = merge(vec![sample("controller.json"), sample("worker.json")]);
        assert!(!single.tests.is_empty() && !single.targets.is_empty());
        assert_eq!(xdist.tests, single.tests, "outcomes come from the controller");
        assert_eq!(xdist.targets, single.targets, "statistics come from the worker");
        assert_eq!(xdist.collect_errors, single.collect_errors);
        let calls = |observation: &Observation| -> BTreeMap<String, Vec<(String, u64)>> {
            observation
                .test_calls
                .iter()
                .map(|(test, cells)| {
                    (
                        test.clone(),
                        cells.iter().map(|(id, cell)| (id.clone(), cell.calls)).collect(),
                    )
                })
                .collect()
        };
        assert_eq!(calls(&xdist), calls(&single), "the call map comes from the worker");
    }

    #[test]
    fn a_run_without_probe_files_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(collect(dir.path()), Err(ProbeError::NoReport)));
    }
}
