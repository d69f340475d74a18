//! The one walk over a project tree, with the one policy of what belongs to the project.
//! Scratch copies copy what it yields and the baseline cache hashes what it yields, so the
//! two can never disagree: a file that a copy's tests can read is a file whose change
//! invalidates the cached baseline.
//!
//! Left out: version control (`.git`, `.hg`, `.svn`), cachescan's own `.cachescan`, caches
//! that tools rebuild (`__pycache__`, `.pytest_cache`, `.mypy_cache`, `.ruff_cache`),
//! environments (`.tox`, `.nox`, `.venv`, `node_modules`, and any directory holding a
//! `pyvenv.cfg` or a `conda-meta`). Everything else is the project's, dot-directories
//! included: a test may read `.config/data.json`.

use std::path::{Path, PathBuf};

/// Directories that never belong to the project's tree, by name.
const SKIPPED_DIRECTORIES: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".cachescan",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".venv",
    "node_modules",
];

/// What an entry of the tree is. Symbolic links are never followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Directory,
    File,
    Symlink,
}

/// One entry, relative to the walked root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeEntry {
    pub relative: PathBuf,
    pub kind: EntryKind,
}

/// A walk's result: entries in pre-order (a directory before what it holds, names sorted
/// within a directory), and the directories or entries that could not be read.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub entries: Vec<TreeEntry>,
    pub errors: Vec<(PathBuf, std::io::Error)>,
}

/// Whether a directory of the tree is left out: by its name, or because it holds an
/// environment.
pub(crate) fn is_skipped_directory(path: &Path) -> bool {
    let skipped_name = path
        .file_name()
        .is_some_and(|name| SKIPPED_DIRECTORIES.contains(&name.to_string_lossy().as_ref()));
    skipped_name || path.join("pyvenv.cfg").exists() || path.join("conda-meta").is_dir()
}

/// Every entry of the tree under `root` that belongs to the project.
pub(crate) fn walk(root: &Path) -> Walk {
    let mut walk = Walk::default();
    visit(root, Path::new(""), &mut walk);
    walk
}

fn visit(root: &Path, relative: &Path, walk: &mut Walk) {
    let directory = root.join(relative);
    let entries = match std::fs::read_dir(&directory) {
        Ok(entries) => entries,
        Err(error) => {
            walk.errors.push((directory, error));
            return;
        }
    };
    let mut children = Vec::new();
    for entry in entries {
        match entry.and_then(|entry| Ok((entry.file_name(), entry.file_type()?))) {
            Ok(child) => children.push(child),
            Err(error) => walk.errors.push((directory.clone(), error)),
        }
    }
    children.sort_by(|left, right| left.0.cmp(&right.0));
    for (name, file_type) in children {
        let child = relative.join(&name);
        if file_type.is_symlink() {
            walk.entries.push(TreeEntry { relative: child, kind: EntryKind::Symlink });
        } else if file_type.is_dir() {
            if !is_skipped_directory(&root.join(&child)) {
                walk.entries
                    .push(TreeEntry { relative: child.clone(), kind: EntryKind::Directory });
                visit(root, &child, walk);
            }
        } else if file_type.is_file() {
            walk.entries.push(TreeEntry { relative: child, kind: EntryKind::File });
        }
    }
}

/// The repository that holds `start`: the nearest directory at or above it with a `.git`
/// (a directory, or the file a worktree or submodule has instead); `None` outside version
/// control. CI formats name files relative to it, as GitHub does.
pub(crate) fn repository_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|directory| directory.join(".git").exists()).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_root_is_the_nearest_directory_with_git() {
        let root = tree(&["outer/.git/HEAD", "outer/project/inner/.git", "outer/project/a.py"]);
        let outer = root.path().join("outer");
        let project = outer.join("project");
        assert_eq!(repository_root(&project), Some(outer.clone()), "a .git directory above");
        assert_eq!(repository_root(&outer), Some(outer.clone()), "at the start itself");
        let inner = project.join("inner");
        assert_eq!(repository_root(&inner), Some(inner.clone()), "a .git file (worktree)");
        assert_eq!(repository_root(root.path()), None, "outside version control");
    }

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("tempdir");
        for file in files {
            let path = root.path().join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "x").expect("write");
        }
        root
    }

    fn files(walk: &Walk) -> Vec<String> {
        walk.entries
            .iter()
            .filter(|entry| entry.kind == EntryKind::File)
            .map(|entry| entry.relative.display().to_string())
            .collect()
    }

    #[test]
    fn version_control_state_caches_and_environments_are_left_out() {
        let root = tree(&[
            "src/m.py",
            ".git/HEAD",
            ".cachescan/journal.json",
            "src/__pycache__/m.cpython-311.pyc",
            ".pytest_cache/v/cache",
            "env/pyvenv.cfg",
            "env/lib.py",
            "conda/conda-meta/history",
            "conda/lib.py",
            "node_modules/x.js",
        ]);
        assert_eq!(files(&walk(root.path())), ["src/m.py"]);
    }

    #[test]
    fn data_under_other_dot_directories_belongs_to_the_project() {
        let root = tree(&[".config/data.json", "tests/.fixtures/x.txt", "a.py"]);
        assert_eq!(
            files(&walk(root.path())),
            [".config/data.json", "a.py", "tests/.fixtures/x.txt"]
        );
    }

    #[test]
    fn directories_come_before_their_entries_and_links_are_not_followed() {
        let root = tree(&["b/c.py", "a.py"]);
        std::os::unix::fs::symlink("b", root.path().join("link")).expect("symlink");
        let walk = walk(root.path());
        let listed: Vec<(String, EntryKind)> = walk
            .entries
            .iter()
            .map(|entry| (entry.relative.display().to_string(), entry.kind))
            .collect();
        assert_eq!(
            listed,
            [
                ("a.py".to_owned(), EntryKind::File),
                ("b".to_owned(), EntryKind::Directory),
                ("b/c.py".to_owned(), EntryKind::File),
                ("link".to_owned(), EntryKind::Symlink),
            ]
        );
        assert!(walk.errors.is_empty());
    }
}
