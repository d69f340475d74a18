//! Small text helpers that every layer may need: counted nouns ("3 tests") and paths shown
//! relative to the project root with `/` separators. They live here, at the bottom, so no
//! module has to borrow them from a module above it.

use std::path::{Component, Path, PathBuf};

/// "1 test", "3 tests".
pub(crate) fn plural(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

/// `path` relative to `root` with `/` separators, or the path itself when outside.
pub(crate) fn relative_display(path: &Path, root: &Path) -> String {
    let path = normalize(path);
    match path.strip_prefix(normalize(root)) {
        Ok(relative) => {
            relative.iter().map(|part| part.to_string_lossy()).collect::<Vec<_>>().join("/")
        }
        // Joining the components of an absolute path would start it with `//`.
        Err(_) => path.display().to_string(),
    }
}

/// Drop `.` components so `root/./src` compares equal to `root/src`.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    path.components().filter(|component| !matches!(component, Component::CurDir)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_counts_one_and_many() {
        assert_eq!(plural(1, "test"), "1 test");
        assert_eq!(plural(0, "test"), "0 tests");
        assert_eq!(plural(3, "file"), "3 files");
    }

    #[test]
    fn paths_are_shown_relative_to_the_root() {
        assert_eq!(relative_display(Path::new("/p/./src/m.py"), Path::new("/p")), "src/m.py");
        assert_eq!(relative_display(Path::new("/q/m.py"), Path::new("/p")), "/q/m.py");
    }
}
