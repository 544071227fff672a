//! The scenarios, one module each.

pub mod e2e;
pub mod fanout;
pub mod idle;
pub mod query;
pub mod send;

use std::collections::HashMap;

/// Checks that `got` (per subscription, in arrival order) holds every id of `expected`
/// exactly once, in increasing order; returns the problems found.
pub fn check_deliveries(label: &str, got: &[i64], expected: &[i64]) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(w) = got.windows(2).find(|w| w[1] <= w[0]) {
        problems.push(format!(
            "{label}: order broken or duplicate: id {} after {}",
            w[1], w[0]
        ));
    }
    let mut counts: HashMap<i64, u32> = HashMap::with_capacity(got.len());
    for id in got {
        *counts.entry(*id).or_default() += 1;
    }
    let dups = counts.values().filter(|&&c| c > 1).count();
    if dups > 0 {
        problems.push(format!(
            "{label}: {dups} message(s) delivered more than once"
        ));
    }
    let lost = expected
        .iter()
        .filter(|id| !counts.contains_key(id))
        .count();
    if lost > 0 {
        problems.push(format!(
            "{label}: {lost} of {} message(s) lost",
            expected.len()
        ));
    }
    let extra = counts.len().saturating_sub(expected.len() - lost);
    if extra > 0 {
        problems.push(format!("{label}: {extra} unexpected message(s)"));
    }
    problems
}

/// `a / b`, or 0 when `b` is 0.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}
