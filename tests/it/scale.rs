//! What makes `cachescan apply` scale, end to end with real pytest on scratch copies of the
//! fixtures in `tests/fixtures/`: test selection (isolation runs execute only the tests that
//! call the group), the baseline cache in `.cachescan/baseline.json` and what invalidates it,
//! `apply --shard K/N` joined by `cachescan merge` into the report of an unsharded run, the
//! report's timing, hash and shard fields, and `apply --jobs N` (isolation runs in scratch
//! copies of the project, with a fallback when the tests import the original tree).
//!
//! After every run the scratch copy is compared with the fixture byte for byte: no file may
//! change, and nothing may appear outside `.cachescan/` (no `__pycache__` either).
//!
//! The Python that runs the tests is found on `PATH`, with `CACHESCAN_TEST_PYTHON_BIN` (a
//! directory, e.g. a venv's `bin`) put first when it is set. That Python needs pytest and
//! pytest-xdist.
//!
//! No assertion is about speed: test counts and run counts are exact, measured times inside a
//! function are only compared with each other and with the sleeps the fixture makes.
//!
//! These tests measure the culprit search and what surrounds it, whose runs have no checks,
//! so every apply here passes `--no-verify-hits` (`SEARCH_ONLY`); checked runs, which find
//! most of these fixtures' culprits by their divergent hits alone, are `verify.rs`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;

use crate::common::exit::{FINDINGS, SUCCESS, UNUSABLE};
use crate::common::project::{Project, target, targets, verdicts};
use crate::common::{self, Run};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Every apply here tests the search alone (see the module docs).
const SEARCH_ONLY: &str = "--no-verify-hits";

/// The one culprit of the `selection` fixture.
const SELECTION_CULPRIT: &str = "catalog.lookup:default_tags";

/// Tests per function in the `selection` and `culprits` fixtures (one test file each).
const TESTS_PER_FUNCTION: u64 = 5;

/// The four culprits of the `culprits` fixture.
const CULPRITS: [&str; 4] = [
    "catalog.lookup:default_tags",
    "catalog.lookup:related_skus",
    "catalog.lookup:price_history",
    "catalog.lookup:warehouse_bins",
];

// ---------------------------------------------------------------------------------------------
// Helpers: scratch projects, running cachescan, reading reports.

impl Project {
    fn read_text(&self, relative: &str) -> String {
        let path = self.path(relative);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
    }

    /// `cachescan apply --format json <extra>`: the run must end with `expected`, leave the
    /// tree as it was, and print a report.
    #[track_caller]
    fn apply_json(&self, extra: &[&str], expected: i32) -> (Run, Value) {
        let mut args = vec!["apply", SEARCH_ONLY, "--format", "json"];
        args.extend_from_slice(extra);
        let run = self.cachescan(&args);
        run.assert_code(expected);
        self.assert_unchanged();
        let report = run.stdout_json();
        (run, report)
    }
}

/// The report's targets in the report's order.
fn target_list(report: &Value) -> &Vec<Value> {
    report["targets"].as_array().unwrap_or_else(|| panic!("`targets` is not an array: {report:#}"))
}

/// (id, verdict, hits, misses) of every target, in the report's order.
fn rows(report: &Value) -> Vec<(String, String, Value, Value)> {
    target_list(report)
        .iter()
        .map(|target| {
            (
                target["id"].as_str().expect("a target id").to_owned(),
                target["verdict"].as_str().expect("a verdict").to_owned(),
                target["hits"].clone(),
                target["misses"].clone(),
            )
        })
        .collect()
}

/// The target ids of a report.
fn ids(report: &Value) -> BTreeSet<String> {
    targets(report).into_keys().collect()
}

/// A non-negative integer field.
#[track_caller]
fn count(value: &Value, field: &str) -> u64 {
    value[field].as_u64().unwrap_or_else(|| panic!("`{field}` is not a count: {value:#}"))
}

/// What every `selection`/`culprits` verdict should be: `unsafe` for the culprits, `safe`
/// for the others.
fn expected_verdicts(report: &Value, culprits: &[&str]) -> BTreeMap<String, String> {
    ids(report)
        .into_iter()
        .map(|id| {
            let verdict = if culprits.contains(&id.as_str()) { "unsafe" } else { "safe" };
            (id, verdict.to_owned())
        })
        .collect()
}

/// Whether `value` is a SHA-256 in lowercase hex.
fn is_sha256_hex(value: &Value) -> bool {
    value.as_str().is_some_and(|text| {
        text.len() == 64
            && text.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
    })
}

/// Every `-v` status line `Ran <label>: ...` on stderr whose label starts with `prefix`.
fn ran_lines<'s>(stderr: &'s str, prefix: &str) -> Vec<&'s str> {
    stderr
        .lines()
        .map(str::trim_start)
        .filter_map(|line| line.strip_prefix("Ran "))
        .filter(|line| line.starts_with(prefix))
        .collect()
}

/// A directory outside every project, for reports saved between runs (a file inside a
/// project would change its source hash).
fn outside_directory() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cachescan-reports-")
        .tempdir()
        .expect("a directory for reports")
}

/// What cachescan left in a temporary directory (scratch copies, probe directories).
/// `apply --format json --jobs 2 <extra>` with a private `TMPDIR` (to see afterwards that
/// every scratch copy is gone): it must find the culprits (exit 1) and leave the tree as it
/// was.
#[track_caller]
fn apply_jobs_2_in_private_tmpdir(
    project: &Project,
    extra: &[&str],
) -> (Run, Value, tempfile::TempDir) {
    let temporary = outside_directory();
    let temporary_text = temporary.path().display().to_string();
    let args = [&["apply", SEARCH_ONLY, "--format", "json", "--jobs", "2"], extra].concat();
    let run = project.cachescan_with_env(&args, &[("TMPDIR", &temporary_text)]);
    run.assert_code(FINDINGS);
    project.assert_unchanged();
    let parallel = run.stdout_json();
    (run, parallel, temporary)
}

fn leftovers(directory: &Path) -> Vec<String> {
    std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("list {}: {error}", directory.display()))
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("cachescan-"))
        .collect()
}

/// `cachescan <args>` outside any project (for `merge`).
fn cachescan_in(directory: &Path, args: &[&str]) -> Run {
    crate::common::run(directory, args)
}

/// Write a report where `merge` can read it; its path as text.
fn save(directory: &Path, name: &str, run: &Run) -> String {
    let path = directory.join(name);
    std::fs::write(&path, &run.stdout)
        .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    path.display().to_string()
}

// ---------------------------------------------------------------------------------------------
// Test selection: isolation runs execute only the tests that call their group.

#[test]
fn the_confirmation_runs_only_the_five_tests_that_call_the_culprit() {
    let project = Project::copy("selection");
    let (run, report) = project.apply_json(&["-v"], FINDINGS);
    assert_eq!(verdicts(&report), expected_verdicts(&report, &[SELECTION_CULPRIT]), "{report:#}");
    assert_eq!(ids(&report).len(), 8, "{report:#}");
    let baseline_tests = count(&report["baseline"], "tests");
    assert_eq!(baseline_tests, 8 * TESTS_PER_FUNCTION, "{report:#}");
    let test_runs = count(&report, "test_runs");
    assert_eq!(test_runs, 3, "baseline, screen, one confirmation: {report:#}");
    let executed = count(&report, "tests_executed");
    assert!(executed < test_runs * baseline_tests, "{report:#}");
    assert_eq!(
        executed,
        2 * baseline_tests + TESTS_PER_FUNCTION,
        "baseline and screen run the whole suite, the confirmation only the culprit's tests: {report:#}"
    );

    let culprit = target(&report, SELECTION_CULPRIT);
    let broken = culprit["broken_tests"].as_array().expect("broken_tests is an array");
    assert!(!broken.is_empty(), "{culprit:#}");
    for test in broken {
        let nodeid = test["nodeid"].as_str().expect("a node id");
        assert!(nodeid.starts_with("tests/test_default_tags.py::"), "{culprit:#}");
    }

    let confirmations = ran_lines(&run.stderr, "confirm-");
    assert_eq!(confirmations.len(), 1, "one confirmation:\n{}", run.stderr);
    assert!(
        confirmations[0].starts_with(&format!("confirm-{SELECTION_CULPRIT}:")),
        "{}",
        run.stderr
    );
    assert!(confirmations[0].contains(" 5 tests,"), "{}", run.stderr);
    for label in ["baseline:", "screen:"] {
        let lines = ran_lines(&run.stderr, label);
        assert_eq!(lines.len(), 1, "{}", run.stderr);
        assert!(lines[0].contains(&format!(" {baseline_tests} tests,")), "{}", run.stderr);
    }
}

#[test]
fn a_test_that_fails_only_apart_from_the_rest_of_the_suite_is_no_evidence_against_a_function() {
    // `double`'s run is limited to its callers, which leaves out the test that prepares
    // `test_b`'s state; the control run (the same tests, uncached) fails `test_b` too.
    let project = Project::copy("order_dependent");
    let (run, report) = project.apply_json(&["-v"], FINDINGS);
    let double = target(&report, "registry.core:double");
    assert_eq!(double["verdict"], "safe", "{double:#}");
    assert_eq!(double["broken_tests"], json!([]), "{double:#}");
    let tags = target(&report, "registry.core:tags");
    assert_eq!(tags["verdict"], "unsafe", "{tags:#}");
    let broken: Vec<&str> = tags["broken_tests"]
        .as_array()
        .expect("broken_tests is an array")
        .iter()
        .filter_map(|test| test["nodeid"].as_str())
        .collect();
    assert_eq!(broken, ["tests/test_c_both.py::test_tags_and_double"], "{tags:#}");
    let controls = ran_lines(&run.stderr, "control-");
    assert_eq!(controls.len(), 1, "{}", run.stderr);
    assert!(
        controls[0].starts_with("control-registry.core:double: 0 patched, 2 tests,"),
        "{}",
        run.stderr
    );
    // No control for `tags`: the screen broke the same test, with the whole suite.
    assert_eq!(count(&report, "test_runs"), 5, "baseline, screen, two halves, one control");

    // In copies the halves run side by side, to the same verdicts; the baseline, whose
    // parts would split `test_b` from its setup, runs again whole.
    let (run, parallel, _temporary) =
        apply_jobs_2_in_private_tmpdir(&project, &["--fresh-baseline", "-v"]);
    assert_eq!(rows(&parallel), rows(&report), "{parallel:#}");
    assert_eq!(parallel["baseline"]["parts"], 1, "{parallel:#}");
    assert_eq!(parallel["jobs"], json!({"requested": 2, "used": 2, "fallback": null}));
    for label in ["confirm-registry.core:tags (copy", "confirm-registry.core:double (copy"] {
        assert_eq!(ran_lines(&run.stderr, label).len(), 1, "{label}:\n{}", run.stderr);
    }
    assert_eq!(ran_lines(&run.stderr, "control-registry.core:double (copy").len(), 1);
}

#[test]
fn four_culprits_in_separate_components_cost_one_small_confirmation_each() {
    let project = Project::copy("culprits");
    let (run, report) = project.apply_json(&["-v"], FINDINGS);
    assert_eq!(verdicts(&report), expected_verdicts(&report, &CULPRITS), "{report:#}");
    let baseline_tests = count(&report["baseline"], "tests");
    assert_eq!(count(&report, "test_runs"), 2 + 4, "{report:#}");
    assert_eq!(
        count(&report, "tests_executed"),
        2 * baseline_tests + 4 * TESTS_PER_FUNCTION,
        "{report:#}"
    );
    let confirmations = ran_lines(&run.stderr, "confirm-");
    assert_eq!(confirmations.len(), 4, "{}", run.stderr);
    for line in confirmations {
        assert!(line.contains(" 1 patched, 5 tests,"), "{line}");
    }
}

// ---------------------------------------------------------------------------------------------
// The baseline cache.

#[test]
fn the_baseline_is_reused_until_a_test_file_changes_or_fresh_baseline_is_asked() {
    let mut project = Project::copy("verdicts");
    let (_, first) = project.apply_json(&[], FINDINGS);
    assert_eq!(first["baseline"]["reused"], false, "{first:#}");
    assert!(project.path(".cachescan/baseline.json").is_file(), "the baseline is cached");

    let (_, second) = project.apply_json(&[], FINDINGS);
    assert_eq!(second["baseline"]["reused"], true, "{second:#}");
    assert_eq!(count(&second, "test_runs"), count(&first, "test_runs") - 1, "{second:#}");
    assert_eq!(second["baseline"]["tests"], first["baseline"]["tests"]);
    assert_eq!(rows(&second), rows(&first), "a reused baseline gives the same verdicts");

    let test_file = "tests/test_core.py";
    let edited = format!("{}# a comment that changes no test\n", project.read_text(test_file));
    project.rewrite(test_file, &edited);
    let (_, after_edit) = project.apply_json(&[], FINDINGS);
    assert_eq!(after_edit["baseline"]["reused"], false, "a test file changed: {after_edit:#}");
    assert_eq!(count(&after_edit, "test_runs"), count(&first, "test_runs"), "{after_edit:#}");

    let (_, again) = project.apply_json(&[], FINDINGS);
    assert_eq!(again["baseline"]["reused"], true, "the new baseline is cached: {again:#}");

    let (_, fresh) = project.apply_json(&["--fresh-baseline"], FINDINGS);
    assert_eq!(fresh["baseline"]["reused"], false, "{fresh:#}");
    assert_eq!(count(&fresh, "test_runs"), count(&first, "test_runs"), "{fresh:#}");
    assert_eq!(rows(&fresh), rows(&first));
}

#[test]
fn a_changed_environment_variable_in_the_manifest_invalidates_the_baseline() {
    // The manifest lives outside the project tree, so that editing it changes only what the
    // manifest says, not the hashed source tree.
    let project = Project::copy("verdicts");
    let outside = outside_directory();
    let manifest_path = outside.path().join("cachescan.yaml");
    let in_tree = project.read_text("cachescan.yaml");
    let project_line = "project:\n";
    assert!(in_tree.contains(project_line), "{in_tree}");
    let manifest_with = |flavour: &str| {
        in_tree.replace(
            project_line,
            &format!(
                "{project_line}  root: {}\n  env:\n    SCALE_FLAVOUR: {flavour}\n",
                project.root().display()
            ),
        )
    };
    let manifest_arg = manifest_path.display().to_string();
    let apply = || {
        let run = project.cachescan(&[
            "apply",
            SEARCH_ONLY,
            "--manifest",
            &manifest_arg,
            "--format",
            "json",
        ]);
        run.assert_code(FINDINGS);
        project.assert_unchanged();
        run.stdout_json()
    };

    std::fs::write(&manifest_path, manifest_with("one")).expect("write the manifest");
    let first = apply();
    assert_eq!(first["baseline"]["reused"], false, "{first:#}");
    let second = apply();
    assert_eq!(second["baseline"]["reused"], true, "nothing changed: {second:#}");

    std::fs::write(&manifest_path, manifest_with("two")).expect("write the manifest");
    let changed = apply();
    assert_eq!(changed["baseline"]["reused"], false, "project.env changed: {changed:#}");
    assert_eq!(rows(&changed), rows(&first));
    let again = apply();
    assert_eq!(again["baseline"]["reused"], true, "{again:#}");
}

// ---------------------------------------------------------------------------------------------
// Shards and merge.

/// A whole run and the two halves of `--shard K/2` on one fixture. The whole run and shard 1
/// share a scratch copy (so shard 1 reuses the baseline); shard 2 runs on another copy, as on
/// another machine.
#[derive(Debug)]
struct ShardRuns {
    whole: Value,
    first: Run,
    second: Run,
    /// Where the shard reports are saved, and their paths.
    reports: tempfile::TempDir,
    first_path: String,
    second_path: String,
}

impl ShardRuns {
    fn make(fixture: &str) -> ShardRuns {
        let one = Project::copy(fixture);
        let (_, whole) = one.apply_json(&[], FINDINGS);
        let first = one.cachescan(&["apply", SEARCH_ONLY, "--shard", "1/2", "--format", "json"]);
        one.assert_unchanged();
        let other = Project::copy(fixture);
        let second = other.cachescan(&["apply", SEARCH_ONLY, "--shard", "2/2", "--format", "json"]);
        other.assert_unchanged();
        for run in [&first, &second] {
            assert!(matches!(run.code, Some(SUCCESS | FINDINGS)), "{}", run.stderr);
        }
        let reports = outside_directory();
        let first_path = save(reports.path(), "s1.json", &first);
        let second_path = save(reports.path(), "s2.json", &second);
        ShardRuns { whole, first, second, reports, first_path, second_path }
    }

    fn merge(&self, args: &[&str]) -> Run {
        let mut all = vec!["merge"];
        all.extend_from_slice(args);
        cachescan_in(self.reports.path(), &all)
    }
}

static VERDICTS_SHARDS: LazyLock<ShardRuns> = LazyLock::new(|| ShardRuns::make("verdicts"));
static SELECTION_SHARDS: LazyLock<ShardRuns> = LazyLock::new(|| ShardRuns::make("selection"));

/// The shards are disjoint, cover the whole run, and merge into its verdicts in its order.
fn assert_shards_merge_to_the_whole_run(shards: &ShardRuns) {
    let whole = &shards.whole;
    let first = shards.first.stdout_json();
    let second = shards.second.stdout_json();
    assert_eq!(first["shard"], json!({"index": 1, "count": 2}), "{first:#}");
    assert_eq!(second["shard"], json!({"index": 2, "count": 2}), "{second:#}");
    assert_eq!(whole["shard"], Value::Null, "{whole:#}");
    let (first_ids, second_ids) = (ids(&first), ids(&second));
    assert!(first_ids.is_disjoint(&second_ids), "shards overlap: {first_ids:?} and {second_ids:?}");
    let union: BTreeSet<String> = first_ids.union(&second_ids).cloned().collect();
    assert_eq!(union, ids(whole), "the shards cover every target");
    assert!(!first_ids.is_empty() && !second_ids.is_empty(), "both shards have work");
    assert_eq!(first["source_sha256"], second["source_sha256"], "same tree, any copy");

    let merged = shards.merge(&[&shards.first_path, &shards.second_path, "--format", "json"]);
    merged.assert_code(FINDINGS);
    let merged = merged.stdout_json();
    assert_eq!(rows(&merged), rows(whole), "merged: {merged:#}\nwhole: {whole:#}");
    assert_eq!(merged["shard"], Value::Null, "{merged:#}");
    assert_eq!(merged["manifest_sha256"], whole["manifest_sha256"]);
    assert_eq!(merged["source_sha256"], whole["source_sha256"]);
    assert_eq!(
        count(&merged, "test_runs"),
        count(&first, "test_runs") + count(&second, "test_runs"),
        "{merged:#}"
    );
    assert_eq!(
        count(&merged, "tests_executed"),
        count(&first, "tests_executed") + count(&second, "tests_executed"),
        "{merged:#}"
    );
    let positions: Vec<u64> =
        target_list(&merged).iter().map(|target| count(target, "plan_index")).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "plan order: {positions:?}");
}

#[test]
fn shards_of_verdicts_merge_into_the_unsharded_report() {
    assert_shards_merge_to_the_whole_run(&VERDICTS_SHARDS);
}

#[test]
fn shards_of_selection_merge_into_the_unsharded_report() {
    assert_shards_merge_to_the_whole_run(&SELECTION_SHARDS);
}

#[test]
fn merged_human_report_exits_1_for_an_unsafe_function() {
    let shards = &*SELECTION_SHARDS;
    let merged = shards.merge(&[&shards.second_path, &shards.first_path]);
    merged.assert_code(FINDINGS);
    let stdout = merged.stdout_text();
    assert!(stdout.contains(&format!("unsafe {SELECTION_CULPRIT}")), "{stdout}");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"in \d+(\.\d+)? s\b", "in [DURATION]");
    settings.add_filter(
        r"\d+(\.\d+)? (µs|ms|s) -> \d+(\.\d+)? (µs|ms|s)( \(\d+\.\dx\))?",
        "[TIME INSIDE]",
    );
    settings.bind(|| insta::assert_snapshot!("selection_merged_human_report", stdout));
}

#[test]
fn merge_refuses_a_repeated_shard() {
    let shards = &*VERDICTS_SHARDS;
    let merged = shards.merge(&[&shards.first_path, &shards.first_path]);
    merged.assert_code(UNUSABLE);
    assert!(merged.stdout.is_empty(), "no report: {}", merged.stdout_text());
    assert!(merged.stderr.contains("shard 1/2 appears twice"), "{}", merged.stderr);
}

#[test]
fn merge_refuses_a_missing_shard() {
    let shards = &*VERDICTS_SHARDS;
    let merged = shards.merge(&[&shards.first_path]);
    merged.assert_code(UNUSABLE);
    assert!(merged.stdout.is_empty(), "no report: {}", merged.stdout_text());
    assert!(merged.stderr.contains("shard 2/2 missing"), "{}", merged.stderr);
}

#[test]
fn merge_refuses_reports_of_different_manifests() {
    let verdicts = &*VERDICTS_SHARDS;
    let selection = &*SELECTION_SHARDS;
    let merged = verdicts.merge(&[&verdicts.first_path, &selection.second_path]);
    merged.assert_code(UNUSABLE);
    assert!(merged.stdout.is_empty(), "no report: {}", merged.stdout_text());
    assert!(merged.stderr.contains("different manifests"), "{}", merged.stderr);
}

#[test]
fn shard_numbers_outside_1_to_n_are_refused_by_the_command_line() {
    let project = Project::copy("verdicts");
    for shard in ["0/2", "3/2", "1/0", "half"] {
        let run = project.cachescan(&["apply", SEARCH_ONLY, "--shard", shard]);
        run.assert_code(UNUSABLE);
        assert!(run.stderr.contains("is not a shard"), "{shard}: {}", run.stderr);
        assert!(!project.path(".cachescan").exists(), "{shard}: nothing ran");
        project.assert_unchanged();
    }
}

// ---------------------------------------------------------------------------------------------
// Report fields: timings, hashes, shard, plan positions.

/// The fields every report has, whatever its targets.
#[track_caller]
fn assert_report_fields(report: &Value, manifest_text: &str, shard: &Value) {
    assert!(report["tests_executed"].is_u64(), "{report:#}");
    assert!(is_sha256_hex(&report["manifest_sha256"]), "{report:#}");
    assert!(is_sha256_hex(&report["source_sha256"]), "{report:#}");
    assert_eq!(
        report["manifest_sha256"],
        format!("{:x}", Sha256::digest(manifest_text.as_bytes())),
        "the hash of the manifest's text"
    );
    assert_eq!(&report["shard"], shard, "{report:#}");
    for target in target_list(report) {
        assert!(target["plan_index"].is_u64(), "{target:#}");
        let timings = [&target["time_before_s"], &target["time_after_s"], &target["speedup"]];
        match target["verdict"].as_str() {
            Some("safe") => {
                for time in &timings[..2] {
                    assert!(time.as_f64().is_some_and(|time| time >= 0.0), "{target:#}");
                }
                assert!(timings[2].is_null() || timings[2].is_f64(), "{target:#}");
            }
            Some("skipped" | "invisible") => {
                assert!(timings.iter().all(|time| time.is_null()), "{target:#}");
            }
            _ => {}
        }
    }
}

#[test]
fn reports_carry_timings_hashes_shard_and_plan_positions() {
    for (fixture, shards) in [("verdicts", &*VERDICTS_SHARDS), ("selection", &*SELECTION_SHARDS)] {
        let manifest = String::from_utf8(common::fixture::files(fixture)["cachescan.yaml"].clone())
            .expect("the fixture's manifest is UTF-8");
        assert_report_fields(&shards.whole, &manifest, &Value::Null);
        let positions: Vec<u64> =
            target_list(&shards.whole).iter().map(|target| count(target, "plan_index")).collect();
        let expected: Vec<u64> = (0..positions.len() as u64).collect();
        assert_eq!(positions, expected, "a whole run lists the plan in order");
        assert_report_fields(
            &shards.first.stdout_json(),
            &manifest,
            &json!({"index": 1, "count": 2}),
        );
        assert_report_fields(
            &shards.second.stdout_json(),
            &manifest,
            &json!({"index": 2, "count": 2}),
        );
    }
    // The verdicts fixture has both kinds without timings.
    let whole = &VERDICTS_SHARDS.whole;
    for id in ["calc.core:fetch", "calc.orphan:orphan"] {
        let target = target(whole, id);
        assert!(matches!(target["verdict"].as_str(), Some("skipped" | "invisible")), "{target:#}");
    }
    assert_eq!(target(whole, "calc.core:square")["verdict"], "safe");
}

#[test]
fn a_slow_function_called_ten_times_shows_the_time_the_cache_saves() {
    let project = Project::copy("slow_function");
    let (_, report) = project.apply_json(&[], SUCCESS);
    assert_report_fields(&report, &project.read_text("cachescan.yaml"), &Value::Null);
    let settle = target(&report, "pace:settle");
    assert_eq!(settle["verdict"], "safe", "{settle:#}");
    assert_eq!(settle["hits"], 9, "{settle:#}");
    assert_eq!(settle["misses"], 1, "{settle:#}");
    let hazard_codes: Vec<(&str, &str)> = settle["hazards"]
        .as_array()
        .expect("hazards")
        .iter()
        .map(|hazard| {
            (
                hazard["code"].as_str().expect("a code"),
                hazard["severity"].as_str().expect("a severity"),
            )
        })
        .collect();
    assert_eq!(hazard_codes, [("impure-call", "warning")], "{settle:#}");

    let before = settle["time_before_s"].as_f64().expect("time_before_s");
    let after = settle["time_after_s"].as_f64().expect("time_after_s");
    let speedup = settle["speedup"].as_f64().expect("speedup");
    // Ten calls sleep at least 10 x 20 ms unpatched; patched, only the one miss sleeps.
    assert!(before >= 0.15, "{settle:#}");
    assert!(after > 0.0, "the miss runs the body: {settle:#}");
    assert!(after < before, "{settle:#}");
    assert!(speedup > 2.0, "{settle:#}");
}

// ---------------------------------------------------------------------------------------------
// `apply --jobs N`: isolation runs in scratch copies.

#[test]
fn jobs_2_gives_the_verdicts_of_jobs_1_in_two_scratch_copies() {
    let project = Project::copy("culprits");
    let (_, serial) = project.apply_json(&["--jobs", "1"], FINDINGS);
    assert_eq!(verdicts(&serial), expected_verdicts(&serial, &CULPRITS), "{serial:#}");
    assert_eq!(serial["jobs"], json!({"requested": 1, "used": 1, "fallback": null}));

    let (run, parallel, temporary) = apply_jobs_2_in_private_tmpdir(&project, &[]);
    assert_eq!(rows(&parallel), rows(&serial), "{parallel:#}");
    // The same isolation runs, only elsewhere; the second run reuses the baseline.
    assert_eq!(parallel["baseline"]["reused"], true, "{parallel:#}");
    assert_eq!(count(&parallel, "test_runs"), count(&serial, "test_runs") - 1, "{parallel:#}");
    assert_eq!(
        count(&parallel, "tests_executed"),
        count(&serial, "tests_executed") - count(&serial["baseline"], "tests"),
        "{parallel:#}"
    );
    let left = leftovers(temporary.path());
    assert!(left.is_empty(), "scratch copies left behind: {left:?}");
    for culprit in CULPRITS {
        assert_eq!(
            target(&parallel, culprit)["broken_tests"],
            target(&serial, culprit)["broken_tests"],
            "{culprit}"
        );
    }
    assert_eq!(
        parallel["jobs"],
        json!({"requested": 2, "used": 2, "fallback": null}),
        "{parallel:#}"
    );
    assert!(!run.stderr.contains("scratch copies"), "no fallback:\n{}", run.stderr);
}

#[test]
fn jobs_falls_back_to_serial_runs_when_the_tests_import_the_original_tree() {
    // An absolute `pythonpath`, like an editable install: a scratch copy would still import
    // the original (unpatched) sources, and every isolation run would look clean.
    let mut project = Project::copy("culprits");
    let pyproject = project.read_text("pyproject.toml");
    let relative = "pythonpath = [\"src\"]";
    assert!(pyproject.contains(relative), "{pyproject}");
    let absolute = format!("pythonpath = [\"{}\"]", project.path("src").display());
    project.rewrite("pyproject.toml", &pyproject.replace(relative, &absolute));

    let (_, serial) = project.apply_json(&["--jobs", "1"], FINDINGS);
    assert_eq!(verdicts(&serial), expected_verdicts(&serial, &CULPRITS), "{serial:#}");

    // With the baseline reused, the screen in a copy finds out; with a fresh one, the
    // baseline's parts do, and the baseline runs again in place, in one piece.
    for extra in [&[][..], &["--fresh-baseline"][..]] {
        let (run, parallel, temporary) = apply_jobs_2_in_private_tmpdir(&project, extra);
        assert_eq!(rows(&parallel), rows(&serial), "{extra:?}: {parallel:#}");
        assert_eq!(parallel["baseline"]["reused"], extra.is_empty(), "{parallel:#}");
        assert_eq!(parallel["baseline"]["parts"], 1, "{parallel:#}");
        assert_eq!(parallel["baseline"]["tests"], serial["baseline"]["tests"], "{parallel:#}");
        let left = leftovers(temporary.path());
        assert!(left.is_empty(), "scratch copies left behind: {left:?}");
        assert_eq!(parallel["jobs"]["requested"], 2, "{parallel:#}");
        assert_eq!(parallel["jobs"]["used"], 1, "{parallel:#}");
        assert!(
            parallel["jobs"]["fallback"].as_str().is_some_and(|reason| !reason.is_empty()),
            "{parallel:#}"
        );
        assert!(run.stderr.contains("scratch copies"), "{}", run.stderr);
    }
}

#[test]
fn jobs_2_runs_a_fresh_baseline_in_two_parts_that_add_up_to_the_whole_suite() {
    let project = Project::copy("culprits");
    let (_, serial) = project.apply_json(&["--jobs", "1"], FINDINGS);
    assert_eq!(serial["baseline"]["parts"], 1, "{serial:#}");

    let (run, parallel, temporary) =
        apply_jobs_2_in_private_tmpdir(&project, &["--fresh-baseline"]);
    assert_eq!(parallel["baseline"]["parts"], 2, "{parallel:#}");
    assert_eq!(parallel["baseline"]["reused"], false, "{parallel:#}");
    for field in ["tests", "passed", "failed", "skipped"] {
        assert_eq!(parallel["baseline"][field], serial["baseline"][field], "{field}");
    }
    assert_eq!(rows(&parallel), rows(&serial), "{parallel:#}");
    // Each part is a test run of its own; together they execute the suite once, and the
    // call map they built selects the same tests for every later run.
    assert_eq!(count(&parallel, "test_runs"), count(&serial, "test_runs") + 1, "{parallel:#}");
    assert_eq!(count(&parallel, "tests_executed"), count(&serial, "tests_executed"));
    assert_eq!(parallel["jobs"], json!({"requested": 2, "used": 2, "fallback": null}));
    assert!(run.stderr.contains("in 2 parts at once"), "{}", run.stderr);
    let left = leftovers(temporary.path());
    assert!(left.is_empty(), "scratch copies left behind: {left:?}");

    // The baseline the parts cached serves a serial run like one made in one piece, and the
    // human summary says how it was made.
    let human = project.cachescan(&["apply", SEARCH_ONLY, "--jobs", "1"]);
    human.assert_code(FINDINGS);
    let summary = String::from_utf8_lossy(&human.stdout).into_owned();
    let tests = count(&serial["baseline"], "tests");
    assert!(summary.contains(&format!("(reused baseline: {tests} tests in ")), "{summary}");
    assert!(summary.contains(" s, run in 2 parts)"), "{summary}");
    let (_, reused) = project.apply_json(&["--jobs", "1"], FINDINGS);
    assert_eq!(reused["baseline"]["reused"], true, "{reused:#}");
    assert_eq!(rows(&reused), rows(&serial), "{reused:#}");
    assert_eq!(
        count(&reused, "tests_executed"),
        count(&serial, "tests_executed") - count(&serial["baseline"], "tests")
    );
}

#[test]
fn a_baseline_in_parts_with_a_failing_test_runs_again_whole() {
    // A test failing in a part might pass in the whole suite; ignored as a baseline
    // failure, it could hide what caching does to it. So only a green suite is split.
    let project = Project::copy("baseline_failing");
    let (run, report) = project.apply_json(&["--jobs", "2"], SUCCESS);
    assert_eq!(report["baseline"]["parts"], 1, "{report:#}");
    assert_eq!(
        report["baseline_failures"],
        json!(["tests/test_text.py::test_already_broken"]),
        "{report:#}"
    );
    assert_eq!(target(&report, "text:slug")["verdict"], "safe", "{report:#}");
    assert!(
        run.stderr.contains("1 test failed in the baseline's parts")
            && run.stderr.contains("the baseline runs again, whole and in place"),
        "{}",
        run.stderr
    );
}

#[test]
fn jobs_use_copies_when_the_original_sources_are_on_the_path_like_an_editable_install() {
    // No `pythonpath` in pytest's configuration: the sources come from an absolute path on
    // PYTHONPATH, behind which an editable install's `.pth` entry would sit. A copy's first
    // run imports the original tree; with the copy's own `src` first on the path it does not.
    let mut project = Project::copy("culprits");
    let pyproject = project.read_text("pyproject.toml");
    let relative = "pythonpath = [\"src\"]\n";
    assert!(pyproject.contains(relative), "{pyproject}");
    project.rewrite("pyproject.toml", &pyproject.replace(relative, ""));
    let manifest = project.read_text("cachescan.yaml");
    let project_line = "project:\n";
    assert!(manifest.contains(project_line), "{manifest}");
    let sources = project.path("src").display().to_string();
    let with_path = format!("{project_line}  env:\n    PYTHONPATH: {sources}\n");
    project.rewrite("cachescan.yaml", &manifest.replace(project_line, &with_path));

    let (_, serial) = project.apply_json(&["--jobs", "1"], FINDINGS);
    assert_eq!(verdicts(&serial), expected_verdicts(&serial, &CULPRITS), "{serial:#}");
    let (run, parallel, temporary) =
        apply_jobs_2_in_private_tmpdir(&project, &["--fresh-baseline", "-v"]);
    assert_eq!(rows(&parallel), rows(&serial), "{parallel:#}");
    assert_eq!(parallel["baseline"]["parts"], 2, "{parallel:#}");
    assert_eq!(parallel["jobs"], json!({"requested": 2, "used": 2, "fallback": null}));
    assert!(run.stderr.contains("source roots first on PYTHONPATH"), "{}", run.stderr);
    assert!(!run.stderr.contains("scratch copies are not used"), "{}", run.stderr);
    let left = leftovers(temporary.path());
    assert!(left.is_empty(), "scratch copies left behind: {left:?}");
}

#[test]
fn jobs_never_patch_a_file_outside_the_project_in_a_scratch_copy() {
    // The sources live beside the project, named by an absolute source root or by `../`. A
    // scratch copy holds only the project, so a copy would have written the decorator into
    // the user's own file, without the journal. Runs happen in place instead, journaled.
    let scratch = common::Scratch::empty();
    let library = scratch.path("lib");
    scratch.write("lib/shared.py", "def double(x):\n    return x * 2\n");
    scratch.write(
        "app/pyproject.toml",
        format!(
            "[tool.pytest.ini_options]\npythonpath = [\"{}\"]\ntestpaths = [\"tests\"]\n",
            library.display()
        ),
    );
    scratch.write(
        "app/tests/test_shared.py",
        "import shared\n\n\ndef test_double():\n    for i in range(30):\n        assert shared.double(i % 3) == (i % 3) * 2\n",
    );
    let before = common::tree_contents(scratch.root());
    for source_root in [library.display().to_string(), "../lib".to_owned()] {
        scratch.write(
            "app/cachescan.yaml",
            format!(
                "version: 1\nproject:\n  source_roots: [\"{source_root}\"]\n  test_command: [python, -m, pytest, -q, -p, no:cacheprovider]\ntargets:\n  - module: shared\n    functions: [\"*\"]\n"
            ),
        );
        let path = common::project::search_path();
        let run = common::run_with_env(
            &scratch.path("app"),
            &["apply", SEARCH_ONLY, "--format", "json", "--jobs", "2", "--fresh-baseline"],
            &[("PATH", &path)],
        );
        run.assert_code(SUCCESS);
        let report = run.stdout_json();
        assert_eq!(target(&report, "shared:double")["verdict"], "safe", "{report:#}");
        let fallback = report["jobs"]["fallback"].as_str().unwrap_or_default();
        assert!(fallback.contains("lies outside the project root"), "{report:#}");
        assert_eq!(report["jobs"]["used"], 1, "{report:#}");
        let after: BTreeMap<_, _> = common::tree_contents(scratch.root())
            .into_iter()
            .filter(|(path, _)| !path.starts_with("app/.cachescan") && path != "app/cachescan.yaml")
            .collect();
        let expected: BTreeMap<_, _> = before
            .iter()
            .filter(|(path, _)| *path != "app/cachescan.yaml")
            .map(|(path, bytes)| (path.clone(), bytes.clone()))
            .collect();
        common::assert_same_tree(&expected, &after);
    }
}
