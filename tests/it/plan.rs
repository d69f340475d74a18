//! `cachescan plan` on a scratch copy of `examples/shop` (and of the `line_endings`
//! fixture): the human table, the JSON document, the diff, the settings layers that change
//! the cache size, manifest discovery, `--quiet`, and the promise that `plan` writes nothing.

use crate::common::exit::{FINDINGS, SUCCESS, UNUSABLE};
use crate::common::{Scratch, assert_same_tree, tree_contents};
use serde_json::Value;

/// The bundled example. It has functions skipped for error hazards, so every plain plan of
/// it exits with `FINDINGS`.
const SHOP: &str = "examples/shop";

/// Every planned function of a JSON plan.
fn planned(plan: &Value) -> &Vec<Value> {
    plan["targets"].as_array().expect("`targets` is an array")
}

/// Panic unless `object` has every key of `keys`.
#[track_caller]
fn assert_keys(object: &Value, keys: &[&str], what: &str) {
    let map = object.as_object().unwrap_or_else(|| panic!("{what} is not an object: {object}"));
    let missing: Vec<&&str> = keys.iter().filter(|key| !map.contains_key(**key)).collect();
    assert!(missing.is_empty(), "{what} lacks {missing:?}: {object:#}");
}

/// The `cache_size` of every planned function.
fn cache_sizes(plan: &Value) -> Vec<Value> {
    planned(plan).iter().map(|function| function["cache_size"].clone()).collect()
}

#[test]
fn human_plan_lists_every_function_and_exits_1_for_skipped_ones() {
    let shop = Scratch::copy_of(SHOP);
    let run = crate::common::run(shop.root(), &["plan"]);
    run.assert_code(FINDINGS);
    let stdout = run.stdout_text();
    assert!(stdout.contains("14 functions in 3 files: 10 to patch, 4 skipped"), "{stdout}");
    let settings = shop.snapshot_settings();
    settings.bind(|| {
        insta::assert_snapshot!("human_plan_stdout", stdout);
        insta::assert_snapshot!("human_plan_stderr", run.stderr);
    });
}

#[test]
fn json_plan_has_the_documented_shape() {
    let shop = Scratch::copy_of(SHOP);
    let run = crate::common::run(shop.root(), &["plan", "--format", "json"]);
    run.assert_code(FINDINGS);
    let plan = run.stdout_json();
    assert_eq!(plan["version"], 1, "{plan:#}");
    assert_keys(&plan, &["version", "manifest", "root", "targets", "unresolved"], "the plan");
    assert_eq!(plan["manifest"], "cachescan.yaml");
    assert_eq!(plan["root"], ".");
    assert_eq!(planned(&plan).len(), 14);
    for function in planned(&plan) {
        assert_keys(
            function,
            &[
                "id",
                "module",
                "qualname",
                "path",
                "line",
                "cache_size",
                "typed",
                "action",
                "hazards",
            ],
            "a planned function",
        );
        let id = function["id"].as_str().expect("id is a string");
        assert_eq!(
            id,
            format!(
                "{}:{}",
                function["module"].as_str().expect("module"),
                function["qualname"].as_str().expect("qualname")
            )
        );
        assert!(
            ["patch", "skip"].contains(&function["action"].as_str().expect("action is a string")),
            "{function}"
        );
        for hazard in function["hazards"].as_array().expect("hazards is an array") {
            assert_keys(hazard, &["code", "severity", "message"], "a hazard");
        }
    }
    let skipped: Vec<&str> = planned(&plan)
        .iter()
        .filter(|function| function["action"] == "skip")
        .map(|function| function["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        skipped,
        [
            "shop.pricing:Cart.__init__",
            "shop.catalog:fetch_price",
            "shop.catalog:iter_skus",
            "shop.catalog:category_names"
        ]
    );
    assert_eq!(plan["unresolved"], Value::Array(Vec::new()));
    shop.snapshot_settings().bind(|| insta::assert_json_snapshot!("json_plan", plan));
}

#[test]
fn diff_shows_the_patch_and_plan_writes_nothing() {
    let shop = Scratch::copy_of(SHOP);
    let before = tree_contents(shop.root());
    let table = crate::common::run(shop.root(), &["plan"]);
    table.assert_code(FINDINGS);
    let json = crate::common::run(shop.root(), &["plan", "--format", "json"]);
    json.assert_code(FINDINGS);
    let diff = crate::common::run(shop.root(), &["plan", "--diff"]);
    diff.assert_code(FINDINGS);
    assert_same_tree(&before, &tree_contents(shop.root()));
    assert_same_tree(
        &crate::common::source_tree_contents(&crate::common::repository_path(SHOP)),
        &tree_contents(shop.root()),
    );
    let stdout = diff.stdout_text();
    assert_eq!(
        stdout.matches("+@functools.lru_cache(maxsize=128)").count(),
        9,
        "top-level functions:\n{stdout}"
    );
    assert_eq!(
        stdout.matches("+    @functools.lru_cache(maxsize=128)").count(),
        1,
        "Cart.total, indented:\n{stdout}"
    );
    shop.snapshot_settings().bind(|| insta::assert_snapshot!("diff", stdout));
}

#[test]
fn diff_applies_with_git_and_then_every_patched_function_is_already_cached() {
    let shop = Scratch::copy_of(SHOP);
    let diff = crate::common::run(shop.root(), &["plan", "--diff"]);
    diff.assert_code(FINDINGS);
    let to_patch: Vec<String> =
        planned(&crate::common::run(shop.root(), &["plan", "--format", "json"]).stdout_json())
            .iter()
            .filter(|function| function["action"] == "patch")
            .map(|function| function["id"].as_str().expect("id").to_owned())
            .collect();
    git_apply(shop.root(), &diff.stdout);
    let after = crate::common::run(shop.root(), &["plan", "--format", "json"]).stdout_json();
    for function in planned(&after)
        .iter()
        .filter(|function| to_patch.contains(&function["id"].as_str().expect("id").to_owned()))
    {
        let codes: Vec<&str> = function["hazards"]
            .as_array()
            .expect("hazards")
            .iter()
            .map(|hazard| hazard["code"].as_str().expect("code"))
            .collect();
        assert!(
            codes.contains(&"already-cached"),
            "{} is not cached after applying the diff: {codes:?}",
            function["id"]
        );
    }
    let again = crate::common::run(shop.root(), &["plan", "--diff"]);
    assert!(again.stdout.is_empty(), "nothing left to patch:\n{}", again.stdout_text());
}

/// `git apply` the diff in `directory` (made its own repository first, so an enclosing
/// repository cannot capture the paths).
fn git_apply(directory: &std::path::Path, diff: &[u8]) {
    let patch = directory.join("plan.diff");
    std::fs::write(&patch, diff).expect("write the diff");
    for args in [vec!["init", "-q"], vec!["apply", "plan.diff"]] {
        let status = std::process::Command::new("git")
            .args(&args)
            .current_dir(directory)
            .status()
            .expect("run git");
        assert!(status.success(), "git {args:?} failed");
    }
    std::fs::remove_file(&patch).expect("remove the diff");
}

#[test]
fn cache_size_option_changes_every_default_size() {
    let shop = Scratch::copy_of(SHOP);
    let plan = crate::common::run(shop.root(), &["plan", "--format", "json", "--cache-size", "64"])
        .stdout_json();
    assert!(cache_sizes(&plan).iter().all(|size| *size == 64), "{:?}", cache_sizes(&plan));
    let unbounded =
        crate::common::run(shop.root(), &["plan", "--format", "json", "--cache-size", "unbounded"])
            .stdout_json();
    assert!(cache_sizes(&unbounded).iter().all(Value::is_null), "{:?}", cache_sizes(&unbounded));
    let diff =
        crate::common::run(shop.root(), &["plan", "--diff", "--cache-size", "64"]).stdout_text();
    assert!(
        diff.contains("@functools.lru_cache(maxsize=64)") && !diff.contains("maxsize=128"),
        "{diff}"
    );
}

#[test]
fn cache_size_from_the_environment_loses_to_the_option() {
    let shop = Scratch::copy_of(SHOP);
    let from_environment = crate::common::run_with_env(
        shop.root(),
        &["plan", "--format", "json"],
        &[("CACHESCAN_CACHE_SIZE", "32")],
    );
    from_environment.assert_code(FINDINGS);
    let sizes = cache_sizes(&from_environment.stdout_json());
    assert!(sizes.iter().all(|size| *size == 32), "environment over manifest: {sizes:?}");
    let both = crate::common::run_with_env(
        shop.root(),
        &["plan", "--format", "json", "--cache-size", "64"],
        &[("CACHESCAN_CACHE_SIZE", "32")],
    );
    both.assert_code(FINDINGS);
    let sizes = cache_sizes(&both.stdout_json());
    assert!(sizes.iter().all(|size| *size == 64), "command line over environment: {sizes:?}");
}

#[test]
fn cache_size_of_a_target_beats_option_and_environment() {
    let shop = Scratch::copy_of(SHOP);
    shop.write(
        "cachescan.yaml",
        "version: 1\nproject:\n  source_roots: [src]\ntargets:\n  - module: shop.pricing\n    functions: [price_with_tax]\n    cache_size: 16\n  - module: shop.catalog\n    functions: [normalize_sku]\n",
    );
    let plan = crate::common::run_with_env(
        shop.root(),
        &["plan", "--format", "json", "--cache-size", "64"],
        &[("CACHESCAN_CACHE_SIZE", "32")],
    );
    plan.assert_code(SUCCESS);
    assert_eq!(cache_sizes(&plan.stdout_json()), [16, 64]);
}

#[test]
fn invalid_cache_size_in_the_environment_is_unusable_and_named() {
    let shop = Scratch::copy_of(SHOP);
    let run =
        crate::common::run_with_env(shop.root(), &["plan"], &[("CACHESCAN_CACHE_SIZE", "banana")]);
    run.assert_code(UNUSABLE);
    assert!(run.stdout.is_empty(), "{}", run.stdout_text());
    assert!(run.stderr.contains("banana") && run.stderr.contains("CACHESCAN_"), "{}", run.stderr);
    shop.snapshot_settings()
        .bind(|| insta::assert_snapshot!("invalid_cache_size_environment", run.stderr));
}

#[test]
fn unresolved_pattern_exits_1_and_suggests_the_closest_name() {
    let shop = Scratch::copy_of(SHOP);
    shop.write(
        "cachescan.yaml",
        "version: 1\nproject:\n  source_roots: [src]\ntargets:\n  - module: shop.pricing\n    functions: [\"price_wth_tax\"]\n",
    );
    let run = crate::common::run(shop.root(), &["plan"]);
    run.assert_code(FINDINGS);
    let stdout = run.stdout_text();
    assert!(stdout.contains("did you mean `price_with_tax`?"), "{stdout}");
    assert!(
        stdout.contains("cachescan.yaml:6:17]"),
        "points at the pattern in the YAML:\n{stdout}"
    );
    shop.snapshot_settings().bind(|| insta::assert_snapshot!("unresolved_pattern", stdout));

    let json = crate::common::run(shop.root(), &["plan", "--format", "json"]);
    json.assert_code(FINDINGS);
    let plan = json.stdout_json();
    let unresolved = plan["unresolved"].as_array().expect("unresolved is an array");
    assert_eq!(unresolved.len(), 1, "{plan:#}");
    assert_keys(&unresolved[0], &["target", "pattern", "message"], "an unresolved pattern");
    assert_eq!(unresolved[0]["target"], 0);
    assert_eq!(unresolved[0]["pattern"], "price_wth_tax");
}

#[test]
fn manifest_is_found_from_a_subdirectory() {
    let shop = Scratch::copy_of(SHOP);
    let from_root = crate::common::run(shop.root(), &["plan"]);
    let from_package = crate::common::run(&shop.path("src/shop"), &["plan"]);
    from_package.assert_code(FINDINGS);
    assert_eq!(
        from_package.stdout_text(),
        from_root.stdout_text(),
        "same plan, same relative paths"
    );
    let json =
        crate::common::run(&shop.path("src/shop"), &["plan", "--format", "json"]).stdout_json();
    assert_eq!(json["manifest"], "cachescan.yaml");
    assert_eq!(json["targets"][0]["path"], "src/shop/pricing.py");
}

#[test]
fn quiet_prints_no_status_line() {
    let shop = Scratch::copy_of(SHOP);
    let normal = crate::common::run(shop.root(), &["plan"]);
    assert!(normal.stderr.contains("Planning"), "a status line without --quiet: {}", normal.stderr);
    let quiet = crate::common::run(shop.root(), &["--quiet", "plan"]);
    quiet.assert_code(FINDINGS);
    assert_eq!(quiet.stderr, "", "nothing on stderr with --quiet");
    assert_eq!(quiet.stdout, normal.stdout, "the report itself is unchanged");
    let short = crate::common::run(shop.root(), &["plan", "-q", "--format", "json"]);
    assert_eq!(short.stderr, "", "-q after the subcommand works too");
}

#[test]
fn diff_keeps_crlf_and_bom() {
    let fixture = Scratch::fixture("line_endings");
    let before = tree_contents(fixture.root());
    let run = crate::common::run(fixture.root(), &["plan", "--diff"]);
    run.assert_code(SUCCESS);
    let stdout = &run.stdout;
    let contains = |needle: &[u8]| stdout.windows(needle.len()).any(|window| window == needle);
    assert!(
        contains(b"+@functools.lru_cache(maxsize=128)\r\n"),
        "{}",
        String::from_utf8_lossy(stdout)
    );
    assert!(contains(b"+import functools\r\n"), "the import takes the file's CRLF too");
    assert!(
        contains(b"+\t@functools.lru_cache(maxsize=128)\n"),
        "tabs.py stays LF and tab-indented"
    );
    assert_same_tree(&before, &tree_contents(fixture.root()));

    git_apply(fixture.root(), stdout);
    let patched = std::fs::read(fixture.path("crlf_bom.py")).expect("read crlf_bom.py");
    assert!(patched.starts_with(b"\xEF\xBB\xBF"), "the BOM is kept");
    let bare_newlines = patched
        .iter()
        .enumerate()
        .filter(|&(index, &byte)| byte == b'\n' && (index == 0 || patched[index - 1] != b'\r'))
        .count();
    assert_eq!(
        bare_newlines,
        0,
        "every line of crlf_bom.py still ends in CRLF:\n{}",
        String::from_utf8_lossy(&patched)
    );
}

/// `cachescan plan | head -1` must end quietly, like any well-behaved filter, not panic
/// with "failed printing to stdout: Broken pipe".
#[test]
fn closed_stdout_does_not_panic() {
    let shop = Scratch::copy_of(SHOP);
    for format in ["human", "json"] {
        let (reader, writer) = std::io::pipe().expect("create a pipe");
        drop(reader);
        let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("cachescan"))
            .args(["--color", "never", "plan", "--format", format])
            .current_dir(shop.root())
            .env("NO_COLOR", "1")
            .env_remove("RUST_BACKTRACE")
            .stdout(writer)
            .output()
            .expect("run cachescan");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("panicked"),
            "--format {format}: cachescan panicked on a closed stdout:\n{stderr}"
        );
        assert_ne!(output.status.code(), Some(101), "--format {format}: exit code 101 is a panic");
    }
}

/// `cachescan plan > plan.txt` typed in a terminal: stderr is the terminal, stdout a file.
/// The status line on stderr may be coloured, but the report in the file must be plain text.
/// The terminal comes from util-linux `script`; without it the test has nothing to check.
#[test]
fn redirected_report_has_no_colour_codes_when_stderr_is_a_terminal() {
    let has_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_script {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let shop = Scratch::copy_of(SHOP);
    let binary = assert_cmd::cargo::cargo_bin("cachescan");
    let report = shop.path("plan.txt");
    let command_line = format!("'{}' plan > '{}'", binary.display(), report.display());
    let mut script = std::process::Command::new("script");
    script.args(["--quiet", "--return", "--command", &command_line, "/dev/null"]);
    script
        .current_dir(shop.root())
        .env("TERM", "xterm-256color")
        .env("COLUMNS", crate::common::COLUMNS);
    for name in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR"] {
        script.env_remove(name);
    }
    let terminal = script.output().expect("run script");
    assert_eq!(terminal.status.code(), Some(FINDINGS), "{terminal:?}");
    let terminal_text = String::from_utf8_lossy(&terminal.stdout);
    assert!(
        terminal_text.contains("\x1b["),
        "the setup gives cachescan a colour terminal on stderr: {terminal_text:?}"
    );
    let written = std::fs::read_to_string(&report).expect("read plan.txt");
    assert!(written.contains("14 functions in 3 files"), "{written}");
    assert!(
        !written.contains('\x1b'),
        "ANSI escape codes in a report redirected to a file:\n{}",
        written.replace('\x1b', "\\e")
    );
}

#[test]
fn hazards_that_only_the_whole_project_shows_are_found() {
    // `timeout` calls a helper that reads the environment; `first_limit` reads a list that
    // another module appends to. Neither function's own body shows it.
    let project = Scratch::empty();
    project.write(
        "cachescan.yaml",
        "version: 1\ntargets:\n  - module: app.api\n    functions: [\"*\"]\n",
    );
    project.write("src/app/__init__.py", "");
    project.write(
        "src/app/env.py",
        "import os\n\n\ndef _setting(name):\n    return os.environ.get(name)\n",
    );
    project.write("src/app/conf.py", "LIMITS = []\n");
    project.write(
        "src/app/load.py",
        "from app import conf\n\n\ndef load(x):\n    conf.LIMITS.append(x)\n",
    );
    project.write(
        "src/app/api.py",
        "from app.conf import LIMITS\nfrom app.env import _setting\n\n\ndef timeout():\n    return int(_setting(\"T\") or 5)\n\n\ndef first_limit():\n    return LIMITS[0]\n\n\ndef double(x):\n    return 2 * x\n",
    );
    let run = crate::common::run(project.root(), &["plan", "--format", "json"]);
    run.assert_code(SUCCESS);
    let plan = run.stdout_json();
    let hazards = |id: &str| -> Vec<(String, String)> {
        planned(&plan)
            .iter()
            .find(|function| function["id"] == id)
            .unwrap_or_else(|| panic!("{id} is planned: {plan:#}"))["hazards"]
            .as_array()
            .expect("hazards")
            .iter()
            .map(|hazard| {
                (
                    hazard["code"].as_str().unwrap_or_default().to_owned(),
                    hazard["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let timeout = hazards("app.api:timeout");
    assert_eq!(timeout.len(), 1, "{timeout:?}");
    assert_eq!(timeout[0].0, "impure-call");
    assert!(timeout[0].1.contains("via _setting -> os.environ.get()"), "{timeout:?}");
    let first_limit = hazards("app.api:first_limit");
    assert_eq!(first_limit.len(), 1, "{first_limit:?}");
    assert_eq!(first_limit[0].0, "global-state");
    assert!(
        first_limit[0].1.contains("`conf.LIMITS.append(...)` at src/app/load.py:5"),
        "{first_limit:?}"
    );
    assert!(hazards("app.api:double").is_empty());
}

/// A package of three modules (one in a subpackage, one that does not parse), its tests
/// and a conftest inside it: what package-wide globs see.
fn package(manifest_targets: &str) -> Scratch {
    let project = Scratch::empty();
    project.write("cachescan.yaml", format!("version: 1\ntargets:\n{manifest_targets}"));
    project.write("src/pkg/__init__.py", "def version():\n    return 1\n");
    project.write("src/pkg/a.py", "def a(x):\n    return x\n");
    project.write("src/pkg/sub/__init__.py", "");
    project.write("src/pkg/sub/b.py", "def b(x):\n    return x\n");
    project.write("src/pkg/test_inside.py", "def test_inside():\n    pass\n");
    project.write("src/pkg/conftest.py", "def fixture_helper():\n    pass\n");
    project.write("src/pkg/tests/helpers.py", "def helper():\n    pass\n");
    project.write("tests/test_a.py", "def test_a():\n    pass\n");
    project
}

/// The ids a JSON plan patches or skips, sorted.
fn planned_ids(plan: &Value) -> Vec<String> {
    let mut ids: Vec<String> = planned(plan)
        .iter()
        .map(|function| function["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn module_globs_take_a_package_and_never_its_tests() {
    let project = package("  - module: pkg.**\n    functions: [\"*\"]\n");
    let run = crate::common::run(project.root(), &["plan", "--format", "json"]);
    run.assert_code(SUCCESS);
    let plan = run.stdout_json();
    assert_eq!(planned_ids(&plan), ["pkg.a:a", "pkg.sub.b:b", "pkg:version"], "{plan:#}");
    let project = package("  - module: pkg.*\n    functions: [\"*\"]\n");
    let plan = crate::common::run(project.root(), &["plan", "--format", "json"]).stdout_json();
    assert_eq!(planned_ids(&plan), ["pkg.a:a"], "`*` stays one level down: {plan:#}");
}

#[test]
fn path_globs_take_files_and_a_named_test_file_still_counts() {
    let targets = "  - path: src/**/*.py\n    functions: [\"*\"]\n  - path: src/pkg/tests/helpers.py\n    functions: [\"*\"]\n";
    let project = package(targets);
    let run = crate::common::run(project.root(), &["plan", "--format", "json"]);
    run.assert_code(SUCCESS);
    let plan = run.stdout_json();
    assert_eq!(
        planned_ids(&plan),
        ["pkg.a:a", "pkg.sub.b:b", "pkg.tests.helpers:helper", "pkg:version"],
        "the glob leaves the tests out, the named file is planned: {plan:#}"
    );
}

#[test]
fn a_glob_that_matches_nothing_is_an_unresolved_pattern() {
    let targets = "  - module: shop.**\n    functions: [\"*\"]\n  - path: lib/*.py\n    functions: [\"*\"]\n  - module: pkg.**\n    functions: [\"nothing_*\"]\n";
    let project = package(targets);
    let run = crate::common::run(project.root(), &["plan", "--format", "json"]);
    run.assert_code(FINDINGS);
    let plan = run.stdout_json();
    let messages: Vec<&str> = plan["unresolved"]
        .as_array()
        .expect("unresolved")
        .iter()
        .map(|unresolved| unresolved["message"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        messages,
        [
            "`shop.**` matches no module",
            "`lib/*.py` matches no file",
            "pattern `nothing_*` matches no function in the 4 files of `pkg.**`"
        ],
        "{plan:#}"
    );
    let human = crate::common::run(project.root(), &["plan"]).stdout_text();
    assert!(human.contains("`shop.**` matches no module"), "{human}");
    assert!(human.contains("cachescan.yaml:3:13]"), "points at the glob in the YAML:\n{human}");
}

#[test]
fn a_file_a_glob_found_that_does_not_parse_is_left_out_with_a_note() {
    let project = package("  - module: pkg.**\n    functions: [\"*\"]\n");
    project.write("src/pkg/broken.py", "def broken(:\n");
    let run = crate::common::run(project.root(), &["plan", "--format", "json"]);
    run.assert_code(SUCCESS);
    let plan = run.stdout_json();
    assert_eq!(planned_ids(&plan), ["pkg.a:a", "pkg.sub.b:b", "pkg:version"], "{plan:#}");
    let notes = plan["notes"].to_string();
    assert!(notes.contains("src/pkg/broken.py"), "{plan:#}");
    let named = package("  - module: pkg.broken\n    functions: [\"*\"]\n");
    named.write("src/pkg/broken.py", "def broken(:\n");
    crate::common::run(named.root(), &["plan"]).assert_code(UNUSABLE);
}
