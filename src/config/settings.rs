//! Effective settings: built-in defaults < manifest < `CACHESCAN_*` environment < command line.
//!
//! figment does the layering; each layer is its own serializable type, and the result is
//! checked again, since the environment can carry any value. An error names the layer the
//! bad value came from (`environment variable CACHESCAN_MIN_HIT_RATE`). Per-target keys in
//! the manifest stay more specific than any layer here: `--cache-size 64` changes the default
//! size, not a target that sets its own `cache_size`.

use figment::Figment;
use figment::providers::{Env, Serialized};
use serde::{Deserialize, Serialize};

use crate::config::manifest::Manifest;
use crate::python::cache_size::CacheSize;

/// Environment variables read, without the `CACHESCAN_` prefix.
const ENV_KEYS: &[&str] = &["cache_size", "typed", "min_hit_rate", "min_calls", "timeout"];

/// The settings every command works with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Settings {
    #[serde(with = "cache_size_as_word")]
    pub cache_size: CacheSize,
    pub typed: bool,
    pub min_hit_rate: f64,
    pub min_calls: u64,
    /// Seconds one test run may take; `None` derives it from the baseline.
    pub timeout: Option<f64>,
}

/// Values given on the command line; `None` leaves the lower layers alone.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct CommandLineSettings {
    #[serde(skip_serializing_if = "Option::is_none", with = "optional_cache_size_as_word")]
    pub cache_size: Option<CacheSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
}

/// A settings value that is out of range, with where it came from.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum SettingsError {
    #[error("invalid setting: {0}")]
    #[diagnostic(
        code(cachescan::settings::invalid),
        help(
            "environment variables: CACHESCAN_CACHE_SIZE, CACHESCAN_TYPED, CACHESCAN_MIN_HIT_RATE, CACHESCAN_MIN_CALLS, CACHESCAN_TIMEOUT"
        )
    )]
    Invalid(String),
}

impl Settings {
    pub(crate) fn thresholds(&self) -> crate::config::manifest::Thresholds {
        crate::config::manifest::Thresholds {
            min_hit_rate: self.min_hit_rate,
            min_calls: self.min_calls,
        }
    }

    pub(crate) fn resolve(
        manifest: &Manifest,
        command_line: CommandLineSettings,
    ) -> Result<Settings, SettingsError> {
        Self::resolve_with(manifest, command_line, Env::prefixed("CACHESCAN_").only(ENV_KEYS))
    }

    fn resolve_with(
        manifest: &Manifest,
        command_line: CommandLineSettings,
        environment: Env,
    ) -> Result<Settings, SettingsError> {
        let from_manifest = Settings {
            cache_size: manifest.defaults.cache_size,
            typed: manifest.defaults.typed,
            min_hit_rate: manifest.thresholds.min_hit_rate,
            min_calls: manifest.thresholds.min_calls,
            timeout: manifest.timeout,
        };
        let figment = Figment::from(Serialized::defaults(from_manifest))
            .merge(environment)
            .merge(Serialized::defaults(command_line));
        let settings: Settings = figment.extract().map_err(|error| {
            let key = error.path.last().cloned().unwrap_or_default();
            let from_environment = error.metadata.as_ref().is_some_and(is_environment);
            SettingsError::Invalid(if from_environment {
                format!("environment variable {}: {}", environment_variable(&key), error.kind)
            } else {
                error.to_string()
            })
        })?;
        let origin = |key: &str| match figment.find_metadata(key) {
            Some(metadata) if is_environment(metadata) => {
                format!("environment variable {}", environment_variable(key))
            }
            Some(metadata) => metadata.name.to_string(),
            None => "settings".to_owned(),
        };
        if !(0.0..=1.0).contains(&settings.min_hit_rate) {
            return Err(SettingsError::Invalid(format!(
                "min_hit_rate {} (from {}) must lie between 0 and 1",
                settings.min_hit_rate,
                origin("min_hit_rate")
            )));
        }
        if let Some(timeout) =
            settings.timeout.filter(|timeout| !(*timeout > 0.0 && timeout.is_finite()))
        {
            return Err(SettingsError::Invalid(format!(
                "timeout {timeout} (from {}) must be a positive number of seconds",
                origin("timeout")
            )));
        }
        Ok(settings)
    }
}

fn is_environment(metadata: &figment::Metadata) -> bool {
    metadata.name.contains("environment")
}

/// `min_hit_rate` -> `CACHESCAN_MIN_HIT_RATE`.
fn environment_variable(key: &str) -> String {
    format!("CACHESCAN_{}", key.to_uppercase())
}

/// figment drops `None` values, so an unbounded size travels through it as a word.
mod cache_size_as_word {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::python::cache_size::CacheSize;

    pub(super) fn serialize<S: Serializer>(
        size: &CacheSize,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match size {
            CacheSize::Bounded(size) => serializer.serialize_u64(*size),
            CacheSize::Unbounded => serializer.serialize_str("unbounded"),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<CacheSize, D::Error> {
        CacheSize::deserialize(deserializer)
    }
}

mod optional_cache_size_as_word {
    use serde::Serializer;

    use crate::python::cache_size::CacheSize;

    pub(super) fn serialize<S: Serializer>(
        size: &Option<CacheSize>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match size {
            Some(size) => super::cache_size_as_word::serialize(size, serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cachescan.yaml");
        std::fs::write(&path, "version: 1\ndefaults:\n  cache_size: null\nthresholds:\n  min_calls: 3\ntargets:\n  - module: m\n    functions: ['*']\n")
            .expect("write");
        Manifest::load(&path).expect("valid manifest")
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment's Jail API")]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            let manifest = manifest();
            let settings =
                Settings::resolve(&manifest, CommandLineSettings::default()).expect("settings");
            assert_eq!(settings.cache_size, CacheSize::Unbounded, "manifest null means unbounded");
            assert_eq!(settings.min_calls, 3);
            assert_eq!(settings.min_hit_rate, 0.5, "built-in default");
            jail.set_env("CACHESCAN_CACHE_SIZE", "64");
            jail.set_env("CACHESCAN_MIN_CALLS", "7");
            let settings =
                Settings::resolve(&manifest, CommandLineSettings::default()).expect("settings");
            assert_eq!(settings.cache_size, CacheSize::Bounded(64), "environment over manifest");
            assert_eq!(settings.min_calls, 7);
            let command_line =
                CommandLineSettings { cache_size: Some(CacheSize::Unbounded), timeout: None };
            let settings = Settings::resolve(&manifest, command_line).expect("settings");
            assert_eq!(settings.cache_size, CacheSize::Unbounded, "command line over environment");
            Ok(())
        });
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment's Jail API")]
    fn bad_environment_values_name_their_origin() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CACHESCAN_MIN_HIT_RATE", "1.5");
            let error = Settings::resolve(&manifest(), CommandLineSettings::default())
                .expect_err("out of range");
            assert!(
                error.to_string().contains("environment variable CACHESCAN_MIN_HIT_RATE"),
                "{error}"
            );
            Ok(())
        });
    }
}
