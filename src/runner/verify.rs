//! Verified hits: which functions' caches answer differently from a fresh call, found in
//! checked runs (the probe compares every hit with a fresh call, see `_verify.py`).
//!
//! 1. One checked screen: every function cached, the whole suite. A divergence belongs to
//!    its function by construction, so no halving is needed to find who diverged.
//! 2. A divergence whose cached value was computed while another cache answered inside it
//!    (`tainted`) may be that other cache's doing: the function is checked again alone,
//!    limited to its callers, and condemned only if it diverges there too.
//!
//! Checked runs judge no test: the extra calls can change what a test sees (a counter, a
//! write) or repair what the cache broke (a side effect run again). So their test
//! outcomes are never read; the functions that did not diverge go on to the culprit
//! search, whose runs have no checks. A divergent function is `unsafe` on its divergence
//! alone and leaves the search, which then has fewer culprits to find.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::error::RunnerError;
use super::events::Step;
use super::executor::Lab;
use super::search::each;
use crate::outcome::baseline::Baseline;
use crate::outcome::record::RunRecord;
use crate::outcome::trial::Verification;
use crate::plan::FunctionIndex;

/// The checked screen (unless it already ran, beside the baseline's parts), then each
/// tainted divergence confirmed alone. `ids` names the planned functions.
pub(crate) fn verify_hits<L: Lab>(
    lab: &mut L,
    ids: &[String],
    baseline: &Baseline,
    functions: &[FunctionIndex],
    screen: Option<RunRecord>,
) -> Result<Verification, RunnerError> {
    let screen = match screen {
        Some(screen) => screen,
        None => {
            lab.announce(Step::Verifying { targets: functions.len() });
            lab.run_checked(functions, None, "verify")?
        }
    };
    let screen = Arc::new(screen);
    let mut divergent = BTreeSet::new();
    let mut tainted = Vec::new();
    for &function in functions {
        match screen.divergence(&ids[function.0]) {
            Some(divergence) if divergence.tainted => tainted.push(vec![function]),
            Some(_) => {
                divergent.insert(function);
            }
            None => {}
        }
    }
    let alone: BTreeMap<FunctionIndex, Arc<RunRecord>> = each(lab, tainted, |executor, group| {
        let function = group[0];
        let id = &ids[function.0];
        executor.announce(Step::VerifyingAlone { id });
        let selection = baseline.callers([id.as_str()]);
        let label = format!("verify-{id}");
        let record = executor.run_checked(&[function], selection.as_ref(), &label)?;
        Ok((function, Arc::new(record)))
    })?
    .into_iter()
    .collect();
    divergent.extend(
        alone
            .iter()
            .filter(|(function, record)| record.divergence(&ids[function.0]).is_some())
            .map(|(function, _)| *function),
    );
    Ok(Verification { screen, alone, divergent })
}
