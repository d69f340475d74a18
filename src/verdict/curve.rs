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

/// The hit rate a cache of `size` would have had over every call; `None` without calls.
pub(crate) fn hit_rate(profile: &ReuseProfile, size: CacheSize) -> Option<f64> {
    (profile.calls > 0).then(|| hits(profile, size).0 as f64 / profile.calls as f64)
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

/// The smallest power of two whose hits reach [`RECOMMENDED_SHARE`] of an unbounded
/// cache's; `None` when no call repeats its key (no size helps).
pub(crate) fn recommended(profile: &ReuseProfile) -> Option<u64> {
    let (unbounded, _) = profile.hits_at(None);
    if unbounded == 0 {
        return None;
    }
    let wanted = (unbounded as f64 * RECOMMENDED_SHARE).ceil() as u64;
    let mut size = 1u64;
    while profile.hits_at(Some(size)).0 < wanted {
        size = size.saturating_mul(2);
    }
    Some(size)
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
        assert_eq!(recommended(&profile), Some(4));
        assert_eq!(hit_rate(&profile, CacheSize::Bounded(0)), Some(0.0));
    }

    #[test]
    fn the_recommended_size_is_the_smallest_reaching_the_share() {
        // A hot key reused at distance 1 (19 hits), a cold tail reused far away (1 hit).
        let mut trace = vec![0u32; 20];
        trace.extend(1..=40);
        trace.push(1);
        let profile = profile(&trace);
        assert_eq!(recommended(&profile), Some(1), "19 of 20 hits need one entry");
        assert_eq!(recommended(&self::profile(&[0, 1, 2])), None, "nothing repeats");
    }
}
