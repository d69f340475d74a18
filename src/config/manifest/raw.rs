//! The raw manifest: a field-for-field mirror of `cachescan.yaml` as serde reads it.
//!
//! Every value that a diagnostic may need to point at is wrapped in [`Spanned`], so the
//! validation layer ([`super::validate`]) can label the exact key or value. Nothing here
//! checks meaning (ranges, "module or path", known hazard codes): that is validation's job.
//! The same types generate the JSON Schema in `schemas/`, so the schema and the parser
//! cannot disagree about which keys exist.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// The whole document.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "cachescan manifest",
    description = "cachescan.yaml: which Python functions to try under functools.lru_cache"
)]
pub(crate) struct RawManifest {
    /// Format version of this file. Only `1` exists.
    #[schemars(with = "u32", range(min = 1, max = 1))]
    pub version: Spanned<i64>,
    /// Where the project lives and how its tests run.
    #[serde(default)]
    pub project: Option<RawProject>,
    /// Cache settings used by every target unless the target overrides them.
    #[serde(default)]
    pub defaults: Option<RawDefaults>,
    /// Thresholds `cachescan apply` uses to call a function worth caching.
    #[serde(default)]
    pub thresholds: Option<RawThresholds>,
    /// The modules or files to look in, and the functions to try.
    #[schemars(with = "Vec<RawTarget>", length(min = 1))]
    pub targets: Spanned<Vec<Spanned<RawTarget>>>,
}

/// The `project` table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProject {
    /// The project root, relative to the manifest's directory. Default `.`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub root: Option<Spanned<String>>,
    /// Folders (relative to root) where dotted module names are looked up, in order.
    /// Default `[src, .]`.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub source_roots: Option<Vec<Spanned<String>>>,
    /// The test command as an argument vector (no shell). Runs in the project root.
    /// Default `[python, -m, pytest, -q]`.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub test_command: Option<Spanned<Vec<String>>>,
    /// Seconds one test run may take before it is killed.
    #[serde(default)]
    #[schemars(with = "Option<f64>", range(min = 0.0))]
    pub timeout: Option<Spanned<f64>>,
    /// Extra environment variables for test runs.
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
}

/// The `defaults` table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    /// `maxsize` for `functools.lru_cache`: an integer >= 0, or null for an unbounded cache.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<u64>")]
    pub cache_size: Option<Spanned<RawCacheSize>>,
    /// Pass `typed=True` to `lru_cache`.
    #[serde(default)]
    pub typed: Option<bool>,
}

/// The `thresholds` table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawThresholds {
    /// Lowest hit rate (hits / calls, 0 to 1) for a function to be worth caching. Default 0.5.
    #[serde(default)]
    #[schemars(with = "Option<f64>", range(min = 0.0, max = 1.0))]
    pub min_hit_rate: Option<Spanned<f64>>,
    /// Fewest calls during the test run for a function to be worth caching. Default 10.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub min_calls: Option<Spanned<i64>>,
}

/// One entry of `targets`: a module or a file, and the functions in it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    /// A dotted module name, looked up in `project.source_roots`, or a glob over the
    /// modules there: `pkg.*` (the modules directly in `pkg`), `pkg.**` (`pkg` and every
    /// module below it). Globs never pick test files (`test_*.py`, `*_test.py`,
    /// `conftest.py`, anything under `tests/` or `test/`). Give this or `path`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub module: Option<Spanned<String>>,
    /// A file path relative to the project root, or a glob over the `.py` files there
    /// (`src/**/*.py`; never test files). Give this or `module`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    /// Globs over qualified names (`f`, `Class.method`); `*` never crosses a dot, `**` does.
    #[schemars(with = "Vec<String>", length(min = 1))]
    pub functions: Spanned<Vec<Spanned<String>>>,
    /// Globs of qualified names to leave out.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub exclude: Vec<Spanned<String>>,
    /// `maxsize` for this target's functions (integer >= 0, or null for unbounded).
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<u64>")]
    pub cache_size: Option<Spanned<RawCacheSize>>,
    /// `typed=True` for this target's functions.
    #[serde(default)]
    pub typed: Option<bool>,
    /// Hazard codes of severity `error` to accept for this target (the function is patched anyway).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub allow_hazards: Vec<Spanned<String>>,
}

/// A cache size as written: any integer (validation rejects negatives) or null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawCacheSize {
    Integer(i64),
    Unbounded,
}

/// Deserialize a key that is present, so that `key: null` is `Some(Unbounded)` and an absent
/// key stays `None` (serde's own `Option` would turn both into `None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

impl<'de> Deserialize<'de> for RawCacheSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CacheSizeVisitor;
        impl serde::de::Visitor<'_> for CacheSizeVisitor {
            type Value = RawCacheSize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer >= 0, or null for an unbounded cache")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawCacheSize::Integer(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(RawCacheSize::Integer)
                    .map_err(|_| E::custom("cache size is too large"))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(RawCacheSize::Unbounded)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "unbounded" | "none" | "None" => Ok(RawCacheSize::Unbounded),
                    other => Err(E::custom(format!(
                        "cache size must be an integer >= 0, null or `unbounded`, not `{other}`"
                    ))),
                }
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(RawCacheSize::Unbounded)
            }
        }
        deserializer.deserialize_any(CacheSizeVisitor)
    }
}
