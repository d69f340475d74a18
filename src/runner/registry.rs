//! The registry of live scratch copies, `.cachescan/copies/`: one record per copy (its
//! directory and the process group of the run in it), written when the copy is made and
//! around each run, removed with the copy. A killed cachescan cannot delete its copies or
//! stop their test runs; `cachescan restore` and the next `apply` read what is left here,
//! stop those runs and delete the copies ([`remove_leftovers`]).

use std::path::{Path, PathBuf};

use super::events::{Reporter, RunnerEvent};
use crate::safety::process;
use crate::safety::state_dir::StateDir;

/// Scratch directories are named so; only such directories are ever deleted from a record.
pub(crate) const SCRATCH_PREFIX: &str = "cachescan-scratch-";

/// One live copy, as `.cachescan/copies/<name>.json` records it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CopyRecord {
    /// The scratch directory (the copy and its probe directory).
    dir: PathBuf,
    /// Process group of the test run in progress in the copy.
    group: Option<u32>,
}

/// The registry entry of one copy; removed on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    path: PathBuf,
    dir: PathBuf,
}

impl Registration {
    pub(crate) fn new(state: &StateDir, dir: &Path) -> std::io::Result<Self> {
        let registry = state.copies_dir();
        std::fs::create_dir_all(&registry)?;
        let name =
            dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let registration =
            Self { path: registry.join(format!("{name}.json")), dir: dir.to_path_buf() };
        registration.set_group(None)?;
        Ok(registration)
    }

    /// Record the process group of the run in progress (or its end), durably.
    pub(crate) fn set_group(&self, group: Option<u32>) -> std::io::Result<()> {
        let record = CopyRecord { dir: self.dir.clone(), group };
        let text = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        crate::safety::fsio::write_atomic(&self.path, &text).map_err(std::io::Error::other)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Stop the test runs and delete the copies that a killed cachescan left registered.
/// Call only with the project's lock held (no live run owns them then).
pub(crate) fn remove_leftovers(state: &StateDir, reporter: &dyn Reporter) {
    let Ok(entries) = std::fs::read_dir(state.copies_dir()) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let record = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<CopyRecord>(&bytes).ok());
        if let Some(record) = record {
            if let Some(group) = record.group {
                reporter.report(RunnerEvent::StoppingOrphan { group, in_copy: true });
                process::stop_orphaned_group(group);
            }
            let ours = record
                .dir
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(SCRATCH_PREFIX));
            if ours && record.dir.exists() {
                reporter.report(RunnerEvent::RemovingCopy { dir: &record.dir });
                let _ = std::fs::remove_dir_all(&record.dir);
            }
        }
        let _ = std::fs::remove_file(&path);
    }
}
