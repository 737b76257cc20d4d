//! What generations and `freeze()` save (`peerbench generations`): on a heap of 1,000,000 live
//! objects that survived an earlier collection, with 1,000 new possible roots (young nodes,
//! each with an edge into the old heap), a collection of generation 0 against a full
//! collection of the same heap, and a full collection after `freeze()` against one before.
//! cyclegc only, either flavour ([`Heap`]): the peers have no generations.

use std::time::{Duration, Instant};

use crate::peers::cyclegc::CyclegcManual;
use crate::peers::cyclegc_sync::CyclegcSyncManual;
use crate::{Edge, Peer, XorShift};

/// One flavour's collector functions.
pub struct Heap {
    collect: fn() -> usize,
    collect_generation: fn(usize) -> usize,
    freeze: fn(),
    unfreeze: fn(),
    traced: fn() -> u64,
}

/// The single-threaded flavour's heap.
pub const UNSYNC: Heap = Heap {
    collect: cyclegc::collect,
    collect_generation: cyclegc::collect_generation,
    freeze: cyclegc::freeze,
    unfreeze: cyclegc::unfreeze,
    traced: || cyclegc::stats().traced,
};

/// The thread-safe flavour's heap.
pub const SYNC: Heap = Heap {
    collect: cyclegc::sync::collect,
    collect_generation: cyclegc::sync::collect_generation,
    freeze: cyclegc::sync::freeze,
    unfreeze: cyclegc::sync::unfreeze,
    traced: || cyclegc::sync::stats().traced,
};

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
fn new_roots<F: Peer>(old: &[F::P], rng: &mut XorShift) -> Vec<F::P> {
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
fn measure(heap: &Heap, collect: impl FnOnce() -> usize) -> (Duration, u64) {
    let traced = (heap.traced)();
    let start = Instant::now();
    let freed = collect();
    let elapsed = start.elapsed();
    assert_eq!(freed, 0, "nothing here is garbage");
    (elapsed, (heap.traced)() - traced)
}

/// Runs `reps` repetitions of each measurement (after one warm-up of each) on this thread, on
/// the single-threaded heap, or on the thread-safe one if `sync`.
pub fn run(reps: usize, sync: bool) -> Report {
    if sync {
        run_on::<CyclegcSyncManual>(reps, &SYNC)
    } else {
        run_on::<CyclegcManual>(reps, &UNSYNC)
    }
}

/// [`run`] with peer `F`, whose heap is `heap`.
fn run_on<F: Peer>(reps: usize, heap: &Heap) -> Report {
    F::setup();
    // The old heap: a doubly linked ring (next strong, prev and the closing edge back), held
    // node by node by a `Vec` as well, that survives a collection (moving it to generation
    // 2). Built by moves: no possible root, so nothing is traced yet.
    let old: Vec<F::P> = (0..OLD_NODES).map(F::new).collect();
    for (i, node) in old.iter().enumerate() {
        let next = &old[(i + 1) % old.len()];
        F::link(node, 0, next, Edge::Strong);
        F::link(next, 1, node, Edge::Back);
    }
    (heap.collect)();
    let mut rng = XorShift::new(crate::workloads::SEED);
    let mut report = Report::default();
    // Each kind back to back, as an application's young collections run many times between
    // two full ones (the first young collection after a full one also frees the full one's
    // large work arrays).
    for rep in 0..=reps {
        let young = new_roots::<F>(&old, &mut rng);
        let figure = measure(heap, || (heap.collect_generation)(0));
        drop(young);
        if rep > 0 {
            report.young.push(figure);
        }
    }
    for rep in 0..=reps {
        let young = new_roots::<F>(&old, &mut rng);
        let figure = measure(heap, heap.collect);
        drop(young);
        if rep > 0 {
            report.full.push(figure);
        }
    }
    (heap.freeze)();
    for rep in 0..=reps {
        let young = new_roots::<F>(&old, &mut rng);
        let figure = measure(heap, heap.collect);
        drop(young);
        if rep > 0 {
            report.frozen.push(figure);
        }
    }
    (heap.unfreeze)();
    drop(old);
    (heap.collect)();
    report
}

/// The median of `figures`' times, and the traced count of the first (they are all equal).
pub fn median(figures: &[(Duration, u64)]) -> (Duration, u64) {
    let mut times: Vec<Duration> = figures.iter().map(|f| f.0).collect();
    times.sort_unstable();
    (times[times.len() / 2], figures[0].1)
}
