//! Reports only render: they turn a plan or an apply result into human text, JSON or
//! Markdown, and for CI into GitHub workflow commands or SARIF (both from one list of
//! `findings`), and never decide anything. The JSON shapes are interfaces other tools depend
//! on; they grow only by adding fields.

pub(crate) mod apply;
pub(crate) mod discover;
pub(crate) mod findings;
pub(crate) mod github;
pub(crate) mod plan;
pub(crate) mod progress;
pub(crate) mod sarif;
pub(crate) mod table;
