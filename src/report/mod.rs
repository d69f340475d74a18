//! Reports only render: they turn a plan or an apply result into human text, JSON or
//! Markdown, and never decide anything. The JSON shapes are interfaces other tools depend
//! on; they grow only by adding fields.

pub(crate) mod apply;
pub(crate) mod discover;
pub(crate) mod plan;
pub(crate) mod progress;
pub(crate) mod table;
