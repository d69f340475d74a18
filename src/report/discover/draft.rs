//! The manifest `discover --write` drafts: the project settings `discover` ran with, and
//! one target per top candidate, by module (or by path, when its target named a file),
//! with the recommended `cache_size` and a comment of what was predicted. Every scalar is
//! written as a JSON string or number, which YAML reads as the same value. The caller
//! validates the draft before writing it.

use std::path::{Component, Path, PathBuf};

use super::{DiscoverReport, FunctionEntry};
use crate::config::manifest::{Manifest, TargetLocation};
use crate::plan::Plan;
use crate::python::cache_size::CacheSize;
use crate::report::table::{percent, seconds};

/// The draft's text, to be written at `path` (absolute): the first `top` candidates.
pub(crate) fn draft_manifest(
    report: &DiscoverReport,
    plan: &Plan,
    manifest: &Manifest,
    path: &Path,
    top: usize,
) -> String {
    let candidates: Vec<&FunctionEntry> = report.candidates().take(top).collect();
    let run = &report.run.baseline;
    let directory = path.parent().unwrap_or(Path::new("/"));
    let mut out = format!(
        "# Drafted by `cachescan discover` from one run of {} tests ({:.2} s): the top {} of its\n\
         # {} candidates, each with the smallest cache_size that reaches 95% of an unbounded\n\
         # cache's hits. `cachescan plan` checks it; `cachescan apply` judges it.\n",
        run.tests,
        run.duration_s,
        candidates.len(),
        report.candidates().count(),
    );
    out.push_str("version: 1\nproject:\n");
    out.push_str(&format!("  root: {}\n", quote(&relative_root(&manifest.root, directory))));
    out.push_str(&format!("  source_roots: {}\n", list(&manifest.source_roots)));
    out.push_str(&format!("  test_command: {}\n", list(&manifest.test_command)));
    if let Some(timeout) = manifest.timeout {
        out.push_str(&format!("  timeout: {timeout}\n"));
    }
    if !manifest.env.is_empty() {
        out.push_str("  env:\n");
        for (key, value) in &manifest.env {
            out.push_str(&format!("    {}: {}\n", quote(key), quote(value)));
        }
    }
    out.push_str(&format!(
        "defaults:\n  cache_size: {}\n  typed: {}\n",
        size(manifest.defaults.cache_size),
        manifest.defaults.typed
    ));
    out.push_str(&format!(
        "thresholds:\n  min_hit_rate: {}\n  min_calls: {}\n",
        manifest.thresholds.min_hit_rate, manifest.thresholds.min_calls
    ));
    out.push_str("targets:\n");
    for (rank, entry) in candidates.iter().enumerate() {
        let Some(function) = plan.functions.iter().find(|function| function.id == entry.id) else {
            continue;
        };
        out.push_str(&format!("  # {}. {}\n", rank + 1, prediction(entry)));
        let by_path = matches!(
            manifest.targets[function.target].location,
            TargetLocation::Path(_) | TargetLocation::PathGlob(_)
        );
        if by_path {
            out.push_str(&format!("  - path: {}\n", quote(&entry.path)));
        } else {
            out.push_str(&format!("  - module: {}\n", quote(&function.module)));
        }
        out.push_str(&format!("    functions: [{}]\n", quote(&function.qualname)));
        let cache_size = entry.recommended_cache_size.unwrap_or(CacheSize::Unbounded);
        out.push_str(&format!("    cache_size: {}\n", size(cache_size)));
        if function.typed != manifest.defaults.typed {
            out.push_str(&format!("    typed: {}\n", function.typed));
        }
        let allowed: Vec<String> = entry
            .hazards
            .iter()
            .filter(|hazard| hazard.allowed)
            .map(|hazard| hazard.code.as_str().to_owned())
            .collect();
        if !allowed.is_empty() {
            out.push_str(&format!("    allow_hazards: {}\n", list(&allowed)));
        }
    }
    if candidates.is_empty() {
        out.push_str("  []\n");
    }
    out
}

/// "400 calls, 10 keys; hit rate 97.5% at cache_size 16 (unbounded: 97.5%), saved 12.3 ms".
fn prediction(entry: &FunctionEntry) -> String {
    let unbounded = entry.curve.last().map(|point| point.hit_rate);
    format!(
        "{} calls, {} distinct keys; hit rate {} at this cache_size (unbounded: {}), {} saved in the tests",
        entry.calls.unwrap_or(0),
        entry.distinct_keys.unwrap_or(0),
        percent(entry.recommended_hit_rate),
        percent(unbounded),
        seconds(entry.recommended_saved_s.unwrap_or(0.0)),
    )
}

fn size(size: CacheSize) -> String {
    match size {
        CacheSize::Bounded(size) => size.to_string(),
        CacheSize::Unbounded => "null".to_owned(),
    }
}

/// A YAML scalar that reads back as `text`: a JSON string.
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| quote(item)).collect();
    format!("[{}]", quoted.join(", "))
}

/// The project root as the draft's `root`: relative to the draft's directory when one
/// contains the other, else absolute.
fn relative_root(root: &Path, directory: &Path) -> String {
    if let Ok(below) = root.strip_prefix(directory) {
        let below = below.to_string_lossy().replace('\\', "/");
        return if below.is_empty() { ".".to_owned() } else { below };
    }
    if let Ok(above) = directory.strip_prefix(root) {
        let ups: PathBuf = above
            .components()
            .filter(|component| matches!(component, Component::Normal(_)))
            .map(|_| "..")
            .collect();
        return ups.to_string_lossy().replace('\\', "/");
    }
    root.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::relative_root;
    use std::path::Path;

    #[test]
    fn the_root_is_written_relative_to_the_draft() {
        let root = Path::new("/work/project");
        assert_eq!(relative_root(root, Path::new("/work/project")), ".");
        assert_eq!(relative_root(root, Path::new("/work")), "project");
        assert_eq!(relative_root(root, Path::new("/work/project/ci/cfg")), "../..");
        assert_eq!(relative_root(root, Path::new("/elsewhere")), "/work/project");
    }
}
