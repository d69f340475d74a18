//! `cachescan apply` and `cachescan restore` end to end, with real pytest on scratch copies of
//! the fixtures in `tests/fixtures/`: one verdict of each kind, statistics summed over
//! pytest-xdist workers, bytes that survive patching, a shadowed module, a failing baseline, a
//! collection error, a hanging test run, Ctrl-C, `kill -9` then `restore`, a file edited by the
//! user during a run, `--keep`, the run lock, a test command that does not exist, and where the
//! test command's own output goes.
//!
//! After every run the scratch copy is compared with the fixture byte for byte: no file may
//! change, and nothing may appear outside `.cachescan/` (no `__pycache__` either).
//!
//! The Python that runs the tests is found on `PATH`, with `CACHESCAN_TEST_PYTHON_BIN` (a
//! directory, e.g. a venv's `bin`) put first when it is set; `.ci/run` sets it. That Python
//! needs pytest and pytest-xdist.
//!
//! No assertion is about speed. The waits below only keep a broken cachescan from hanging the
//! suite forever, and give cleanup (of process groups) a few seconds to happen.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use crate::common::Run;
use crate::common::exit::{FINDINGS, INTERRUPTED, RESTORE_INCOMPLETE, SUCCESS, UNUSABLE};
use crate::common::project::{Project, search_path, target, targets, verdicts};
use serde_json::Value;

/// How long to wait for something that should happen, before the test gives up. A guard
/// against hanging forever, never a speed requirement.
const PATIENCE: Duration = Duration::from_secs(120);

/// How long process groups get to disappear after cachescan says they are stopped.
const CLEANUP_PATIENCE: Duration = Duration::from_secs(10);

const POLL: Duration = Duration::from_millis(50);

/// The argv marker of the grandchild that the `hang` fixture spawns.
const HANG_MARKER: &str = "cachescan-hang-grandchild";

/// What cachescan writes in front of a patched function.
const DECORATOR: &str = "@functools.lru_cache";

// ---------------------------------------------------------------------------------------------
// Helpers: scratch projects, running cachescan, processes.

impl Project {
    /// The fixture's bytes of one file.
    fn original_bytes(&self, relative: &str) -> &[u8] {
        self.original
            .get(relative)
            .and_then(Option::as_deref)
            .unwrap_or_else(|| panic!("the fixture has no file {relative}"))
    }

    fn read(&self, relative: &str) -> Vec<u8> {
        let path = self.path(relative);
        std::fs::read(&path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
    }

    /// Whether `.cachescan/journal.json` exists.
    fn journal_exists(&self) -> bool {
        self.path(".cachescan/journal.json").exists()
    }

    /// The journal, while it exists.
    fn journal(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.path(".cachescan/journal.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// `.cachescan/report.json`.
    fn saved_report(&self) -> Value {
        let path = self.path(".cachescan/report.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
    }

    /// Whether a file holds a cachescan patch.
    fn is_patched(&self, relative: &str) -> bool {
        is_patched(&self.path(relative))
    }

    /// The state directory's backup path as cachescan names it (the scratch path, or its
    /// canonical form).
    fn backup_paths(&self, name: &str) -> Vec<String> {
        let given = self.path(".cachescan/backups").join(name);
        let canonical = std::fs::canonicalize(self.root())
            .map_or_else(|_| given.clone(), |root| root.join(".cachescan/backups").join(name));
        vec![given.display().to_string(), canonical.display().to_string()]
    }

    /// Start `cachescan apply` in the background (not through assert_cmd, so that it can be
    /// signalled).
    fn spawn_apply(&self) -> Background {
        Background::start(self.root(), &["apply"], &[])
    }
}

/// Whether the file at `path` carries our decorator.
fn is_patched(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(DECORATOR))
}

/// A cachescan started in the background. Its output goes to files outside the project, not
/// to pipes: a test run left behind by `kill -9` must not keep the test waiting on a pipe.
#[derive(Debug)]
struct Background {
    child: Child,
    output: tempfile::TempDir,
}

impl Background {
    fn start(root: &Path, args: &[&str], environment: &[(&str, &Path)]) -> Background {
        let output = tempfile::Builder::new()
            .prefix("cachescan-output-")
            .tempdir()
            .expect("a directory for the output");
        let create = |name: &str| {
            std::fs::File::create(output.path().join(name)).expect("create an output file")
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_cachescan"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CACHESCAN_") {
                command.env_remove(&name);
            }
        }
        command
            .env("NO_COLOR", "1")
            .env("COLUMNS", crate::common::COLUMNS)
            .env("PATH", search_path())
            .current_dir(root)
            .args(["--color", "never"])
            .args(args)
            .envs(environment.iter().copied())
            .stdin(Stdio::null())
            .stdout(create("stdout"))
            .stderr(create("stderr"));
        let child = command.spawn().expect("start cachescan");
        Background { child, output }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.output.path().join("stderr")).unwrap_or_default()
    }

    /// Panic if cachescan has already ended.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("cachescan ended early ({status}):\n{}", self.stderr());
        }
    }

    /// Wait until cachescan has patched `relative` and started the test run that sees the
    /// patch; returns that run's process group.
    fn wait_for_patched_run(&mut self, project: &Project, relative: &str) -> u32 {
        wait_until(&format!("{relative} is patched"), || {
            self.assert_running();
            project.is_patched(relative)
        });
        // The journal records the group once the child runs; it was reset to null before the
        // patch was written, so any group seen now is the patched run's.
        let mut group = None;
        wait_until("the journal names the test run's process group", || {
            self.assert_running();
            group = project.journal().and_then(|journal| journal["test_group"].as_u64());
            group.is_some()
        });
        u32::try_from(group.unwrap_or_default()).expect("a process group id fits in u32")
    }

    /// Wait for cachescan to end; its exit code and output.
    fn finish(mut self) -> Run {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for cachescan") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("cachescan did not end:\n{}", self.stderr());
            }
            std::thread::sleep(POLL);
        };
        let stdout = std::fs::read(self.output.path().join("stdout")).expect("read stdout");
        Run { code: status.code(), stdout, stderr: self.stderr() }
    }
}

/// Poll `condition` until it holds; panic after [`PATIENCE`].
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        std::thread::sleep(POLL);
    }
}

/// `kill -<signal> <pid>`.
fn send_signal(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// A process as /proc shows it.
#[derive(Debug)]
struct ProcessEntry {
    pid: u32,
    group: u32,
    directory: PathBuf,
    command_line: Vec<u8>,
}

/// Every process that is still running (zombies, already dead, are left out).
fn live_processes() -> Vec<ProcessEntry> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
            let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
            let state = fields.next()?;
            let group = fields.nth(1)?.parse().ok()?;
            if matches!(state, "Z" | "X") {
                return None;
            }
            Some(ProcessEntry {
                pid,
                group,
                directory: std::fs::read_link(entry.path().join("cwd")).unwrap_or_default(),
                command_line: std::fs::read(entry.path().join("cmdline")).unwrap_or_default(),
            })
        })
        .collect()
}

/// The probe directory a test run was given (`CACHESCAN_PROBE_TARGETS` lies in it).
fn probe_directory(pid: u32) -> Option<PathBuf> {
    let environment = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environment.split(|byte| *byte == 0).find_map(|variable| {
        let targets = String::from_utf8_lossy(variable.strip_prefix(b"CACHESCAN_PROBE_TARGETS=")?)
            .into_owned();
        let directory = Path::new(&targets).parent()?.to_path_buf();
        let name = directory.file_name()?.to_string_lossy().into_owned();
        name.starts_with("cachescan-probe-").then_some(directory)
    })
}

/// The live processes of a process group.
fn group_members(group: u32) -> Vec<u32> {
    live_processes()
        .into_iter()
        .filter(|process| process.group == group)
        .map(|process| process.pid)
        .collect()
}

/// Poll until `survivors` finds nothing; panic with what is left after [`CLEANUP_PATIENCE`].
fn assert_all_gone(what: &str, survivors: impl Fn() -> Vec<u32>) {
    let deadline = Instant::now() + CLEANUP_PATIENCE;
    loop {
        let left = survivors();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{what} still running: pids {left:?}");
        std::thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------------------------
// The `verdicts` fixture: one function per verdict, judged in one run shared by the tests.

/// What the one `apply --format json` run on `verdicts` produced (its tree already checked).
#[derive(Debug)]
struct VerdictsRun {
    run: Run,
    report: Value,
}

static VERDICTS: LazyLock<VerdictsRun> = LazyLock::new(|| {
    let project = Project::copy("verdicts");
    let run = project.cachescan(&["apply", "--format", "json"]);
    run.assert_code(FINDINGS);
    project.assert_unchanged();
    assert!(!project.journal_exists(), "the journal is gone after a finished run");
    let report = run.stdout_json();
    assert_eq!(project.saved_report(), report, ".cachescan/report.json is the report printed");
    VerdictsRun { run, report }
});

#[test]
fn verdicts_report_has_one_verdict_per_function_and_exits_1() {
    let VerdictsRun { run, report } = &*VERDICTS;
    assert_eq!(run.code, Some(FINDINGS));
    assert_eq!(report["version"], 1);
    assert_eq!(report["restored"], true);
    assert_eq!(report["baseline"]["tests"], 4, "{report:#}");
    assert_eq!(report["baseline"]["passed"], 4, "{report:#}");
    assert_eq!(report["baseline_failures"], Value::Array(Vec::new()));
    assert_eq!(report["kept"], Value::Array(Vec::new()));
    let expected = [
        ("calc.core:square", "safe"),
        ("calc.core:unique_label", "low-hit-rate"),
        ("calc.core:unused", "not-called"),
        ("calc.core:fresh_list", "unsafe"),
        ("calc.core:fetch", "skipped"),
        ("calc.orphan:orphan", "invisible"),
    ];
    let expected: BTreeMap<String, String> =
        expected.iter().map(|(id, verdict)| ((*id).to_owned(), (*verdict).to_owned())).collect();
    assert_eq!(verdicts(report), expected);
}

#[test]
fn square_is_safe_with_real_cache_hits() {
    let square = target(&VERDICTS.report, "calc.core:square");
    assert_eq!(square["verdict"], "safe", "{square:#}");
    assert!(square["hits"].as_u64().is_some_and(|hits| hits > 0), "{square:#}");
    // 30 calls over 3 distinct arguments.
    assert_eq!(square["hits"], 27, "{square:#}");
    assert_eq!(square["misses"], 3, "{square:#}");
    assert_eq!(square["broken_tests"], Value::Array(Vec::new()));
    // The checked run compared each of its 27 hits with a fresh call.
    assert_eq!(square["hits_verified"], 27, "{square:#}");
    assert_eq!(
        (square["hits_unverified"].clone(), square["hits_divergent"].clone()),
        (0.into(), 0.into())
    );
    assert_eq!(square["divergence"], Value::Null);
}

#[test]
fn unique_label_has_a_low_hit_rate() {
    let unique_label = target(&VERDICTS.report, "calc.core:unique_label");
    assert_eq!(unique_label["verdict"], "low-hit-rate", "{unique_label:#}");
    assert_eq!(unique_label["hits"], 0, "{unique_label:#}");
    assert_eq!(unique_label["misses"], 12, "{unique_label:#}");
}

#[test]
fn unused_is_not_called() {
    let unused = target(&VERDICTS.report, "calc.core:unused");
    assert_eq!(unused["verdict"], "not-called", "{unused:#}");
    assert_eq!(unused["hits"], 0, "{unused:#}");
    assert_eq!(unused["misses"], 0, "{unused:#}");
    assert_eq!(unused["hit_rate"], Value::Null, "{unused:#}");
}

/// The same run without checks: `fresh_list` is then judged by the test its cache breaks.
static UNCHECKED_VERDICTS: LazyLock<Value> = LazyLock::new(|| {
    let project = Project::copy("verdicts");
    let run = project.cachescan(&["apply", "--no-verify-hits", "--format", "json"]);
    run.assert_code(FINDINGS);
    project.assert_unchanged();
    run.stdout_json()
});

#[test]
fn fresh_list_is_unsafe_for_the_mutated_value_its_cache_hands_out() {
    let fresh_list = target(&VERDICTS.report, "calc.core:fresh_list");
    assert_eq!(fresh_list["verdict"], "unsafe", "{fresh_list:#}");
    let divergence = &fresh_list["divergence"];
    assert_eq!(divergence["kind"], "mutated", "{fresh_list:#}");
    assert_eq!(divergence["test"], "tests/test_core.py::test_collect_twice");
    assert_eq!(divergence["args"], "");
    assert_eq!(divergence["cached"], "[0, 1]");
    assert_eq!(divergence["fresh"], "[0]");
    assert_eq!(fresh_list["hits_divergent"], 1, "{fresh_list:#}");
    assert_eq!(fresh_list["broken_tests"], Value::Array(Vec::new()), "no bisection needed");
}

#[test]
fn without_checks_the_same_verdicts_rest_on_test_outcomes_alone() {
    let unchecked = &*UNCHECKED_VERDICTS;
    assert_eq!(verdicts(unchecked), verdicts(&VERDICTS.report));
    assert_eq!(unchecked["verification"]["enabled"], false, "{unchecked:#}");
    let square = target(unchecked, "calc.core:square");
    assert_eq!(square["hits_verified"], Value::Null, "{square:#}");
    assert!(square["detail"].as_str().is_some_and(|detail| detail.contains("not verified")));
}

#[test]
fn fresh_list_is_unsafe_and_names_the_broken_test_with_its_first_failure_line() {
    let fresh_list = target(&UNCHECKED_VERDICTS, "calc.core:fresh_list");
    assert_eq!(fresh_list["verdict"], "unsafe", "{fresh_list:#}");
    let broken = fresh_list["broken_tests"].as_array().expect("broken_tests is an array");
    assert_eq!(broken.len(), 1, "{fresh_list:#}");
    assert_eq!(broken[0]["nodeid"], "tests/test_core.py::test_collect_twice");
    assert_eq!(broken[0]["baseline"], "passed");
    assert_eq!(broken[0]["outcome"], "failed");
    assert_eq!(broken[0]["message"], "assert [0, 1, 2] == [0, 2]");
}

#[test]
fn async_fetch_is_skipped_for_its_hazard() {
    let fetch = target(&VERDICTS.report, "calc.core:fetch");
    assert_eq!(fetch["verdict"], "skipped", "{fetch:#}");
    assert_eq!(fetch["hazards"][0]["code"], "async-function", "{fetch:#}");
    assert_eq!(fetch["hits"], Value::Null, "{fetch:#}");
}

#[test]
fn orphan_is_invisible_with_null_hits() {
    let orphan = target(&VERDICTS.report, "calc.orphan:orphan");
    assert_eq!(orphan["verdict"], "invisible", "{orphan:#}");
    assert_eq!(orphan["hits"], Value::Null, "{orphan:#}");
    assert_eq!(orphan["misses"], Value::Null, "{orphan:#}");
    assert_eq!(orphan["hit_rate"], Value::Null, "{orphan:#}");
    assert_eq!(orphan["loaded_files"], Value::Array(Vec::new()), "{orphan:#}");
}

#[test]
fn verdicts_json_report_snapshot() {
    let stdout = VERDICTS.run.stdout_text();
    crate::common::json_report_settings()
        .bind(|| insta::assert_snapshot!("verdicts_json_report", stdout));
}

#[test]
fn verdicts_human_report_snapshot() {
    let project = Project::copy("verdicts");
    let run = project.cachescan(&["apply"]);
    run.assert_code(FINDINGS);
    project.assert_unchanged();
    let stdout = run.stdout_text();
    project
        .human_report_settings()
        .bind(|| insta::assert_snapshot!("verdicts_human_report", stdout));
}

#[test]
fn individual_strategy_gives_the_same_verdicts_with_one_run_per_patched_function() {
    let project = Project::copy("verdicts");
    let run = project.cachescan(&["apply", "--strategy", "individual", "--format", "json"]);
    run.assert_code(FINDINGS);
    project.assert_unchanged();
    let report = run.stdout_json();
    assert_eq!(verdicts(&report), verdicts(&VERDICTS.report));
    let tried = targets(&report)
        .values()
        .filter(|target| target["verdict"] != "skipped" && target["divergence"].is_null())
        .count();
    assert_eq!(
        report["test_runs"],
        1 + tried,
        "the baseline, then one run per patched function that did not diverge: {report:#}"
    );
    // Bisection screens everything together but `fresh_list`, whose divergence in the
    // baseline condemned it: the screen of the rest is clean.
    assert_eq!(VERDICTS.report["test_runs"], 2, "{:#}", VERDICTS.report);
}

// ---------------------------------------------------------------------------------------------
// Other fixtures, each run to the end.

#[test]
fn xdist_statistics_are_summed_over_both_workers() {
    let project = Project::copy("xdist");
    let run = project.cachescan(&["apply", "--format", "json"]);
    run.assert_code(SUCCESS);
    project.assert_unchanged();
    let report = run.stdout_json();
    assert_eq!(report["baseline"]["tests"], 9, "{report:#}");
    let weight = target(&report, "weights:weight");
    assert_eq!(weight["verdict"], "safe", "{weight:#}");
    let hits = weight["hits"].as_u64().expect("hits");
    let misses = weight["misses"].as_u64().expect("misses");
    // 9 tests x 20 calls; each worker's own cache misses once per code (4 codes).
    assert_eq!(hits + misses, 180, "{weight:#}");
    assert!(misses == 4 || misses == 8, "4 misses per worker that ran tests: {weight:#}");
}

#[test]
fn line_endings_bom_tabs_and_missing_final_newline_survive_byte_for_byte() {
    let project = Project::copy("line_endings");
    let run = project.cachescan(&["apply", "--format", "json"]);
    run.assert_code(SUCCESS);
    for file in ["crlf_bom.py", "tabs.py", "trailing.py"] {
        assert_eq!(
            project.read(file),
            project.original_bytes(file),
            "{file} is not back byte for byte"
        );
    }
    project.assert_unchanged();
    let report = run.stdout_json();
    let expected: BTreeMap<String, String> = [
        "crlf_bom:double",
        "crlf_bom:greet",
        "tabs:triple",
        "tabs:Scaler.scale",
        "trailing:add_one",
        "trailing:add_two",
    ]
    .iter()
    .map(|id| ((*id).to_owned(), "safe".to_owned()))
    .collect();
    assert_eq!(verdicts(&report), expected, "{report:#}");
}

#[test]
fn shadowed_module_is_invisible_and_names_the_vendor_copy() {
    let project = Project::copy("shadowed");
    let run = project.cachescan(&["apply", "--format", "json"]);
    run.assert_code(FINDINGS);
    project.assert_unchanged();
    let report = run.stdout_json();
    let area = target(&report, "pkg.mod:area");
    assert_eq!(area["verdict"], "invisible", "{area:#}");
    let loaded: Vec<&str> = area["loaded_files"]
        .as_array()
        .expect("loaded_files")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(loaded.len(), 1, "{area:#}");
    assert!(loaded[0].ends_with("vendor/pkg/mod.py"), "{area:#}");
}

#[test]
fn baseline_failures_are_listed_and_ignored() {
    let project = Project::copy("baseline_failing");
    let run = project.cachescan(&["apply", "--format", "json"]);
    run.assert_code(SUCCESS);
    project.assert_unchanged();
    let report = run.stdout_json();
    assert_eq!(
        report["baseline_failures"],
        serde_json::json!(["tests/test_text.py::test_already_broken"]),
        "{report:#}"
    );
    assert_eq!(report["baseline"]["failed"], 1, "{report:#}");
    let slug = target(&report, "text:slug");
    assert_eq!(slug["verdict"], "safe", "{slug:#}");
    assert_eq!(slug["broken_tests"], Value::Array(Vec::new()), "{slug:#}");
}

#[test]
fn collection_error_in_the_baseline_is_unusable() {
    let project = Project::copy("collect_error");
    let run = project.cachescan(&["apply", "--format", "json"]);
    run.assert_code(UNUSABLE);
    project.assert_unchanged();
    assert!(
        run.stdout.is_empty(),
        "no report for an unusable baseline: {}",
        String::from_utf8_lossy(&run.stdout)
    );
    assert!(run.stderr.contains("collection error"), "{}", run.stderr);
    assert!(run.stderr.contains("ModuleNotFoundError"), "{}", run.stderr);
    assert!(run.stderr.contains("tests/test_broken_import.py"), "{}", run.stderr);
    assert!(!project.journal_exists());
}

#[test]
fn hanging_test_run_times_out_is_unsafe_and_leaves_no_process_behind() {
    let project = Project::copy("hang");
    let outside = tempfile::tempdir().expect("a directory for the pid file");
    let pid_file = outside.path().join("grandchild.pid");
    let pid_file_text = pid_file.display().to_string();
    let run = project.cachescan_with_env(
        &["apply", "--timeout", "5", "--format", "json"],
        &[("CACHESCAN_FIXTURE_PIDFILE", &pid_file_text)],
    );
    run.assert_code(FINDINGS);
    project.assert_unchanged();
    let report = run.stdout_json();
    let compute = target(&report, "work:compute");
    assert_eq!(compute["verdict"], "unsafe", "{compute:#}");
    assert!(
        compute["detail"].as_str().is_some_and(|detail| detail.contains("timed out")),
        "{compute:#}"
    );

    let grandchild: u32 = std::fs::read_to_string(&pid_file)
        .expect("the patched run spawned the grandchild and wrote its pid")
        .trim()
        .parse()
        .expect("a pid");
    // Only this project's grandchildren: other test suites may run the same fixture meanwhile.
    let root = std::fs::canonicalize(project.root()).expect("canonical root");
    assert_all_gone("the hang fixture's grandchild", || {
        live_processes()
            .into_iter()
            .filter(|process| {
                let marked = String::from_utf8_lossy(&process.command_line).contains(HANG_MARKER);
                marked && (process.pid == grandchild || process.directory.starts_with(&root))
            })
            .map(|process| process.pid)
            .collect()
    });
}

#[test]
fn test_command_that_does_not_exist_is_unusable() {
    let mut project = Project::copy("verdicts");
    let manifest =
        String::from_utf8(project.read("cachescan.yaml")).expect("the manifest is UTF-8");
    let original_command = "test_command: [python, -m, pytest, -q, -p, no:cacheprovider]";
    assert!(manifest.contains(original_command), "{manifest}");
    project.rewrite(
        "cachescan.yaml",
        &manifest.replace(original_command, "test_command: [no-such-python, -m, pytest]"),
    );
    let run = project.cachescan(&["apply"]);
    run.assert_code(UNUSABLE);
    project.assert_unchanged();
    assert!(run.stderr.contains("`no-such-python` was not found"), "{}", run.stderr);
    assert!(!project.journal_exists());
}

#[test]
fn the_test_commands_stderr_goes_to_the_run_log_not_to_stdout() {
    let mut project = Project::copy("verdicts");
    let manifest =
        String::from_utf8(project.read("cachescan.yaml")).expect("the manifest is UTF-8");
    let original_command = "test_command: [python, -m, pytest, -q, -p, no:cacheprovider]";
    let noisy_command = r#"test_command: [python, -c, "import sys; print('written to stderr by the test command', file=sys.stderr); sys.exit(3)"]"#;
    project.rewrite("cachescan.yaml", &manifest.replace(original_command, noisy_command));
    let run = project.cachescan(&["apply", "--format", "json"]);
    run.assert_code(UNUSABLE);
    project.assert_unchanged();
    assert!(
        run.stdout.is_empty(),
        "stdout is only for the report:\n{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let log =
        String::from_utf8_lossy(&project.read(".cachescan/runs/001-baseline.log")).into_owned();
    assert!(
        log.contains("written to stderr by the test command"),
        "the run log has the test command's stderr:\n{log}"
    );
    assert!(
        run.stderr.contains("written to stderr by the test command"),
        "the diagnostic quotes the log:\n{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Crash safety on `slow_suite`, whose patched run sleeps 30 s: Ctrl-C, kill -9, a user's edit.

#[test]
fn ctrl_c_stops_the_test_run_restores_and_exits_130() {
    let project = Project::copy("slow_suite");
    let mut apply = project.spawn_apply();
    let group = apply.wait_for_patched_run(&project, "slow.py");
    send_signal("INT", apply.pid());
    let run = apply.finish();
    run.assert_code(INTERRUPTED);
    project.assert_unchanged();
    assert!(!project.journal_exists(), "no journal after an interrupted run");
    assert!(run.stderr.contains("interrupted"), "{}", run.stderr);
    assert_all_gone("the interrupted test run", || group_members(group));
}

#[test]
fn kill_9_leaves_a_journal_that_restore_replays() {
    let project = Project::copy("slow_suite");
    let mut apply = project.spawn_apply();
    let group = apply.wait_for_patched_run(&project, "slow.py");
    send_signal("KILL", apply.pid());
    let killed = apply.finish();
    assert_eq!(killed.code, None, "killed by a signal");
    assert!(project.is_patched("slow.py"), "the patch is still in place after kill -9");
    assert!(project.journal_exists(), "the journal survives kill -9");
    assert!(
        !group_members(group).is_empty(),
        "the orphaned test run is still there before restore"
    );

    let probe_directories: Vec<PathBuf> =
        group_members(group).into_iter().filter_map(probe_directory).collect();

    let restore = project.cachescan(&["restore"]);
    restore.assert_code(SUCCESS);
    project.assert_unchanged();
    assert!(!project.journal_exists(), "restore removes the journal");
    assert_all_gone("the orphaned test run", || group_members(group));
    // The killed cachescan could not remove its probe directory; do not leave it in /tmp.
    for directory in probe_directories {
        let _ = std::fs::remove_dir_all(directory);
    }
}

#[test]
fn kill_9_during_runs_in_scratch_copies_then_restore_stops_them_and_deletes_the_copies() {
    let project = Project::copy("slow_suite");
    let temporary =
        tempfile::Builder::new().prefix("cachescan-tmpdir-").tempdir().expect("a private TMPDIR");
    let temporary_path = std::fs::canonicalize(temporary.path()).expect("canonical TMPDIR");
    let mut apply = Background::start(
        project.root(),
        &["apply", "--jobs", "2"],
        &[("TMPDIR", &temporary_path)],
    );
    // The screen runs in a scratch copy beside the baseline's parts, and sleeps there.
    let mut group = None;
    wait_until("a patched run in a scratch copy", || {
        apply.assert_running();
        group = live_processes()
            .into_iter()
            .find(|process| {
                process.directory.starts_with(&temporary_path)
                    && is_patched(&process.directory.join("slow.py"))
            })
            .map(|process| process.group);
        group.is_some()
    });
    let group = group.unwrap_or_default();
    send_signal("KILL", apply.pid());
    let killed = apply.finish();
    assert_eq!(killed.code, None, "killed by a signal");
    project.assert_unchanged();
    assert!(!group_members(group).is_empty(), "the orphaned run is still there before restore");
    let copies = || {
        std::fs::read_dir(&temporary_path)
            .expect("list the TMPDIR")
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("cachescan-scratch-"))
            .collect::<Vec<_>>()
    };
    assert!(!copies().is_empty(), "the killed run could not delete its copies");

    let restore = project.cachescan(&["restore"]);
    restore.assert_code(SUCCESS);
    assert!(restore.stderr.contains("left behind in a scratch copy"), "{}", restore.stderr);
    assert_all_gone("the orphaned run in a scratch copy", || group_members(group));
    assert_eq!(copies(), Vec::<String>::new(), "restore deletes the copies");
    project.assert_unchanged();
}

#[test]
fn a_file_the_user_edits_during_the_run_is_left_alone_with_its_backup_kept() {
    let project = Project::copy("slow_suite");
    let mut apply = project.spawn_apply();
    apply.wait_for_patched_run(&project, "slow.py");
    let user_content =
        "def halve(x):\n    # the user's own edit, made during the run\n    return x >> 1\n";
    project.scratch.write("slow.py", user_content);
    // Interrupt instead of waiting out the 30 s run; the restore that follows is the same.
    send_signal("INT", apply.pid());
    let run = apply.finish();
    run.assert_code(RESTORE_INCOMPLETE);
    assert_eq!(project.read("slow.py"), user_content.as_bytes(), "the user's edit is kept");
    assert!(run.stderr.contains("slow.py was not restored"), "{}", run.stderr);
    let backups = project.backup_paths("0-slow.py");
    assert!(
        backups.iter().any(|backup| run.stderr.contains(backup.as_str())),
        "stderr names one of {backups:?}:\n{}",
        run.stderr
    );
    assert_eq!(
        project.read(".cachescan/backups/0-slow.py"),
        project.original_bytes("slow.py"),
        "the backup holds the original"
    );
    assert!(project.journal_exists(), "the journal stays while a file is not back");

    let restore = project.cachescan(&["restore"]);
    restore.assert_code(RESTORE_INCOMPLETE);
    assert!(restore.stderr.contains("slow.py was not restored"), "{}", restore.stderr);
    assert_eq!(
        project.read("slow.py"),
        user_content.as_bytes(),
        "restore leaves the user's edit alone too"
    );
    assert_eq!(project.read(".cachescan/backups/0-slow.py"), project.original_bytes("slow.py"));
}

// ---------------------------------------------------------------------------------------------
// `--keep`, the lock.

#[test]
fn keep_leaves_safe_functions_patched_until_restore() {
    let project = Project::copy("verdicts");
    let run = project.cachescan(&["apply", "--keep", "--format", "json"]);
    run.assert_code(FINDINGS);
    let report = run.stdout_json();
    assert_eq!(report["kept"], serde_json::json!(["src/calc/core.py"]), "{report:#}");
    assert_eq!(project.saved_report()["kept"], report["kept"]);
    let core = String::from_utf8(project.read("src/calc/core.py")).expect("core.py is UTF-8");
    assert_eq!(
        core.matches(DECORATOR).count(),
        1,
        "only the safe function is kept patched:\n{core}"
    );
    assert!(core.contains(&format!("{DECORATOR}(maxsize=128)\ndef square(n):")), "{core}");
    assert!(
        run.stderr.contains("+@functools.lru_cache"),
        "the kept diff is shown on stderr:\n{}",
        run.stderr
    );
    assert!(project.journal_exists(), "the kept patch is journaled");

    let again = project.cachescan(&["apply"]);
    again.assert_code(UNUSABLE);
    assert!(again.stderr.contains("cachescan restore"), "{}", again.stderr);
    assert!(project.is_patched("src/calc/core.py"), "a refused run changes nothing");

    let restore = project.cachescan(&["restore"]);
    restore.assert_code(SUCCESS);
    project.assert_unchanged();
    assert!(!project.journal_exists());
}

#[test]
fn accept_makes_the_kept_patch_the_users_own_and_apply_runs_again() {
    let project = Project::copy("verdicts");
    project.cachescan(&["apply", "--keep", "--format", "json"]).assert_code(FINDINGS);
    let patched = project.read("src/calc/core.py");

    let accept = project.cachescan(&["accept"]);
    accept.assert_code(SUCCESS);
    assert!(accept.stderr.contains("Accepted 1 file"), "{}", accept.stderr);
    assert_eq!(project.read("src/calc/core.py"), patched, "accept changes no file");
    assert!(!project.journal_exists(), "no journal after accept");
    assert!(!project.path(".cachescan/backups").exists(), "no backups after accept");

    // The decorator is the user's now: restore has nothing to undo, apply runs again.
    let restore = project.cachescan(&["restore"]);
    restore.assert_code(SUCCESS);
    assert_eq!(project.read("src/calc/core.py"), patched, "restore leaves an accepted file");
    let again = project.cachescan(&["apply", "--format", "json"]);
    assert_ne!(again.code, Some(UNUSABLE), "{}", again.stderr);
    assert_eq!(project.read("src/calc/core.py"), patched, "apply puts back what it found");
}

#[test]
fn accept_refuses_the_journal_of_a_run_that_did_not_finish() {
    let project = Project::copy("slow_suite");
    let mut apply = project.spawn_apply();
    apply.wait_for_patched_run(&project, "slow.py");
    send_signal("KILL", apply.pid());
    apply.finish();
    let accept = project.cachescan(&["accept"]);
    accept.assert_code(UNUSABLE);
    assert!(accept.stderr.contains("cachescan restore"), "{}", accept.stderr);
    assert!(project.journal_exists(), "a refused accept keeps the journal");
    assert!(project.is_patched("slow.py"), "and changes no file");
    project.cachescan(&["restore"]).assert_code(SUCCESS);
    project.assert_unchanged();
}

#[test]
fn a_lock_held_by_a_live_process_refuses_the_run() {
    let project = Project::copy("verdicts");
    let mut holder = Command::new("sleep").arg("30").spawn().expect("start sleep");
    let pid = holder.id();
    project.scratch.write(".cachescan/lock", format!("{pid}\n"));
    let run = project.cachescan(&["apply"]);
    let _ = holder.kill();
    let _ = holder.wait();
    run.assert_code(UNUSABLE);
    assert!(run.stderr.contains(&format!("pid {pid}")), "{}", run.stderr);
    assert_eq!(
        project.read(".cachescan/lock"),
        format!("{pid}\n").as_bytes(),
        "another run's lock is not touched"
    );
    project.assert_unchanged();
}

#[test]
fn a_function_that_breaks_the_import_is_unsafe_and_project_env_extends_pythonpath() {
    let project = Project::copy("import_time");
    let run = project.cachescan(&["apply", "--format", "json"]);
    run.assert_code(FINDINGS);
    project.assert_unchanged();
    let report = run.stdout_json();
    let reverse = target(&report, "colors.names:reverse");
    assert_eq!(reverse["verdict"], "unsafe", "{reverse:#}");
    let detail = reverse["detail"].as_str().expect("detail");
    assert!(detail.contains("collection error"), "{detail}");
    assert!(detail.contains("unhashable type"), "{detail}");
    for safe in ["colors.names:normalize", "colors.names:to_hex"] {
        assert_eq!(target(&report, safe)["verdict"], "safe", "{report:#}");
    }
}
