//! Rendering `discover`. Here: the JSON report (`version: 1`, an interface: it grows only
//! by adding fields) and how it is built from the ranking; `text`: the human table (the
//! candidates ranked, the others apart with the reason) and Markdown; `draft`: the
//! manifest `--write` drafts from the top candidates.

mod draft;
mod text;

pub(crate) use draft::draft_manifest;
pub(crate) use text::{human, markdown};

use serde::Serialize;

use crate::outcome::baseline::Baseline;
use crate::plan::Plan;
use crate::python::cache_size::CacheSize;
use crate::report::apply::BaselineSummary;
use crate::report::plan::{HazardEntry, hazard_entries};
use crate::report::table::round;
use crate::verdict::curve::CurvePoint;
use crate::verdict::discover::Discovery;

#[derive(Debug, Serialize)]
pub(crate) struct DiscoverReport {
    pub version: u32,
    /// The project root.
    pub root: String,
    pub run: RunSummary,
    /// Every planned function, by `predicted_saved_s`, highest first (unobserved last).
    pub functions: Vec<FunctionEntry>,
}

/// The one run of the unmodified suite.
#[derive(Debug, Serialize)]
pub(crate) struct RunSummary {
    #[serde(flatten)]
    pub baseline: BaselineSummary,
    /// Functions whose module the tests imported and whose calls the probe observed.
    pub observed_functions: usize,
    /// Whether would-be hits were compared with fresh calls (`--no-verify-hits`: false).
    pub hits_checked: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct FunctionEntry {
    pub id: String,
    pub path: String,
    pub line: usize,
    /// Calls over the test session; null when the probe saw none of its calls (not
    /// imported, or not observed).
    pub calls: Option<u64>,
    /// Distinct argument keys, as `lru_cache` builds them (summed over test processes).
    pub distinct_keys: Option<u64>,
    /// Calls whose arguments could not be hashed (`lru_cache` would raise `TypeError`).
    pub unhashable_calls: Option<u64>,
    /// Seconds inside the function, over every call (inclusive).
    pub time_s: Option<f64>,
    /// Hit rate and time saved at every power-of-two `maxsize` up to the longest reuse
    /// distance, then unbounded (`maxsize` null).
    pub curve: Vec<CurvePoint>,
    /// The `maxsize` it is configured with (the target's `cache_size`, else the default).
    pub cache_size: CacheSize,
    /// The hit rate at `cache_size`.
    pub predicted_hit_rate: Option<f64>,
    /// The smallest power of two reaching 95% of an unbounded cache's hits (an integer),
    /// or null for unbounded (only when that size holds all of few keys); also null when
    /// no call repeated its arguments (then `recommended_hit_rate` is null).
    pub recommended_cache_size: Option<CacheSize>,
    pub recommended_hit_rate: Option<f64>,
    /// Seconds the hits at `cache_size` would have saved (their calls' inclusive time).
    pub predicted_saved_s: Option<f64>,
    /// The same at the recommended size.
    pub recommended_saved_s: Option<f64>,
    pub hazards: Vec<HazardEntry>,
    pub candidate: bool,
    /// Why it is not a candidate; null for a candidate.
    pub reason: Option<String>,
}

impl DiscoverReport {
    pub(crate) fn new(
        plan: &Plan,
        baseline: &Baseline,
        found: &[Discovery],
        root: &std::path::Path,
        hits_checked: bool,
    ) -> Self {
        let observed_functions =
            baseline.observation.targets.values().filter(|stats| stats.is_observed()).count();
        Self {
            version: 1,
            root: root.display().to_string(),
            run: RunSummary {
                baseline: BaselineSummary::new(baseline),
                observed_functions,
                hits_checked,
            },
            functions: found.iter().map(|discovery| FunctionEntry::new(plan, discovery)).collect(),
        }
    }

    pub(crate) fn candidates(&self) -> impl Iterator<Item = &FunctionEntry> {
        self.functions.iter().filter(|function| function.candidate)
    }
}

impl FunctionEntry {
    fn new(plan: &Plan, discovery: &Discovery) -> Self {
        let function = plan.function(discovery.function);
        let usage = discovery.usage.as_ref();
        let profile = usage.map(|usage| &usage.profile);
        let sizing = usage.map(|usage| usage.sizing);
        let recommended = sizing.filter(|sizing| sizing.recommended.is_some());
        Self {
            id: function.id.clone(),
            path: plan.file_of(function).relative.clone(),
            line: function.line,
            calls: profile.map(|profile| profile.calls),
            distinct_keys: profile.map(|profile| profile.keys),
            unhashable_calls: profile.map(|profile| profile.unhashable),
            time_s: profile.map(|profile| round(profile.time_ns as f64 / 1e9, 6)),
            curve: usage.map_or_else(Vec::new, |usage| {
                usage
                    .curve
                    .iter()
                    .map(|point| CurvePoint {
                        maxsize: point.maxsize,
                        hit_rate: round(point.hit_rate, 4),
                        saved_s: round(point.saved_s, 6),
                    })
                    .collect()
            }),
            cache_size: function.cache_size,
            predicted_hit_rate: sizing.map(|sizing| round(sizing.hit_rate, 4)),
            recommended_cache_size: sizing.and_then(|sizing| sizing.recommended),
            recommended_hit_rate: recommended.map(|sizing| round(sizing.recommended_hit_rate, 4)),
            predicted_saved_s: sizing.map(|sizing| round(sizing.saved_s, 6)),
            recommended_saved_s: recommended.map(|sizing| round(sizing.recommended_saved_s, 6)),
            hazards: hazard_entries(plan, function),
            candidate: discovery.is_candidate(),
            reason: discovery.reason.clone(),
        }
    }
}
