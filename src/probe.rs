//! The probe: statistics from inside the test process.
//!
//! pytest runs in its own interpreter and imports the patched files from disk, so the only
//! place where the real `cache_info()` can be read is in that process (and in every
//! pytest-xdist worker). `cachescan_probe`, a pytest plugin kept as a real Python package in
//! `probe/plugin/cachescan_probe/` and embedded here file by file, is written to a private
//! temporary directory and loaded with `PYTHONPATH` + `PYTEST_ADDOPTS="-p cachescan_probe"`,
//! whatever wrapper the test command is.
//! Each pytest process writes one versioned JSON file; this module merges them: test
//! outcomes from the controller (or the single process), cache statistics summed over the
//! workers. A run that wrote no file is an error, never a silent zero.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The plugin package's name, as `-p` names it and as its directory is called.
const PLUGIN_PACKAGE: &str = "cachescan_probe";
/// Every file of the plugin package: (path inside the package, source). A test checks
/// that no `.py` file of `src/probe/plugin/cachescan_probe/` is missing here.
const PLUGIN_FILES: &[(&str, &str)] = &[
    ("__init__.py", include_str!("probe/plugin/cachescan_probe/__init__.py")),
    ("_guard.py", include_str!("probe/plugin/cachescan_probe/_guard.py")),
    ("_observe.py", include_str!("probe/plugin/cachescan_probe/_observe.py")),
    ("_outcomes.py", include_str!("probe/plugin/cachescan_probe/_outcomes.py")),
    ("_output.py", include_str!("probe/plugin/cachescan_probe/_output.py")),
    ("_process.py", include_str!("probe/plugin/cachescan_probe/_process.py")),
    ("_protocol.py", include_str!("probe/plugin/cachescan_probe/_protocol.py")),
    ("_select.py", include_str!("probe/plugin/cachescan_probe/_select.py")),
    ("_session.py", include_str!("probe/plugin/cachescan_probe/_session.py")),
    ("_swap.py", include_str!("probe/plugin/cachescan_probe/_swap.py")),
    ("_targets.py", include_str!("probe/plugin/cachescan_probe/_targets.py")),
];
const PROBE_FORMAT: &str = "cachescan-probe";
const PROBE_DIR_PREFIX: &str = "probe-";

/// Remove probe directories that killed runs left in `state_dir`.
pub(crate) fn remove_leftovers(state_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(state_dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(PROBE_DIR_PREFIX)
            && entry.path().is_dir()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
const PROBE_VERSION: u32 = 2;

/// A private directory holding the plugin and the target list, and the private bytecode
/// cache the runs use.
#[derive(Debug)]
pub(crate) struct ProbeSetup {
    dir: tempfile::TempDir,
    bytecode: BytecodeCache,
}

/// `PYTHONPYCACHEPREFIX` for test runs. Every `.pyc` goes here, never into a `__pycache__`
/// of the user's tree. Bytecode of the interpreter's and the environment's modules is kept
/// from run to run (compiling pytest anew each run would cost more than the probe), while
/// the bytecode of the project tree is removed after every run, so a `.pyc` of one patch set
/// (same size, same second) can never stand in for another.
#[derive(Debug, Clone)]
pub(crate) struct BytecodeCache {
    prefix: PathBuf,
    project_root: PathBuf,
}

impl BytecodeCache {
    pub(crate) fn new(prefix: PathBuf, project_root: &Path) -> Self {
        Self { prefix, project_root: project_root.to_path_buf() }
    }

    /// Forget the bytecode of the project's files (before and after each run).
    pub(crate) fn forget_project(&self) {
        let canonical = std::fs::canonicalize(&self.project_root).ok();
        for root in std::iter::once(self.project_root.clone()).chain(canonical) {
            let relative = root.strip_prefix("/").unwrap_or(&root);
            let _ = std::fs::remove_dir_all(self.prefix.join(relative));
        }
    }
}

/// One function the probe looks up.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProbeTarget {
    pub id: String,
    pub module: String,
    pub qualname: String,
    /// Absolute path of the file we patch.
    pub path: PathBuf,
}

/// One test's combined outcome (setup, call and teardown).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) struct TestResult {
    pub outcome: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// Calls of one target during one test, and the time spent inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub(crate) struct CallStats {
    pub calls: u64,
    pub time_ns: u64,
}

/// The pseudo test that collects calls outside any test (wider-scoped fixtures).
pub(crate) const SESSION_KEY: &str = "<session>";

/// Per test node id, per target id: the call map.
pub(crate) type CallMap = BTreeMap<String, BTreeMap<String, CallStats>>;

/// What one run's probe saw about one target.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub(crate) struct TargetStats {
    /// `stats`, `not-loaded`, `other-file`, `not-wrapped` or `missing`.
    pub state: String,
    pub loaded_files: BTreeSet<String>,
    pub hits: u64,
    pub misses: u64,
    pub currsize: u64,
    /// How calls were observed: `code-swap`, `unavailable` or `off`.
    #[serde(default)]
    pub observer: String,
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

/// Part K of N of the suite (1-based), split by test file inside the test process: see
/// `CACHESCAN_PROBE_PART` in the plugin's documentation (`cachescan_probe/__init__.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Part {
    pub index: usize,
    pub count: usize,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[derive(Debug, Deserialize)]
struct ProbeFile {
    format: String,
    version: u32,
    role: String,
    #[serde(default)]
    python: Option<String>,
    #[serde(default)]
    exitstatus: Option<i64>,
    #[serde(default)]
    collected: Option<u64>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    collect_errors: Vec<CollectError>,
    #[serde(default)]
    tests: Vec<ProbeTest>,
    #[serde(default)]
    targets: Vec<ProbeTargetReport>,
    #[serde(default)]
    test_calls: CallMap,
    #[serde(default)]
    deselected: Option<u64>,
    #[serde(default)]
    parted_out: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct CollectError {
    nodeid: String,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProbeTest {
    nodeid: String,
    outcome: String,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProbeTargetReport {
    id: String,
    state: String,
    #[serde(default)]
    loaded_files: Vec<String>,
    #[serde(default)]
    hits: Option<u64>,
    #[serde(default)]
    misses: Option<u64>,
    #[serde(default)]
    currsize: Option<u64>,
    #[serde(default)]
    observer: Option<String>,
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

impl ProbeSetup {
    /// Inside `.cachescan/` (ignored by git), so `cachescan restore` can clean up what a
    /// killed run left behind.
    pub(crate) fn new(
        state_dir: &Path,
        targets: &[ProbeTarget],
        bytecode: BytecodeCache,
    ) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new().prefix(PROBE_DIR_PREFIX).tempdir_in(state_dir)?;
        for (relative, source) in PLUGIN_FILES {
            let path = dir.path().join(PLUGIN_PACKAGE).join(relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, source)?;
        }
        let list = serde_json::json!({ "version": 1, "targets": targets });
        std::fs::write(dir.path().join("targets.json"), list.to_string())?;
        std::fs::create_dir_all(&bytecode.prefix)?;
        bytecode.forget_project();
        Ok(Self { dir, bytecode })
    }

    pub(crate) fn bytecode(&self) -> &BytecodeCache {
        &self.bytecode
    }

    /// A fresh, empty output directory for one run.
    pub(crate) fn output_dir(&self, run: usize) -> std::io::Result<PathBuf> {
        let out = self.dir.path().join(format!("run-{run}"));
        if out.exists() {
            std::fs::remove_dir_all(&out)?;
        }
        std::fs::create_dir_all(&out)?;
        Ok(out)
    }

    /// The environment that loads the plugin into every pytest process of a run, and keeps
    /// bytecode out of the user's tree (and stale bytecode out of the run).
    ///
    /// `PYTHONPATH` and `PYTEST_ADDOPTS` are extended, never replaced: the manifest's
    /// `project.env` value when it sets one, else ours.
    pub(crate) fn environment(
        &self,
        project_env: &BTreeMap<String, String>,
        output: &Path,
        selection: Option<&Path>,
        part: Option<Part>,
    ) -> BTreeMap<String, String> {
        let inherited = |name: &str| {
            project_env
                .get(name)
                .cloned()
                .or_else(|| std::env::var(name).ok())
                .filter(|value| !value.is_empty())
        };
        let plugin_dir = self.dir.path().display().to_string();
        let python_path = match inherited("PYTHONPATH") {
            Some(existing) => format!("{plugin_dir}:{existing}"),
            None => plugin_dir,
        };
        let addopts = match inherited("PYTEST_ADDOPTS") {
            Some(existing) => format!("{existing} -p cachescan_probe"),
            None => "-p cachescan_probe".to_owned(),
        };
        let mut environment = BTreeMap::from([
            ("CACHESCAN_PROBE_OBSERVE".to_owned(), "1".to_owned()),
            ("PYTHONPATH".to_owned(), python_path),
            ("PYTEST_ADDOPTS".to_owned(), addopts),
            ("CACHESCAN_PROBE_OUT".to_owned(), output.display().to_string()),
            (
                "CACHESCAN_PROBE_TARGETS".to_owned(),
                self.dir.path().join("targets.json").display().to_string(),
            ),
            ("PYTHONPYCACHEPREFIX".to_owned(), self.bytecode.prefix.display().to_string()),
        ]);
        if let Some(selection) = selection {
            environment
                .insert("CACHESCAN_PROBE_SELECT".to_owned(), selection.display().to_string());
        }
        if let Some(part) = part {
            environment.insert("CACHESCAN_PROBE_PART".to_owned(), part.to_string());
        }
        environment
    }

    /// Write the node ids one run is limited to; returns the file for `environment`.
    pub(crate) fn write_selection(
        &self,
        run: usize,
        nodeids: &BTreeSet<String>,
    ) -> std::io::Result<PathBuf> {
        let path = self.dir.path().join(format!("select-{run}.json"));
        let list = serde_json::json!({ "version": 1, "nodeids": nodeids });
        std::fs::write(&path, list.to_string())?;
        Ok(path)
    }

    /// Variables that must not leak into a run from our own environment.
    pub(crate) fn environment_removed() -> Vec<String> {
        // Bytecode goes to the private prefix; a user's PYTHONDONTWRITEBYTECODE would make
        // every run compile pytest and the standard library again.
        vec!["CACHESCAN_PROBE_OWNER".to_owned(), "PYTHONDONTWRITEBYTECODE".to_owned()]
    }
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
            let file: ProbeFile =
                serde_json::from_str(&text).map_err(|error| unreadable(error.to_string()))?;
            if file.format != PROBE_FORMAT || file.version != PROBE_VERSION {
                return Err(unreadable(format!(
                    "format {} version {} is not {PROBE_FORMAT} {PROBE_VERSION}",
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

/// Outcomes from the controller or single process; statistics summed over the processes
/// that ran tests (workers, or the single process).
fn merge(files: Vec<ProbeFile>) -> Observation {
    let mut observation = Observation::default();
    let has_workers = files.iter().any(|file| file.role == "worker");
    for file in files {
        observation.probe_errors.extend(file.error);
        add_calls(&mut observation.test_calls, file.test_calls);
        if file.role != "controller" {
            observation.deselected =
                observation.deselected.max(file.deselected.unwrap_or_default());
            observation.parted_out =
                observation.parted_out.max(file.parted_out.unwrap_or_default());
        }
        observation.python = observation.python.or(file.python);
        let reports_outcomes = file.role != "worker";
        let reports_stats =
            if has_workers { file.role == "worker" } else { file.role != "controller" };
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
                merge_target(
                    observation.targets.entry(target.id.clone()).or_default(),
                    TargetStats::from(target),
                );
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
            merge_target(merged.targets.entry(id).or_default(), stats);
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
            observer: report.observer.unwrap_or_default(),
        }
    }
}

/// How much a state tells: a worker that read the wrapper outranks one that never loaded it.
fn state_rank(state: &str) -> u8 {
    match state {
        "stats" => 5,
        "not-wrapped" => 4,
        "missing" => 3,
        "other-file" => 2,
        "not-loaded" => 1,
        _ => 0,
    }
}

fn merge_target(merged: &mut TargetStats, report: TargetStats) {
    if state_rank(&report.state) > state_rank(&merged.state) {
        merged.state = report.state.clone();
        merged.loaded_files.clear();
    }
    if report.state == merged.state {
        merged.loaded_files.extend(report.loaded_files);
    }
    if !report.observer.is_empty() && (merged.observer.is_empty() || report.observer == "code-swap")
    {
        merged.observer = report.observer;
    }
    if report.state == "stats" {
        merged.hits += report.hits;
        merged.misses += report.misses;
        merged.currsize += report.currsize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!((stats.state.as_str(), stats.hits, stats.misses), ("stats", 15, 2));
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
                    let result = TestResult { outcome: "passed".to_owned(), message: None };
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
                    state: "not-wrapped".to_owned(),
                    observer: "code-swap".to_owned(),
                    ..TargetStats::default()
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
        assert_eq!(merged.targets["m:f"].observer, "code-swap");
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

    /// The `.py` files under `directory`, as paths relative to `root` joined with `/`.
    fn python_files(root: &Path, directory: &Path, found: &mut BTreeSet<String>) {
        let entries = std::fs::read_dir(directory)
            .unwrap_or_else(|error| panic!("read {}: {error}", directory.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                python_files(root, &path, found);
            } else if path.extension().is_some_and(|extension| extension == "py") {
                let relative = path.strip_prefix(root).expect("a path under the package");
                let parts: Vec<_> = relative.iter().map(|part| part.to_string_lossy()).collect();
                found.insert(parts.join("/"));
            }
        }
    }

    #[test]
    fn every_python_file_of_the_plugin_package_is_embedded() {
        let package =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src/probe/plugin").join(PLUGIN_PACKAGE);
        let mut on_disk = BTreeSet::new();
        python_files(&package, &package, &mut on_disk);
        let embedded: BTreeSet<String> =
            PLUGIN_FILES.iter().map(|(relative, _)| (*relative).to_owned()).collect();
        assert!(on_disk.contains("__init__.py"), "no package at {}", package.display());
        assert_eq!(
            on_disk,
            embedded,
            "PLUGIN_FILES in src/probe.rs must list every .py file of {}",
            package.display()
        );
    }

    #[test]
    fn the_setup_writes_the_whole_plugin_package() {
        let state = tempfile::tempdir().expect("tempdir");
        let bytecode = BytecodeCache::new(state.path().join("pycache"), state.path());
        let setup = ProbeSetup::new(state.path(), &[], bytecode).expect("probe setup");
        for (relative, source) in PLUGIN_FILES {
            let path = setup.dir.path().join(PLUGIN_PACKAGE).join(relative);
            let written = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
            assert_eq!(written, *source, "{}", path.display());
        }
    }

    #[test]
    fn a_run_without_probe_files_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(collect(dir.path()), Err(ProbeError::NoReport)));
    }
}
