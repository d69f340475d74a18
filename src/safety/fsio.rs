//! All file I/O of cachescan goes through here, so every error names its path and every
//! write is atomic: the bytes go to a temporary file in the same directory, are synced, and
//! the temporary file is renamed over the target, keeping the target's permissions.
//! Symlinked targets are refused, so we never write through a link into another tree.

use std::io::Write;
use std::path::{Path, PathBuf};

/// An I/O failure, always with the path it happened on.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{action} {path}: {source}")]
#[diagnostic(code(cachescan::io))]
pub struct FsError {
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

fn fail<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FsError + 'a {
    move |source| FsError { action, path: path.to_path_buf(), source }
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, FsError> {
    std::fs::read(path).map_err(fail("cannot read", path))
}

pub(crate) fn read_to_string(path: &Path) -> Result<String, FsError> {
    std::fs::read_to_string(path).map_err(fail("cannot read", path))
}

pub(crate) fn create_dir_all(path: &Path) -> Result<(), FsError> {
    std::fs::create_dir_all(path).map_err(fail("cannot create directory", path))
}

pub(crate) fn remove_file(path: &Path) -> Result<(), FsError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(fail("cannot remove", path)(error))
        }
        _ => Ok(()),
    }
}

/// Refuse symlinks: we only ever edit regular files that are really in the tree.
pub(crate) fn ensure_regular_file(path: &Path) -> Result<(), FsError> {
    let metadata = std::fs::symlink_metadata(path).map_err(fail("cannot inspect", path))?;
    if metadata.file_type().is_symlink() {
        return Err(FsError {
            action: "refusing to edit",
            path: path.to_path_buf(),
            source: std::io::Error::other("it is a symbolic link"),
        });
    }
    Ok(())
}

/// Write `bytes` to `path` atomically and durably, keeping an existing file's permissions.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let directory =
        path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let permissions = std::fs::metadata(path).ok().map(|metadata| metadata.permissions());
    let mut temporary = tempfile::Builder::new()
        .prefix(".cachescan-")
        .suffix(".tmp")
        .tempfile_in(directory)
        .map_err(fail("cannot create a temporary file in", directory))?;
    temporary.write_all(bytes).map_err(fail("cannot write", temporary.path()))?;
    temporary.as_file().sync_all().map_err(fail("cannot sync", path))?;
    // A new file gets the usual 0644 rather than the temporary file's private 0600.
    let permissions =
        permissions.unwrap_or_else(|| std::os::unix::fs::PermissionsExt::from_mode(0o644));
    std::fs::set_permissions(temporary.path(), permissions)
        .map_err(fail("cannot set permissions on", path))?;
    temporary.persist(path).map_err(|error| fail("cannot replace", path)(error.error))?;
    sync_directory(directory);
    Ok(())
}

/// Make a rename durable. Best effort: some file systems refuse to sync directories.
pub(crate) fn sync_directory(directory: &Path) {
    if let Ok(handle) = std::fs::File::open(directory) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_keeps_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.py");
        std::fs::write(&path, b"old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o751)).expect("chmod");
        write_atomic(&path, b"new\r\n").expect("atomic write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new\r\n");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o751);
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1, "no temporary file left");
    }

    #[test]
    fn symlinks_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real.py");
        let link = dir.path().join("link.py");
        std::fs::write(&real, b"x").expect("write");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let error = ensure_regular_file(&link).expect_err("symlink refused");
        assert!(error.to_string().contains("symbolic link"));
    }
}
