//! Ctrl-C and SIGTERM as a flag. The handler only sets it; the run loop sees it, kills the
//! test run's process group, restores every file and exits 130. Nothing is cleaned up from
//! inside a signal handler.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once SIGINT or SIGTERM arrived.
#[derive(Debug, Clone)]
pub(crate) struct Interrupt {
    flag: Arc<AtomicBool>,
}

impl Interrupt {
    /// Install the handlers. If that fails, signals keep their default action (the journal
    /// still lets `cachescan restore` undo the run).
    pub(crate) fn install() -> Self {
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
        }
        Self { flag }
    }

    pub(crate) fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}
