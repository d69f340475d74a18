//! Hazards: static reasons why putting `functools.lru_cache` on a function may be wrong.
//!
//! This module is the code table: each hazard has a stable kebab-case [`HazardCode`] (part of
//! the JSON interface and of the manifest's `allow_hazards`), a severity and a one-line
//! summary; a found [`Hazard`] adds a message, a help line and a span in the Python file.
//! `error` hazards make the plan skip the function unless the manifest allows the code;
//! `warning` hazards are shown and the function is still tried, because the test suite is
//! the judge. Finding them in a function's AST is [`analysis`]'s job.

pub(crate) mod analysis;
pub(crate) mod names;

use ruff_text_size::TextRange;
use serde::Serialize;

/// How bad a hazard is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HazardSeverity {
    /// The function is skipped unless `allow_hazards` lists the code.
    Error,
    /// Shown; the function is still tried.
    Warning,
}

macro_rules! hazard_codes {
    ($($variant:ident = $code:literal, $severity:ident, $summary:literal;)*) => {
        /// The stable codes of all hazards.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum HazardCode { $($variant),* }

        impl HazardCode {
            pub const ALL: &'static [HazardCode] = &[$(HazardCode::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(HazardCode::$variant => $code),* }
            }

            pub fn severity(self) -> HazardSeverity {
                match self { $(HazardCode::$variant => HazardSeverity::$severity),* }
            }

            /// One line for the README table and `--help`.
            pub fn summary(self) -> &'static str {
                match self { $(HazardCode::$variant => $summary),* }
            }
        }

        impl std::str::FromStr for HazardCode {
            type Err = ();
            fn from_str(text: &str) -> Result<Self, ()> {
                match text { $($code => Ok(HazardCode::$variant),)* _ => Err(()) }
            }
        }
    };
}

hazard_codes! {
    AsyncFunction = "async-function", Error, "`async def`: the cache stores a coroutine, which can be awaited once";
    GeneratorFunction = "generator-function", Error, "`yield` in the body: the cached generator is exhausted after first use";
    DunderMethod = "dunder-method", Error, "`__init__`, `__eq__`, `__hash__`, ...: caching these breaks the object model";
    AlreadyCached = "already-cached", Error, "already decorated with `lru_cache`, `cache` or `cached_property`";
    PropertySetter = "property-setter", Error, "a `@x.setter`/`@x.deleter`: it exists for its side effect";
    MethodSelfLeak = "method-self-leak", Warning, "instance method: the cache holds `self` alive and keys on it";
    ReturnsMutable = "returns-mutable", Warning, "returns a list, dict or set: every caller shares one object";
    UnhashableParameter = "unhashable-parameter", Warning, "a parameter annotated or defaulted as list/dict/set: calls raise TypeError";
    ImpureCall = "impure-call", Warning, "calls `time.*`, `random.*`, `datetime.now`, `os.environ`, `open`, `input`, `print`, ...";
    GlobalState = "global-state", Warning, "`global`/`nonlocal`, or reads module names that are reassigned";
    DecoratorOrder = "decorator-order", Warning, "has other decorators: the cache goes innermost, under them";
}

impl Serialize for HazardCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for HazardCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|()| serde::de::Error::custom(format!("unknown hazard code `{text}`")))
    }
}

impl std::fmt::Display for HazardCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One hazard found in one function.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hazard {
    pub code: HazardCode,
    pub message: String,
    pub help: String,
    /// Byte range in the file's text (after any BOM).
    pub range: TextRange,
}
