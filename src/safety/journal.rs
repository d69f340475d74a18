//! The write-ahead journal: nothing of the user's is lost, whatever happens to a run.
//!
//! Before a file is changed we record its path, the hash of its original bytes, a backup
//! copy and the hash of the bytes we are about to write, and make all of that durable
//! (fsync) before the edit. Restoring writes a backup back only when the file still holds
//! exactly what we wrote; if the user changed it meanwhile, it is left alone and its backup
//! is kept. Each restored file is verified against the original hash, and the journal is
//! removed only when every file is back. `cachescan restore` replays the same journal after
//! a crash or `kill -9`. Lives in `.cachescan/` under the project root.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::safety::fsio::{self, FsError};
use crate::safety::state_dir::StateDir;

const FORMAT_VERSION: u32 = 1;

/// One file we changed (or are about to change).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub path: PathBuf,
    pub relative: String,
    pub original_sha256: String,
    pub patched_sha256: String,
    /// File name of the backup inside `.cachescan/backups/`.
    pub backup: String,
    /// Left patched on purpose (`apply --keep`); restored only by `cachescan restore`.
    #[serde(default)]
    pub kept: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct JournalFile {
    version: u32,
    /// The cachescan process that wrote the journal.
    pid: u32,
    /// Process group of the test run in progress, if any.
    test_group: Option<u32>,
    entries: Vec<Entry>,
    next_backup: u64,
}

/// A file that could not be put back.
#[derive(Debug, Clone)]
pub(crate) struct Conflict {
    pub relative: String,
    pub reason: String,
    pub backup: PathBuf,
}

/// Why the journal could not do its job.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum JournalError {
    #[error(transparent)]
    #[diagnostic(code(cachescan::journal::io))]
    Io(#[from] FsError),
    #[error("the journal {path} is unreadable: {message}")]
    #[diagnostic(
        code(cachescan::journal::corrupt),
        help("the backups in .cachescan/backups/ are the original files; copy them back by hand")
    )]
    Corrupt { path: PathBuf, message: String },
    #[error("{relative} changed since it was planned (expected {expected}, found {found})")]
    #[diagnostic(
        code(cachescan::journal::changed),
        help("a file was edited while cachescan ran; run again when the tree is quiet")
    )]
    ChangedBeforeEdit { relative: String, expected: String, found: String },
}

/// The journal of one project.
#[derive(Debug)]
pub(crate) struct Journal {
    state: StateDir,
    file: JournalFile,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

impl Journal {
    /// Whether an unfinished journal exists.
    pub(crate) fn exists(state: &StateDir) -> bool {
        state.journal_file().exists()
    }

    /// A new, empty journal (not written until the first edit).
    pub(crate) fn new(state: &StateDir) -> Self {
        Self {
            state: state.clone(),
            file: JournalFile {
                version: FORMAT_VERSION,
                pid: std::process::id(),
                test_group: None,
                entries: Vec::new(),
                next_backup: 0,
            },
        }
    }

    /// The journal left by an earlier run, if any.
    pub(crate) fn load(state: &StateDir) -> Result<Option<Self>, JournalError> {
        let path = state.journal_file();
        if !path.exists() {
            return Ok(None);
        }
        let text = fsio::read_to_string(&path)?;
        let file: JournalFile = serde_json::from_str(&text).map_err(|error| {
            JournalError::Corrupt { path: path.clone(), message: error.to_string() }
        })?;
        Ok(Some(Self { state: state.clone(), file }))
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.file.entries
    }

    pub(crate) fn test_group(&self) -> Option<u32> {
        self.file.test_group
    }

    fn persist(&self) -> Result<(), JournalError> {
        fsio::create_dir_all(self.state.path())?;
        let text = serde_json::to_string_pretty(&self.file).unwrap_or_default();
        fsio::write_atomic(&self.state.journal_file(), text.as_bytes())?;
        Ok(())
    }

    /// Record the test run's process group (or its end), durably.
    pub(crate) fn set_test_group(&mut self, group: Option<u32>) -> Result<(), JournalError> {
        self.file.test_group = group;
        self.persist()
    }

    /// Write `patched` over the file at `path`, which must still hold `original`. The journal
    /// entry and the backup are durable before the file changes.
    pub(crate) fn write(
        &mut self,
        path: &Path,
        relative: &str,
        original: &[u8],
        patched: &[u8],
        kept: bool,
    ) -> Result<(), JournalError> {
        fsio::ensure_regular_file(path)?;
        let expected = sha256_hex(original);
        let found = sha256_hex(&fsio::read(path)?);
        if found != expected {
            return Err(JournalError::ChangedBeforeEdit {
                relative: relative.to_owned(),
                expected,
                found,
            });
        }
        let backup_dir = self.state.backups_dir();
        fsio::create_dir_all(&backup_dir)?;
        let backup = format!("{}-{}", self.file.next_backup, file_name(relative));
        self.file.next_backup += 1;
        fsio::write_atomic(&backup_dir.join(&backup), original)?;
        self.file.entries.push(Entry {
            path: path.to_path_buf(),
            relative: relative.to_owned(),
            original_sha256: expected,
            patched_sha256: sha256_hex(patched),
            backup,
            kept,
        });
        self.persist()?;
        fsio::write_atomic(path, patched)?;
        Ok(())
    }

    /// Put back every file (kept ones too when `include_kept`). Returns what could not be
    /// put back; the journal is removed when nothing is left in it.
    pub(crate) fn restore(&mut self, include_kept: bool) -> Result<Vec<Conflict>, JournalError> {
        let mut conflicts = Vec::new();
        let mut remaining = Vec::new();
        for entry in std::mem::take(&mut self.file.entries) {
            if entry.kept && !include_kept {
                remaining.push(entry);
                continue;
            }
            match self.restore_entry(&entry) {
                Ok(()) => {}
                Err(reason) => {
                    conflicts.push(Conflict {
                        relative: entry.relative.clone(),
                        reason,
                        backup: self.state.backups_dir().join(&entry.backup),
                    });
                    remaining.push(entry);
                }
            }
        }
        self.file.entries = remaining;
        if self.file.entries.is_empty() {
            fsio::remove_file(&self.state.journal_file())?;
            let _ = std::fs::remove_dir(self.state.backups_dir());
            fsio::sync_directory(self.state.path());
        } else {
            self.persist()?;
        }
        Ok(conflicts)
    }

    /// Whether every entry was kept on purpose (`apply --keep`), none left by a run that
    /// did not finish.
    pub(crate) fn only_kept(&self) -> bool {
        self.file.test_group.is_none() && self.file.entries.iter().all(|entry| entry.kept)
    }

    /// Make the kept patches the user's own: drop their backups and the journal. Returns
    /// each file with whether it still holds exactly what cachescan wrote (the user may
    /// have edited it since). Only for a journal that [`Journal::only_kept`].
    pub(crate) fn accept(self) -> Result<Vec<(String, bool)>, JournalError> {
        let mut files = Vec::new();
        for entry in &self.file.entries {
            let unchanged = std::fs::read(&entry.path)
                .is_ok_and(|bytes| sha256_hex(&bytes) == entry.patched_sha256);
            files.push((entry.relative.clone(), unchanged));
        }
        // The journal goes first: a crash before the backups are gone leaves stray backups,
        // never a journal whose restore would undo what the user accepted.
        fsio::remove_file(&self.state.journal_file())?;
        fsio::sync_directory(self.state.path());
        for entry in &self.file.entries {
            let _ = std::fs::remove_file(self.state.backups_dir().join(&entry.backup));
        }
        let _ = std::fs::remove_dir(self.state.backups_dir());
        Ok(files)
    }

    /// Restore one file; `Err` says why it was left alone.
    fn restore_entry(&self, entry: &Entry) -> Result<(), String> {
        let backup_path = self.state.backups_dir().join(&entry.backup);
        let current = match std::fs::read(&entry.path) {
            Ok(bytes) => bytes,
            Err(error) => return Err(format!("cannot read it: {error}")),
        };
        let current_hash = sha256_hex(&current);
        if current_hash == entry.original_sha256 {
            // Never written, or already restored.
            let _ = std::fs::remove_file(&backup_path);
            return Ok(());
        }
        if current_hash != entry.patched_sha256 {
            return Err("it was changed after cachescan patched it; it is left as it is".to_owned());
        }
        let original = std::fs::read(&backup_path)
            .map_err(|error| format!("the backup is unreadable: {error}"))?;
        if sha256_hex(&original) != entry.original_sha256 {
            return Err("the backup does not match the original's hash".to_owned());
        }
        fsio::write_atomic(&entry.path, &original).map_err(|error| error.to_string())?;
        let written =
            std::fs::read(&entry.path).map_err(|error| format!("cannot verify it: {error}"))?;
        if sha256_hex(&written) != entry.original_sha256 {
            return Err("after restoring, its hash differs from the original".to_owned());
        }
        let _ = std::fs::remove_file(&backup_path);
        Ok(())
    }
}

fn file_name(relative: &str) -> &str {
    relative.rsplit('/').next().unwrap_or(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tree {
        _dir: tempfile::TempDir,
        state: StateDir,
        file: PathBuf,
    }

    fn tree(content: &[u8]) -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::at(&dir.path().join(".cachescan"));
        let file = dir.path().join("m.py");
        std::fs::write(&file, content).expect("write");
        Tree { state, file, _dir: dir }
    }

    #[test]
    fn write_then_restore_is_byte_exact_and_removes_the_journal() {
        let original = b"\xEF\xBB\xBFdef f():\r\n\treturn 1  \r\n";
        let tree = tree(original);
        let mut journal = Journal::new(&tree.state);
        journal.write(&tree.file, "m.py", original, b"patched", false).expect("write");
        assert!(Journal::exists(&tree.state));
        assert_eq!(std::fs::read(&tree.file).expect("read"), b"patched");
        // A new process finds the journal and restores from it.
        let mut reloaded = Journal::load(&tree.state).expect("load").expect("journal");
        assert!(reloaded.restore(true).expect("restore").is_empty());
        assert_eq!(std::fs::read(&tree.file).expect("read"), original);
        assert!(!Journal::exists(&tree.state));
    }

    #[test]
    fn a_file_the_user_edited_is_left_alone_and_its_backup_kept() {
        let tree = tree(b"original\n");
        let mut journal = Journal::new(&tree.state);
        journal.write(&tree.file, "m.py", b"original\n", b"patched\n", false).expect("write");
        std::fs::write(&tree.file, b"user edit\n").expect("edit");
        let conflicts = journal.restore(true).expect("restore");
        assert_eq!(conflicts.len(), 1);
        assert_eq!(std::fs::read(&tree.file).expect("read"), b"user edit\n");
        assert_eq!(std::fs::read(&conflicts[0].backup).expect("backup"), b"original\n");
        assert!(Journal::exists(&tree.state), "journal kept while a file is not back");
    }

    #[test]
    fn refuses_to_patch_a_file_that_changed_since_planning() {
        let tree = tree(b"now\n");
        let mut journal = Journal::new(&tree.state);
        let error =
            journal.write(&tree.file, "m.py", b"then\n", b"patched\n", false).expect_err("changed");
        assert!(matches!(error, JournalError::ChangedBeforeEdit { .. }));
        assert_eq!(std::fs::read(&tree.file).expect("read"), b"now\n");
    }

    #[test]
    fn kept_entries_survive_a_normal_restore() {
        let tree = tree(b"a\n");
        let mut journal = Journal::new(&tree.state);
        journal.write(&tree.file, "m.py", b"a\n", b"b\n", true).expect("write");
        assert!(journal.restore(false).expect("restore").is_empty());
        assert_eq!(std::fs::read(&tree.file).expect("read"), b"b\n");
        assert!(journal.restore(true).expect("restore").is_empty());
        assert_eq!(std::fs::read(&tree.file).expect("read"), b"a\n");
    }
}
