//! The baseline cache, `.cachescan/baseline.json`: the unmodified suite's outcomes, call map
//! and timings, reused while nothing they depend on changed. The key hashes every file of
//! the project tree (as [`crate::safety::tree`] walks it, the same files a scratch copy
//! holds), the test command, the manifest's environment, the variables that decide
//! which Python runs (`PATH`, `PYTHONPATH`, `VIRTUAL_ENV`, `PYTHONHOME`, `PYTEST_ADDOPTS`),
//! the resolved test program, the planned targets with their caches, how would-be hits
//! are checked, this cachescan's version and its probe's sources. A second `apply` on an
//! unchanged project then skips the baseline run; `--fresh-baseline` forces it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::manifest::Manifest;
use crate::plan::Plan;
use crate::probe::Observation;
use crate::safety::state_dir::StateDir;
use crate::safety::tree::{self, EntryKind};

/// Environment variables that decide which interpreter and plugins a test run gets.
const RELEVANT_ENVIRONMENT: &[&str] =
    &["PATH", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTEST_ADDOPTS"];

/// A cached baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CachedBaseline {
    pub key: String,
    pub duration_s: f64,
    pub observation: Observation,
    /// Test processes that shared the run (`--jobs`), 1 for a run in one piece.
    #[serde(default = "crate::outcome::baseline::one_part")]
    pub parts: usize,
}

/// The cached baseline, if its key matches.
pub(crate) fn load(state: &StateDir, key: &str) -> Option<CachedBaseline> {
    let text = std::fs::read_to_string(state.baseline_file()).ok()?;
    let cached: CachedBaseline = serde_json::from_str(&text).ok()?;
    (cached.key == key).then_some(cached)
}

/// Store a baseline; a failure to cache is not a failure of the run.
pub(crate) fn store(
    state: &StateDir,
    key: &str,
    observation: &Observation,
    duration_s: f64,
    parts: usize,
) {
    let cached =
        CachedBaseline { key: key.to_owned(), duration_s, observation: observation.clone(), parts };
    if let Ok(text) = serde_json::to_string(&cached) {
        let _ = crate::safety::fsio::write_atomic(&state.baseline_file(), text.as_bytes());
    }
}

/// The hash of everything a baseline depends on; `source_sha256` is [`tree_hash`] of the
/// project root, computed once per run by the caller; `verify` is how its would-be hits
/// were checked (`CACHESCAN_PROBE_VERIFY`).
pub(crate) fn cache_key(
    manifest: &Manifest,
    plan: &Plan,
    source_sha256: &str,
    verify: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        hasher.update(name.as_bytes());
        hasher.update((value.len() as u64).to_le_bytes());
        hasher.update(value);
    };
    field("cachescan", env!("CARGO_PKG_VERSION").as_bytes());
    for source in crate::probe::plugin_sources() {
        field("probe", source.as_bytes());
    }
    field("test_command", manifest.test_command.join("\0").as_bytes());
    for (name, value) in &manifest.env {
        field(name, value.as_bytes());
    }
    for name in RELEVANT_ENVIRONMENT {
        field(name, std::env::var(name).unwrap_or_default().as_bytes());
    }
    if let Some(program) =
        manifest.test_command.first().and_then(|program| resolve_program(program, &manifest.root))
    {
        let metadata = std::fs::metadata(&program).ok();
        let stamp =
            metadata.map(|metadata| format!("{:?} {}", metadata.modified().ok(), metadata.len()));
        field("program", format!("{} {stamp:?}", program.display()).as_bytes());
    }
    for function in plan.patched_functions() {
        // The cache its would-be hits are checked against, too.
        let cache = format!("{:?} typed={}", function.cache_size, function.typed);
        let target = format!("{} {} {cache}", function.id, plan.files[function.file].relative);
        field("target", target.as_bytes());
    }
    field("verify", verify.unwrap_or("off").as_bytes());
    field("tree", source_sha256.as_bytes());
    format!("{:x}", hasher.finalize())
}

/// The hash of every file under `root` (as the cache key sees them): equal for the same
/// source tree on any machine.
pub(crate) fn tree_hash(root: &Path) -> String {
    let mut hasher = Sha256::new();
    for (relative, digest) in tree_digests(root) {
        hasher.update(relative.as_bytes());
        hasher.update([0]);
        hasher.update(&digest);
    }
    format!("{:x}", hasher.finalize())
}

/// `python` -> `/path/to/venv/bin/python` through `PATH`, like the run will.
fn resolve_program(program: &str, root: &Path) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(root.join(program));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Every file and symbolic link of the project tree under `root` with the hash of its bytes
/// (of its target, for a link), in a stable order. Unreadable entries are left out.
fn tree_digests(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut digests: Vec<(String, Vec<u8>)> = tree::walk(root)
        .entries
        .into_iter()
        .filter_map(|entry| {
            let path = root.join(&entry.relative);
            let bytes = match entry.kind {
                EntryKind::Directory => return None,
                EntryKind::File => std::fs::read(&path).ok()?,
                EntryKind::Symlink => {
                    std::fs::read_link(&path).ok()?.as_os_str().as_encoded_bytes().to_vec()
                }
            };
            let relative = crate::ui::text::relative_display(&path, root);
            Some((relative, Sha256::digest(&bytes).to_vec()))
        })
        .collect();
    digests.sort();
    digests
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_digest_sees_content_and_skips_caches() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.py"), "x = 1\n").expect("write");
        std::fs::create_dir_all(dir.path().join("__pycache__")).expect("mkdir");
        std::fs::write(dir.path().join("__pycache__/a.pyc"), "junk").expect("write");
        std::fs::create_dir_all(dir.path().join(".cachescan")).expect("mkdir");
        std::fs::write(dir.path().join(".cachescan/report.json"), "{}").expect("write");
        let before = tree_digests(dir.path());
        assert_eq!(before.len(), 1);
        std::fs::write(dir.path().join(".cachescan/report.json"), "{\"x\": 1}").expect("write");
        assert_eq!(tree_digests(dir.path()), before, "state and caches are not part of the key");
        std::fs::write(dir.path().join("a.py"), "x = 2\n").expect("write");
        assert_ne!(tree_digests(dir.path()), before, "a source change is");
    }

    #[test]
    fn a_data_file_under_a_dot_directory_is_in_the_key_as_it_is_in_a_scratch_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.py"), "x = 1\n").expect("write");
        std::fs::create_dir_all(dir.path().join(".data")).expect("mkdir");
        std::fs::write(dir.path().join(".data/prices.json"), "[1]").expect("write");
        let copy = tempfile::tempdir().expect("tempdir");
        crate::runner::scratch::copy_tree(dir.path(), copy.path()).expect("copy");
        assert!(copy.path().join(".data/prices.json").exists(), "the copy has the data file");
        let before = tree_hash(dir.path());
        assert_eq!(tree_hash(copy.path()), before, "the copy hashes as the tree");
        std::fs::write(dir.path().join(".data/prices.json"), "[2]").expect("write");
        assert_ne!(tree_hash(dir.path()), before, "so a change of it invalidates the baseline");
    }
}
