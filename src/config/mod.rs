//! What the user asked for, in layers: the manifest (`manifest`: raw YAML mirror with spans
//! -> validated [`manifest::Manifest`]), the effective settings (`settings`: defaults <
//! manifest < environment < command line), the options of a run (`options`: what `apply`
//! takes instead of clap's types) and the JSON Schema generated from the raw types
//! (`schema`).

pub(crate) mod manifest;
pub(crate) mod options;
pub(crate) mod schema;
pub(crate) mod settings;
