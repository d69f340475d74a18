//! The project's Python files: finding them (the tree `safety::tree` walks, without
//! installed packages), naming them (dotted module names through the source roots),
//! telling test files apart, and parsing many at once.

use std::path::{Path, PathBuf};

use crate::python::source::{PythonFile, SourceError};
use crate::safety::tree::{self, EntryKind};
use crate::ui::text::{normalize, relative_display};

/// Installed third-party code under the root is not the project's (it may be vendored for
/// a scratch copy's sake, but its functions are not the project's to judge).
const INSTALLED_CODE: &[&str] = &["site-packages", "dist-packages"];

/// Directories whose files are tests.
const TEST_DIRECTORIES: &[&str] = &["tests", "test"];

/// Every `.py` file of the project tree under `root`, in the walker's order.
pub(super) fn python_files(root: &Path) -> Vec<PathBuf> {
    tree::walk(root)
        .entries
        .into_iter()
        .filter(|entry| entry.kind == EntryKind::File)
        .filter(|entry| {
            !entry.relative.iter().any(|part| INSTALLED_CODE.iter().any(|name| part == *name))
        })
        .filter(|entry| entry.relative.extension().is_some_and(|extension| extension == "py"))
        .map(|entry| root.join(entry.relative))
        .collect()
}

/// Whether a file (relative to the project root) is a test: `conftest.py`, `test_*.py`,
/// `*_test.py`, or anything under a `tests` or `test` directory. Globs never pick one.
pub(super) fn is_test_file(relative: &Path) -> bool {
    let name = relative.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    let stem = name.trim_end_matches(".py");
    let in_tests = relative.parent().is_some_and(|parent| {
        parent.iter().any(|part| TEST_DIRECTORIES.iter().any(|d| part == *d))
    });
    name == "conftest.py" || stem.starts_with("test_") || stem.ends_with("_test") || in_tests
}

/// The dotted module name of a file: relative to the first source root that contains it,
/// or its file stem.
pub(super) fn module_name_of(path: &Path, root: &Path, source_roots: &[String]) -> String {
    module_in_source_roots(path, root, source_roots).unwrap_or_else(|| {
        path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default()
    })
}

/// The dotted module name of a file under one of the source roots (the first that gives a
/// valid one); `None` outside them.
pub(super) fn module_in_source_roots(
    path: &Path,
    root: &Path,
    source_roots: &[String],
) -> Option<String> {
    for source_root in source_roots {
        let base = root.join(source_root);
        let base = std::path::absolute(&base).unwrap_or(base);
        let Ok(relative) = path.strip_prefix(normalize(&base)) else { continue };
        let mut parts: Vec<String> =
            relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
        if let Some(last) = parts.last_mut() {
            *last = last.trim_end_matches(".py").to_owned();
        }
        if parts.last().is_some_and(|last| last == "__init__") {
            parts.pop();
        }
        let valid = !parts.is_empty()
            && parts.iter().all(|part| {
                part.chars().next().is_some_and(|c| c == '_' || c.is_alphabetic())
                    && part.chars().all(|c| c == '_' || c.is_alphanumeric())
            });
        if valid {
            return Some(parts.join("."));
        }
    }
    None
}

/// Parse every file, spread over the machine's cores (parsing is most of a large plan's
/// time); `root` names them in diagnostics. Results in the order of `paths`.
pub(super) fn parse_in_parallel(
    paths: &[&PathBuf],
    root: &Path,
) -> Vec<Result<PythonFile, SourceError>> {
    let load = |path: &&PathBuf| PythonFile::load(path, relative_display(path, root));
    let threads =
        std::thread::available_parallelism().map_or(1, usize::from).min(paths.len().max(1));
    let chunk = paths.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(chunk)
            .map(|paths| scope.spawn(move || paths.iter().map(load).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().unwrap_or_default()).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_come_from_the_containing_source_root() {
        let root = Path::new("/p");
        let roots = ["src".to_owned(), ".".to_owned()];
        assert_eq!(
            module_name_of(Path::new("/p/src/shop/pricing.py"), root, &roots),
            "shop.pricing"
        );
        assert_eq!(module_name_of(Path::new("/p/src/shop/__init__.py"), root, &roots), "shop");
        assert_eq!(
            module_name_of(Path::new("/p/scripts/legacy.py"), root, &roots),
            "scripts.legacy"
        );
        assert_eq!(
            module_name_of(Path::new("/p/scripts/my-tool.py"), root, &["src".to_owned()]),
            "my-tool"
        );
        let only_src = ["src".to_owned()];
        assert_eq!(module_in_source_roots(Path::new("/p/scripts/a.py"), root, &only_src), None);
    }

    #[test]
    fn test_files_are_told_apart() {
        for test in [
            "tests/test_a.py",
            "conftest.py",
            "src/pkg/conftest.py",
            "pkg/test_util.py",
            "pkg/util_test.py",
            "pkg/tests/helpers.py",
            "test/data.py",
        ] {
            assert!(is_test_file(Path::new(test)), "{test}");
        }
        for code in ["src/pkg/util.py", "pkg/testing.py", "pkg/latest.py", "tests.py"] {
            assert!(!is_test_file(Path::new(code)), "{code}");
        }
    }
}
