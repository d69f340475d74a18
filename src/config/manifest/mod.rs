//! The manifest, `cachescan.yaml`: finding it, reading it and validating it.
//!
//! Three layers, each its own type: [`raw::RawManifest`] mirrors the YAML with spans kept;
//! [`validate`] turns it into a [`Manifest`] whose values are known good (a target has a
//! module or a path, sizes are >= 0, thresholds lie in [0, 1], hazard codes exist), or into
//! a list of diagnostics that point at the offending key or value; the effective settings
//! (command line over environment over manifest over defaults) are built by
//! [`crate::config::settings`]. This module does not look at Python files.

pub(crate) mod raw;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use miette::SourceSpan;
use serde::{Deserialize, Serialize};

use crate::python::cache_size::CacheSize;
use crate::python::hazard::HazardCode;
use crate::ui::diagnostic::{SourceDiagnostic, SourceFile};

/// The file name looked for when no `--manifest` is given.
pub const MANIFEST_FILE_NAME: &str = "cachescan.yaml";

/// A validated manifest.
#[derive(Debug, Clone)]
pub(crate) struct Manifest {
    /// The manifest file, absolute.
    pub path: PathBuf,
    /// The YAML text, for diagnostics that point into it.
    pub source: SourceFile,
    /// The project root, absolute.
    pub root: PathBuf,
    /// `project.root` as written (default `.`), for reports.
    pub root_setting: String,
    pub source_roots: Vec<String>,
    pub test_command: Vec<String>,
    pub timeout: Option<f64>,
    pub env: BTreeMap<String, String>,
    pub defaults: Defaults,
    pub thresholds: Thresholds,
    pub targets: Vec<Target>,
}

/// Cache settings shared by all targets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Defaults {
    pub cache_size: CacheSize,
    pub typed: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Self { cache_size: CacheSize::Bounded(128), typed: false }
    }
}

/// What `apply` needs to call a function worth caching.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Thresholds {
    pub min_hit_rate: f64,
    pub min_calls: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { min_hit_rate: 0.5, min_calls: 10 }
    }
}

/// One entry of `targets`, validated.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Position in the manifest's `targets` list (0-based), as reports name it.
    pub index: usize,
    pub location: TargetLocation,
    /// Span of the `module:`/`path:` value in the YAML.
    pub location_span: SourceSpan,
    pub functions: Vec<Pattern>,
    pub exclude: Vec<Pattern>,
    pub cache_size: Option<CacheSize>,
    pub typed: Option<bool>,
    pub allow_hazards: Vec<HazardCode>,
}

/// Where a target's functions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetLocation {
    /// A dotted module name, looked up in the source roots.
    Module(String),
    /// A file path relative to the project root.
    Path(String),
    /// A glob over the dotted names of the modules under the source roots (`pkg.**`).
    ModuleGlob(String),
    /// A glob over file paths relative to the project root (`src/**/*.py`).
    PathGlob(String),
}

impl TargetLocation {
    /// What the manifest wrote.
    pub(crate) fn text(&self) -> &str {
        match self {
            TargetLocation::Module(text)
            | TargetLocation::Path(text)
            | TargetLocation::ModuleGlob(text)
            | TargetLocation::PathGlob(text) => text,
        }
    }
}

/// A glob over qualified names, with the span it was written at.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub text: String,
    pub span: SourceSpan,
}

impl Manifest {
    /// Read and validate the manifest at `path`. Errors are diagnostics pointing into it;
    /// a file that cannot be read at all is one diagnostic without a snippet.
    pub(crate) fn load(path: &Path) -> Result<Manifest, Vec<SourceDiagnostic>> {
        let display_path = path.display().to_string();
        let text = crate::safety::fsio::read_to_string(path).map_err(|error| {
            vec![SourceDiagnostic::error("cachescan::manifest::unreadable", error.to_string())]
        })?;
        let manifest_dir = path
            .parent()
            .map(|dir| if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
            .unwrap_or(Path::new("."));
        let manifest_dir = std::path::absolute(manifest_dir).map_err(|error| {
            vec![SourceDiagnostic::error(
                "cachescan::manifest::unreadable",
                format!("cannot resolve the directory of {display_path}: {error}"),
            )]
        })?;
        let absolute = manifest_dir.join(path.file_name().unwrap_or_default());
        validate::validate(SourceFile::new(display_path, text), &absolute, &manifest_dir)
    }

    /// Validate manifest text that is not (yet) a file: `discover`'s built-in manifest
    /// and the draft of `discover --write`, as if read from `path` (an absolute path),
    /// with diagnostics naming `display_path`.
    pub(crate) fn from_text(
        display_path: String,
        path: &Path,
        text: String,
    ) -> Result<Manifest, Vec<SourceDiagnostic>> {
        let manifest_dir = path.parent().unwrap_or(Path::new("/"));
        validate::validate(SourceFile::new(display_path, text), path, manifest_dir)
    }

    /// The manifest's path relative to the project root (or absolute when outside it).
    pub(crate) fn relative_path(&self) -> String {
        crate::ui::text::relative_display(&self.path, &self.root)
    }
}

/// Find `cachescan.yaml` in `start` or the nearest parent directory, like cargo finds
/// `Cargo.toml`.
pub(crate) fn discover(start: &Path) -> Option<PathBuf> {
    start.ancestors().map(|dir| dir.join(MANIFEST_FILE_NAME)).find(|candidate| candidate.is_file())
}
