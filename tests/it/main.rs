//! The integration tests, one binary: the real `cachescan` on scratch projects, most of
//! them copies of the fixture trees in `tests/fixtures/` run with real pytest, plus the
//! architecture check of `src/`. Shared helpers are in `common`.
//!
//! - `plan`, `manifest_errors`, `schema`: the dry run, bad input, the manifest's schema;
//! - `formats`: the CI formats (GitHub annotations, SARIF validated against its schema);
//! - `ci_example`: the GitHub Actions workflow in `examples/ci/` parses and runs only
//!   command lines the CLI accepts;
//! - `completions`: the shell completion scripts, bash's run in bash;
//! - `apply`: verdicts, restores, crashes, interrupts and locks, end to end;
//! - `scale`: test selection, the baseline cache, shards and `merge`, `--jobs`;
//! - `verify`: checked runs, every cache hit against a fresh call;
//! - `discover`: ranking every function from one traced run, and the drafted manifest;
//! - `architecture`: layers, import cycles and file lengths of `src/`.
//!
//! Run one area with a filter: `cargo test --test it apply::`.

mod apply;
mod architecture;
mod ci_example;
mod common;
mod completions;
mod discover;
mod formats;
mod manifest_errors;
mod plan;
mod scale;
mod schema;
mod verify;
