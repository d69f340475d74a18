//! The probe: statistics from inside the test process.
//!
//! pytest runs in its own interpreter and imports the patched files from disk, so the only
//! place where the real `cache_info()` can be read is in that process (and in every
//! pytest-xdist worker). `cachescan_probe`, a pytest plugin kept as a real Python package in
//! `probe/plugin/cachescan_probe/` (its tests beside it in `probe/plugin/tests/`) and
//! embedded here file by file, is written to a private temporary directory and loaded with
//! `PYTHONPATH` + `PYTEST_ADDOPTS="-p cachescan_probe"`, whatever wrapper the test command
//! is.
//!
//! - `protocol`: the names and values both sides agree on (environment variables, the
//!   output file's format, roles, outcomes, target states, observers), typed;
//! - `setup`: the plugin's directory, a run's environment, selections, bytecode;
//! - `observation`: the files of one run merged into an [`Observation`];
//! - `trace`: a target's key trace reduced to its [`ReuseProfile`] (LRU stack distances).

mod observation;
pub(crate) mod protocol;
mod setup;
pub(crate) mod trace;

pub(crate) use observation::{Observation, TargetStats, TestResult, collect, merge_parts};
pub(crate) use protocol::SESSION_KEY;
pub(crate) use setup::{BytecodeCache, Checks, Part, ProbeSetup, ProbeTarget, plugin_sources};
pub(crate) use trace::ReuseProfile;
