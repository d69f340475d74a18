//! The runner: it writes patch sets (through the journal, or into scratch copies), runs the
//! test command, collects what the probe saw, and puts every file back before the next run.
//! It records and decides only which run to make next; whether a run is clean is asked of
//! [`crate::verdict::compare`], and what it did is told to a [`events::Reporter`].
//!
//! - `trial`: the [`Runner`] of one `apply`: baseline, shard, strategy;
//! - `baseline` (getting one) and `baseline_cache` (`.cachescan/baseline.json`, its key);
//! - `verify`: the checked runs that compare every cache hit with a fresh call;
//! - `search`: the culprit search, against the `executor` traits only;
//! - `in_place`: journaled runs in the user's tree; `scratch`: runs in scratch copies,
//!   `registry`: the record of live copies, `parallel` + `pool`: N copies at once;
//! - `prepare`: one run's request, probe environment and log; `timeout`: the timeout rule;
//! - `shard`: `--shard K/N`; `context`, `error`, `events`: what the parts share.

mod baseline;
mod baseline_cache;
mod context;
pub(crate) mod error;
pub(crate) mod events;
mod executor;
mod in_place;
mod parallel;
mod pool;
mod prepare;
pub(crate) mod registry;
mod scratch;
mod search;
mod shard;
mod timeout;
mod trial;
mod verify;

pub(crate) use error::RunnerError;
pub(crate) use trial::Runner;
