//! `.cachescan/` under the project root: everything cachescan keeps between and during runs,
//! in one place, with a `.gitignore` so none of it is committed. This type owns the layout;
//! every other module asks it for a path instead of joining names of its own.
//!
//! ```text
//! .cachescan/
//!   .gitignore       `*`
//!   lock             pid of the run that owns the project (safety::lock)
//!   journal.json     the write-ahead journal of patched files (safety::journal)
//!   backups/         the originals of the journaled files
//!   baseline.json    the cached baseline (runner::baseline_cache)
//!   report.json      the last `apply` report
//!   discover.json    the last `discover` report
//!   runs/            one log per test run
//!   pycache/         PYTHONPYCACHEPREFIX of the test runs
//!   copies/          one record per live scratch copy (runner::registry)
//!   probe-*/         a run's probe plugin, target list and output
//! ```

use std::path::{Path, PathBuf};

use crate::safety::fsio::{self, FsError};

/// The name of the state directory under the project root.
pub(crate) const STATE_DIR_NAME: &str = ".cachescan";

/// The project's `.cachescan/` directory.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Prefix of the probe directories ([`crate::probe`]) inside this one and inside scratch
    /// copies' directories.
    pub(crate) const PROBE_PREFIX: &'static str = "probe-";

    /// `.cachescan/` under `project_root`, created with its `.gitignore` if missing.
    pub(crate) fn open(project_root: &Path) -> Result<Self, FsError> {
        let dir = project_root.join(STATE_DIR_NAME);
        fsio::create_dir_all(&dir)?;
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            fsio::write_atomic(&ignore, b"*\n")?;
        }
        Ok(Self { dir })
    }

    /// The state directory at `dir`, as it is, for tests.
    #[cfg(test)]
    pub(crate) fn at(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf() }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn lock_file(&self) -> PathBuf {
        self.dir.join("lock")
    }

    pub(crate) fn journal_file(&self) -> PathBuf {
        self.dir.join("journal.json")
    }

    pub(crate) fn backups_dir(&self) -> PathBuf {
        self.dir.join("backups")
    }

    pub(crate) fn baseline_file(&self) -> PathBuf {
        self.dir.join("baseline.json")
    }

    pub(crate) fn report_file(&self) -> PathBuf {
        self.dir.join("report.json")
    }

    pub(crate) fn discover_file(&self) -> PathBuf {
        self.dir.join("discover.json")
    }

    pub(crate) fn runs_dir(&self) -> PathBuf {
        self.dir.join("runs")
    }

    pub(crate) fn bytecode_dir(&self) -> PathBuf {
        self.dir.join("pycache")
    }

    pub(crate) fn copies_dir(&self) -> PathBuf {
        self.dir.join("copies")
    }

    /// Remove the probe directories that killed runs left behind.
    pub(crate) fn remove_probe_leftovers(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(Self::PROBE_PREFIX)
                && entry.path().is_dir()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_creates_the_directory_with_a_gitignore_that_ignores_everything() {
        let root = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(root.path()).expect("state dir");
        assert_eq!(state.path(), root.path().join(".cachescan"));
        let ignore = std::fs::read_to_string(state.path().join(".gitignore")).expect("gitignore");
        assert_eq!(ignore, "*\n");
    }

    #[test]
    fn probe_leftovers_are_removed_and_nothing_else() {
        let root = tempfile::tempdir().expect("tempdir");
        let state = StateDir::open(root.path()).expect("state dir");
        std::fs::create_dir_all(state.path().join("probe-abc/run-1")).expect("mkdir");
        std::fs::write(state.baseline_file(), "{}").expect("write");
        state.remove_probe_leftovers();
        assert!(!state.path().join("probe-abc").exists());
        assert!(state.baseline_file().exists());
    }
}
