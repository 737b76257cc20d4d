//! What generations and `freeze()` save (`peerbench generations`): on a heap of 1,000,000 live
//! objects that survived an earlier collection, with 1,000 new possible roots (young nodes,
//! each with an edge into the old heap), a collection of generation 0 against a full
//! collection of the same heap, and a full collection after `freeze()` against one before.
//! cyclegc only: the peers have no generations.

use std::time::{Duration, Instant};

use crate::peers::cyclegc::CyclegcManual;
use crate::{Edge, Peer, XorShift};

type F = CyclegcManual;

/// The live objects of the old heap.
pub const OLD_NODES: u64 = 1_000_000;
/// The new possible roots of each collection measured.
pub const NEW_ROOTS: u64 = 1_000;

/// The times and traced objects of each kind of collection, one entry per repetition.
#[derive(Debug, Default)]
pub struct Report {
    /// `collect_generation(0)` with the new roots.
    pub young: Vec<(Duration, u64)>,
    /// `collect()` with the new roots, before `freeze()`.
    pub full: Vec<(Duration, u64)>,
    /// `collect()` with the new roots, after `freeze()`.
    pub frozen: Vec<(Duration, u64)>,
}

/// Adds [`NEW_ROOTS`] young nodes, each linked to a random old node and made a possible root
/// (a clone dropped), and returns them.
fn new_roots(old: &[<F as Peer>::P], rng: &mut XorShift) -> Vec<<F as Peer>::P> {
    (0..NEW_ROOTS)
        .map(|i| {
            let young = F::new(OLD_NODES + i);
            F::link(&young, 0, &old[rng.below(old.len())], Edge::Back);
            drop(young.clone());
            young
        })
        .collect()
}

/// Times `collect` and counts what it traced.
fn measure(collect: impl FnOnce() -> usize) -> (Duration, u64) {
    let traced = cyclegc::stats().traced;
    let start = Instant::now();
    let freed = collect();
    let elapsed = start.elapsed();
    assert_eq!(freed, 0, "nothing here is garbage");
    (elapsed, cyclegc::stats().traced - traced)
}

/// Runs `reps` repetitions of each measurement (after one warm-up of each) on this thread.
pub fn run(reps: usize) -> Report {
    F::setup();
    // The old heap: a doubly linked ring (next strong, prev and the closing edge back), held
    // node by node by a `Vec` as well, that survives a collection (moving it to generation
    // 2). Built by moves: no possible root, so nothing is traced yet.
    let old: Vec<<F as Peer>::P> = (0..OLD_NODES).map(F::new).collect();
    for (i, node) in old.iter().enumerate() {
        let next = &old[(i + 1) % old.len()];
        F::link(node, 0, next, Edge::Strong);
        F::link(next, 1, node, Edge::Back);
    }
    cyclegc::collect();
    let mut rng = XorShift::new(crate::workloads::SEED);
    let mut report = Report::default();
    // Each kind back to back, as an application's young collections run many times between
    // two full ones (the first young collection after a full one also frees the full one's
    // large work arrays).
    for rep in 0..=reps {
        let young = new_roots(&old, &mut rng);
        let figure = measure(|| cyclegc::collect_generation(0));
        drop(young);
        if rep > 0 {
            report.young.push(figure);
        }
    }
    for rep in 0..=reps {
        let young = new_roots(&old, &mut rng);
        let figure = measure(cyclegc::collect);
        drop(young);
        if rep > 0 {
            report.full.push(figure);
        }
    }
    cyclegc::freeze();
    for rep in 0..=reps {
        let young = new_roots(&old, &mut rng);
        let figure = measure(cyclegc::collect);
        drop(young);
        if rep > 0 {
            report.frozen.push(figure);
        }
    }
    cyclegc::unfreeze();
    drop(old);
    cyclegc::collect();
    report
}

/// The median of `figures`' times, and the traced count of the first (they are all equal).
pub fn median(figures: &[(Duration, u64)]) -> (Duration, u64) {
    let mut times: Vec<Duration> = figures.iter().map(|f| f.0).collect();
    times.sort_unstable();
    (times[times.len() / 2], figures[0].1)
}
