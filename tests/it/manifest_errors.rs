//! `cachescan plan` on unusable input: every bad manifest (and every bad file a manifest
//! points at) is refused with exit code 2, nothing on stdout, and a diagnostic on stderr that
//! names the file and the line of the problem. Each case writes a tiny manifest (and, when
//! the case needs one, a small valid Python module `m.py`) into a scratch directory, runs
//! `cachescan plan` there as a user would, and snapshots stderr.

use crate::common::Scratch;
use crate::common::exit::UNUSABLE;

/// A valid Python module for manifests that name `m`.
const MODULE: &str = "def double(x):\n    return x * 2\n";

/// A valid target, for cases whose problem is elsewhere in the manifest.
const TARGET: &str = "targets:\n  - module: m\n    functions: [\"*\"]\n";

/// A scratch project with `manifest` as its `cachescan.yaml` and the module `m.py`.
fn project(manifest: &str) -> Scratch {
    let project = Scratch::empty();
    project.write("cachescan.yaml", manifest);
    project.write("m.py", MODULE);
    project
}

/// Run `cachescan plan` in the project, which must refuse: exit code 2 and an empty stdout.
/// Returns stderr.
fn refused(project: &Scratch) -> String {
    let run = crate::common::run(project.root(), &["plan"]);
    run.assert_code(UNUSABLE);
    assert!(
        run.stdout.is_empty(),
        "nothing on stdout for unusable input, got:\n{}",
        run.stdout_text()
    );
    assert!(!run.stderr.is_empty(), "a diagnostic on stderr");
    run.stderr
}

/// The diagnostic's snippet header names `file` and `line` (miette prints `[file:line:col]`).
#[track_caller]
fn assert_points_at(stderr: &str, file: &str, line: usize) {
    let wanted = format!("{file}:{line}:");
    let found = stderr.lines().any(|text| {
        text.contains("╭─[")
            && text.split("╭─[").nth(1).is_some_and(|header| {
                let header = header.rsplit('/').next().unwrap_or(header);
                header.starts_with(&wanted)
            })
    });
    assert!(found, "expected a snippet at {file} line {line}, got:\n{stderr}");
}

/// Snapshot stderr with the scratch path shown as `[ROOT]` and the manifest that caused it
/// as the snapshot's description.
macro_rules! snapshot_stderr {
    ($project:expr, $stderr:expr) => {{
        let mut settings = $project.snapshot_settings();
        if let Ok(manifest) = std::fs::read_to_string($project.path("cachescan.yaml")) {
            settings.set_description(format!("cachescan.yaml:\n{manifest}"));
        }
        settings.bind(|| insta::assert_snapshot!($stderr));
    }};
}

// ----- Unknown keys and wrong types (the YAML does not fit the manifest's shape) -----

#[test]
fn unknown_top_level_key() {
    let project = project(&format!("version: 1\nbogus: 1\n{TARGET}"));
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 2);
    assert!(stderr.contains("`bogus`"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn typo_in_target_key_suggests_functions() {
    let project = project("version: 1\ntargets:\n  - module: m\n    funtions: [\"*\"]\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 4);
    assert!(stderr.contains("did you mean `functions`?"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn typo_in_project_key_suggests_test_command() {
    let project =
        project(&format!("version: 1\nproject:\n  test_comand: [python, -m, pytest]\n{TARGET}"));
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    assert!(stderr.contains("did you mean `test_command`?"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn functions_is_a_number() {
    let project = project("version: 1\ntargets:\n  - module: m\n    functions: 3\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 4);
    snapshot_stderr!(project, stderr);
}

#[test]
fn functions_is_a_string() {
    let project = project("version: 1\ntargets:\n  - module: m\n    functions: \"*\"\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 4);
    snapshot_stderr!(project, stderr);
}

#[test]
fn cache_size_is_a_word() {
    let project = project(
        "version: 1\ntargets:\n  - module: m\n    functions: [\"*\"]\n    cache_size: \"big\"\n",
    );
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 5);
    assert!(stderr.contains("\"big\""), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn typed_is_not_a_boolean() {
    let project =
        project("version: 1\ntargets:\n  - module: m\n    functions: [\"*\"]\n    typed: maybe\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 5);
    snapshot_stderr!(project, stderr);
}

#[test]
fn duplicate_key() {
    let project = project(&format!("version: 1\nversion: 1\n{TARGET}"));
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 2);
    snapshot_stderr!(project, stderr);
}

// ----- Required keys -----

#[test]
fn missing_version() {
    let project = project(TARGET);
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 1);
    assert!(stderr.contains("`version`"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn missing_targets() {
    let project = project("version: 1\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 1);
    assert!(stderr.contains("`targets`"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn missing_functions_in_a_target() {
    let project = project("version: 1\ntargets:\n  - module: m\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    assert!(stderr.contains("`functions`"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn empty_manifest_file() {
    let project = project("");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 1);
    snapshot_stderr!(project, stderr);
}

// ----- Values that parse but mean nothing -----

#[test]
fn unsupported_version() {
    let project = project(&format!("version: 2\n{TARGET}"));
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 1);
    assert!(stderr.contains("version: 1"), "the help names the supported version: {stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn empty_targets() {
    let project = project("version: 1\ntargets: []\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 2);
    snapshot_stderr!(project, stderr);
}

#[test]
fn target_with_module_and_path() {
    let project =
        project("version: 1\ntargets:\n  - module: m\n    path: m.py\n    functions: [\"*\"]\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 4);
    snapshot_stderr!(project, stderr);
}

#[test]
fn target_with_neither_module_nor_path() {
    let project = project("version: 1\ntargets:\n  - functions: [\"*\"]\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    snapshot_stderr!(project, stderr);
}

#[test]
fn empty_functions_list() {
    let project = project("version: 1\ntargets:\n  - module: m\n    functions: []\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 4);
    snapshot_stderr!(project, stderr);
}

#[test]
fn negative_default_cache_size() {
    let project = project(&format!("version: 1\ndefaults:\n  cache_size: -1\n{TARGET}"));
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    assert!(stderr.contains("-1"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn negative_target_cache_size() {
    let project = project(
        "version: 1\ntargets:\n  - module: m\n    functions: [\"*\"]\n    cache_size: -5\n",
    );
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 5);
    assert!(stderr.contains("-5"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn min_hit_rate_above_one() {
    let project = project(&format!("version: 1\nthresholds:\n  min_hit_rate: 1.5\n{TARGET}"));
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    assert!(stderr.contains("1.5"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn negative_min_calls() {
    let project = project(&format!("version: 1\nthresholds:\n  min_calls: -1\n{TARGET}"));
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    snapshot_stderr!(project, stderr);
}

#[test]
fn non_positive_timeout() {
    let project = project(&format!("version: 1\nproject:\n  timeout: 0\n{TARGET}"));
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    snapshot_stderr!(project, stderr);
}

#[test]
fn project_root_is_not_a_directory() {
    let project = project(&format!("version: 1\nproject:\n  root: nowhere\n{TARGET}"));
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    snapshot_stderr!(project, stderr);
}

#[test]
fn unknown_hazard_code_suggests_the_closest() {
    let project = project(
        "version: 1\ntargets:\n  - module: m\n    functions: [\"*\"]\n    allow_hazards: [method-self-leek]\n",
    );
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 5);
    assert!(stderr.contains("did you mean `method-self-leak`?"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn unknown_hazard_code_far_from_any_lists_them_all() {
    let project = project(
        "version: 1\ntargets:\n  - module: m\n    functions: [\"*\"]\n    allow_hazards: [banana]\n",
    );
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 5);
    assert!(stderr.contains("async-function"), "the help lists the known codes: {stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn invalid_glob_pattern() {
    let project = project("version: 1\ntargets:\n  - module: m\n    functions: [\"[abc\"]\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 4);
    assert!(stderr.contains("`[abc`"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn invalid_module_name() {
    let project =
        project("version: 1\ntargets:\n  - module: shop/pricing\n    functions: [\"*\"]\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    assert!(stderr.contains("`shop/pricing`"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

// ----- Files the manifest points at -----

#[test]
fn module_not_found_in_source_roots() {
    let project =
        project("version: 1\ntargets:\n  - module: shop.nothere\n    functions: [\"*\"]\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    assert!(
        stderr.contains("src/shop/nothere.py"),
        "the help lists the places looked in: {stderr}"
    );
    snapshot_stderr!(project, stderr);
}

#[test]
fn path_does_not_exist() {
    let project =
        project("version: 1\ntargets:\n  - path: lib/nothere.py\n    functions: [\"*\"]\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    assert!(stderr.contains("`lib/nothere.py`"), "{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn python_syntax_error_points_into_the_python_file() {
    let project = project("version: 1\ntargets:\n  - module: broken\n    functions: [\"*\"]\n");
    project.write("broken.py", "def fine(x):\n    return x\n\ndef broken(:\n    pass\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "broken.py", 4);
    snapshot_stderr!(project, stderr);
}

#[test]
fn python_file_that_is_not_utf8() {
    let project = project("version: 1\ntargets:\n  - path: latin1.py\n    functions: [\"*\"]\n");
    project
        .write("latin1.py", b"# -*- coding: latin-1 -*-\ndef greet():\n    return \"caf\xe9\"\n");
    let stderr = refused(&project);
    assert!(stderr.contains("latin1.py"), "the diagnostic names the file: {stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn manifest_that_is_not_utf8() {
    let project = Scratch::empty();
    project.write(
        "cachescan.yaml",
        b"version: 1\n# caf\xe9\ntargets:\n  - module: m\n    functions: [\"*\"]\n",
    );
    project.write("m.py", MODULE);
    let stderr = refused(&project);
    assert!(stderr.contains("cachescan.yaml"), "the diagnostic names the file: {stderr}");
    snapshot_stderr!(project, stderr);
}

// ----- YAML syntax -----

#[test]
fn yaml_tab_indentation() {
    let project = project("version: 1\ntargets:\n\t- module: m\n\t  functions: [\"*\"]\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    snapshot_stderr!(project, stderr);
}

#[test]
fn yaml_unclosed_bracket() {
    let project = project("version: 1\ntargets:\n  - module: m\n    functions: [\"*\"\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 4);
    snapshot_stderr!(project, stderr);
}

// ----- No manifest -----

#[test]
fn no_manifest_in_an_empty_directory() {
    let project = Scratch::empty();
    let stderr = refused(&project);
    assert!(stderr.contains("--manifest"), "the help says how to name one: {stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn manifest_option_naming_a_missing_file() {
    let project = Scratch::empty();
    let run = crate::common::run(project.root(), &["plan", "--manifest", "elsewhere.yaml"]);
    run.assert_code(UNUSABLE);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("elsewhere.yaml"), "{}", run.stderr);
    snapshot_stderr!(project, run.stderr);
}

// ----- Several problems at once -----

#[test]
fn every_problem_in_one_manifest_is_reported_in_one_run() {
    let manifest = "\
version: 1
defaults:
  cache_size: -1
thresholds:
  min_hit_rate: 1.5
  min_calls: -1
targets:
  - module: m
    path: m.py
    functions: [\"*\"]
  - functions: []
    allow_hazards: [async-functon]
  - module: shop/pricing
    functions: [\"[abc\"]
";
    let project = project(manifest);
    let stderr = refused(&project);
    for line in [3, 5, 6, 9, 11, 12, 13, 14] {
        assert_points_at(&stderr, "cachescan.yaml", line);
    }
    let reported = stderr.lines().filter(|line| line.trim_start().starts_with('×')).count();
    assert_eq!(reported, 9, "one diagnostic per problem (line 11 has two):\n{stderr}");
    snapshot_stderr!(project, stderr);
}

#[test]
fn every_missing_or_broken_file_is_reported_in_one_run() {
    let project = project(
        "version: 1\ntargets:\n  - module: nothere\n    functions: [\"*\"]\n  - path: nope.py\n    functions: [\"*\"]\n  - module: broken\n    functions: [\"*\"]\n  - module: m\n    functions: [\"*\"]\n",
    );
    project.write("broken.py", "def broken(:\n    pass\n");
    let stderr = refused(&project);
    assert_points_at(&stderr, "cachescan.yaml", 3);
    assert_points_at(&stderr, "cachescan.yaml", 5);
    assert_points_at(&stderr, "broken.py", 1);
    snapshot_stderr!(project, stderr);
}
