//! Verified hits, end to end with real pytest on the `divergent` fixture: every test passes
//! with every function cached, yet three caches would return what a fresh call does not.
//! With checks (the default) the baseline finds them, and those three are `unsafe` on their
//! divergence (mutated, key collision, fresh-differs) without a run of their own; a fourth,
//! which would only see a stale value through another function's cache, is judged as if
//! cached alone and stays `safe`; the values that only look different (NaN, objects without
//! `__eq__`, `__slots__`, fresh lists) stay `safe`. Without checks, all of them are `safe`.
//! After every run the tree is the fixture, byte for byte.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::Value;

use crate::common::Run;
use crate::common::exit::{FINDINGS, SUCCESS};
use crate::common::project::{Project, target, verdicts};

const MUTATED: &str = "ledger.rates:tags";
const KEY_COLLISION: &str = "ledger.rates:describe";
const FRESH_DIFFERS: &str = "ledger.rates:ticket";
/// Calls `tags`: with `tags` cached too, it would count a list a caller mutated.
const INNOCENT: &str = "ledger.rates:tag_count";

/// `apply -v <extra>` on a copy of `divergent`: it must exit with `expected` and leave the
/// tree as it was.
fn apply(extra: &[&str], expected: i32) -> (Project, Run) {
    let project = Project::copy("divergent");
    let run = project.cachescan(&[&["apply", "-v"], extra].concat());
    run.assert_code(expected);
    project.assert_unchanged();
    (project, run)
}

static CHECKED: LazyLock<Value> =
    LazyLock::new(|| apply(&["--format", "json"], FINDINGS).1.stdout_json());

static UNCHECKED: LazyLock<Value> =
    LazyLock::new(|| apply(&["--no-verify-hits", "--format", "json"], SUCCESS).1.stdout_json());

#[test]
fn the_three_divergent_caches_are_unsafe_with_checks_and_safe_without() {
    let expected_with_checks: BTreeMap<String, String> = verdicts(&UNCHECKED)
        .into_iter()
        .map(|(id, verdict)| {
            assert_eq!(verdict, "safe", "{id} passes every test cached: {:#}", *UNCHECKED);
            let unsafe_with_checks = [MUTATED, KEY_COLLISION, FRESH_DIFFERS].contains(&id.as_str());
            (id, if unsafe_with_checks { "unsafe" } else { "safe" }.to_owned())
        })
        .collect();
    assert_eq!(expected_with_checks.len(), 8);
    assert_eq!(verdicts(&CHECKED), expected_with_checks, "{:#}", *CHECKED);
    assert_eq!(UNCHECKED["verification"]["enabled"], false);
    assert_eq!(CHECKED["verification"]["enabled"], true);
    assert_eq!(CHECKED["verification"]["checked_fraction"], 1.0);
}

#[test]
fn each_divergence_names_its_kind_test_call_and_values() {
    for (id, kind, test, args, cached, fresh) in [
        (
            MUTATED,
            "mutated",
            "test_tags_and_their_count",
            "'sale'",
            "['new', 'sale', 'mine']",
            "['new', 'sale']",
        ),
        (
            KEY_COLLISION,
            "key-collision",
            "test_describe",
            "Decimal('1.00'), 'EUR'",
            "'1.0 EUR'",
            "'1.00 EUR'",
        ),
        (FRESH_DIFFERS, "fresh-differs", "test_ticket", "'A'", "'A-0'", "'A-1'"),
    ] {
        let found = target(&CHECKED, id);
        let divergence = &found["divergence"];
        assert_eq!(divergence["kind"], kind, "{found:#}");
        assert_eq!(divergence["test"], format!("tests/test_rates.py::{test}"), "{found:#}");
        assert_eq!(divergence["args"], args, "{found:#}");
        assert_eq!(divergence["cached"], cached, "{found:#}");
        assert_eq!(divergence["fresh"], fresh, "{found:#}");
        assert!(found["hits_divergent"].as_u64().is_some_and(|count| count > 0), "{found:#}");
        assert_eq!(found["broken_tests"], Value::Array(Vec::new()), "no test broke: {found:#}");
        let detail = found["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(&format!("a cache hit would differ from a fresh call ({kind})")),
            "{detail}"
        );
    }
}

#[test]
fn values_that_only_look_different_are_verified_equal() {
    for id in
        ["ledger.rates:ratio", "ledger.rates:point", "ledger.rates:span", "ledger.rates:squares"]
    {
        let found = target(&CHECKED, id);
        assert_eq!(found["verdict"], "safe", "{found:#}");
        let verified = found["hits_verified"].as_u64().unwrap_or_default();
        assert!(verified >= 9, "{found:#}");
        assert_eq!(
            (found["hits_unverified"].clone(), found["hits_divergent"].clone()),
            (0.into(), 0.into())
        );
        assert_eq!(found["divergence"], Value::Null);
        let detail = found["detail"].as_str().unwrap_or_default();
        assert!(detail.ends_with(&format!("{verified} of {verified} hits verified")), "{detail}");
    }
}

#[test]
fn each_function_is_checked_as_if_it_were_the_only_one_cached() {
    let innocent = target(&CHECKED, INNOCENT);
    assert_eq!(innocent["verdict"], "safe", "{innocent:#}");
    assert_eq!(innocent["hits_divergent"], 0, "{innocent:#}");
    assert!(innocent["hits_verified"].as_u64().is_some_and(|count| count > 0), "{innocent:#}");
}

#[test]
fn divergences_cost_no_run_of_their_own() {
    // The baseline (which checks the hits) and the screen of the five that did not
    // diverge: no halving, no confirmation of the three culprits, no extra run for checks.
    assert_eq!(CHECKED["test_runs"], 2, "{:#}", *CHECKED);
    assert_eq!(UNCHECKED["test_runs"], 2, "baseline and a clean screen: {:#}", *UNCHECKED);
    assert_eq!(CHECKED["tests_executed"], UNCHECKED["tests_executed"], "{:#}", *CHECKED);
    for id in [MUTATED, KEY_COLLISION, FRESH_DIFFERS] {
        assert_eq!(target(&CHECKED, id)["hits"], Value::Null, "never run cached: {id}");
    }
}

#[test]
fn the_checks_are_part_of_the_cached_baseline() {
    let project = Project::copy("divergent");
    let json = |extra: &[&str]| {
        let run = project.cachescan(&[&["apply", "--format", "json"], extra].concat());
        project.assert_unchanged();
        (run.stdout_json(), run.stderr)
    };
    let (first, _) = json(&[]);
    let (again, stderr) = json(&[]);
    assert!(stderr.contains("reused"), "{stderr}");
    assert_eq!(again["test_runs"], 1, "only the screen: {again:#}");
    assert_eq!(verdicts(&again), verdicts(&first));
    assert_eq!(target(&again, MUTATED)["divergence"], target(&first, MUTATED)["divergence"]);
    let (unchecked, stderr) = json(&["--no-verify-hits"]);
    assert!(!stderr.contains("reused"), "a baseline without checks is another: {stderr}");
    assert_eq!(unchecked["test_runs"], 2, "{unchecked:#}");
}

#[test]
fn a_sample_of_the_hits_is_checked_the_same_way_every_time() {
    let sampled = |project: &Project| {
        let run = project.cachescan(&["apply", "--verify-sample", "0.5", "--format", "json"]);
        project.assert_unchanged();
        run.stdout_json()
    };
    let project = Project::copy("divergent");
    let (first, second) = (sampled(&project), sampled(&project));
    let summary = &first["verification"];
    assert_eq!(summary["sample_rate"], 0.5, "{first:#}");
    assert_eq!(summary["seed"], 0, "{first:#}");
    let fraction = summary["checked_fraction"].as_f64().unwrap_or_default();
    assert!(fraction > 0.2 && fraction < 0.8, "about half: {fraction}");
    assert_eq!(second["verification"], first["verification"], "the same hits, twice");
    assert_eq!(verdicts(&second), verdicts(&first));
}

#[test]
fn jobs_2_checks_hits_beside_the_baseline_parts_with_the_same_verdicts() {
    let (_, run) = apply(&["--jobs", "2", "--format", "json"], FINDINGS);
    let report = run.stdout_json();
    assert_eq!(verdicts(&report), verdicts(&CHECKED), "{report:#}");
    assert_eq!(report["baseline"]["parts"], 2, "{report:#}");
    assert!(run.stderr.contains("beside the baseline"), "{}", run.stderr);
}

#[test]
fn human_report_of_divergences() {
    let (project, run) = apply(&[], FINDINGS);
    let stdout = run.stdout_text();
    project.human_report_settings().bind(|| insta::assert_snapshot!("divergent_human", stdout));
}

#[test]
fn markdown_report_of_divergences() {
    let (project, run) = apply(&["--format", "markdown"], FINDINGS);
    let stdout = run.stdout_text();
    project.human_report_settings().bind(|| insta::assert_snapshot!("divergent_markdown", stdout));
}

/// A property that its class's `__hash__` reads: cached, every call hashes `self`, which
/// reads the property, which hashes `self`, ...
const POINTS: &str = "\
class Point(object):
    def __init__(self, x):
        self._x = x

    @property
    def x(self):
        return self._x

    def __hash__(self):
        return hash(self.x)

    def __eq__(self, other):
        return isinstance(other, Point) and other.x == self.x
";

const POINTS_TESTS: &str = "\
from ledger.points import Point


def test_points_in_a_set():
    points = {Point(1), Point(2), Point(1)}
    assert sorted(point.x for point in points) == [1, 2]
";

const POINTS_MANIFEST: &str = "\
version: 1
project:
  source_roots: [src]
  test_command: [python, -m, pytest, -q, -p, no:cacheprovider, tests/test_points.py]
targets:
  - module: ledger.points
    functions: [Point.x]
";

#[test]
fn a_function_its_own_key_hashing_calls_is_unsafe_from_the_baseline_alone() {
    let mut project = Project::copy("divergent");
    project.rewrite("src/ledger/points.py", POINTS);
    project.rewrite("tests/test_points.py", POINTS_TESTS);
    project.rewrite("cachescan.yaml", POINTS_MANIFEST);
    let checked = project.cachescan(&["apply", "--format", "json"]);
    checked.assert_code(FINDINGS);
    project.assert_unchanged();
    let report = checked.stdout_json();
    let point = target(&report, "ledger.points:Point.x");
    assert_eq!(point["verdict"], "unsafe", "{report:#}");
    assert!(
        point["detail"].as_str().is_some_and(|detail| detail.contains("calls it again")),
        "{point:#}"
    );
    assert_eq!(report["test_runs"], 1, "the baseline only: {report:#}");
    // Without checks the search finds it by the tests it breaks.
    let unchecked = project.cachescan(&["apply", "--no-verify-hits", "--format", "json"]);
    unchecked.assert_code(FINDINGS);
    project.assert_unchanged();
    let point = target(&unchecked.stdout_json(), "ledger.points:Point.x");
    assert_eq!(point["verdict"], "unsafe", "{point:#}");
    assert!(!point["broken_tests"].as_array().is_none_or(Vec::is_empty), "{point:#}");
}
