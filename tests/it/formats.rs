//! The CI formats, end to end: `--format github` (workflow commands that GitHub turns into
//! annotations) and `--format sarif` (a SARIF 2.1.0 log for code scanning) of `plan` on
//! the bundled example (hazards of every level, an unresolved target), of `apply` on the
//! `verdicts` fixture (an unsafe and an invisible function), and of `merge` of its report.
//! Every SARIF log is validated against the official schema, vendored in `tests/sarif/`.
//! Paths start at the repository root: a project in a subdirectory of a git checkout has
//! its annotations on `app/src/...`.

use std::sync::LazyLock;

use serde_json::Value;

use crate::common::exit::{FINDINGS, SUCCESS, UNUSABLE};
use crate::common::project::Project;
use crate::common::{Scratch, copy_tree, repository_path};

const SHOP: &str = "examples/shop";

/// The official SARIF 2.1.0 schema (OASIS, errata 01), compiled once.
static SARIF_SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let path = repository_path("tests/sarif/sarif-schema-2.1.0.json");
    let text = std::fs::read_to_string(&path).expect("read the SARIF schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
});

/// Panic with every violation unless `log` is valid SARIF 2.1.0.
#[track_caller]
fn assert_valid_sarif(log: &Value) {
    let errors: Vec<String> = SARIF_SCHEMA
        .iter_errors(log)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "invalid SARIF:\n  {}\n{log:#}", errors.join("\n  "));
}

#[test]
fn the_schema_check_rejects_what_sarif_forbids() {
    let valid = serde_json::json!({
        "version": "2.1.0",
        "runs": [{ "tool": { "driver": { "name": "cachescan" } }, "results": [
            { "ruleId": "unsafe", "level": "error", "message": { "text": "m" } }
        ] }]
    });
    assert!(SARIF_SCHEMA.is_valid(&valid), "a minimal log is valid");
    let mut bad_level = valid.clone();
    bad_level["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!SARIF_SCHEMA.is_valid(&bad_level), "an unknown level is refused");
    let mut no_message = valid.clone();
    no_message["runs"][0]["results"][0].as_object_mut().expect("object").remove("message");
    assert!(!SARIF_SCHEMA.is_valid(&no_message), "a result needs a message");
    let mut zero_line = valid;
    zero_line["runs"][0]["results"][0]["locations"] =
        serde_json::json!([{ "physicalLocation": { "region": { "startLine": 0 } } }]);
    assert!(!SARIF_SCHEMA.is_valid(&zero_line), "lines start at 1");
}

/// insta settings for a SARIF log: the scratch root hidden, and cachescan's own version.
fn sarif_settings(scratch: &Scratch) -> insta::Settings {
    let mut settings = scratch.snapshot_settings();
    let version = env!("CARGO_PKG_VERSION").replace('.', r"\.");
    settings.add_filter(
        &format!(r#""(version|semanticVersion)": "{version}""#),
        r#""$1": "[VERSION]""#,
    );
    settings
}

/// The workflow commands of a `--format github` output (every line but the summary).
fn commands(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|line| line.starts_with("::")).collect()
}

/// The (rule, level, uri, line) of every result of a SARIF log.
fn results(log: &Value) -> Vec<(String, String, String, u64)> {
    log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|result| {
            let location = &result["locations"][0]["physicalLocation"];
            (
                result["ruleId"].as_str().expect("ruleId").to_owned(),
                result["level"].as_str().expect("level").to_owned(),
                location["artifactLocation"]["uri"].as_str().expect("uri").to_owned(),
                location["region"]["startLine"].as_u64().expect("startLine"),
            )
        })
        .collect()
}

fn owned(rows: &[(&str, &str, &str, u64)]) -> Vec<(String, String, String, u64)> {
    rows.iter()
        .map(|(rule, level, uri, line)| {
            ((*rule).to_owned(), (*level).to_owned(), (*uri).to_owned(), *line)
        })
        .collect()
}

/// Each hazard of the shop's plan, at its function's `def`.
const SHOP_HAZARDS: &[(&str, &str, &str, u64)] = &[
    ("returns-mutable", "warning", "src/shop/pricing.py", 14),
    ("dunder-method", "error", "src/shop/pricing.py", 42),
    ("method-self-leak", "note", "src/shop/pricing.py", 42),
    ("method-self-leak", "note", "src/shop/pricing.py", 46),
    ("async-function", "error", "src/shop/catalog.py", 59),
    ("generator-function", "error", "src/shop/catalog.py", 65),
    ("already-cached", "error", "src/shop/catalog.py", 73),
    ("returns-mutable", "warning", "src/shop/catalog.py", 78),
];

#[test]
fn plan_github_annotates_every_hazard_at_its_def_and_exits_1() {
    let shop = Scratch::copy_of(SHOP);
    let run = crate::common::run(shop.root(), &["plan", "--format", "github"]);
    run.assert_code(FINDINGS);
    let stdout = run.stdout_text();
    let commands = commands(&stdout);
    assert_eq!(commands.len(), SHOP_HAZARDS.len(), "{stdout}");
    for (command, (rule, level, path, line)) in commands.iter().zip(SHOP_HAZARDS) {
        let level = if *level == "note" { "notice" } else { level };
        let start = format!("::{level} file={path},line={line},title={rule}%3A shop.");
        assert!(command.starts_with(&start), "{command}\ndoes not start with\n{start}");
    }
    assert!(
        stdout.ends_with("\n14 functions in 3 files: 10 to patch, 4 skipped\n"),
        "ends with the summary: {stdout}"
    );
    shop.snapshot_settings().bind(|| insta::assert_snapshot!("plan_github", stdout));
}

#[test]
fn plan_sarif_is_valid_with_one_result_per_hazard() {
    let shop = Scratch::copy_of(SHOP);
    let run = crate::common::run(shop.root(), &["plan", "--format", "sarif"]);
    run.assert_code(FINDINGS);
    let log = run.stdout_json();
    assert_valid_sarif(&log);
    assert_eq!(results(&log), owned(SHOP_HAZARDS));
    let run_object = &log["runs"][0];
    let rules = run_object["tool"]["driver"]["rules"].as_array().expect("rules");
    for result in run_object["results"].as_array().expect("results") {
        let index =
            usize::try_from(result["ruleIndex"].as_u64().expect("ruleIndex")).expect("index");
        assert_eq!(rules[index]["id"], result["ruleId"], "ruleIndex points at the rule");
        let artifact = &result["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(artifact["uriBaseId"], "%SRCROOT%");
    }
    let canonical = std::fs::canonicalize(shop.root()).expect("canonical root");
    let root_uri = run_object["originalUriBaseIds"]["%SRCROOT%"]["uri"].as_str().expect("root uri");
    let expected =
        [shop.root().to_path_buf(), canonical].map(|root| format!("file://{}/", root.display()));
    assert!(expected.contains(&root_uri.to_owned()), "{root_uri} is not one of {expected:?}");
    let stdout = run.stdout_text();
    sarif_settings(&shop).bind(|| insta::assert_snapshot!("plan_sarif", stdout));
}

#[test]
fn an_unresolved_target_is_an_error_at_its_line_in_the_manifest() {
    let shop = Scratch::copy_of(SHOP);
    shop.write(
        "cachescan.yaml",
        "version: 1\nproject:\n  source_roots: [src]\ntargets:\n  - module: shop.pricing\n    functions: [\"price_wth_tax\"]\n",
    );
    let github = crate::common::run(shop.root(), &["plan", "--format", "github"]);
    github.assert_code(FINDINGS);
    assert_eq!(
        commands(&github.stdout_text()),
        [
            "::error file=cachescan.yaml,line=6,title=unresolved-target%3A price_wth_tax::pattern `price_wth_tax` matches no function in src/shop/pricing.py%0Ahelp: did you mean `price_with_tax`?"
        ]
    );
    let sarif = crate::common::run(shop.root(), &["plan", "--format", "sarif"]);
    sarif.assert_code(FINDINGS);
    let log = sarif.stdout_json();
    assert_valid_sarif(&log);
    assert_eq!(results(&log), owned(&[("unresolved-target", "error", "cachescan.yaml", 6)]));
}

#[test]
fn paths_start_at_the_repository_root_above_the_project() {
    let checkout = Scratch::empty();
    std::fs::create_dir(checkout.path(".git")).expect("mkdir .git");
    copy_tree(&repository_path(SHOP), &checkout.path("app"));
    let run = crate::common::run(&checkout.path("app"), &["plan", "--format", "github"]);
    run.assert_code(FINDINGS);
    let stdout = run.stdout_text();
    let commands = commands(&stdout);
    assert_eq!(commands.len(), SHOP_HAZARDS.len(), "{stdout}");
    for command in commands {
        let path = command.split_once(" file=").map(|(_, rest)| rest);
        assert!(path.is_some_and(|path| path.starts_with("app/src/shop/")), "{command}");
    }
    let sarif = crate::common::run(&checkout.path("app"), &["plan", "--format", "sarif"]);
    let log = sarif.stdout_json();
    assert_valid_sarif(&log);
    let uris: Vec<String> = results(&log).into_iter().map(|(_, _, uri, _)| uri).collect();
    assert!(uris.iter().all(|uri| uri.starts_with("app/src/shop/")), "{uris:?}");
    let root_uri = log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"].as_str().expect("uri");
    assert!(!root_uri.ends_with("/app/"), "the base is the checkout, not the project: {root_uri}");
}

/// The unsafe and the invisible function of the `verdicts` fixture.
const VERDICT_FINDINGS: &[(&str, &str, &str, u64)] =
    &[("unsafe", "error", "src/calc/core.py", 16), ("invisible", "error", "src/calc/orphan.py", 1)];

#[test]
fn apply_github_annotates_unsafe_and_invisible_functions_and_merge_says_the_same() {
    let project = Project::copy("verdicts");
    let run = project.cachescan(&["apply", "--format", "github"]);
    run.assert_code(FINDINGS);
    project.assert_unchanged();
    let stdout = run.stdout_text();
    let commands = commands(&stdout);
    assert_eq!(commands.len(), VERDICT_FINDINGS.len(), "{stdout}");
    for (command, (verdict, _, path, line)) in commands.iter().zip(VERDICT_FINDINGS) {
        let start = format!("::error file={path},line={line},title={verdict}%3A calc.");
        assert!(command.starts_with(&start), "{command}\ndoes not start with\n{start}");
    }
    assert!(
        commands[0].contains("(mutated)%0A  in tests/test_core.py::test_collect_twice"),
        "{}",
        commands[0]
    );
    project.human_report_settings().bind(|| insta::assert_snapshot!("apply_github", stdout));

    // `merge` of the saved report, run in the project (it finds the manifest), says the same.
    let merged = project.cachescan(&["merge", ".cachescan/report.json", "--format", "github"]);
    merged.assert_code(FINDINGS);
    assert_eq!(merged.stdout_text(), stdout);

    // Elsewhere, `--manifest` names the project; a manifest that is not there is an error.
    let elsewhere = Scratch::empty();
    let report = project.path(".cachescan/report.json");
    let report = report.to_str().expect("UTF-8 path");
    let manifest = project.path("cachescan.yaml");
    let manifest = manifest.to_str().expect("UTF-8 path");
    let args = ["--manifest", manifest, "merge", report, "--format", "github"];
    let merged = crate::common::run(elsewhere.root(), &args);
    merged.assert_code(FINDINGS);
    assert_eq!(merged.stdout_text(), stdout);
    let missing = elsewhere.path("nowhere.yaml");
    let missing = missing.to_str().expect("UTF-8 path");
    let args = ["--manifest", missing, "merge", report, "--format", "github"];
    crate::common::run(elsewhere.root(), &args).assert_code(UNUSABLE);
}

#[test]
fn apply_and_merge_sarif_are_valid_with_one_result_per_finding() {
    let project = Project::copy("verdicts");
    let run = project.cachescan(&["apply", "--format", "sarif"]);
    run.assert_code(FINDINGS);
    project.assert_unchanged();
    let log = run.stdout_json();
    assert_valid_sarif(&log);
    assert_eq!(results(&log), owned(VERDICT_FINDINGS));
    let functions: Vec<&Value> = log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|result| &result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"])
        .collect();
    assert_eq!(functions, ["calc.core:fresh_list", "calc.orphan:orphan"]);
    let stdout = run.stdout_text();
    sarif_settings(&project.scratch).bind(|| insta::assert_snapshot!("apply_sarif", stdout));

    let merged = project.cachescan(&["merge", ".cachescan/report.json", "--format", "sarif"]);
    merged.assert_code(FINDINGS);
    assert_eq!(merged.stdout_json(), log);
}

#[test]
fn remarks_without_a_place_are_notices_and_sarif_notifications() {
    // A test failing in the baseline: apply succeeds, and says so.
    let project = Project::copy("baseline_failing");
    let run = project.cachescan(&["apply", "--format", "github"]);
    run.assert_code(SUCCESS);
    project.assert_unchanged();
    let stdout = run.stdout_text();
    assert_eq!(
        commands(&stdout),
        [
            "::warning title=cachescan::1 test already failing without any patch, ignored: tests/test_text.py::test_already_broken"
        ]
    );
    let sarif = project.cachescan(&["merge", ".cachescan/report.json", "--format", "sarif"]);
    sarif.assert_code(SUCCESS);
    let log = sarif.stdout_json();
    assert_valid_sarif(&log);
    assert_eq!(log["runs"][0]["results"], Value::Array(Vec::new()), "{log:#}");
    let notifications = &log["runs"][0]["invocations"][0]["toolExecutionNotifications"];
    assert_eq!(notifications[0]["level"], "warning", "{log:#}");

    // A file a glob found that does not parse: the planner's note.
    let package = Scratch::empty();
    package.write(
        "cachescan.yaml",
        "version: 1\ntargets:\n  - module: pkg.**\n    functions: [\"*\"]\n",
    );
    package.write("src/pkg/__init__.py", "def version():\n    return 1\n");
    package.write("src/pkg/broken.py", "def broken(:\n");
    let github = crate::common::run(package.root(), &["plan", "--format", "github"]);
    github.assert_code(SUCCESS);
    let stdout = github.stdout_text();
    let notices = commands(&stdout);
    assert_eq!(notices.len(), 1, "{stdout}");
    assert!(
        notices[0].starts_with("::notice title=cachescan::")
            && notices[0].contains("src/pkg/broken.py"),
        "{stdout}"
    );
    let sarif = crate::common::run(package.root(), &["plan", "--format", "sarif"]);
    sarif.assert_code(SUCCESS);
    let log = sarif.stdout_json();
    assert_valid_sarif(&log);
    let notifications = &log["runs"][0]["invocations"][0]["toolExecutionNotifications"];
    assert_eq!(notifications[0]["level"], "note", "{log:#}");
}
