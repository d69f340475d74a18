//! `maxsize` of `functools.lru_cache`: a bound, or unbounded (`maxsize=None`). The manifest,
//! the environment and the command line spell it (an integer, `null`, or the words `none` and
//! `unbounded`); the patcher writes it as a Python literal.

use serde::{Deserialize, Serialize};

/// `maxsize` of `functools.lru_cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheSize {
    Bounded(u64),
    Unbounded,
}

impl CacheSize {
    /// The Python literal for `maxsize=`.
    pub(crate) fn python_literal(self) -> String {
        match self {
            CacheSize::Bounded(size) => size.to_string(),
            CacheSize::Unbounded => "None".to_owned(),
        }
    }
}

impl std::fmt::Display for CacheSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheSize::Bounded(size) => write!(f, "{size}"),
            CacheSize::Unbounded => f.write_str("unbounded"),
        }
    }
}

/// Serialized as an integer, or null when unbounded (the manifest's own spelling).
impl Serialize for CacheSize {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            CacheSize::Bounded(size) => serializer.serialize_u64(*size),
            CacheSize::Unbounded => serializer.serialize_none(),
        }
    }
}

/// Accepts an integer >= 0, null, or the words `none`/`unbounded` (handy in the environment
/// and on the command line).
impl<'de> Deserialize<'de> for CacheSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CacheSizeVisitor;
        impl serde::de::Visitor<'_> for CacheSizeVisitor {
            type Value = CacheSize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer >= 0, or `unbounded`")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(CacheSize::Bounded(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v).map(CacheSize::Bounded).map_err(|_| {
                    E::custom(format!("cache size must be >= 0 (or `unbounded`), not {v}"))
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse().map_err(|message: String| E::custom(message))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(CacheSize::Unbounded)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(CacheSize::Unbounded)
            }
        }
        deserializer.deserialize_any(CacheSizeVisitor)
    }
}

impl std::str::FromStr for CacheSize {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "none" | "None" | "null" | "unbounded" => Ok(CacheSize::Unbounded),
            other => other.parse::<u64>().map(CacheSize::Bounded).map_err(|_| {
                format!("cache size must be an integer >= 0 or `unbounded`, not `{other}`")
            }),
        }
    }
}
