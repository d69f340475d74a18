//! Result data, apart from the code that produces it (as cargo-mutants keeps `outcome.rs`
//! apart from `lab.rs`): one test run's record, the baseline, how a run compares with it,
//! and what a whole trial found. The runner fills these in; analysis (`verdict`) and
//! reports read them. Pure data with small queries; no I/O.

pub(crate) mod baseline;
pub(crate) mod judgement;
pub(crate) mod record;
pub(crate) mod trial;
