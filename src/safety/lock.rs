//! The run lock, `.cachescan/lock`: one `apply` or `restore` at a time per project. The file
//! holds the owner's pid; a lock whose owner is gone (after `kill -9`) is stale and taken
//! over. Released on drop.

use std::io::Write;
use std::path::PathBuf;

use crate::safety::process::process_alive;
use crate::safety::state_dir::StateDir;

/// Held while a run owns the project.
#[derive(Debug)]
pub(crate) struct Lock {
    path: PathBuf,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum LockError {
    #[error("another cachescan run (pid {pid}) is working on this project")]
    #[diagnostic(
        code(cachescan::lock::held),
        help("wait for it to finish, or stop it with Ctrl-C; its lock is {path}")
    )]
    Held { pid: u32, path: String },
    #[error("cannot take the lock {path}: {message}")]
    #[diagnostic(code(cachescan::lock::io))]
    Io { path: String, message: String },
}

impl Lock {
    pub(crate) fn acquire(state: &StateDir) -> Result<Lock, LockError> {
        let path = state.lock_file();
        let io_error = |error: &dyn std::fmt::Display| LockError::Io {
            path: path.display().to_string(),
            message: error.to_string(),
        };
        crate::safety::fsio::create_dir_all(state.path()).map_err(|error| io_error(&error))?;
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    writeln!(file, "{}", std::process::id()).map_err(|error| io_error(&error))?;
                    file.sync_all().map_err(|error| io_error(&error))?;
                    return Ok(Lock { path });
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|text| text.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if pid != std::process::id() && process_alive(pid) => {
                            return Err(LockError::Held { pid, path: path.display().to_string() });
                        }
                        // Stale: its owner is gone.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(error) => return Err(io_error(&error)),
            }
        }
        Err(io_error(&"the lock keeps reappearing"))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_while_the_owner_lives() {
        let dir = tempfile::tempdir().expect("tempdir");
        // pid 1 always exists: a lock held by it is not stale.
        std::fs::write(dir.path().join("lock"), "1\n").expect("write");
        let error = Lock::acquire(&StateDir::at(dir.path())).expect_err("held");
        assert!(error.to_string().contains("pid 1"), "{error}");
    }

    #[test]
    fn a_stale_lock_is_taken_over_and_released_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("lock"), "999999999\n").expect("write");
        let lock = Lock::acquire(&StateDir::at(dir.path())).expect("stale lock taken");
        drop(lock);
        assert!(!dir.path().join("lock").exists());
    }
}
