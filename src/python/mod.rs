//! The Python side of the world, as cachescan models it: one parsed file and its functions
//! (`source`, on Ruff's parser), globs over qualified names (`pattern`), static hazards
//! (`hazard`: the code table, the names it knows and the analysis), the facts a module and
//! a function leave for others (`facts`) and their join across a project (`project`),
//! `lru_cache`'s `maxsize` (`cache_size`) and the byte-exact patcher (`patch`). Pure: only
//! `source` reads a file, through `fsio`.

pub(crate) mod cache_size;
pub(crate) mod facts;
pub(crate) mod hazard;
pub(crate) mod patch;
pub(crate) mod pattern;
pub(crate) mod project;
#[cfg(test)]
mod roundtrip_tests;
pub(crate) mod source;
