//! The stack-distance pass of `discover` and `apply` over one long key trace: 10 million
//! calls written as the probe writes them, read back into every cache size's hit rate.
//!
//!     cargo bench --bench stack_distance
//!
//! Prints, for a trace over 1,000 and one over 100,000 distinct keys (a skewed choice of
//! keys, as real calls are): the best of 3 wall times of the pass, the same for a baseline
//! that reads the same file and only remembers each key's last use (the least any exact
//! pass must do), their ratio, and the bytes the pass's tables held at the end. Goals
//! (issue 11): the pass under 2 s for 10 million calls; memory that follows the distinct
//! keys, not the calls.

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::time::Instant;

const CALLS: usize = 10_000_000;
const CHUNK: usize = 1 << 16;
const RUNS: usize = 3;

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A trace file of `CALLS` calls over `keys` keys: key numbers in order of first use, as
/// the probe numbers them, with a skew toward a hot few (the square of a uniform draw).
fn write_trace(path: &Path, keys: u64) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut state = 0x9E37_79B9_7F4A_7C15 ^ keys;
    let mut numbers: HashMap<u64, u32> = HashMap::new();
    let mut ids = Vec::with_capacity(CHUNK);
    let mut written = 0;
    while written < CALLS {
        ids.clear();
        while ids.len() < CHUNK && written + ids.len() < CALLS {
            let uniform = (xorshift(&mut state) % 1_000_000) as f64 / 1_000_000.0;
            let key = ((uniform * uniform) * keys as f64) as u64;
            let next = numbers.len() as u32;
            ids.push(*numbers.entry(key).or_insert(next));
        }
        file.write_all(&(ids.len() as u32).to_le_bytes())?;
        for id in &ids {
            file.write_all(&id.to_le_bytes())?;
        }
        for id in &ids {
            file.write_all(&(1_000 + u64::from(*id % 97)).to_le_bytes())?;
        }
        written += ids.len();
    }
    file.flush()
}

/// The baseline: read the same file and keep each key's last use, nothing more.
fn last_use_only(path: &Path) -> std::io::Result<usize> {
    let mut reader = BufReader::new(std::fs::File::open(path)?);
    let mut last: HashMap<u32, usize> = HashMap::new();
    let mut position = 0;
    let mut count = [0u8; 4];
    while reader.read(&mut count[..1])? == 1 {
        reader.read_exact(&mut count[1..])?;
        let count = u32::from_le_bytes(count) as usize;
        let mut ids = vec![0u8; count * 4];
        let mut times = vec![0u8; count * 8];
        reader.read_exact(&mut ids)?;
        reader.read_exact(&mut times)?;
        for id in ids.chunks_exact(4) {
            last.insert(u32::from_le_bytes([id[0], id[1], id[2], id[3]]), position);
            position += 1;
        }
    }
    Ok(last.len())
}

fn best_of<T>(mut run: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let value = run();
        best = best.min(start.elapsed().as_secs_f64());
        last = Some(value);
    }
    (best, last.expect("at least one run"))
}

fn main() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    println!("stack-distance pass over {CALLS} calls (best of {RUNS}):");
    println!(
        "{:>8}  {:>10}  {:>10}  {:>6}  {:>12}  goal",
        "keys", "pass", "baseline", "ratio", "memory"
    );
    let mut worst = 0.0f64;
    for keys in [1_000u64, 100_000] {
        let path = directory.path().join(format!("trace-{keys}.bin"));
        write_trace(&path, keys).expect("write the trace");
        let (baseline, _) = best_of(|| last_use_only(&path).expect("read the trace"));
        let (pass, result) = best_of(|| cachescan::bench::trace_profile(&path));
        let (calls, distinct, memory) = result.expect("the pass reads the trace");
        assert_eq!(calls as usize, CALLS);
        worst = worst.max(pass);
        println!(
            "{distinct:>8}  {:>8.3} s  {:>8.3} s  {:>6.2}  {:>9} KiB  pass < 2 s",
            pass,
            baseline,
            pass / baseline,
            memory / 1024
        );
    }
    println!("{}: slowest pass {worst:.3} s", if worst < 2.0 { "goal met" } else { "GOAL MISSED" });
}
