//! A snapshot that outgrows its 32-bit indices hands the collection to one with 64-bit
//! indices ([`Scan::widen`](super::Scan)). The tests lower the 32-bit limit to make small
//! heaps outgrow it, and check that the collection is as complete as one without a limit:
//! what it traced, what it freed, kept or left for later.

use super::{TEST_LIMIT, WIDENED};
use crate::{Gc, Trace, Tracer};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

struct Node {
    edges: RefCell<Vec<Gc<Node>>>,
    drops: Rc<Cell<usize>>,
    /// The next `trace` panics.
    panics: Cell<bool>,
}

// SAFETY: reports every `Gc` it owns (or panics).
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        assert!(!self.panics.replace(false), "a trace that panics once");
        self.edges.trace(tracer);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

fn node(drops: &Rc<Cell<usize>>) -> Gc<Node> {
    Gc::new(Node {
        edges: RefCell::new(Vec::new()),
        drops: drops.clone(),
        panics: Cell::new(false),
    })
}

fn link(from: &Gc<Node>, to: &Gc<Node>) {
    from.edges.borrow_mut().push(to.clone());
}

/// Runs `f` with the 32-bit snapshots on this thread limited to `limit` nodes and edges,
/// and returns what it returned and how many scans outgrew their indices.
fn limited<R>(limit: usize, f: impl FnOnce() -> R) -> (R, usize) {
    let widened = WIDENED.get();
    TEST_LIMIT.set(limit);
    let result = f();
    TEST_LIMIT.set(usize::MAX);
    (result, WIDENED.get() - widened)
}

/// A collection: what it freed and how many objects it traced.
fn traced_by(collect: impl FnOnce() -> usize) -> (usize, u64) {
    let before = crate::stats().traced;
    let freed = collect();
    (freed, crate::stats().traced - before)
}

/// A ring of `n` nodes held by `first` only, with no root-buffer entry left.
fn ring(drops: &Rc<Cell<usize>>, n: usize) -> Gc<Node> {
    let first = node(drops);
    let mut last = first.clone();
    for _ in 1..n {
        let next = node(drops);
        link(&last, &next);
        last = next;
    }
    link(&last, &first);
    drop(last);
    // The nodes whose handles went are judged (alive) and leave the buffer.
    assert_eq!(crate::collect(), 0);
    assert_eq!(crate::count(), 0);
    first
}

/// Nodes past the limit: the whole ring is judged, in one collection.
#[test]
fn a_cycle_past_the_limit_is_collected_whole() {
    let drops = Rc::new(Cell::new(0));
    drop(ring(&drops, 30));
    assert_eq!(crate::count(), 1);
    assert_eq!(limited(10, || traced_by(crate::collect)), ((30, 30), 1));
    assert_eq!(drops.get(), 30);
}

/// Edges past the limit: one node reporting more edges than a 32-bit snapshot may take.
#[test]
fn a_node_with_edges_past_the_limit_is_judged_with_them() {
    let drops = Rc::new(Cell::new(0));
    let hub = node(&drops);
    for _ in 0..20 {
        let leaf = node(&drops);
        link(&hub, &leaf);
        link(&leaf, &hub);
    }
    assert_eq!(crate::collect(), 0);
    drop(hub);
    assert_eq!(crate::count(), 1);
    assert_eq!(limited(10, || traced_by(crate::collect)), ((21, 21), 1));
    assert_eq!(drops.get(), 21);
}

/// Roots past the limit: the entries not taken yet go to the wider scan with the rest.
#[test]
fn roots_past_the_limit_are_judged_in_the_same_collection() {
    let drops = Rc::new(Cell::new(0));
    // No automatic collection in between (Miri's thresholds are low).
    crate::disable();
    for _ in 0..25 {
        let lonely = node(&drops);
        link(&lonely, &lonely);
        drop(lonely);
    }
    assert_eq!(crate::count(), 25);
    assert_eq!(limited(10, || traced_by(crate::collect)), ((25, 25), 1));
    assert_eq!(drops.get(), 25);
    assert_eq!(crate::count(), 0);
    crate::enable();
}

/// `DEBUG_SAVEALL`: the wider scan's garbage is what is saved.
#[test]
fn garbage_past_the_limit_is_saved_whole() {
    let drops = Rc::new(Cell::new(0));
    drop(ring(&drops, 30));
    crate::set_save_all(true);
    let (collected, widened) = limited(10, crate::collect);
    crate::set_save_all(false);
    assert_eq!((collected, widened), (0, 1));
    let garbage = crate::take_garbage();
    assert_eq!((garbage.len(), drops.get()), (30, 0));
    drop(garbage);
    assert_eq!(crate::collect(), 30);
    assert_eq!(drops.get(), 30);
}

/// A ring of 30 in generation 1 whose node `k` points to an object of generation 2: a
/// collection of generation 1 that outgrows its 32-bit indices frees the ring, and the
/// old object keeps the root-buffer entry the snapshot gave it, so that a full collection
/// examines it.
fn an_older_object_reached_from_node(k: usize) {
    let drops = Rc::new(Cell::new(0));
    crate::disable();
    let old = node(&drops);
    assert_eq!(crate::collect(), 0);
    let nodes: Vec<_> = (0..30).map(|_| node(&drops)).collect();
    for j in 0..30 {
        link(&nodes[j], &nodes[(j + 1) % 30]);
    }
    let kept = (nodes[0].clone(), nodes[k].clone());
    drop(nodes);
    // It survives a young collection, which empties the buffer; only then does node `k`
    // point to `old` (before, the young collection would have made `old` a root itself).
    assert_eq!(crate::collect_generation(0), 0);
    kept.1.edges.borrow_mut().insert(0, old.clone());
    drop(kept);
    let ((freed, _), widened) = limited(10, || traced_by(|| crate::collect_generation(1)));
    assert_eq!((freed, widened), (30, 1));
    // `old` is a root of its own generation now.
    assert_eq!(traced_by(crate::collect), (0, 1));
    drop(old);
    assert_eq!(drops.get(), 31);
    crate::enable();
}

/// The 32-bit snapshot reaches the old object (from the first node, a root) before it gives
/// up: the entry it made goes with the wider scan's.
#[test]
fn an_older_object_reached_before_widening_keeps_its_entry() {
    an_older_object_reached_from_node(0);
}

/// Only the wider scan reaches it (from the 26th node, past where the 32-bit snapshot
/// gives up): the entry it made is handed over too.
#[test]
fn an_older_object_reached_after_widening_keeps_its_entry() {
    an_older_object_reached_from_node(25);
}

/// A snapshot that is void (a `trace` panicked) and outgrows its indices: the wider scan
/// starts from every node of the void one and does not trace the panicking object again,
/// which keeps what it reaches alive until the next collection.
#[test]
fn a_void_snapshot_then_an_overflowing_one_widens_with_what_panicked() {
    let drops = Rc::new(Cell::new(0));
    crate::disable();
    // A ring with a chord from its first node to its tenth; the fifth panics once.
    let nodes: Vec<_> = (0..30).map(|_| node(&drops)).collect();
    for k in 0..30 {
        link(&nodes[k], &nodes[(k + 1) % 30]);
    }
    link(&nodes[0], &nodes[10]);
    let (first, fifth) = (nodes[0].clone(), nodes[5].clone());
    drop(nodes);
    assert_eq!(crate::collect(), 0);
    fifth.panics.set(true);
    drop((fifth, first));
    assert_eq!(crate::count(), 2);
    // The 32-bit snapshot meets the panic at the fifth node, goes on from the first along
    // the chord, and outgrows its indices: void and too large at once.
    let (panicked, widened) = limited(10, || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(crate::collect)).is_err()
    });
    assert_eq!((panicked, widened, drops.get()), (true, 1, 0));
    assert_eq!(crate::collect(), 30);
    assert_eq!(drops.get(), 30);
    crate::enable();
}

/// The thread-safe heap through the wider scan (it needs 64-bit atomics).
#[cfg(target_has_atomic = "64")]
mod sync_heap {
    use super::*;
    use crate::sync;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    struct SyncNode {
        next: Mutex<Vec<sync::Gc<SyncNode>>>,
        drops: Arc<AtomicUsize>,
    }

    // SAFETY: reports every `sync::Gc` it owns.
    unsafe impl Trace for SyncNode {
        fn trace(&self, tracer: &mut Tracer) {
            self.next.trace(tracer);
        }
    }

    impl Drop for SyncNode {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn sync_node(drops: &Arc<AtomicUsize>) -> sync::Gc<SyncNode> {
        sync::Gc::new(SyncNode {
            next: Mutex::new(Vec::new()),
            drops: drops.clone(),
        })
    }

    fn sync_link(from: &sync::Gc<SyncNode>, to: &sync::Gc<SyncNode>) {
        from.next.lock().unwrap().push(to.clone());
    }

    /// The shared heap is the process's: its tests here take turns (`cargo test` runs them on
    /// parallel threads), each with automatic collection off meanwhile.
    fn sync_heap_alone<R>(f: impl FnOnce() -> R) -> R {
        static TURN: Mutex<()> = Mutex::new(());
        let _turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        sync::disable();
        let result = f();
        sync::enable();
        result
    }

    /// A sync collection: what it freed and how many objects it traced.
    fn sync_traced_by(collect: impl FnOnce() -> usize) -> (usize, u64) {
        let before = sync::stats().traced;
        let freed = collect();
        (freed, sync::stats().traced - before)
    }

    /// The same for the shared heap, whose claim the wider scan makes (and validates).
    #[test]
    fn sync_roots_past_the_limit_are_judged_in_the_same_collection() {
        let drops = Arc::new(AtomicUsize::new(0));
        let collected = sync_heap_alone(|| {
            for _ in 0..25 {
                let lonely = sync_node(&drops);
                sync_link(&lonely, &lonely);
            }
            limited(10, || sync_traced_by(sync::collect))
        });
        assert_eq!(collected, ((25, 25), 1));
        assert_eq!(drops.load(Ordering::Relaxed), 25);
    }

    /// Locked edges past the limit, in the shared heap: a garbage set holding live-looking
    /// roots is judged whole and its claim holds.
    #[test]
    fn sync_garbage_past_the_limit_is_claimed_whole() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (collected, aborted) = sync_heap_alone(|| {
            // Four self-loops, held by `x`, which `b` holds, on a cycle with `a`.
            let loops: Vec<_> = (0..4).map(|_| sync_node(&drops)).collect();
            let x = sync_node(&drops);
            for l in &loops {
                sync_link(l, l);
                sync_link(&x, l);
            }
            let (a, b) = (sync_node(&drops), sync_node(&drops));
            sync_link(&a, &b);
            sync_link(&b, &a);
            sync_link(&b, &x);
            drop((x, b));
            // Everything is alive: the buffer empties.
            assert_eq!(sync::collect(), 0);
            // Roots: the four loops, then `a`; `x`'s four edges do not fit beside the other
            // seven nodes and edges.
            drop(loops);
            drop(a);
            let aborted = sync::stats().aborted;
            let collected = limited(8, || sync_traced_by(sync::collect));
            (collected, sync::stats().aborted - aborted)
        });
        assert_eq!((collected, aborted), (((7, 7), 1), 0));
        assert_eq!(drops.load(Ordering::Relaxed), 7);
    }

    /// Kept garbage (`sync::set_save_all`) through the wider scan.
    #[test]
    fn sync_garbage_past_the_limit_is_saved_whole() {
        let drops = Arc::new(AtomicUsize::new(0));
        // All in one turn: dropping the saved garbage makes roots another test would collect.
        let (saved, widened, dropped_while_saved, collected) = sync_heap_alone(|| {
            for _ in 0..25 {
                let lonely = sync_node(&drops);
                sync_link(&lonely, &lonely);
            }
            sync::set_save_all(true);
            let (collected, widened) = limited(10, sync::collect);
            sync::set_save_all(false);
            assert_eq!(collected, 0);
            let garbage = sync::take_garbage();
            let dropped = drops.load(Ordering::Relaxed);
            let saved = garbage.len();
            drop(garbage);
            (saved, widened, dropped, sync::collect())
        });
        assert_eq!((saved, widened, dropped_while_saved), (25, 1, 0));
        assert_eq!(collected, 25);
        assert_eq!(drops.load(Ordering::Relaxed), 25);
    }
}
