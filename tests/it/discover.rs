//! `cachescan discover`, end to end with real pytest: the hit rates it predicts from one
//! traced run are the ones `apply` then measures (the `sizing` fixture); on the bundled
//! example without a manifest it ranks the costly pure function first and says why the
//! others are not candidates; `--write` drafts a manifest that `plan` and `apply` accept,
//! and never overwrites a file without `--force`. No run changes a source file.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::exit::{SUCCESS, UNUSABLE};
use crate::common::project::{Project, target};
use crate::common::{Scratch, tree_contents};

/// `discover`'s functions by id.
fn functions(report: &Value) -> BTreeMap<String, Value> {
    report["functions"]
        .as_array()
        .unwrap_or_else(|| panic!("`functions` is not an array: {report:#}"))
        .iter()
        .map(|function| (function["id"].as_str().expect("an id").to_owned(), function.clone()))
        .collect()
}

/// A scratch copy of `examples/shop`, as a project whose tree is checked afterwards.
fn shop() -> Project {
    let scratch = Scratch::copy_of("examples/shop");
    let original = tree_contents(scratch.root());
    Project { scratch, original }
}

#[test]
fn discover_predicts_the_hit_rate_apply_measures() {
    let project = Project::copy("sizing");
    let discovered = project.cachescan(&["discover", "--format", "json"]);
    discovered.assert_code(SUCCESS);
    project.assert_unchanged();
    let discovered = functions(&discovered.stdout_json());
    let applied = project.cachescan(&["apply", "--format", "json"]);
    applied.assert_code(SUCCESS);
    project.assert_unchanged();
    let applied = applied.stdout_json();
    for (id, rate) in [("depot.zones:zone_of", 0.1844), ("depot.zones:route_cost", 0.9)] {
        let predicted = &discovered[id]["predicted_hit_rate"];
        let measured = &target(&applied, id)["hit_rate"];
        assert_eq!(predicted, measured, "{id}: discover predicted, apply measured");
        assert_eq!(predicted.as_f64(), Some(rate), "{id}");
        assert_eq!(target(&applied, id)["predicted_hit_rate"], *predicted, "{id}");
    }
    let zone_of = &discovered["depot.zones:zone_of"];
    assert_eq!(
        (&zone_of["calls"], &zone_of["distinct_keys"], &zone_of["unhashable_calls"]),
        (&Value::from(320), &Value::from(12), &Value::from(0))
    );
    let curve: Vec<(Value, Value)> = zone_of["curve"]
        .as_array()
        .expect("a curve")
        .iter()
        .map(|point| (point["maxsize"].clone(), point["hit_rate"].clone()))
        .collect();
    let expected: Vec<(Value, Value)> = [
        (Value::from(1), 0.0594),
        (Value::from(2), 0.0594),
        (Value::from(4), 0.1844),
        (Value::from(8), 0.3688),
        (Value::from(16), 0.9625),
        (Value::Null, 0.9625),
    ]
    .into_iter()
    .map(|(size, rate)| (size, Value::from(rate)))
    .collect();
    assert_eq!(curve, expected, "lru_cache's own hit rate at every size");
    assert_eq!(zone_of["recommended_cache_size"], 16);
    assert_eq!(zone_of["candidate"], true, "at its recommended size it would do: {zone_of:#}");
    let zone_of_applied = target(&applied, "depot.zones:zone_of");
    assert_eq!(zone_of_applied["verdict"], "low-hit-rate");
    assert_eq!(zone_of_applied["recommended_cache_size"], 16);
    assert_eq!(zone_of_applied["sizing_advice"], "maxsize=4 gives 0.18, 16 would give 0.96");
    let route_cost = &discovered["depot.zones:route_cost"];
    assert_eq!(route_cost["recommended_cache_size"], Value::Null, "3 keys: unbounded");
    assert_eq!(route_cost["recommended_hit_rate"], 0.9);
}

#[test]
fn without_a_manifest_discover_ranks_the_examples_costly_pure_function_first() {
    let mut project = shop();
    std::fs::remove_file(project.path("cachescan.yaml")).expect("remove the manifest");
    project.original.remove("cachescan.yaml");
    let run = project.cachescan(&["discover", "--format", "json"]);
    run.assert_code(SUCCESS);
    // The built-in manifest runs `python -m pytest -q`, whose cache plugin is pytest's own.
    std::fs::remove_dir_all(project.path(".pytest_cache")).expect("pytest's cache");
    project.assert_unchanged();
    let report = run.stdout_json();
    assert_eq!(report["version"], 1);
    assert_eq!(report["run"]["tests"], 11);
    assert_eq!(report["run"]["failed"], 0);
    let first = &report["functions"][0];
    assert_eq!(first["id"], "shop.catalog:delivery_days", "{report:#}");
    assert_eq!((&first["calls"], &first["distinct_keys"]), (&Value::from(30), &Value::from(3)));
    assert_eq!(first["predicted_hit_rate"], 0.9);
    assert_eq!(first["candidate"], true);
    let saved: Vec<f64> = report["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .map(|function| function["predicted_saved_s"].as_f64().unwrap_or(-1.0))
        .collect();
    assert!(saved.windows(2).all(|pair| pair[0] >= pair[1]), "ranked by time saved: {saved:?}");
    let found = functions(&report);
    let reason = |id: &str| found[id]["reason"].as_str().unwrap_or("").to_owned();
    assert!(
        reason("shop.pricing:default_tags").contains("(mutated)"),
        "{:#}",
        found["shop.pricing:default_tags"]
    );
    assert_eq!(reason("shop.catalog:fetch_price"), "cannot be cached: async-function");
    assert_eq!(reason("shop.catalog:iter_skus"), "cannot be cached: generator-function");
    assert_eq!(
        reason("shop.pricing:order_reference"),
        "no call repeated the arguments of an earlier one"
    );
    assert_eq!(reason("shop.legacy:legacy_price"), "the tests never imported its module");
    assert_eq!(reason("shop.catalog:discontinued_skus"), "the tests never called it");
    assert_eq!(found["shop.legacy:legacy_price"]["calls"], Value::Null);
    for candidate in ["shop.pricing:price_with_tax", "shop.catalog:normalize_sku"] {
        assert_eq!(found[candidate]["candidate"], true, "{:#}", found[candidate]);
    }
    assert!(!found.keys().any(|id| id.starts_with("tests.") || id.contains("test_")));
}

#[test]
fn the_human_report_ranks_candidates_and_counts_the_unreached() {
    let project = Project::copy("sizing");
    let run = project.cachescan(&["discover"]);
    run.assert_code(SUCCESS);
    let mut settings = project.human_report_settings();
    // Measured times, with the padding their width gives the column.
    settings.add_filter(r"\d+(\.\d+)? (µs|ms|s)( +|$)", "[TIME]  ");
    settings.add_filter(r"SAVES +", "SAVES   ");
    settings.bind(|| insta::assert_snapshot!(run.stdout_text()));
}

#[test]
fn a_drafted_manifest_is_accepted_by_plan_and_apply() {
    let mut project = shop();
    let run = project.cachescan(&["discover", "--write", "drafted.yaml", "--top", "3"]);
    run.assert_code(SUCCESS);
    let draft = std::fs::read_to_string(project.path("drafted.yaml")).expect("the draft");
    project.original.insert("drafted.yaml".to_owned(), Some(draft.clone().into_bytes()));
    project.assert_unchanged();
    assert!(
        draft.contains("  - module: \"shop.catalog\"\n    functions: [\"delivery_days\"]\n"),
        "{draft}"
    );
    assert_eq!(draft.matches("  - module:").count(), 3, "{draft}");
    assert!(run.stderr.contains("drafted.yaml"), "{}", run.stderr);
    project.cachescan(&["plan", "--manifest", "drafted.yaml"]).assert_code(SUCCESS);
    let applied = project.cachescan(&["apply", "--manifest", "drafted.yaml", "--format", "json"]);
    applied.assert_code(SUCCESS);
    project.assert_unchanged();
    let report = applied.stdout_json();
    assert_eq!(target(&report, "shop.catalog:delivery_days")["verdict"], "safe", "{report:#}");
    assert_eq!(report["targets"].as_array().map(Vec::len), Some(3));
}

#[test]
fn write_never_overwrites_a_file_without_force() {
    let project = shop();
    let run = project.cachescan(&["discover", "--write"]);
    run.assert_code(UNUSABLE);
    assert!(run.stderr.contains("cachescan.yaml already exists"), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    project.assert_unchanged();
    let forced = project.cachescan(&["discover", "--write", "--force", "--top", "1"]);
    forced.assert_code(SUCCESS);
    let manifest = std::fs::read_to_string(project.path("cachescan.yaml")).expect("the draft");
    assert!(manifest.starts_with("# Drafted by `cachescan discover`"), "{manifest}");
    assert!(manifest.contains("delivery_days"), "{manifest}");
    project.cachescan(&["plan"]).assert_code(SUCCESS);
}
