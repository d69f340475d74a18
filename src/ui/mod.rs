//! The bottom layer: what a user reads and how. Status lines and colour (`shell`), one
//! diagnostic type for problems that point into a file (`diagnostic`), and small text
//! helpers (`text`: counted nouns, paths relative to the project root). Nothing here knows
//! about manifests, plans or test runs.

pub(crate) mod diagnostic;
pub(crate) mod shell;
pub(crate) mod text;
