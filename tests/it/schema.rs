//! The JSON Schema of `cachescan.yaml`: the committed `schemas/cachescan.schema.json` (which
//! editors read through the `$schema` comment at the top of each manifest) must be exactly
//! what `cachescan schema` prints, and every manifest shipped in this repository must be
//! accepted by the parser the schema is generated from.

use std::path::{Path, PathBuf};

use crate::common::Scratch;
use crate::common::exit::{FINDINGS, SUCCESS};

const COMMITTED_SCHEMA: &str = "schemas/cachescan.schema.json";
const REGENERATE: &str = "cargo run -- schema > schemas/cachescan.schema.json";

#[test]
fn committed_schema_matches_the_generated_one() {
    let run = crate::common::run(&crate::common::repository_path("."), &["schema"]);
    run.assert_code(SUCCESS);
    let generated = run.stdout_text();
    let path = crate::common::repository_path(COMMITTED_SCHEMA);
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {} ({error}); generate it with `{REGENERATE}` and commit it",
            path.display()
        )
    });
    assert!(
        committed.trim_end() == generated.trim_end(),
        "{COMMITTED_SCHEMA} differs from `cachescan schema`; regenerate it with `{REGENERATE}` and commit it"
    );
}

#[test]
fn schema_is_a_json_schema_of_the_manifest() {
    let run = crate::common::run(&crate::common::repository_path("."), &["schema"]);
    run.assert_code(SUCCESS);
    let schema = run.stdout_json();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], false, "unknown keys are errors, as in the parser");
    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|key| key.as_str().expect("key"))
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["targets", "version"]);
    let mut keys: Vec<&String> =
        schema["properties"].as_object().expect("properties").keys().collect();
    keys.sort_unstable();
    assert_eq!(keys, ["defaults", "project", "targets", "thresholds", "version"]);
}

/// A scratch copy of every project the repository ships with a manifest: each directory
/// under `examples/` (any depth) holding a `cachescan.yaml`, and every fixture case (its
/// layers included). The manifests under `examples/real/` are left out: they are written
/// for source distributions that `examples/real/run.sh` downloads, which a checkout does
/// not hold.
fn shipped_projects() -> Vec<(String, Scratch)> {
    let mut manifests = Vec::new();
    find_manifests(&crate::common::repository_path("examples"), usize::MAX, &mut manifests);
    manifests
        .retain(|manifest| !manifest.starts_with(crate::common::repository_path("examples/real")));
    manifests.sort();
    let mut projects: Vec<(String, Scratch)> = manifests
        .iter()
        .map(|manifest| {
            let directory = manifest.parent().expect("a manifest has a directory");
            let relative = directory
                .strip_prefix(crate::common::repository_path("."))
                .expect("inside the repository")
                .to_string_lossy()
                .into_owned();
            let copy = Scratch::copy_of(&relative);
            (relative, copy)
        })
        .collect();
    for case in crate::common::fixture::cases() {
        let copy = Scratch::fixture(&case);
        if copy.path("cachescan.yaml").is_file() {
            projects.push((format!("tests/fixtures/{case}"), copy));
        }
    }
    projects
}

fn find_manifests(directory: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    let candidate = directory.join("cachescan.yaml");
    if candidate.is_file() {
        found.push(candidate);
    }
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("__pycache__") {
            find_manifests(&path, depth - 1, found);
        }
    }
}

#[test]
fn every_shipped_manifest_is_accepted() {
    let projects = shipped_projects();
    assert!(projects.len() >= 2, "found the example and the fixtures");
    let mut refused = Vec::new();
    // On scratch copies: plan writes nothing, but a test should not rely on that here.
    for (name, copy) in &projects {
        let run = crate::common::run(copy.root(), &["plan", "--format", "json"]);
        match run.code {
            Some(SUCCESS | FINDINGS) => {
                let plan = run.stdout_json();
                assert_eq!(plan["version"], 1, "{name}");
            }
            code => refused.push(format!("{name} (exit {code:?}):\n{}", run.stderr)),
        }
    }
    assert!(refused.is_empty(), "manifests refused:\n{}", refused.join("\n"));
}

/// `cachescan.yaml.example` documents every key; it must stay a manifest cachescan accepts.
/// It names `shop.pricing` (as in `examples/shop`) and `scripts/legacy.py`, so it is tried
/// in a copy of the shop with that script added.
#[test]
fn documented_example_manifest_is_accepted() {
    let example = crate::common::repository_path("cachescan.yaml.example");
    let Ok(manifest) = std::fs::read_to_string(&example) else {
        panic!("{} is missing", example.display());
    };
    let shop = Scratch::copy_of("examples/shop");
    shop.write("cachescan.yaml", &manifest);
    shop.write("scripts/legacy.py", "def legacy_total(cents):\n    return cents * 2\n");
    let run = crate::common::run(shop.root(), &["plan", "--format", "json"]);
    assert!(
        matches!(run.code, Some(SUCCESS | FINDINGS)),
        "cachescan.yaml.example is refused (exit {:?}):\n{}",
        run.code,
        run.stderr
    );
    let plan = run.stdout_json();
    let sizes: Vec<(&str, &serde_json::Value)> = plan["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|function| (function["id"].as_str().expect("id"), &function["cache_size"]))
        .collect();
    assert!(
        sizes.iter().any(|(id, size)| id.starts_with("shop.pricing:") && **size == 256),
        "the per-target cache_size of the example applies: {sizes:?}"
    );
}
