//! The JSON Schema of `cachescan.yaml`, generated from the raw manifest types so the schema
//! in `schemas/` can never drift from what the parser accepts (a test compares them).

use crate::config::manifest::raw::RawManifest;

/// The schema as pretty JSON, as committed in `schemas/cachescan.schema.json`.
pub fn manifest_schema_json() -> String {
    let schema = schemars::schema_for!(RawManifest);
    serde_json::to_string_pretty(&schema)
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
}
