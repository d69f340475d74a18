//! Setting up a run's probe: a private directory holding the plugin (the package
//! `plugin/cachescan_probe/`, embedded file by file) and the target list, the environment that loads the plugin into
//! every pytest process of the run, the selection file of a run limited to some tests, and
//! the private bytecode cache.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::protocol::{
    ENV_OBSERVE, ENV_OUT, ENV_OWNER, ENV_PART, ENV_SELECT, ENV_TARGETS, ENV_TRACE, ENV_VERIFY,
    INPUT_VERSION,
};
use crate::python::cache_size::CacheSize;
use crate::safety::state_dir::StateDir;

/// The plugin package's name, as `-p` names it and as its directory is called.
const PLUGIN_PACKAGE: &str = "cachescan_probe";
/// Every file of the plugin package: (path inside the package, source). A test checks
/// that no `.py` file of `src/probe/plugin/cachescan_probe/` is missing here.
const PLUGIN_FILES: &[(&str, &str)] = &[
    ("__init__.py", include_str!("plugin/cachescan_probe/__init__.py")),
    ("_compare.py", include_str!("plugin/cachescan_probe/_compare.py")),
    ("_guard.py", include_str!("plugin/cachescan_probe/_guard.py")),
    ("_observe.py", include_str!("plugin/cachescan_probe/_observe.py")),
    ("_outcomes.py", include_str!("plugin/cachescan_probe/_outcomes.py")),
    ("_output.py", include_str!("plugin/cachescan_probe/_output.py")),
    ("_process.py", include_str!("plugin/cachescan_probe/_process.py")),
    ("_protocol.py", include_str!("plugin/cachescan_probe/_protocol.py")),
    ("_select.py", include_str!("plugin/cachescan_probe/_select.py")),
    ("_session.py", include_str!("plugin/cachescan_probe/_session.py")),
    ("_swap.py", include_str!("plugin/cachescan_probe/_swap.py")),
    ("_targets.py", include_str!("plugin/cachescan_probe/_targets.py")),
    ("_trace.py", include_str!("plugin/cachescan_probe/_trace.py")),
    ("_verify.py", include_str!("plugin/cachescan_probe/_verify.py")),
];

/// The plugin's file names and sources, for a cache key: a baseline the probe recorded is
/// only as good as that probe.
pub(crate) fn plugin_sources() -> impl Iterator<Item = &'static str> {
    PLUGIN_FILES.iter().flat_map(|(name, source)| [*name, *source])
}

/// A private directory holding the plugin and the target list, and the private bytecode
/// cache the runs use.
#[derive(Debug)]
pub(crate) struct ProbeSetup {
    dir: tempfile::TempDir,
    bytecode: BytecodeCache,
}

/// `PYTHONPYCACHEPREFIX` for test runs. Every `.pyc` goes here, never into a `__pycache__`
/// of the user's tree. Bytecode of the interpreter's and the environment's modules is kept
/// from run to run (compiling pytest anew each run would cost more than the probe), while
/// the bytecode of the project tree is removed after every run, so a `.pyc` of one patch set
/// (same size, same second) can never stand in for another.
#[derive(Debug, Clone)]
pub(crate) struct BytecodeCache {
    prefix: PathBuf,
    project_root: PathBuf,
}

impl BytecodeCache {
    pub(crate) fn new(prefix: PathBuf, project_root: &Path) -> Self {
        Self { prefix, project_root: project_root.to_path_buf() }
    }

    /// Forget the bytecode of the project's files (before and after each run).
    pub(crate) fn forget_project(&self) {
        let canonical = std::fs::canonicalize(&self.project_root).ok();
        for root in std::iter::once(self.project_root.clone()).chain(canonical) {
            let relative = root.strip_prefix("/").unwrap_or(&root);
            let _ = std::fs::remove_dir_all(self.prefix.join(relative));
        }
    }
}

/// One function the probe looks up.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProbeTarget {
    pub id: String,
    pub module: String,
    pub qualname: String,
    /// Absolute path of the file we patch.
    pub path: PathBuf,
    /// `typed=True` and `maxsize` (an integer, or null when unbounded): the cache the
    /// probe's checks emulate, keying and evicting its entries as `lru_cache` would.
    pub typed: bool,
    pub maxsize: CacheSize,
}

/// What the baseline's probe records beyond calls: would-be hits checked
/// (`CACHESCAN_PROBE_VERIFY`, `1` or `RATE:SEED`) and keys traced (`CACHESCAN_PROBE_TRACE`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Checks<'s> {
    pub verify: Option<&'s str>,
    pub trace: bool,
}

/// Part K of N of the suite (1-based), split by test file inside the test process: see
/// `CACHESCAN_PROBE_PART` in the plugin's documentation (`cachescan_probe/__init__.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Part {
    pub index: usize,
    pub count: usize,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl ProbeSetup {
    /// Inside `.cachescan/` (ignored by git), so `cachescan restore` can clean up what a
    /// killed run left behind.
    pub(crate) fn new(
        state_dir: &Path,
        targets: &[ProbeTarget],
        bytecode: BytecodeCache,
    ) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new().prefix(StateDir::PROBE_PREFIX).tempdir_in(state_dir)?;
        for (relative, source) in PLUGIN_FILES {
            let path = dir.path().join(PLUGIN_PACKAGE).join(relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, source)?;
        }
        let list = serde_json::json!({ "version": INPUT_VERSION, "targets": targets });
        std::fs::write(dir.path().join("targets.json"), list.to_string())?;
        std::fs::create_dir_all(&bytecode.prefix)?;
        bytecode.forget_project();
        Ok(Self { dir, bytecode })
    }

    pub(crate) fn bytecode(&self) -> &BytecodeCache {
        &self.bytecode
    }

    /// A fresh, empty output directory for one run.
    pub(crate) fn output_dir(&self, run: usize) -> std::io::Result<PathBuf> {
        let out = self.dir.path().join(format!("run-{run}"));
        if out.exists() {
            std::fs::remove_dir_all(&out)?;
        }
        std::fs::create_dir_all(&out)?;
        Ok(out)
    }

    /// The environment that loads the plugin into every pytest process of a run, and keeps
    /// bytecode out of the user's tree (and stale bytecode out of the run).
    ///
    /// `PYTHONPATH` and `PYTEST_ADDOPTS` are extended, never replaced: the manifest's
    /// `project.env` value when it sets one, else ours.
    pub(crate) fn environment(
        &self,
        project_env: &BTreeMap<String, String>,
        output: &Path,
        selection: Option<&Path>,
        part: Option<Part>,
        checks: Checks<'_>,
    ) -> BTreeMap<String, String> {
        let inherited = |name: &str| {
            project_env
                .get(name)
                .cloned()
                .or_else(|| std::env::var(name).ok())
                .filter(|value| !value.is_empty())
        };
        let plugin_dir = self.dir.path().display().to_string();
        let python_path = match inherited("PYTHONPATH") {
            Some(existing) => format!("{plugin_dir}:{existing}"),
            None => plugin_dir,
        };
        let addopts = match inherited("PYTEST_ADDOPTS") {
            Some(existing) => format!("{existing} -p cachescan_probe"),
            None => "-p cachescan_probe".to_owned(),
        };
        let mut environment = BTreeMap::from([
            (ENV_OBSERVE.to_owned(), "1".to_owned()),
            ("PYTHONPATH".to_owned(), python_path),
            ("PYTEST_ADDOPTS".to_owned(), addopts),
            (ENV_OUT.to_owned(), output.display().to_string()),
            (ENV_TARGETS.to_owned(), self.dir.path().join("targets.json").display().to_string()),
            ("PYTHONPYCACHEPREFIX".to_owned(), self.bytecode.prefix.display().to_string()),
        ]);
        if let Some(selection) = selection {
            environment.insert(ENV_SELECT.to_owned(), selection.display().to_string());
        }
        if let Some(part) = part {
            environment.insert(ENV_PART.to_owned(), part.to_string());
        }
        if let Some(verify) = checks.verify {
            environment.insert(ENV_VERIFY.to_owned(), verify.to_owned());
        }
        if checks.trace {
            environment.insert(ENV_TRACE.to_owned(), "1".to_owned());
        }
        environment
    }

    /// Write the node ids one run is limited to; returns the file for `environment`.
    pub(crate) fn write_selection(
        &self,
        run: usize,
        nodeids: &BTreeSet<String>,
    ) -> std::io::Result<PathBuf> {
        let path = self.dir.path().join(format!("select-{run}.json"));
        let list = serde_json::json!({ "version": INPUT_VERSION, "nodeids": nodeids });
        std::fs::write(&path, list.to_string())?;
        Ok(path)
    }

    /// Variables that must not leak into a run from our own environment.
    pub(crate) fn environment_removed() -> Vec<String> {
        // Bytecode goes to the private prefix; a user's PYTHONDONTWRITEBYTECODE would make
        // every run compile pytest and the standard library again.
        vec![ENV_OWNER.to_owned(), "PYTHONDONTWRITEBYTECODE".to_owned()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `.py` files under `directory`, as paths relative to `root` joined with `/`.
    fn python_files(root: &Path, directory: &Path, found: &mut BTreeSet<String>) {
        let entries = std::fs::read_dir(directory)
            .unwrap_or_else(|error| panic!("read {}: {error}", directory.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                python_files(root, &path, found);
            } else if path.extension().is_some_and(|extension| extension == "py") {
                let relative = path.strip_prefix(root).expect("a path under the package");
                let parts: Vec<_> = relative.iter().map(|part| part.to_string_lossy()).collect();
                found.insert(parts.join("/"));
            }
        }
    }

    #[test]
    fn every_python_file_of_the_plugin_package_is_embedded() {
        let package =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src/probe/plugin").join(PLUGIN_PACKAGE);
        let mut on_disk = BTreeSet::new();
        python_files(&package, &package, &mut on_disk);
        let embedded: BTreeSet<String> =
            PLUGIN_FILES.iter().map(|(relative, _)| (*relative).to_owned()).collect();
        assert!(on_disk.contains("__init__.py"), "no package at {}", package.display());
        assert_eq!(
            on_disk,
            embedded,
            "PLUGIN_FILES in src/probe/setup.rs must list every .py file of {}",
            package.display()
        );
    }

    #[test]
    fn the_setup_writes_the_whole_plugin_package() {
        let state = tempfile::tempdir().expect("tempdir");
        let bytecode = BytecodeCache::new(state.path().join("pycache"), state.path());
        let setup = ProbeSetup::new(state.path(), &[], bytecode).expect("probe setup");
        for (relative, source) in PLUGIN_FILES {
            let path = setup.dir.path().join(PLUGIN_PACKAGE).join(relative);
            let written = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
            assert_eq!(written, *source, "{}", path.display());
        }
    }
}
