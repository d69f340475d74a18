//! Key traces: reading the probe's binary trace of one target (`_trace.py`) and reducing it,
//! in one pass, to its [`ReuseProfile`]: how far back each call's key was last used.
//!
//! The LRU stack distance of a call (Mattson et al., 1970) is the number of distinct keys
//! used since its key was last used, plus one; a first use has none. An `lru_cache` of
//! `maxsize` s answers exactly the calls whose distance is at most s, so the histogram of
//! distances gives the hit rate of every size at once. The pass keeps one marker per key
//! at its last use in a Fenwick tree over use positions; counting the markers after a
//! key's last use gives its distance. Positions are renumbered whenever the tree fills
//! (four times the keys), so memory stays proportional to the distinct keys, not the calls,
//! and the cost is O(log keys) per call.

use std::io::{BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// What one target's calls would do to a cache of any size, from its key trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReuseProfile {
    /// Every call, with those whose key could not be hashed and those whose key the probe
    /// did not build (after the first reentrant call).
    pub calls: u64,
    /// Calls whose key could not be hashed (`lru_cache` raises `TypeError` on them).
    pub unhashable: u64,
    /// Distinct keys (summed over the processes, each of which has its own cache).
    pub keys: u64,
    /// Inclusive time of the traced calls, in nanoseconds.
    pub time_ns: u64,
    /// Per stack distance (ascending): the calls at that distance and their time.
    pub distances: Vec<Reuse>,
    /// Calls made while hashing its own key: `lru_cache` would recurse on every call, so no
    /// size has a hit ([`ReuseProfile::hits_at`]), and the probe stops keying its calls
    /// after the first such one.
    #[serde(default)]
    pub reentrant: u64,
}

/// The calls at one stack distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Reuse {
    pub distance: u64,
    pub calls: u64,
    pub time_ns: u64,
}

impl ReuseProfile {
    /// One profile of two processes' calls (each process has its own cache, so their hits
    /// add up).
    pub(crate) fn merge(&mut self, other: &ReuseProfile) {
        self.calls += other.calls;
        self.unhashable += other.unhashable;
        self.keys += other.keys;
        self.time_ns += other.time_ns;
        self.reentrant += other.reentrant;
        let mut by_distance: std::collections::BTreeMap<u64, (u64, u64)> = self
            .distances
            .iter()
            .map(|reuse| (reuse.distance, (reuse.calls, reuse.time_ns)))
            .collect();
        for reuse in &other.distances {
            let entry = by_distance.entry(reuse.distance).or_default();
            entry.0 += reuse.calls;
            entry.1 += reuse.time_ns;
        }
        self.distances = by_distance
            .into_iter()
            .map(|(distance, (calls, time_ns))| Reuse { distance, calls, time_ns })
            .collect();
    }

    /// Calls a cache of `maxsize` would answer (`None`: unbounded), and the time they took.
    pub(crate) fn hits_at(&self, maxsize: Option<u64>) -> (u64, u64) {
        if self.reentrant > 0 {
            return (0, 0); // cached, every call would recurse: none would hit
        }
        self.distances
            .iter()
            .take_while(|reuse| maxsize.is_none_or(|size| reuse.distance <= size))
            .fold((0, 0), |(calls, time), reuse| (calls + reuse.calls, time + reuse.time_ns))
    }
}

/// No use yet, in [`StackDistances::last`].
const UNUSED: u32 = u32::MAX;

/// The one-pass stack-distance computation, fed calls in order.
#[derive(Debug)]
pub(crate) struct StackDistances {
    /// Per key number: the slot of its last use, or [`UNUSED`].
    last: Vec<u32>,
    /// Fenwick tree over slots: 1 where some key was last used.
    tree: Vec<i32>,
    /// The slot the next use takes.
    next: usize,
    /// Keys used so far: the markers in the tree, all in slots before `next`.
    live: usize,
    /// Per distance (index distance - 1): the calls at it and their time.
    histogram: Vec<(u64, u64)>,
    traced: u64,
    time_ns: u64,
}

impl Default for StackDistances {
    fn default() -> Self {
        Self::new()
    }
}

impl StackDistances {
    pub(crate) fn new() -> Self {
        Self {
            last: Vec::new(),
            tree: vec![0; 1024],
            next: 0,
            live: 0,
            histogram: Vec::new(),
            traced: 0,
            time_ns: 0,
        }
    }

    /// One call: its key number and how long it took.
    pub(crate) fn push(&mut self, key: u32, time_ns: u64) {
        let key = key as usize;
        if key >= self.last.len() {
            self.last.resize(key + 1, UNUSED);
        }
        if self.next == self.tree.len() {
            self.compact();
        }
        self.traced += 1;
        self.time_ns += time_ns;
        let slot = self.next;
        match self.last[key] {
            UNUSED => self.live += 1,
            previous => {
                let previous = previous as usize;
                // Every marker lies before `slot`: those after `previous` are the keys used
                // since, and the distance counts the key itself too.
                let used_since = self.live - self.prefix(previous + 1);
                let distance = used_since + 1;
                if distance > self.histogram.len() {
                    self.histogram.resize(distance, (0, 0));
                }
                let entry = &mut self.histogram[distance - 1];
                entry.0 += 1;
                entry.1 += time_ns;
                self.add(previous, -1);
            }
        }
        self.add(slot, 1);
        self.last[key] = slot as u32;
        self.next += 1;
    }

    /// The profile of the calls pushed so far, with `unhashable` more calls that had no key.
    pub(crate) fn profile(&self, unhashable: u64) -> ReuseProfile {
        let distances: Vec<Reuse> = self
            .histogram
            .iter()
            .enumerate()
            .filter(|(_, (calls, _))| *calls > 0)
            .map(|(index, &(calls, time_ns))| Reuse { distance: index as u64 + 1, calls, time_ns })
            .collect();
        ReuseProfile {
            calls: self.traced + unhashable,
            unhashable,
            keys: self.live as u64,
            time_ns: self.time_ns,
            distances,
            reentrant: 0,
        }
    }

    /// Bytes its tables hold now (the per-key slots, the tree, the histogram): what grows
    /// with the distinct keys, never with the calls.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.last.capacity() * std::mem::size_of::<u32>()
            + self.tree.capacity() * std::mem::size_of::<i32>()
            + self.histogram.capacity() * std::mem::size_of::<(u64, u64)>()
    }

    /// Renumber the live slots 0.. in order of last use, in a tree four times their number
    /// (so the next renumbering is 3 x the keys calls away).
    fn compact(&mut self) {
        let mut used: Vec<(u32, usize)> = self
            .last
            .iter()
            .enumerate()
            .filter(|(_, slot)| **slot != UNUSED)
            .map(|(key, &slot)| (slot, key))
            .collect();
        used.sort_unstable();
        let size = (used.len() * 4).max(1024);
        self.tree = vec![0; size];
        for (new_slot, &(_, key)) in used.iter().enumerate() {
            self.last[key] = new_slot as u32;
            self.tree[new_slot] = 1;
        }
        // Build the Fenwick sums in place, in one pass.
        for index in 1..=size {
            let parent = index + (index & index.wrapping_neg());
            if parent <= size {
                self.tree[parent - 1] += self.tree[index - 1];
            }
        }
        self.next = used.len();
    }

    fn add(&mut self, slot: usize, delta: i32) {
        let mut index = slot + 1;
        while index <= self.tree.len() {
            self.tree[index - 1] += delta;
            index += index & index.wrapping_neg();
        }
    }

    /// Markers in slots `0..end`.
    fn prefix(&self, end: usize) -> usize {
        let mut sum = 0i64;
        let mut index = end;
        while index > 0 {
            sum += i64::from(self.tree[index - 1]);
            index -= index & index.wrapping_neg();
        }
        usize::try_from(sum).unwrap_or(0)
    }
}

/// The profile of one trace file, with `unhashable` calls that had no key (the probe file
/// counts them). Errors name the file.
pub(crate) fn read_profile(path: &Path, unhashable: u64) -> Result<ReuseProfile, String> {
    Ok(read_distances(path)?.profile(unhashable))
}

/// The stack distances of one trace file's calls.
pub(crate) fn read_distances(path: &Path) -> Result<StackDistances, String> {
    let file = std::fs::File::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut distances = StackDistances::new();
    let broken = |what: &str| format!("{}: {what}", path.display());
    loop {
        let mut count = [0u8; 4];
        match reader.read(&mut count[..1]) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => return Err(broken(&error.to_string())),
        }
        reader.read_exact(&mut count[1..]).map_err(|_| broken("a chunk's count is cut short"))?;
        let count = u32::from_le_bytes(count) as usize;
        let mut ids = vec![0u8; count * 4];
        let mut times = vec![0u8; count * 8];
        reader.read_exact(&mut ids).map_err(|_| broken("a chunk's keys are cut short"))?;
        reader.read_exact(&mut times).map_err(|_| broken("a chunk's times are cut short"))?;
        for (id, time) in ids.chunks_exact(4).zip(times.chunks_exact(8)) {
            let id = u32::from_le_bytes([id[0], id[1], id[2], id[3]]);
            let time = u64::from_le_bytes(time.try_into().unwrap_or([0; 8]));
            distances.push(id, time);
        }
    }
    Ok(distances)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so the random traces repeat.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// Hits of a real LRU cache of `size` over `trace`, by simulation.
    fn lru_hits(trace: &[u32], size: usize) -> u64 {
        let mut cache: Vec<u32> = Vec::new(); // most recent last
        let mut hits = 0;
        for &key in trace {
            if let Some(position) = cache.iter().position(|&cached| cached == key) {
                hits += 1;
                cache.remove(position);
            } else if cache.len() == size {
                cache.remove(0);
            }
            if size > 0 {
                cache.push(key);
            }
        }
        hits
    }

    fn profile_of(trace: &[u32]) -> ReuseProfile {
        let mut distances = StackDistances::new();
        for &key in trace {
            distances.push(key, 1);
        }
        distances.profile(0)
    }

    #[test]
    fn the_distances_give_every_sizes_hits_as_an_lru_simulation_does() {
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for (length, keys) in [(10, 3), (200, 17), (1500, 40), (400, 150), (300, 300)] {
            let trace: Vec<u32> =
                (0..length).map(|_| (xorshift(&mut state) % keys) as u32).collect();
            // Keys numbered in order of first use, as the probe numbers them.
            let mut numbers: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
            let trace: Vec<u32> = trace
                .iter()
                .map(|key| {
                    let next = numbers.len() as u32;
                    *numbers.entry(*key).or_insert(next)
                })
                .collect();
            let profile = profile_of(&trace);
            assert_eq!(profile.keys as usize, numbers.len());
            for size in 1..=numbers.len() {
                assert_eq!(
                    profile.hits_at(Some(size as u64)).0,
                    lru_hits(&trace, size),
                    "trace of {length} over {keys} keys, maxsize {size}"
                );
            }
            let unbounded = trace.len() as u64 - numbers.len() as u64;
            assert_eq!(profile.hits_at(None).0, unbounded);
        }
    }

    #[test]
    fn a_long_trace_over_few_keys_renumbers_and_stays_exact() {
        // Far more calls than the tree's slots: it is compacted many times.
        let trace: Vec<u32> = (0..100_000u32).map(|i| i % 5).collect();
        let profile = profile_of(&trace);
        assert_eq!(profile.distances, [Reuse { distance: 5, calls: 99_995, time_ns: 99_995 }]);
        assert_eq!(profile.hits_at(Some(4)).0, 0);
        assert_eq!(profile.hits_at(Some(5)).0, 99_995);
    }

    #[test]
    fn profiles_of_two_processes_add_up() {
        let mut one = profile_of(&[0, 1, 0, 0]);
        one.merge(&profile_of(&[0, 0, 1, 2, 1]));
        assert_eq!(one.calls, 9);
        assert_eq!(one.keys, 5);
        assert_eq!(
            one.distances,
            [
                Reuse { distance: 1, calls: 2, time_ns: 2 },
                Reuse { distance: 2, calls: 2, time_ns: 2 }
            ]
        );
    }

    #[test]
    fn a_trace_file_is_read_chunk_by_chunk() {
        let directory = tempfile::tempdir().expect("temp dir");
        let path = directory.path().join("trace-1-0.bin");
        let mut bytes = Vec::new();
        for chunk in [&[0u32, 1][..], &[0, 2, 1]] {
            bytes.extend((chunk.len() as u32).to_le_bytes());
            for id in chunk {
                bytes.extend(id.to_le_bytes());
            }
            for _ in chunk {
                bytes.extend(10u64.to_le_bytes());
            }
        }
        std::fs::write(&path, &bytes).expect("write");
        let profile = read_profile(&path, 3).expect("reads");
        assert_eq!((profile.calls, profile.unhashable, profile.keys), (8, 3, 3));
        assert_eq!(profile.hits_at(None), (2, 20));
        assert_eq!(profile.hits_at(Some(2)), (1, 10));
        std::fs::write(&path, &bytes[..bytes.len() - 3]).expect("write");
        let error = read_profile(&path, 0).expect_err("cut short");
        assert!(error.contains("cut short"), "{error}");
    }
}
