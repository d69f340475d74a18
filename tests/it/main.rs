//! The integration tests, one binary: the real `cachescan` on scratch projects, most of
//! them copies of the fixture trees in `tests/fixtures/` run with real pytest, plus the
//! architecture check of `src/`. Shared helpers are in `common`.
//!
//! - `plan`, `manifest_errors`, `schema`: the dry run, bad input, the manifest's schema;
//! - `completions`: the shell completion scripts, bash's run in bash;
//! - `apply`: verdicts, restores, crashes, interrupts and locks, end to end;
//! - `scale`: test selection, the baseline cache, shards and `merge`, `--jobs`;
//! - `verify`: checked runs, every cache hit against a fresh call;
//! - `architecture`: layers, import cycles and file lengths of `src/`.
//!
//! Run one area with a filter: `cargo test --test it apply::`.

mod apply;
mod architecture;
mod common;
mod completions;
mod manifest_errors;
mod plan;
mod scale;
mod schema;
mod verify;
