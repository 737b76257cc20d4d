//! Loom models of the races of ARCHITECTURE.md ("A thread-safe collection") that involve the
//! whole collector: the real handles, root buffers, collector lock, tracer, validation and claim,
//! built from loom's primitives (`src/primitive.rs`). The races of the state word alone are
//! modelled in `state.rs`.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --lib
//! loom_models`. Each model keeps to two or three threads and two or three objects.

use crate::primitive::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::primitive::sync::{Arc, Mutex};
use crate::primitive::thread;
use crate::sync::{self as flavour, AnyGc as AnyGcOf, Gc, Weak};
use crate::trace::{Trace, Tracer};

/// A traced field behind loom's `Mutex` (std's would block a loom thread for real), traced as
/// the crate's `Trace` impl for std's `Mutex` traces: `try_lock`, the guard handed to the
/// tracer, which holds it until the verdict.
struct Locked<T>(Mutex<T>);

// SAFETY: as the impl for std's `Mutex` in `impls.rs`: the content is owned; a lock that
// cannot be taken now is skipped (its object counts as live).
unsafe impl<T: Trace> Trace for Locked<T> {
    fn trace(&self, tracer: &mut Tracer) {
        match self.0.try_lock() {
            // SAFETY: the guard locks `self`, part of the value being traced, and derefs into
            // the lock's data, which does not move with the guard.
            Ok(guard) => unsafe { tracer.guarded(guard) },
            Err(_) => tracer.skip_busy(),
        }
    }
}

/// An object of the models: traced edges, and what its `Drop` records.
struct Node {
    edges: Locked<Vec<Gc<Node>>>,
    /// How many nodes of the model were dropped.
    drops: Arc<AtomicUsize>,
    /// Cleared by this node's `Drop`.
    alive: AtomicBool,
}

// SAFETY: reports its edges.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        self.edges.trace(tracer);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        assert!(
            self.alive.swap(false, Ordering::SeqCst),
            "a node was dropped twice"
        );
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn node(drops: &Arc<AtomicUsize>) -> Gc<Node> {
    Gc::new(Node {
        edges: Locked(Mutex::new(Vec::new())),
        drops: drops.clone(),
        alive: AtomicBool::new(true),
    })
}

fn link(from: &Gc<Node>, to: &Gc<Node>) {
    from.edges.0.lock().unwrap().push(to.clone());
}

/// A 2-cycle `a <-> b`; returns `a` (the caller's handle) and a `Weak` to `b`.
fn two_cycle(drops: &Arc<AtomicUsize>) -> (Gc<Node>, Weak<Node>) {
    let a = node(drops);
    let b = node(drops);
    link(&a, &b);
    link(&b, &a);
    let weak = Gc::downgrade(&b);
    (a, weak)
}

/// Collects until nothing is left; returns the total freed.
fn collect_all() -> usize {
    let mut total = 0;
    loop {
        match flavour::collect() {
            0 => return total,
            n => total += n,
        }
    }
}

/// A handle the mutator holds must reach a live value.
fn assert_alive(gc: &Gc<Node>) {
    let value = Gc::try_deref(gc).expect("the collector killed an object a mutator holds");
    assert!(
        value.alive.load(Ordering::SeqCst),
        "the collector dropped a value a mutator holds"
    );
}

/// Race 1: `Weak::upgrade` of a member of an orphaned 2-cycle while another thread collects
/// it. The upgrade either comes first (the pair survives, with its value intact, and is
/// freed when the upgraded handle goes) or sees the pair dead and returns `None`; never a
/// handle to a value the collector drops. Exactly one destructor per object at the end.
#[test]
fn an_upgrade_racing_a_collection_gets_a_live_value_or_none() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (a, weak_b) = two_cycle(&drops);
        drop(a); // orphaned: garbage unless the upgrade wins
        let mutator = thread::spawn(move || {
            if let Some(b) = weak_b.upgrade() {
                assert_alive(&b);
                thread::yield_now();
                assert_alive(&b);
            }
        });
        let freed = flavour::collect();
        mutator.join().unwrap();
        let freed = freed + collect_all();
        assert_eq!(freed, 2);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// Race 2: the last external handle to a 2-cycle is dropped on one thread while another
/// collects. The collector must not claim the pair while the handle lives (its count is
/// one more than the internal edges), the pair must not be lost (a possible root that the
/// collection took and revived must be buffered again by the drop that orphans it), and
/// exactly one destructor runs per object. `a` starts buffered, so the drop finds it
/// buffered: fails if that drop decrements with a plain `fetch_sub` after deciding from an
/// earlier load (the collection can take the entry in between; the pair then leaks).
#[test]
fn the_last_external_drop_and_a_collection_free_each_object_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (a, weak) = two_cycle(&drops);
        drop(a.clone()); // `a` is a possible root now
        let mutator = thread::spawn(move || {
            assert_alive(&a);
            drop(a);
        });
        let freed = flavour::collect();
        mutator.join().unwrap();
        let freed = freed + collect_all();
        assert_eq!(freed, 2);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        assert!(weak.upgrade().is_none());
    });
}

/// Race 4, the move-out: the mutator takes `a`'s edge to `b` out of `a`'s `Mutex` onto its
/// stack, and drops its handle to `a`, while the collector examines the pair: `b` must stay
/// alive while the mutator holds it, and both are freed once at the end.
///
/// The mutator reaches `a` through a `Weak` after dropping its first handle, which
/// buffered `a`: if the collector enters `a` (through `b`'s edge) after that, it records a
/// word with `BUFFERED` set, and the upgrade and the drop of the upgraded handle leave that
/// word exactly as it was. So the claim's compare-and-swap cannot see the move; only the
/// validation — `a` traced again under its lock, which stays held until the claim is
/// decided — finds the edge gone. Fails without the validation, and with a validation that
/// lets go of the lock before the claim.
#[test]
fn a_handle_moved_out_of_a_traced_lock_stays_alive() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (a, weak_b) = two_cycle(&drops);
        drop(weak_b);
        let weak_a = Gc::downgrade(&a);
        let mutator = thread::spawn(move || {
            drop(a); // `a` is a possible root now, and the pair is garbage ...
            thread::yield_now();
            // ... unless this upgrade comes first.
            if let Some(a) = weak_a.upgrade() {
                let taken = a.edges.0.lock().unwrap().pop();
                drop(a);
                thread::yield_now();
                if let Some(b) = taken {
                    assert_alive(&b);
                }
            }
        });
        flavour::collect();
        mutator.join().unwrap();
        collect_all();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// Race 4, the hand-off (found by review): the mutator moves the only handle to `a` out of
/// `q`'s `Mutex` onto its stack and its own handle to `q` into `a`'s `Mutex`, between the
/// collector's trace of `q` and its trace of `a`. No count changes and nothing is dropped,
/// yet the edges the collector counted (`q -> a`, `a -> q`) explain both counts: only
/// reading the edges again, under locks held through the claim, sees that `q -> a` is gone.
/// Fails with a claim that checks the state words alone.
#[test]
fn a_handle_handed_into_a_member_traced_later_stays_alive() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let q = node(&drops);
        let a = node(&drops);
        q.edges.0.lock().unwrap().push(a);
        drop(q.clone()); // `q` is a possible root
        let mutator = thread::spawn(move || {
            let a = q.edges.0.lock().unwrap().pop().expect("q's edge to a");
            a.edges.0.lock().unwrap().push(q);
            thread::yield_now();
            assert_alive(&a);
            drop(a);
        });
        flavour::collect();
        mutator.join().unwrap();
        collect_all();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// Race 7: two threads collect at once while a third drops the last outside handle to a
/// cycle that one of the collections is already reading. Garbage cycle `p1 <-> p2` points to
/// the cycle `q1 <-> q2`, which the mutator's handle keeps alive. If the second collection
/// could run while the first reads `q1`, it would take `q1`'s fresh root-buffer entry and
/// find it already scanned, while the first, which counted the mutator's handle, revives
/// `q1`: the `Q` cycle, garbage now, would have no possible root left and leak. One
/// collection at a time (the collector lock) makes the second take the entry after the first
/// is done. No deadlock, and all four objects are freed exactly once. Fails if collections
/// do not exclude each other.
#[test]
fn two_concurrent_collections_free_each_object_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (p1, _) = two_cycle(&drops);
        let (q1, _) = two_cycle(&drops);
        link(&p1, &q1);
        drop(p1);
        let mutator = thread::spawn(move || drop(q1));
        let other = thread::spawn(flavour::collect);
        let freed = flavour::collect() + other.join().unwrap();
        mutator.join().unwrap();
        let freed = freed + collect_all();
        assert_eq!(freed, 4);
        assert_eq!(drops.load(Ordering::SeqCst), 4);
    });
}

/// An object whose `Drop` collects (from the collecting thread: returns 0 at once) and makes
/// a new garbage cycle.
struct Collecting {
    me: Locked<Option<Gc<Collecting>>>,
    drops: Arc<AtomicUsize>,
}

// SAFETY: reports its one edge.
unsafe impl Trace for Collecting {
    fn trace(&self, tracer: &mut Tracer) {
        self.me.trace(tracer);
    }
}

impl Drop for Collecting {
    fn drop(&mut self) {
        assert_eq!(
            flavour::collect(),
            0,
            "a collection from a `Drop` of its garbage"
        );
        // More garbage, made and dropped during the destruction.
        let a = node(&self.drops);
        link(&a, &a);
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Race 8: a `Drop` of garbage calls `collect()` and makes and drops more `sync::Gc`s,
/// while another thread collects too. No deadlock, and no garbage is lost: the cycle the
/// `Drop` made is freed by one of the collections, or by the one at the end.
#[test]
fn a_drop_that_collects_and_allocates_loses_no_garbage() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let x = Gc::new(Collecting {
            me: Locked(Mutex::new(None)),
            drops: drops.clone(),
        });
        *x.me.0.lock().unwrap() = Some(x.clone());
        drop(x);
        let other = thread::spawn(flavour::collect);
        let freed = flavour::collect() + other.join().unwrap() + collect_all();
        // `x`, and the self-cycle its `Drop` made.
        assert_eq!(freed, 2);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// Race 9: saving garbage (`sync::set_save_all`) while another thread upgrades a member of
/// the orphaned pair and cuts its edge to the other member. If the upgrade comes first, the
/// pair is no garbage and nothing is saved; otherwise the collector completes its claim by
/// *keeping* each member, with a strong reference of its own taken while its held guards
/// still keep the edges from changing, so the member the mutator unlinks stays alive in the
/// saved list. Exactly one destructor per object at the end. Fails (loom crashes on the use
/// after free) if the collector takes its references only once the objects have left the
/// scan.
#[test]
fn saved_garbage_stays_alive_when_a_mutator_unlinks_it() {
    loom::model(|| {
        flavour::set_save_all(true);
        let drops = Arc::new(AtomicUsize::new(0));
        let (a, weak_b) = two_cycle(&drops);
        drop(a);
        let mutator = thread::spawn(move || {
            if let Some(b) = weak_b.upgrade() {
                assert_alive(&b);
                // `b -> a` is the only strong reference to `a` left.
                let edges = std::mem::take(&mut *b.edges.0.lock().unwrap());
                drop(edges);
                assert_alive(&b);
            }
        });
        flavour::collect();
        mutator.join().unwrap();
        flavour::set_save_all(false);
        let saved = flavour::take_garbage();
        assert!(saved.is_empty() || saved.len() == 2, "all or nothing");
        for object in &saved {
            let node = object.clone().downcast::<Node>().expect("only nodes");
            assert_alive(&node);
        }
        drop(saved);
        collect_all();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// Race 9, what saving promises: once the pair is saved, no upgrade of a member failed
/// meanwhile (a thread that upgrades a `Weak` to saved garbage gets it, alive). The mutator
/// unlinks `b -> a`, then upgrades `a`. Fails if the collector takes its references after
/// releasing the held guards (the unlink then takes `a`'s count to zero while it is still
/// in the scan, and its upgrade fails, before the collector's reference revives it).
#[test]
fn a_saved_object_never_failed_an_upgrade() {
    loom::model(|| {
        flavour::set_save_all(true);
        let drops = Arc::new(AtomicUsize::new(0));
        let (a, weak_b) = two_cycle(&drops);
        let weak_a = Gc::downgrade(&a);
        drop(a);
        let mutator = thread::spawn(move || {
            let b = weak_b.upgrade().expect("saving: never dead");
            let edges = std::mem::take(&mut *b.edges.0.lock().unwrap());
            drop(edges);
            weak_a.upgrade().is_some()
        });
        flavour::collect();
        let upgraded_a = mutator.join().unwrap();
        flavour::set_save_all(false);
        let saved = flavour::take_garbage();
        if saved.len() == 2 {
            assert!(upgraded_a, "a saved object failed an upgrade meanwhile");
        }
        drop(saved);
        collect_all();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// The registry: a walk of the heap's view (`sync::objects`) while another thread drops the
/// last handle to an object. The walk takes a handle only from a live object (a
/// compare-and-swap that fails on a zero count), so every value it lists is alive, and each
/// value is dropped once. Fails with a walk that adds a strong reference unconditionally:
/// it revives an object whose value is being dropped.
#[test]
fn a_walk_never_revives_a_dropped_object() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let x = node(&drops);
        let walker = thread::spawn(|| {
            for object in flavour::objects() {
                let node = object.downcast::<Node>().expect("only nodes");
                assert_alive(&node);
            }
        });
        drop(x);
        walker.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// The registry: a walk racing the claim of an orphaned 2-cycle. A member being claimed is
/// locked (`CLAIMING`): the walk, which may not wait under a table's lock, takes a weak unit
/// and upgrades it afterwards, getting the object alive (the claim was abandoned) or
/// nothing. Fails with a walk that takes a strong reference from a claimed word: it lists a
/// value the collector then drops.
#[test]
fn a_walk_racing_a_claim_lists_only_live_objects() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (a, _weak_b) = two_cycle(&drops);
        drop(a);
        let walker = thread::spawn(|| {
            let listed = flavour::objects();
            for object in &listed {
                let node = object.clone().downcast::<Node>().expect("only nodes");
                assert_alive(&node);
            }
            thread::yield_now();
            for object in &listed {
                let node = object.clone().downcast::<Node>().expect("only nodes");
                assert_alive(&node);
            }
        });
        flavour::collect();
        walker.join().unwrap();
        collect_all();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// A value `Gc::get_mut` writes through its `&mut` while a walk may read it through a
/// listed handle: loom's cell reports any two accesses that are not ordered.
struct Lent(crate::primitive::cell::UnsafeCell<usize>);

// SAFETY: the model checks that the cell is never written while another thread reads it.
unsafe impl Sync for Lent {}

// SAFETY: owns no `Gc` (but claims it might, so that it is tracked and listed).
unsafe impl Trace for Lent {
    fn trace(&self, _: &mut Tracer) {}
}

/// The registry: `Gc::get_mut` lends the value of a listed object while a walk lists it.
/// `get_mut` takes the object out of its table and then checks again that its handle is the
/// only one: a walk that took a handle before then makes it refuse, and none can take one
/// after. Fails (loom reports the unordered accesses) with a `get_mut` that checks only
/// before unlisting, or never unlists.
#[test]
fn get_mut_never_lends_a_value_a_walk_reads() {
    loom::model(|| {
        let mut x = Gc::new(Lent(crate::primitive::cell::UnsafeCell::new(0)));
        let walker = thread::spawn(|| {
            for object in flavour::objects() {
                if let Ok(lent) = object.downcast::<Lent>() {
                    // SAFETY: what the model checks (see `Lent`).
                    lent.0.with(|value| unsafe { *value });
                }
            }
        });
        if let Some(lent) = Gc::get_mut(&mut x) {
            // SAFETY: as above.
            lent.0.with_mut(|value| unsafe { *value += 1 });
        }
        walker.join().unwrap();
    });
}

/// The registry: tidying a full table renumbers an object while another thread drops its
/// last handle. The freeing thread reads the object's number under the table's lock, so it
/// takes out its own slot, whichever number it has by then; the list ends exact. Fails with
/// a free that reads the number before taking the lock (it clears a slot by a stale number).
#[test]
fn a_renumbered_object_leaves_its_own_slot() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        // A full table of four, with holes in the middle: the next object tidies it, which
        // renumbers the last one.
        let mut nodes: Vec<Gc<Node>> = (0..4).map(|_| node(&drops)).collect();
        let last = nodes.pop().expect("four");
        nodes.truncate(1);
        let dropper = thread::spawn(move || drop(last));
        let newest = node(&drops);
        dropper.join().unwrap();
        let listed = flavour::objects();
        assert_eq!(listed.len(), 2, "the list is exact");
        for gc in [&nodes[0], &newest] {
            let gc = AnyGcOf::from(gc.clone());
            assert!(listed.iter().any(|o| AnyGcOf::ptr_eq(o, &gc)));
        }
        drop((listed, nodes, newest));
        assert_eq!(drops.load(Ordering::SeqCst), 5);
    });
}

/// Race 10: between the trace of an object and the collector's look at the edges it reported,
/// a mutator takes the only handle to a child out of the traced lock and drops it, which frees
/// a child that is not in the scan. The collector holds the traced guards until it has
/// entered (or refused) every child, so the child stays allocated until then. Fails (loom
/// reads the header that `free` overwrote) if the guards go once the object is traced.
#[test]
fn a_child_dropped_after_its_parents_trace_is_never_read_freed() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let parent = node(&drops);
        link(&parent, &parent); // a self-cycle, so that `parent` is a possible root
                                // The child's only handle, moved in: it never dropped to a non-zero count, so it has
                                // no root-buffer entry (whose unit would keep its header).
        parent.edges.0.lock().unwrap().push(node(&drops));
        let extra = parent.clone();
        drop(extra); // buffered
        let mutator = {
            let parent = parent.clone();
            thread::spawn(move || {
                let taken = parent.edges.0.lock().unwrap().pop();
                drop(taken);
            })
        };
        flavour::collect();
        mutator.join().unwrap();
        drop(parent);
        collect_all();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// Generations: a cycle between an old object with no root-buffer entry and a young one,
/// whose last handle from outside goes on another thread while generation 0 is collected.
/// The young collection does not follow the edge into generation 2, but makes the old
/// object it reached a root of generation 2 (by the same compare-and-swap a buffering drop
/// uses), so the full collection after it finds the cycle. Fails (a leak: nothing dropped)
/// with a young collection that only counts the old object as referenced from outside.
#[test]
fn a_young_collection_makes_the_old_objects_it_reaches_roots() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let old = node(&drops);
        drop(old.clone()); // a possible root, so that the full collection promotes it
        flavour::collect(); // `old` is in generation 2, its entry gone (it was alive)
        let young = node(&drops);
        link(&old, &young);
        // The only handle to `old` moves into `young`: `old` gets no entry.
        young.edges.0.lock().unwrap().push(old);
        let extra = young.clone();
        drop(young); // buffered: the cycle's one entry
        let mutator = thread::spawn(move || drop(extra));
        flavour::collect_generation(0);
        mutator.join().unwrap();
        collect_all();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// The registry: a walk of the heap's view (`sync::objects`) while a collection promotes
/// the object it looks for. The walk reads each table once, sorting by generation as it
/// goes, so an object alive throughout is listed whatever generation it is in. Fails with a
/// walk by generation (one pass per generation: the promotion can move the object into a
/// generation already walked).
#[test]
fn a_walk_racing_a_promotion_lists_every_live_object() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let x = node(&drops);
        let walker = {
            let x = AnyGcOf::from(x.clone());
            thread::spawn(move || {
                let listed = flavour::objects();
                assert!(
                    listed.iter().any(|o| AnyGcOf::ptr_eq(o, &x)),
                    "a live object was not listed"
                );
            })
        };
        flavour::collect_generation(0);
        walker.join().unwrap();
        drop(x);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// Freezing: `get_mut` on a frozen object whose entry waits in the frozen buffer, while a
/// full collection runs. The object leaves the registry (generation 2 from then on) and then
/// flags it; the collection takes the flag after draining the buffers and before it reads
/// the frozen entries' keys again. Either that collection or the next full one files the
/// entry where a full collection examines it, so the cycle through the object is freed.
/// Fails (a leak) with no flag.
#[test]
fn a_frozen_object_lent_during_a_collection_is_examined_by_the_next_full_one() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut x = node(&drops);
        flavour::freeze();
        drop(x.clone()); // a possible root...
        flavour::collect_generation(0); // ...filed with the frozen ones
        let mutator = {
            let drops = drops.clone();
            thread::spawn(move || {
                // `None` only while the collection gives back the entry (see `get_mut`);
                // then `x` stays frozen.
                let lent = Gc::get_mut(&mut x).is_some();
                // A cycle whose one possible root is `x`: `y` is moved in, never dropped.
                let y = node(&drops);
                link(&y, &x);
                x.edges.0.lock().unwrap().push(y);
                drop(x); // the withdrawn entry becomes a root again
                lent
            })
        };
        flavour::collect();
        let lent = mutator.join().unwrap();
        if !lent {
            flavour::unfreeze();
        }
        collect_all();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// Freezing: a tidying on an allocating thread lowers the end of its table's frozen range
/// while a collection files entries with the marks it copied as it began. A young object
/// numbered below the old end would be filed with the frozen entries and never examined;
/// the tidying flags it, and that collection (if full) or the next full one files the
/// frozen entries again with fresh marks, so the young cycle is freed without
/// `unfreeze()`. `holes`: which of the four frozen objects go (in the middle: renumbered;
/// at the back: dropped). Fails (a leak) if the tidying does not set the flag, or if the
/// frozen entries are filed again with the collection's own marks.
fn a_tidying_racing_a_collection(collect: fn() -> usize, holes: std::ops::Range<usize>) {
    loom::model(move || {
        let drops = Arc::new(AtomicUsize::new(0));
        let others = Arc::new(AtomicUsize::new(0));
        // Four frozen objects fill this thread's table (two holes then).
        let mut frozen: Vec<_> = (0..4).map(|_| node(&others)).collect();
        flavour::freeze();
        frozen.drain(holes.clone());
        let collector = thread::spawn(collect);
        // The table is full: listing `y` tidies it, and `y` and `z` get numbers the frozen
        // range had.
        let y = node(&drops);
        let z = node(&drops);
        link(&y, &z);
        link(&z, &y);
        drop((y, z)); // both buffered
        collector.join().unwrap();
        collect_all();
        assert_eq!(
            drops.load(Ordering::SeqCst),
            2,
            "a young cycle was left frozen"
        );
        drop(frozen);
    });
}

#[test]
fn a_tidying_renumbering_during_a_full_collection_leaves_no_young_entry_frozen() {
    a_tidying_racing_a_collection(flavour::collect, 1..3);
}

#[test]
fn a_tidying_dropping_the_back_during_a_young_collection_leaves_no_young_entry_frozen() {
    a_tidying_racing_a_collection(|| flavour::collect_generation(0), 2..4);
}
