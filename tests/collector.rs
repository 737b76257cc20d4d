//! Cycles are found and freed; trial deletion leaves live objects and their counts alone;
//! automatic collection is bounded and amortised.

mod common;

use std::cell::RefCell;

use common::{build, drops, on_small_stack, Node, Shape};
use cyclegc::{Gc, Trace, Tracer, Weak};

/// A ring of `n` nodes, each linked to the next; returns the first.
fn ring(n: usize) -> Gc<Node> {
    build(Shape::Ring, n).0
}

#[test]
fn self_loop_is_collected() {
    let before = drops();
    let a = Node::new(0);
    Node::link(&a, &a);
    let w = Gc::downgrade(&a);
    drop(a);
    assert_eq!(drops(), before, "refcounting alone cannot free a cycle");
    assert!(w.upgrade().is_some(), "not collected yet");
    assert_eq!(cyclegc::collect(), 1);
    assert_eq!(drops(), before + 1);
    assert!(w.upgrade().is_none());
}

#[test]
fn two_cycle_and_what_hangs_from_it() {
    let before = drops();
    let a = Node::new(0);
    let b = Node::new(1);
    let tail = Node::new(2);
    Node::link(&a, &b);
    Node::link(&b, &a);
    Node::link(&b, &tail);
    let wa = Gc::downgrade(&a);
    drop((a, b, tail));
    assert_eq!(
        cyclegc::collect(),
        3,
        "the tail is reachable only from garbage"
    );
    assert_eq!(drops(), before + 3);
    assert!(wa.upgrade().is_none());
}

#[test]
fn externally_referenced_cycle_survives_with_counts_intact() {
    let a = Node::new(0);
    let b = Node::new(1);
    Node::link(&a, &b);
    Node::link(&b, &a);
    let keep = a.clone();
    drop((a, b));
    let before = drops();
    let strong_before = (
        Gc::strong_count(&keep),
        Gc::strong_count(&keep.edges.borrow()[0]),
    );
    assert_eq!(cyclegc::collect(), 0);
    assert_eq!(drops(), before);
    let strong_after = (
        Gc::strong_count(&keep),
        Gc::strong_count(&keep.edges.borrow()[0]),
    );
    assert_eq!(
        strong_before, strong_after,
        "trial deletion never writes real counts"
    );
    keep.edges.borrow_mut().clear();
}

#[test]
fn garbage_hanging_off_a_live_object_waits_for_its_own_cycle() {
    let live = Node::new(0);
    let a = Node::new(1);
    Node::link(&live, &a);
    Node::link(&a, &a);
    drop(a);
    assert_eq!(cyclegc::collect(), 0, "`a` is referenced by a live object");
    live.edges.borrow_mut().clear(); // now `a` only references itself
    assert_eq!(cyclegc::collect(), 1);
}

#[test]
fn collect_returns_the_number_freed_and_updates_stats() {
    let s0 = cyclegc::stats();
    for _ in 0..3 {
        let a = Node::new(0);
        let b = Node::new(1);
        Node::link(&a, &b);
        Node::link(&b, &a);
    }
    assert_eq!(cyclegc::collect(), 6);
    let s1 = cyclegc::stats();
    assert_eq!(s1.collections, s0.collections + 1);
    assert_eq!(s1.collected, s0.collected + 6);
    assert_eq!(s1.traced, s0.traced + 6);
    assert_eq!(s1.aborted, s0.aborted);
}

#[test]
fn dead_ring_is_collected_on_a_small_stack() {
    const N: usize = if cfg!(miri) { 200 } else { 1_000_000 };
    on_small_stack(256 * 1024, || {
        let before = drops();
        drop(ring(N));
        assert_eq!(cyclegc::collect(), N);
        assert_eq!(drops() - before, N);
    });
}

#[test]
fn live_ring_survives_a_collection_on_a_small_stack() {
    const N: usize = if cfg!(miri) { 200 } else { 1_000_000 };
    on_small_stack(256 * 1024, || {
        cyclegc::disable();
        let head = ring(N);
        // Make every node a possible root, the worst case for the scan.
        {
            let mut node = head.clone();
            for _ in 0..N {
                let next = node.edges.borrow()[0].clone();
                node = next;
            }
        }
        let before = drops();
        assert_eq!(cyclegc::collect(), 0);
        assert_eq!(drops(), before);
        assert_eq!(cyclegc::stats().traced as usize, N);
        drop(head);
        assert_eq!(cyclegc::collect(), N);
        cyclegc::enable();
    });
}

#[test]
fn doubly_linked_list_is_collected() {
    const N: usize = if cfg!(miri) { 100 } else { 100_000 };
    let before = drops();
    let (head, tail) = build(Shape::DoublyLinked, N);
    drop((head, tail));
    assert_eq!(cyclegc::collect(), N);
    assert_eq!(drops() - before, N);
}

#[test]
fn weak_upgrade_fails_for_collected_objects() {
    let a = Node::new(0);
    let b = Node::new(1);
    Node::link(&a, &b);
    Node::link(&b, &a);
    let (wa, wb) = (Gc::downgrade(&a), Gc::downgrade(&b));
    drop((a, b));
    assert!(wa.upgrade().is_some());
    cyclegc::collect();
    assert!(wa.upgrade().is_none() && wb.upgrade().is_none());
    assert_eq!((wa.strong_count(), wa.weak_count()), (0, 0));
}

#[test]
fn automatic_collection_frees_cycles_without_collect() {
    let old = cyclegc::threshold();
    cyclegc::set_threshold(10);
    let before = drops();
    for i in 0..100 {
        let a = Node::new(i);
        Node::link(&a, &a);
    }
    // 100 possible roots with a threshold of 10: at least 80 freed by `Gc::new`.
    assert!(drops() - before >= 80, "freed {}", drops() - before);
    assert!(cyclegc::count() <= 10);
    cyclegc::set_threshold(old);
    cyclegc::collect();
    assert_eq!(drops() - before, 100);
}

#[test]
fn automatic_collection_runs_when_the_buffer_reaches_the_threshold() {
    cyclegc::collect();
    let old = cyclegc::threshold();
    cyclegc::set_threshold(10);
    let start = cyclegc::stats().collections;
    for i in 0..10 {
        let a = Node::new(i);
        Node::link(&a, &a);
        drop(a);
        assert_eq!(cyclegc::count(), i + 1);
    }
    assert_eq!(
        cyclegc::stats().collections,
        start,
        "not before the threshold"
    );
    // The next allocation of a tracked type finds 10 buffered roots: it collects them first.
    let a = Node::new(10);
    assert_eq!(cyclegc::stats().collections, start + 1);
    assert_eq!(cyclegc::count(), 0);
    drop(a);
    // Turning automatic collection off and on again keeps the count of buffered roots.
    cyclegc::disable();
    for i in 0..10 {
        let a = Node::new(i);
        Node::link(&a, &a);
    }
    assert_eq!(cyclegc::count(), 10);
    cyclegc::enable();
    assert_eq!(cyclegc::stats().collections, start + 1);
    drop(Node::new(0));
    assert_eq!(cyclegc::stats().collections, start + 2);
    cyclegc::set_threshold(old);
}

#[test]
fn disable_stops_automatic_collection_and_threshold_zero_too() {
    cyclegc::collect();
    let old = cyclegc::threshold();
    cyclegc::set_threshold(5);
    for off in [0, 1] {
        if off == 0 {
            cyclegc::disable();
        } else {
            cyclegc::enable();
            cyclegc::set_threshold(0);
        }
        let before = drops();
        for i in 0..50 {
            let a = Node::new(i);
            Node::link(&a, &a);
        }
        assert_eq!(drops(), before);
        assert_eq!(cyclegc::count(), 50);
        assert_eq!(cyclegc::collect(), 50);
    }
    cyclegc::set_threshold(old);
    assert!(cyclegc::is_enabled());
}

#[test]
fn a_million_small_cycles_keep_pending_garbage_bounded() {
    const N: usize = if cfg!(miri) { 50 } else { 1_000_000 };
    cyclegc::collect();
    let threshold = cyclegc::threshold();
    let before = drops();
    let mut max_pending = 0;
    for i in 0..N {
        let a = Node::new(i);
        let b = Node::new(i);
        Node::link(&a, &b);
        Node::link(&b, &a);
        drop((a, b));
        max_pending = max_pending.max(cyclegc::count());
        let alive = 2 * (i + 1) - (drops() - before);
        assert!(alive <= 2 * (threshold + 1), "{alive} objects pending");
    }
    assert!(max_pending <= threshold);
    cyclegc::collect();
    assert_eq!(drops() - before, 2 * N);
}

#[test]
fn clone_drop_loop_on_a_live_pointer_never_collects() {
    cyclegc::collect();
    let a = Node::new(0);
    Node::link(&a, &a);
    let s0 = cyclegc::stats();
    for _ in 0..if cfg!(miri) { 20 } else { 10_000 } {
        drop(a.clone());
        // Allocations of tracked types are where automatic collection is checked.
        drop(Node::new(1));
    }
    assert_eq!(cyclegc::count(), 1, "buffered once, not once per drop");
    assert_eq!(cyclegc::stats().collections, s0.collections);
    a.edges.borrow_mut().clear();
}

#[test]
fn automatic_collection_is_amortised_over_a_growing_live_structure() {
    // Every node of a growing doubly-linked list becomes a possible root, and every root
    // reaches the whole list. Re-tracing the list at every threshold would be quadratic; the
    // survivor rule keeps the total traced within a constant factor of the roots buffered.
    const N: usize = if cfg!(miri) { 100 } else { 200_000 };
    cyclegc::collect();
    let old = cyclegc::threshold();
    cyclegc::set_threshold(if cfg!(miri) { 8 } else { 100 });
    let s0 = cyclegc::stats();
    let (head, tail) = build(Shape::DoublyLinked, N);
    let s1 = cyclegc::stats();
    let traced = (s1.traced - s0.traced) as usize;
    assert!(s1.collections > s0.collections, "automatic collections ran");
    assert!(traced <= 10 * N, "traced {traced} objects for {N} roots");
    cyclegc::set_threshold(old);
    drop((head, tail));
    assert_eq!(cyclegc::collect(), N);
}

#[test]
fn collection_during_borrow_mut_keeps_the_borrowed_contents_alive() {
    let old = cyclegc::threshold();
    cyclegc::set_threshold(1);
    let before = drops();
    let parent = Node::new(0);
    {
        let mut edges = parent.edges.borrow_mut();
        for i in 1..20 {
            // Each `Gc::new` may run a collection while `edges` is mutably borrowed.
            let child = Node::new(i);
            Node::link(&child, &parent); // child -> parent: a cycle through the borrowed cell
            edges.push(child.clone());
            drop(child.clone()); // make the child a possible root
            edges.push(Node::new(100 + i));
        }
    }
    assert_eq!(
        drops(),
        before,
        "nothing reachable from a live object was freed"
    );
    cyclegc::set_threshold(old);
    assert_eq!(parent.edges.borrow().len(), 38);
    drop(parent);
    assert_eq!(cyclegc::collect(), 39);
    assert_eq!(drops(), before + 39);
}

/// A `Trace` impl that reports its one edge twice: the collector must notice and free nothing.
struct Liar {
    next: RefCell<Option<Gc<Liar>>>,
}

// SAFETY: deliberately broken for this test; the collector must survive it.
unsafe impl Trace for Liar {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
        self.next.trace(tracer);
    }
}

#[test]
fn trace_reporting_an_edge_twice_aborts_the_collection() {
    let a = Gc::new(Liar {
        next: RefCell::new(None),
    });
    let wa: Weak<Liar> = Gc::downgrade(&a);
    let b = Gc::new(Liar {
        next: RefCell::new(Some(a)), // `a` is held by `b` only: strong count 1
    });
    drop(b.clone()); // `b` becomes a possible root; tracing it reports `a` twice
    let s0 = cyclegc::stats();
    let result = std::panic::catch_unwind(cyclegc::collect);
    assert_eq!(
        result.is_err(),
        cfg!(debug_assertions),
        "debug builds panic"
    );
    if let Ok(freed) = result {
        assert_eq!(freed, 0);
    }
    assert_eq!(cyclegc::stats().aborted, s0.aborted + 1);
    let a = wa.upgrade().expect("nothing was freed");
    assert_eq!(Gc::strong_count(&a), 2);
    assert_eq!(Gc::strong_count(&b), 1);
    // The collector is usable afterwards; clean up without the liar's double edge.
    *b.next.borrow_mut() = None;
    drop((a, b));
    assert!(wa.upgrade().is_none());
    assert_eq!(cyclegc::collect(), 0);
}
