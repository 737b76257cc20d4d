//! Generations and freezing of the shared heap (`sync::collect_generation`, thresholds,
//! counts, `objects_in`, `freeze`). The settings are process-wide: the tests of this file
//! run one at a time, and each starts from a full collection with automatic collection off.
// The thread-safe flavour needs 64-bit atomics.
#![cfg(all(feature = "derive", target_has_atomic = "64"))]

use std::panic;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use cyclegc::sync::{self, objects, objects_in, AnyGc, Gc};
use cyclegc::{Trace, Tracer};

#[derive(Trace)]
struct Node {
    #[trace(skip)]
    drops: Arc<AtomicUsize>,
    edges: Mutex<Vec<Gc<Node>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn node(drops: &Arc<AtomicUsize>) -> Gc<Node> {
    Gc::new(Node {
        drops: drops.clone(),
        edges: Mutex::new(Vec::new()),
    })
}

fn link(from: &Gc<Node>, to: &Gc<Node>) {
    from.edges.lock().unwrap().push(to.clone());
}

/// Two nodes linked both ways.
fn two_cycle(drops: &Arc<AtomicUsize>) -> (Gc<Node>, Gc<Node>) {
    let a = node(drops);
    let b = node(drops);
    link(&a, &b);
    link(&b, &a);
    (a, b)
}

/// Runs the tests one at a time, from a clean heap: automatic collection off, the default
/// thresholds, nothing frozen, everything alive in generation 2.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    let guard = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    sync::unfreeze();
    sync::set_thresholds(DEFAULTS);
    sync::set_threshold(0);
    while sync::collect() > 0 {}
    guard
}

const DEFAULTS: [usize; 3] = if cfg!(miri) {
    [16, 2, 2]
} else {
    [2000, 10, 10]
};

/// Whether `gc` is listed in `listed`.
fn listed(gc: &Gc<Node>, listed: &[AnyGc]) -> bool {
    let gc = AnyGc::from(gc.clone());
    listed.iter().any(|o| AnyGc::ptr_eq(o, &gc))
}

/// Makes `gc` a possible root (a drop that leaves references behind).
fn buffer(gc: &Gc<Node>) {
    drop(gc.clone());
}

#[test]
fn a_young_cycle_is_found_young_and_survivors_move_up() {
    let _serial = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let old = node(&drops);
    buffer(&old);
    sync::collect();
    assert!(listed(&old, &objects_in(2)));
    let live = node(&drops);
    buffer(&live);
    let cycle = node(&drops);
    link(&cycle, &cycle);
    drop(cycle);
    assert!(listed(&live, &objects_in(0)));
    let traced_before = sync::stats().traced;
    assert_eq!(sync::collect_generation(0), 1, "the young self-cycle");
    // Only the young roots were traced: `live` and the cycle, not `old`.
    assert_eq!(sync::stats().traced - traced_before, 2);
    assert!(listed(&live, &objects_in(1)) && !listed(&live, &objects_in(0)));
    assert_eq!(sync::collect_generation(1), 0);
    assert!(listed(&live, &objects_in(2)));
    assert!(listed(&old, &objects_in(2)));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(sync::stats().generations[0].collected, 1);
}

#[test]
fn a_cycle_into_an_older_generation_waits_for_that_generation() {
    let _serial = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let old = node(&drops);
    buffer(&old);
    sync::collect(); // `old` is in generation 2
    let young = node(&drops);
    link(&old, &young);
    link(&young, &old);
    drop((old, young));
    // Generation 0's collection does not follow the edge into generation 2: the young member
    // counts as referenced from outside.
    assert_eq!(sync::collect_generation(0), 0);
    assert_eq!(sync::collect_generation(1), 0);
    assert_eq!(sync::collect(), 2);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn an_old_object_a_young_collection_reaches_becomes_a_root_of_its_generation() {
    let _serial = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let old = node(&drops);
    buffer(&old);
    sync::collect(); // `old` is in generation 2, its entry gone (it was alive)
    let young = node(&drops);
    link(&old, &young);
    // The only handle to `old` moves into `young`: no count changes, so `old` gets no entry.
    young.edges.lock().unwrap().push(old);
    // `young` is buffered: the cycle's one entry.
    drop(young);
    // Generation 0's collection keeps `young` (the edge from `old` counts as from outside)
    // and makes `old`, which it reached but did not examine, a root of generation 2.
    assert_eq!(sync::collect_generation(0), 0);
    assert_eq!(sync::collect(), 2);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn young_collections_do_not_trace_older_roots() {
    let _serial = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let count = if cfg!(miri) { 20 } else { 2000 };
    let live: Vec<_> = (0..count).map(|_| node(&drops)).collect();
    for gc in &live {
        buffer(gc);
    }
    let before = sync::stats().traced;
    sync::collect_generation(0);
    assert_eq!(sync::stats().traced - before, count as u64);
    assert!(live.iter().all(|gc| listed(gc, &objects_in(1))));
    // Possible roots again, now of generation 1: filed there, not examined by collections of
    // generation 0.
    for gc in &live {
        buffer(gc);
    }
    let before = sync::stats().traced;
    sync::collect_generation(0);
    sync::collect_generation(0);
    assert_eq!(sync::stats().traced - before, 0);
    // A collection of generation 1 examines them, and moves them to 2.
    sync::collect_generation(1);
    assert_eq!(sync::stats().traced - before, count as u64);
    assert!(live.iter().all(|gc| listed(gc, &objects_in(2))));
    drop(live);
    assert_eq!(drops.load(Ordering::SeqCst), count);
}

#[test]
fn frozen_objects_are_neither_listed_nor_collected_until_unfrozen() {
    let _serial = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let (a, b) = two_cycle(&drops);
    let before = sync::freeze_count();
    sync::freeze();
    assert_eq!(sync::freeze_count(), before + 2);
    assert!(!listed(&a, &objects()));
    assert!((0..3).all(|g| !listed(&a, &objects_in(g))));
    drop((a, b));
    // A frozen cycle is not examined, by any collection.
    assert_eq!(sync::collect(), 0);
    assert_eq!(sync::collect_generation(0), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    sync::unfreeze();
    assert_eq!(sync::freeze_count(), 0);
    assert_eq!(sync::collect(), 2);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// `get_mut` on a frozen object whose root-buffer entry is filed with the frozen ones takes
/// the object out of the registry (to generation 2) while its entry stays in the frozen
/// buffer: a full collection must still find a cycle through it.
#[test]
fn a_frozen_object_lent_by_get_mut_is_collected_by_a_full_collection() {
    let _serial = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut x = node(&drops);
    sync::freeze();
    buffer(&x);
    // Files the entry, with the frozen objects' (a frozen object is not examined).
    assert_eq!(sync::collect_generation(0), 0);
    assert!(Gc::get_mut(&mut x).is_some());
    assert_eq!(sync::freeze_count(), 0, "no longer frozen");
    // A cycle whose one possible root is `x`: `y` is moved in, never dropped.
    let y = node(&drops);
    link(&y, &x);
    x.edges.lock().unwrap().push(y);
    // The withdrawn entry, still in the frozen buffer, becomes a root again.
    drop(x);
    assert_eq!(sync::collect(), 2);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// A value whose `trace` calls `sync::unfreeze()` the first time it runs: from inside a
/// collection, which holds the collector lock, so the unfreeze is left to it.
struct Unfreezer(AtomicBool);

// SAFETY: owns no `Gc`.
unsafe impl Trace for Unfreezer {
    fn trace(&self, _: &mut Tracer) {
        if self.0.swap(false, Ordering::SeqCst) {
            sync::unfreeze();
        }
    }
}

/// An `unfreeze()` asked for during a collection is applied before it ends: the frozen
/// entries go to generation 2, where a full collection (and no younger one) examines them.
#[test]
fn an_unfreeze_asked_for_during_a_collection_is_applied_by_it() {
    let _serial = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let (a, b) = two_cycle(&drops);
    sync::freeze();
    drop((a, b));
    assert_eq!(sync::collect(), 0, "filed with the frozen entries");
    let unfreezer = Gc::new(Unfreezer(AtomicBool::new(true)));
    drop(unfreezer.clone());
    assert_eq!(sync::collect_generation(0), 0);
    assert!(!unfreezer.0.load(Ordering::SeqCst), "traced");
    assert_eq!(sync::freeze_count(), 0);
    assert_eq!(
        sync::collect_generation(1),
        0,
        "generation 2's entries wait for a full one"
    );
    assert_eq!(sync::collect(), 2);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn thresholds_counts_and_the_generation_checks() {
    let _serial = serial();
    assert_eq!(sync::thresholds(), [0, DEFAULTS[1], DEFAULTS[2]]);
    sync::set_thresholds([5, 3, 4]);
    assert_eq!(sync::thresholds(), [5, 3, 4]);
    assert_eq!(sync::threshold(), 5);
    sync::set_threshold(0);
    assert_eq!(sync::thresholds(), [0, 3, 4]);
    sync::collect();
    assert_eq!(sync::counts(), [0, 0, 0]);
    let drops = Arc::new(AtomicUsize::new(0));
    let a = node(&drops);
    buffer(&a);
    assert_eq!(sync::count(), 1);
    sync::collect_generation(0);
    sync::collect_generation(0);
    assert_eq!(sync::counts(), [0, 2, 0]);
    sync::collect_generation(1);
    assert_eq!(sync::counts(), [0, 0, 1]);
    sync::collect();
    assert_eq!(sync::counts(), [0, 0, 0]);
    let invalid = panic::catch_unwind(|| sync::collect_generation(3)).unwrap_err();
    let message = invalid
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert_eq!(message, "invalid generation 3: expected 0, 1 or 2");
    let invalid = panic::catch_unwind(|| sync::objects_in(3)).unwrap_err();
    let message = invalid
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert_eq!(message, "invalid generation 3: expected 0, 1 or 2");
    // A first threshold of 0 turns automatic collection off: possible roots pile up,
    // however many, and no allocation collects.
    let collections = sync::stats().collections;
    let piled: Vec<Gc<Node>> = (0..2 * DEFAULTS[0])
        .map(|_| {
            let n = node(&drops);
            buffer(&n);
            n
        })
        .collect();
    assert_eq!(sync::count(), piled.len());
    assert_eq!(sync::stats().collections, collections);
    drop(piled);
    sync::collect();
}

#[test]
fn callbacks_learn_the_generation_collected_and_stats_print_as_a_table() {
    let _serial = serial();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let id = sync::add_callback(move |event: &sync::CollectionEvent| {
        sink.lock().unwrap().push(event.clone());
    });
    let drops = Arc::new(AtomicUsize::new(0));
    for generation in 0..3 {
        // A young garbage cycle for each: every collection frees two objects.
        drop(two_cycle(&drops));
        assert_eq!(sync::collect_generation(generation), 2);
    }
    assert!(sync::remove_callback(id));
    use sync::CallbackPhase::{Start, Stop};
    let seen = seen.lock().unwrap();
    let phases: Vec<_> = seen.iter().map(|e| (e.phase, e.generation)).collect();
    assert_eq!(
        phases,
        [
            (Start, 0),
            (Stop, 0),
            (Start, 1),
            (Stop, 1),
            (Start, 2),
            (Stop, 2)
        ]
    );
    for event in seen.iter() {
        let figures = (
            event.collected,
            event.uncollectable,
            event.duration.is_some(),
        );
        match event.phase {
            Start => assert_eq!(figures, (0, 0, false)),
            Stop => assert_eq!(figures, (2, 0, true)),
        }
    }
    drop(seen);
    let stats = sync::stats();
    let table = stats.to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    for generation in 0..3 {
        let row: Vec<u64> = lines[1 + generation]
            .split_whitespace()
            .map(|figure| figure.parse().unwrap())
            .collect();
        let figures = stats.generations[generation];
        assert_eq!(
            row,
            [
                generation as u64,
                figures.collections,
                figures.collected,
                figures.uncollectable
            ],
            "{table}"
        );
    }
    assert_eq!(
        lines[4],
        format!(
            "total {} collections, {} collected, {} traced, {} aborted",
            stats.collections, stats.collected, stats.traced, stats.aborted
        )
    );
    // Untracked objects (types that can never own a `Gc`) are not listed.
    let untracked = Gc::new(7_u32);
    assert!(!Gc::is_tracked(&untracked));
    assert!(!sync::objects()
        .iter()
        .any(|o| o.as_ptr() == Gc::as_ptr(&untracked).cast()));
}

#[test]
fn automatic_collections_reach_the_generation_that_is_due() {
    let _serial = serial();
    // A collection at every root; generation 1 every second collection of 0, 2 every second
    // of 1 (once its roots are a quarter of the last full collection's survivors).
    sync::set_thresholds([1, 2, 2]);
    let drops = Arc::new(AtomicUsize::new(0));
    let mut kept = Vec::new();
    let before = sync::stats().generations.map(|g| g.collections);
    for _ in 0..8 {
        // A new possible root each time (one already filed in an older generation's buffer
        // is not buffered again).
        let live = node(&drops);
        buffer(&live);
        kept.push(live);
        // The allocation of a tracked object runs the automatic collection.
        drop(node(&drops));
    }
    let after = sync::stats().generations.map(|g| g.collections);
    let ran: Vec<u64> = (0..3).map(|g| after[g] - before[g]).collect();
    // Eight collections: 0, 0, 1, 0, 0, 1, 2 (generation 1 reached its threshold twice, and
    // the last full collection left no survivors to weigh generation 2's roots against), 0.
    assert_eq!(ran.iter().sum::<u64>(), 8);
    assert_eq!(ran, [5, 2, 1]);
    drop(kept);
}

#[test]
fn threads_building_and_dropping_cycles_while_collections_of_every_generation_run() {
    let _serial = serial();
    sync::set_thresholds([if cfg!(miri) { 4 } else { 64 }, 2, 2]);
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = if cfg!(miri) { 4 } else { 300 };
    let builders: Vec<_> = (0..2)
        .map(|_| {
            let (drops, made) = (drops.clone(), made.clone());
            thread::spawn(move || {
                let mut kept = Vec::new();
                for round in 0..rounds {
                    let (a, _b) = two_cycle(&drops);
                    made.fetch_add(2, Ordering::SeqCst);
                    if round % 3 == 0 {
                        kept.push(a);
                    }
                    if round % 7 == 0 {
                        kept.clear();
                    }
                }
            })
        })
        .collect();
    let collector = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut generation = 0;
            while !stop.load(Ordering::SeqCst) {
                sync::collect_generation(generation);
                generation = (generation + 1) % 3;
                if generation == 2 {
                    sync::freeze();
                    sync::unfreeze();
                }
            }
        })
    };
    for builder in builders {
        builder.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    collector.join().unwrap();
    while sync::collect() > 0 {}
    assert_eq!(drops.load(Ordering::SeqCst), made.load(Ordering::SeqCst));
}
