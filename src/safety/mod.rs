//! Everything that keeps the user's tree and machine safe while cachescan edits files and
//! runs tests: file I/O that names its path and writes atomically (`fsio`), the write-ahead
//! journal (`journal`), the one-run-per-project lock (`lock`), the layout of `.cachescan/`
//! (`state_dir`), child processes in their own group with timeouts (`process`), Ctrl-C as a
//! flag (`interrupt`) and the one walk over the project tree that copies and hashes share
//! (`tree`). Nothing here knows what a plan or a verdict is.

pub(crate) mod fsio;
pub(crate) mod interrupt;
pub(crate) mod journal;
pub(crate) mod lock;
pub(crate) mod process;
pub(crate) mod state_dir;
pub(crate) mod tree;
