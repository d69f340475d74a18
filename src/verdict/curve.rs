//! Cache sizes: from a function's [`ReuseProfile`] (its calls' LRU stack distances) to the
//! hit rate and the time saved of every `maxsize`, and the size worth recommending. Exact
//! for a function whose calls do not nest inside each other: a recursive function's inner
//! calls are all counted, though a hit on the outer call would skip them.

use serde::{Deserialize, Serialize};

use crate::probe::ReuseProfile;
use crate::python::cache_size::CacheSize;

/// The share of the unbounded hit rate the recommended size reaches.
pub(crate) const RECOMMENDED_SHARE: f64 = 0.95;

/// One point of the curve (part of `discover`'s JSON interface).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct CurvePoint {
    /// `None`: unbounded.
    pub maxsize: Option<u64>,
    pub hit_rate: f64,
    pub saved_s: f64,
}

/// Hits a cache of `size` would have had, and the seconds they would have saved.
pub(crate) fn hits(profile: &ReuseProfile, size: CacheSize) -> (u64, f64) {
    let (hits, time_ns) = match size {
        CacheSize::Bounded(0) => (0, 0),
        CacheSize::Bounded(size) => profile.hits_at(Some(size)),
        CacheSize::Unbounded => profile.hits_at(None),
    };
    (hits, time_ns as f64 / 1e9)
}

/// The curve at every power of two up to the longest reuse distance, then unbounded.
pub(crate) fn curve(profile: &ReuseProfile) -> Vec<CurvePoint> {
    let longest = profile.distances.last().map_or(1, |reuse| reuse.distance);
    let mut points = Vec::new();
    let mut size = 1u64;
    loop {
        points.push(point(profile, CacheSize::Bounded(size)));
        if size >= longest {
            break;
        }
        size = size.saturating_mul(2);
    }
    points.push(point(profile, CacheSize::Unbounded));
    points
}

fn point(profile: &ReuseProfile, size: CacheSize) -> CurvePoint {
    let maxsize = match size {
        CacheSize::Bounded(size) => Some(size),
        CacheSize::Unbounded => None,
    };
    let (hits, saved_s) = hits(profile, size);
    let hit_rate = if profile.calls == 0 { 0.0 } else { hits as f64 / profile.calls as f64 };
    CurvePoint { maxsize, hit_rate, saved_s }
}

/// Unbounded is recommended only when the smallest power of two that reaches the share
/// already holds every distinct key and there are at most this many: the cache needs them
/// all, and they are few.
pub(crate) const UNBOUNDED_KEYS: u64 = 8;

/// The `maxsize` worth recommending: the smallest power of two whose hits reach
/// [`RECOMMENDED_SHARE`] of an unbounded cache's, or unbounded when that size holds every
/// key anyway and the keys are few ([`UNBOUNDED_KEYS`]); `None` when no call repeats its
/// key (no size helps).
pub(crate) fn recommended(profile: &ReuseProfile) -> Option<CacheSize> {
    let (unbounded, _) = profile.hits_at(None);
    if unbounded == 0 {
        return None;
    }
    let wanted = (unbounded as f64 * RECOMMENDED_SHARE).ceil() as u64;
    let mut size = 1u64;
    while profile.hits_at(Some(size)).0 < wanted {
        size = size.saturating_mul(2);
    }
    let holds_every_key = size > 1 && size >= profile.keys;
    Some(if holds_every_key && profile.keys <= UNBOUNDED_KEYS {
        CacheSize::Unbounded
    } else {
        CacheSize::Bounded(size)
    })
}

/// What a function's reuse profile predicts for its cache: the hit rate and time saved at
/// the size it is configured with, and the size worth recommending with its own numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sizing {
    pub configured: CacheSize,
    pub hit_rate: f64,
    pub saved_s: f64,
    pub recommended: Option<CacheSize>,
    /// At the recommended size (0 without one).
    pub recommended_hit_rate: f64,
    pub recommended_saved_s: f64,
}

impl Sizing {
    pub(crate) fn new(profile: &ReuseProfile, configured: CacheSize) -> Self {
        let at = |size: CacheSize| {
            let point = point(profile, size);
            (point.hit_rate, point.saved_s)
        };
        let (hit_rate, saved_s) = at(configured);
        let recommended = recommended(profile);
        let (recommended_hit_rate, recommended_saved_s) = recommended.map_or((0.0, 0.0), at);
        Self {
            configured,
            hit_rate,
            saved_s,
            recommended,
            recommended_hit_rate,
            recommended_saved_s,
        }
    }

    /// "maxsize=128 gives 0.61, 512 would give 0.78", or `None` when the configured size
    /// already is the recommended one (or nothing repeats).
    pub(crate) fn advice(&self) -> Option<String> {
        let recommended = self.recommended?;
        if recommended == self.configured
            || (self.recommended_hit_rate - self.hit_rate).abs() < 0.005
        {
            return None;
        }
        let better = match recommended {
            CacheSize::Bounded(size) => size.to_string(),
            CacheSize::Unbounded => "maxsize=None".to_owned(),
        };
        Some(format!(
            "maxsize={} gives {:.2}, {better} would give {:.2}",
            self.configured.python_literal(),
            self.hit_rate,
            self.recommended_hit_rate
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::trace::StackDistances;

    fn profile(trace: &[u32]) -> ReuseProfile {
        let mut distances = StackDistances::new();
        for &key in trace {
            distances.push(key, 1_000_000);
        }
        distances.profile(2)
    }

    #[test]
    fn the_curve_rises_to_the_unbounded_hit_rate_and_saves_the_hits_time() {
        // Keys 0..4 cycled 4 times: every reuse is at distance 4.
        let trace: Vec<u32> = (0..16).map(|i| i % 4).collect();
        let profile = profile(&trace);
        let curve = curve(&profile);
        let sizes: Vec<Option<u64>> = curve.iter().map(|point| point.maxsize).collect();
        assert_eq!(sizes, [Some(1), Some(2), Some(4), None]);
        assert_eq!(curve[1].hit_rate, 0.0, "an LRU of 2 never holds the key it needs");
        assert_eq!(curve[2].hit_rate, 12.0 / 18.0, "over every call, the 2 unhashable too");
        assert!((curve[2].saved_s - 0.012).abs() < 1e-12);
        assert_eq!(curve[3], CurvePoint { maxsize: None, ..curve[2] });
        assert_eq!(recommended(&profile), Some(CacheSize::Unbounded), "4 keys, all needed");
        assert_eq!(Sizing::new(&profile, CacheSize::Bounded(0)).hit_rate, 0.0);
    }

    #[test]
    fn a_function_whose_key_calls_it_again_is_predicted_no_hit_at_any_size() {
        let trace: Vec<u32> = (0..16).map(|i| i % 4).collect();
        let profile = ReuseProfile { reentrant: 1, ..profile(&trace) };
        assert!(curve(&profile).iter().all(|point| point.hit_rate == 0.0 && point.saved_s == 0.0));
        assert_eq!(recommended(&profile), None, "no size helps a cache that recurses");
        let sizing = Sizing::new(&profile, CacheSize::Bounded(128));
        assert_eq!((sizing.hit_rate, sizing.saved_s, sizing.advice()), (0.0, 0.0, None));
    }

    #[test]
    fn the_recommended_size_is_the_smallest_reaching_the_share() {
        // A hot key reused at distance 1 (19 hits), a cold tail reused far away (1 hit).
        let mut trace = vec![0u32; 20];
        trace.extend(1..=40);
        trace.push(1);
        let profile = profile(&trace);
        assert_eq!(
            recommended(&profile),
            Some(CacheSize::Bounded(1)),
            "19 of 20 hits need one entry"
        );
        assert_eq!(recommended(&self::profile(&[0, 1, 2])), None, "nothing repeats");
    }

    #[test]
    fn many_keys_get_a_bound_even_when_every_one_is_needed() {
        // 100 keys cycled twice: only a cache holding all 100 hits, but 100 is not few.
        let trace: Vec<u32> = (0..200).map(|i| i % 100).collect();
        assert_eq!(recommended(&profile(&trace)), Some(CacheSize::Bounded(128)));
    }

    #[test]
    fn the_sizing_advises_a_bigger_cache_only_when_it_helps() {
        // Reuse at distance 4 only: maxsize=2 gets nothing, 4 gets every reuse.
        let trace: Vec<u32> = (0..16).map(|i| i % 4).collect();
        let profile = profile(&trace);
        let small = Sizing::new(&profile, CacheSize::Bounded(2));
        assert_eq!(small.hit_rate, 0.0);
        assert_eq!(
            small.advice().as_deref(),
            Some("maxsize=2 gives 0.00, maxsize=None would give 0.67")
        );
        let big = Sizing::new(&profile, CacheSize::Bounded(128));
        assert_eq!(big.advice(), None, "128 already gets every hit the unbounded cache gets");
    }
}
