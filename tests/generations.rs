//! Generations and freezing (single-threaded flavour): which objects a collection of each
//! generation examines, promotion, the automatic choice of generation, the counts, and
//! `freeze`/`unfreeze`. Each test runs on its own thread, so its heap is its own.
#![cfg(feature = "derive")]

use std::cell::{Cell, RefCell};
use std::panic;
use std::rc::Rc;

use cyclegc::{objects, objects_in, AnyGc, Gc, Trace};

#[derive(Trace)]
struct Node {
    #[trace(skip)]
    drops: Rc<Cell<usize>>,
    next: RefCell<Option<Gc<Node>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

fn node(drops: &Rc<Cell<usize>>) -> Gc<Node> {
    Gc::new(Node {
        drops: drops.clone(),
        next: RefCell::new(None),
    })
}

/// Explicit collections only, with a clean slate: everything alive is in generation 2.
fn quiet() {
    cyclegc::disable();
    cyclegc::collect();
}

/// The generation `objects_in` lists `object` in, if any.
fn generation_of(object: &AnyGc) -> Option<usize> {
    (0..3).find(|&g| objects_in(g).iter().any(|o| AnyGc::ptr_eq(o, object)))
}

fn traced_by(collect: impl FnOnce() -> usize) -> (usize, u64) {
    let before = cyclegc::stats().traced;
    let freed = collect();
    (freed, cyclegc::stats().traced - before)
}

#[test]
fn survivors_move_to_the_next_generation() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let a = node(&drops);
    let any = AnyGc::from(a.clone());
    assert_eq!(generation_of(&any), Some(0));
    let young = cyclegc::stats().generations;
    cyclegc::collect_generation(0);
    assert_eq!(generation_of(&any), Some(1));
    assert_eq!(
        cyclegc::stats().generations[0].collections,
        young[0].collections + 1
    );
    cyclegc::collect_generation(0);
    assert_eq!(
        generation_of(&any),
        Some(1),
        "a younger collection leaves it"
    );
    cyclegc::collect_generation(1);
    assert_eq!(generation_of(&any), Some(2));
    cyclegc::collect();
    assert_eq!(generation_of(&any), Some(2), "the oldest stays the oldest");
    // Objects allocated after a collection are young again.
    let b = AnyGc::from(node(&drops));
    assert_eq!(generation_of(&b), Some(0));
    // Every listed object is in exactly one generation, and `objects` lists them all, oldest
    // first.
    let all: Vec<AnyGc> = (0..3).rev().flat_map(objects_in).collect();
    let listed = objects();
    assert_eq!(all.len(), listed.len());
    assert!(all.iter().zip(&listed).all(|(x, y)| AnyGc::ptr_eq(x, y)));
    drop((all, listed, a, any, b));
    assert_eq!(drops.get(), 2);
}

#[test]
fn a_young_collection_does_not_trace_into_older_generations() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    // An old chain of `n` nodes.
    let n: u64 = if cfg!(miri) { 100 } else { 1000 };
    let head = node(&drops);
    let mut tail = head.clone();
    for _ in 1..n {
        let next = node(&drops);
        *tail.next.borrow_mut() = Some(next.clone());
        tail = next;
    }
    cyclegc::collect();
    // A young root that points into it.
    let young = node(&drops);
    *young.next.borrow_mut() = Some(head.clone());
    drop(young.clone());
    assert_eq!(cyclegc::count(), 1);
    let (freed, traced) = traced_by(|| cyclegc::collect_generation(0));
    assert_eq!((freed, traced), (0, 1), "only the young root is examined");
    // The old node it reached is a root of its own generation now: a full collection
    // examines the chain from it.
    assert_eq!(cyclegc::count(), 1);
    let (freed, traced) = traced_by(cyclegc::collect);
    assert_eq!((freed, traced), (0, n));
    drop((young, head, tail));
    assert_eq!(drops.get() as u64, n + 1);
}

/// A cycle with a young and an old member: the young collection sees the old member as a
/// reference from outside, and buffers it in its own generation, whose collection then finds
/// the whole cycle.
#[test]
fn a_cycle_across_generations_is_found_by_the_oldest_generation_it_touches() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let old = node(&drops);
    cyclegc::collect();
    let young = node(&drops);
    *old.next.borrow_mut() = Some(young.clone());
    // Moved in, not dropped: the old node is not a possible root.
    *young.next.borrow_mut() = Some(old);
    drop(young);
    assert_eq!(cyclegc::count(), 1);
    assert_eq!(
        cyclegc::collect_generation(0),
        0,
        "the old member refers to it"
    );
    assert_eq!(cyclegc::count(), 1, "the old member is buffered");
    // The young member is in generation 1 now, the old one's buffer is generation 2's.
    assert_eq!(cyclegc::collect_generation(1), 0);
    assert_eq!(drops.get(), 0);
    assert_eq!(cyclegc::collect_generation(2), 2);
    assert_eq!(drops.get(), 2);
    assert_eq!(cyclegc::stats().generations[2].collected, 2);
}

#[test]
fn a_young_cycle_is_found_by_a_young_collection() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let before = cyclegc::stats().generations;
    let a = node(&drops);
    let b = node(&drops);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop((a, b));
    assert_eq!(cyclegc::collect_generation(0), 2);
    assert_eq!(drops.get(), 2);
    let after = cyclegc::stats().generations;
    assert_eq!(after[0].collected, before[0].collected + 2);
    assert_eq!(after[2].collected, before[2].collected);
}

#[test]
fn counts_follow_cpython() {
    quiet();
    assert_eq!(cyclegc::counts(), [0, 0, 0]);
    let drops = Rc::new(Cell::new(0));
    let a = node(&drops);
    drop(a.clone());
    assert_eq!(cyclegc::counts(), [1, 0, 0]);
    cyclegc::collect_generation(0);
    cyclegc::collect_generation(0);
    assert_eq!(cyclegc::counts(), [0, 2, 0]);
    cyclegc::collect_generation(1);
    assert_eq!(cyclegc::counts(), [0, 0, 1]);
    cyclegc::collect();
    assert_eq!(cyclegc::counts(), [0, 0, 0]);
    assert_eq!(cyclegc::count(), cyclegc::counts()[0]);
}

#[test]
fn an_invalid_generation_panics_with_a_clear_message() {
    for (what, f) in [
        (
            "collect_generation",
            (|| _ = cyclegc::collect_generation(3)) as fn(),
        ),
        ("objects_in", || drop(objects_in(3))),
    ] {
        let err = panic::catch_unwind(f).unwrap_err();
        let message = err
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        assert_eq!(
            message, "invalid generation 3: expected 0, 1 or 2",
            "{what}"
        );
    }
}

#[test]
fn thresholds_are_per_generation() {
    assert_eq!(cyclegc::threshold(), cyclegc::thresholds()[0]);
    cyclegc::set_thresholds([7, 8, 9]);
    assert_eq!(cyclegc::thresholds(), [7, 8, 9]);
    cyclegc::set_threshold(5);
    assert_eq!(cyclegc::thresholds(), [5, 8, 9]);
}

/// With a generation-0 threshold of 1, every root makes the next allocation collect; once
/// generation 0 has been collected twice (threshold 2), generation 1 is, and once generation
/// 1 has been collected twice, generation 2 is (the last full collection found nothing
/// alive, so no old root needs to wait).
#[test]
fn automatic_collections_choose_the_oldest_generation_due() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let keep = node(&drops);
    cyclegc::set_thresholds([1, 2, 2]);
    cyclegc::enable();
    let before = cyclegc::stats().generations;
    let mut chosen = Vec::new();
    for _ in 0..7 {
        let fresh = node(&drops);
        drop(fresh.clone()); // one young root
        let start = cyclegc::stats().generations;
        drop(node(&drops)); // the allocation collects
        let end = cyclegc::stats().generations;
        let generation = (0..3).find(|&g| end[g].collections != start[g].collections);
        chosen.push(generation.expect("an automatic collection ran"));
    }
    assert_eq!(chosen, [0, 0, 1, 0, 0, 1, 2]);
    let after = cyclegc::stats().generations;
    assert_eq!(after[1].collections - before[1].collections, 2);
    quiet();
    drop(keep);
}

/// A full automatic collection waits until the roots buffered in generation 2 are a quarter
/// of what the last full collection found alive.
#[test]
fn automatic_full_collections_are_amortised_over_old_roots() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let old: Vec<Gc<Node>> = (0..100).map(|_| node(&drops)).collect();
    for node in &old {
        drop(node.clone());
    }
    assert_eq!(traced_by(cyclegc::collect), (0, 100));
    cyclegc::set_thresholds([1, 0, 0]);
    cyclegc::enable();
    let automatic = |old_roots: &[Gc<Node>]| {
        for node in old_roots {
            drop(node.clone());
        }
        let start = cyclegc::stats().generations;
        drop(node(&drops));
        let end = cyclegc::stats().generations;
        (0..3)
            .find(|&g| end[g].collections != start[g].collections)
            .expect("an automatic collection ran")
    };
    // 24 old roots, fewer than 100 / 4: generation 1 (its threshold of 0 is always reached).
    assert_eq!(automatic(&old[..24]), 1);
    // The 24 are still buffered; one more makes 25.
    assert_eq!(automatic(&old[24..25]), 2);
    quiet();
    drop(old);
    assert_eq!(drops.get(), 102);
}

#[test]
fn frozen_objects_are_never_collected_until_unfrozen() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let a = node(&drops);
    let b = node(&drops);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    let any = AnyGc::from(a.clone());
    let unrelated = node(&drops);
    cyclegc::freeze();
    assert_eq!(cyclegc::freeze_count(), 3);
    assert_eq!(generation_of(&any), None, "not listed, as in CPython");
    assert!(!objects().iter().any(|o| AnyGc::ptr_eq(o, &any)));
    drop((a, b, any));
    assert_eq!(cyclegc::count(), 2, "frozen roots are counted");
    assert_eq!(traced_by(cyclegc::collect), (0, 0), "nothing examined");
    assert_eq!(cyclegc::collect_generation(0), 0);
    assert_eq!(drops.get(), 0);
    // Reference counting goes on.
    drop(unrelated);
    assert_eq!((drops.get(), cyclegc::freeze_count()), (1, 2));
    // Objects allocated after the freeze are not frozen.
    let young = node(&drops);
    assert_eq!(generation_of(&AnyGc::from(young.clone())), Some(0));
    cyclegc::unfreeze();
    assert_eq!(cyclegc::freeze_count(), 0);
    // The root buffered meanwhile went to generation 2 with its object.
    assert_eq!(cyclegc::collect_generation(1), 0);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(drops.get(), 3);
    drop(young);
}

/// A young collection reaching a frozen object buffers it with the frozen ones, and
/// `unfreeze` hands it to generation 2.
#[test]
fn a_cycle_through_a_frozen_object_is_found_after_unfreeze() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let frozen = node(&drops);
    cyclegc::freeze();
    let young = node(&drops);
    *frozen.next.borrow_mut() = Some(young.clone());
    *young.next.borrow_mut() = Some(frozen);
    drop(young);
    assert_eq!(cyclegc::collect(), 0);
    assert_eq!(cyclegc::collect(), 0);
    cyclegc::unfreeze();
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(drops.get(), 2);
}

#[test]
fn a_threads_exit_collects_its_frozen_cycles() {
    let drops = Rc::new(Cell::new(0));
    let shared = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = shared.clone();
    std::thread::spawn(move || {
        #[derive(Trace)]
        struct Counted {
            #[trace(skip)]
            drops: std::sync::Arc<std::sync::atomic::AtomicUsize>,
            next: RefCell<Option<Gc<Counted>>>,
        }
        impl Drop for Counted {
            fn drop(&mut self) {
                self.drops
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let make = || {
            Gc::new(Counted {
                drops: seen.clone(),
                next: RefCell::new(None),
            })
        };
        let (a, b) = (make(), make());
        *a.next.borrow_mut() = Some(b.clone());
        *b.next.borrow_mut() = Some(a.clone());
        cyclegc::freeze();
        drop((a, b));
        assert_eq!(cyclegc::collect(), 0);
    })
    .join()
    .unwrap();
    assert_eq!(shared.load(std::sync::atomic::Ordering::Relaxed), 2);
    drop(drops);
}

/// `get_mut` on a frozen object with a root-buffer entry takes it out of the frozen ones (to
/// generation 2) while its entry stays in the frozen buffer: a full collection must still
/// find a cycle through it.
#[test]
fn a_frozen_object_lent_by_get_mut_is_collected_by_a_full_collection() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let mut x = node(&drops);
    cyclegc::freeze();
    drop(x.clone()); // buffered with the frozen objects
    assert!(Gc::get_mut(&mut x).is_some());
    assert_eq!(cyclegc::freeze_count(), 0, "no longer frozen");
    let y = Gc::new(Node {
        drops: drops.clone(),
        next: RefCell::new(Some(x.clone())),
    });
    *x.next.borrow_mut() = Some(y);
    drop(x); // the withdrawn entry, still in the frozen buffer, becomes a root again
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(drops.get(), 2);
    cyclegc::unfreeze();
}

/// A frozen object freed by its reference count is no longer counted, even while a
/// root-buffer entry keeps its allocation. (The entries themselves are purged as the buffer
/// grows: `collector.rs`'s unit test.)
#[test]
fn freed_frozen_objects_are_not_counted() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let nodes: Vec<Gc<Node>> = (0..50).map(|_| node(&drops)).collect();
    let weak = Gc::downgrade(&nodes[0]);
    cyclegc::freeze();
    assert_eq!(cyclegc::freeze_count(), 50);
    for node in &nodes {
        drop(node.clone()); // every one buffered with the frozen objects
    }
    drop(nodes);
    assert_eq!(drops.get(), 50);
    assert_eq!(
        cyclegc::freeze_count(),
        0,
        "freed, even if an entry keeps the memory"
    );
    cyclegc::unfreeze();
    cyclegc::collect();
    drop(weak);
}

thread_local! {
    static MOST_WEAK: Cell<usize> = const { Cell::new(0) };
}

/// A young node whose `Trace` records how many `Weak` handles its target seems to have.
struct Probe {
    to: Gc<Node>,
}

// SAFETY: reports its one `Gc`.
unsafe impl Trace for Probe {
    fn trace(&self, tracer: &mut cyclegc::Tracer) {
        MOST_WEAK.with(|m| m.set(m.get().max(Gc::weak_count(&self.to))));
        self.to.trace(tracer);
    }
}

/// An old object reached through many edges by a young collection is kept once (one entry,
/// one unit of its weak count), not once per edge.
#[test]
fn an_old_object_reached_through_many_edges_is_kept_once() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let old = node(&drops);
    cyclegc::collect();
    let young: Vec<Gc<Probe>> = (0..100)
        .map(|_| Gc::new(Probe { to: old.clone() }))
        .collect();
    for probe in &young {
        drop(probe.clone());
    }
    assert_eq!(cyclegc::collect_generation(0), 0);
    assert_eq!(MOST_WEAK.with(Cell::get), 0, "no hold counted as a `Weak`");
    assert_eq!(cyclegc::count(), 1, "the old object, once");
    drop(young);
    drop(old);
    assert_eq!(drops.get(), 1);
}
