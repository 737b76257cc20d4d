//! The heap's view of itself (single-threaded flavour): `objects`, `referents`, `referrers`
//! list exactly the live tracked objects and edges, through every way an object is made and
//! every way it goes. Each test runs on its own thread, so its heap is its own.
#![cfg(feature = "derive")]

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};

use cyclegc::{objects, referents, referrers, AnyGc, Gc, Trace, Tracer, Weak};

#[derive(Trace, Clone)]
struct Node {
    #[trace(skip)]
    id: u32,
    edges: RefCell<Vec<Gc<Node>>>,
}

fn node(id: u32) -> Gc<Node> {
    Gc::new(Node {
        id,
        edges: RefCell::new(Vec::new()),
    })
}

/// The ids of the listed `Node`s, in order; panics on any other type.
fn ids(listed: Vec<AnyGc>) -> Vec<u32> {
    listed
        .into_iter()
        .map(|o| o.downcast::<Node>().expect("only nodes here").id)
        .collect()
}

#[test]
fn objects_lists_every_live_tracked_object_once_oldest_first() {
    let nodes: Vec<_> = (0..5).map(node).collect();
    let _text = Gc::new(String::from("untracked"));
    assert_eq!(ids(objects()), [0, 1, 2, 3, 4]);
    drop(nodes);
    assert!(objects().is_empty());
}

#[test]
fn the_order_survives_compaction() {
    let mut nodes: Vec<_> = (0..1000).map(node).collect();
    // Free most of them, oldest first, so that the table compacts several times.
    let kept: Vec<_> = nodes.split_off(900);
    drop(nodes);
    assert_eq!(ids(objects()), (900..1000).collect::<Vec<_>>());
    drop(kept);
    assert!(objects().is_empty());
}

#[test]
fn the_order_survives_holes_in_the_middle() {
    let nodes: Vec<_> = (0..1000).map(node).collect();
    // Free every object whose id is not a multiple of 3, scattered: the table renumbers.
    let (kept, freed): (Vec<_>, Vec<_>) = nodes.into_iter().partition(|n| n.id % 3 == 0);
    drop(freed);
    let expected: Vec<u32> = (0..1000).filter(|id| id % 3 == 0).collect();
    assert_eq!(ids(objects()), expected);
    // The renumbered objects leave (and new ones join) at their new numbers.
    let (first, second): (Vec<_>, Vec<_>) = kept.into_iter().partition(|n| n.id % 2 == 0);
    drop(first);
    let late = node(5000);
    assert_eq!(
        ids(objects()),
        (0..1000)
            .filter(|id| id % 3 == 0 && id % 2 == 1)
            .chain([5000])
            .collect::<Vec<_>>()
    );
    drop((second, late));
    assert!(objects().is_empty());
}

#[test]
fn every_way_of_making_and_ending_an_object_keeps_the_list_true() {
    // `new_cyclic`, and one whose closure panics (freed without a value).
    let cyclic = Gc::new_cyclic(|_: &Weak<Node>| Node {
        id: 1,
        edges: RefCell::new(Vec::new()),
    });
    let panicked = panic::catch_unwind(|| Gc::<Node>::new_cyclic(|_| panic!("no node")));
    assert!(panicked.is_err());
    // Moved out again: `try_unwrap` and `make_mut`'s move.
    let unwrapped = Gc::try_unwrap(node(2)).ok().unwrap();
    let mut moved = node(3);
    let weak = Gc::downgrade(&moved);
    Gc::make_mut(&mut moved).id = 4;
    assert!(weak.upgrade().is_none());
    // A slice and a boxed trait object are tracked too.
    let slice: Gc<[Gc<Node>]> = vec![node(5)].into();
    let boxed: Gc<dyn Trace> = Gc::from(Box::new(node(6)) as Box<dyn Trace>);

    // `make_mut` handed out a `&mut`: the moved object is not listed (see below).
    let listed = objects();
    let names: Vec<_> = listed.iter().map(AnyGc::type_name).collect();
    assert_eq!(listed.len(), 5, "{names:?}");
    assert!(AnyGc::ptr_eq(&listed[0], &AnyGc::from(cyclic)));
    assert!(AnyGc::ptr_eq(&listed[1], &AnyGc::from(slice[0].clone())));
    assert!(AnyGc::ptr_eq(&listed[2], &AnyGc::from(slice)));
    assert_eq!(
        listed[3].type_name(),
        std::any::type_name::<Node>(),
        "the boxed node"
    );
    assert!(AnyGc::ptr_eq(&listed[4], &AnyGc::from(boxed)));
    drop(moved);
    drop(unwrapped);
}

#[test]
fn referents_and_referrers_are_exact() {
    let a = node(0);
    let b = node(1);
    let c = node(2);
    a.edges.borrow_mut().extend([b.clone(), c.clone()]);
    b.edges.borrow_mut().extend([c.clone(), c.clone()]);
    c.edges.borrow_mut().push(a.clone());
    assert_eq!(ids(referents(&AnyGc::from(a.clone()))), [1, 2]);
    assert_eq!(ids(referents(&AnyGc::from(b.clone()))), [2, 2]);
    assert_eq!(ids(referrers(&AnyGc::from(c.clone()))), [0, 1]);
    assert_eq!(ids(referrers(&AnyGc::from(a.clone()))), [2]);
    // `referrers` traces every object without making any a possible root.
    let lonely = AnyGc::from(node(3));
    assert_eq!(cyclegc::collect(), 0);
    assert_eq!(cyclegc::count(), 0);
    assert!(referrers(&lonely).is_empty());
    assert_eq!(cyclegc::count(), 0);

    // A mutably borrowed value shows what it can: nothing.
    let guard = b.edges.borrow_mut();
    assert!(referents(&AnyGc::from(b.clone())).is_empty());
    assert_eq!(ids(referrers(&AnyGc::from(c.clone()))), [0]);
    drop(guard);

    // Untracked objects have no referents and are no one's referrer.
    assert!(referents(&AnyGc::from(Gc::new(7))).is_empty());
    drop((a, b, c, lonely));
    assert_eq!(cyclegc::collect(), 3);
    assert!(objects().is_empty());
}

#[derive(Trace)]
struct TwoCells {
    left: RefCell<Option<Gc<Node>>>,
    right: RefCell<Option<Gc<Node>>>,
}

#[test]
fn a_value_with_one_cell_borrowed_shows_the_edges_of_the_others() {
    let (left, right) = (node(0), node(1));
    let both = Gc::new(TwoCells {
        left: RefCell::new(Some(left.clone())),
        right: RefCell::new(Some(right.clone())),
    });
    let erased = AnyGc::from(both.clone());
    assert_eq!(ids(referents(&erased)), [0, 1]);
    let guard = both.left.borrow_mut();
    // No panic, and the free cell's edge is shown.
    assert_eq!(ids(referents(&erased)), [1]);
    // It refers, as far as anyone can see, to what it shows only.
    assert!(referrers(&AnyGc::from(left.clone())).is_empty());
    let of_right = referrers(&AnyGc::from(right.clone()));
    assert_eq!(of_right.len(), 1);
    assert!(AnyGc::ptr_eq(&of_right[0], &erased));
    drop(guard);
    let of_left = referrers(&AnyGc::from(left.clone()));
    assert_eq!(of_left.len(), 1);
    assert!(AnyGc::ptr_eq(&of_left[0], &erased));
}

#[test]
fn is_tracked_tells_which_objects_the_heap_lists() {
    let tracked = node(0);
    // Tracking goes by type: a value that could own a `Gc` is tracked though it owns none.
    let empty = Gc::new(RefCell::new(Vec::<Gc<Node>>::new()));
    let untracked = Gc::new(String::from("no Gc in here"));
    assert!(Gc::is_tracked(&tracked));
    assert!(Gc::is_tracked(&empty));
    assert!(!Gc::is_tracked(&untracked));
    let listed = objects();
    assert_eq!(listed.len(), 2);
    assert!(AnyGc::ptr_eq(&listed[0], &AnyGc::from(tracked.clone())));
    assert!(AnyGc::ptr_eq(&listed[1], &AnyGc::from(empty.clone())));
}

thread_local! {
    static SEEN_FROM_DROP: Cell<Option<usize>> = const { Cell::new(None) };
}

#[derive(Trace)]
struct Reporter {
    peer: RefCell<Option<Gc<Reporter>>>,
}

impl Drop for Reporter {
    fn drop(&mut self) {
        SEEN_FROM_DROP.with(|s| s.set(Some(objects().len())));
    }
}

#[test]
fn objects_called_from_a_drop_of_garbage_skips_the_claimed_objects() {
    let keep = node(9);
    let a = Gc::new(Reporter {
        peer: RefCell::new(None),
    });
    let b = Gc::new(Reporter {
        peer: RefCell::new(Some(a.clone())),
    });
    *a.peer.borrow_mut() = Some(b);
    drop(a);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(
        SEEN_FROM_DROP.with(Cell::get),
        Some(1),
        "only the live node"
    );
    assert_eq!(ids(objects()), [9]);
    drop(keep);
}

/// Calls `objects()` from its `Trace` impl while `nosy` is set.
struct Nosy {
    me: RefCell<Option<Gc<Nosy>>>,
    nosy: Cell<bool>,
}

// SAFETY: reports the one handle it owns.
unsafe impl Trace for Nosy {
    fn trace(&self, tracer: &mut Tracer) {
        if self.nosy.get() {
            let _ = objects();
        }
        self.me.trace(tracer);
    }
}

#[test]
fn inspecting_from_a_trace_impl_panics_clearly_and_loses_nothing() {
    let nosy = Gc::new(Nosy {
        me: RefCell::new(None),
        nosy: Cell::new(true),
    });
    *nosy.me.borrow_mut() = Some(nosy.clone());
    let weak = Gc::downgrade(&nosy);
    drop(nosy);
    let payload = panic::catch_unwind(AssertUnwindSafe(cyclegc::collect)).unwrap_err();
    let message = payload.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("`objects` was called from a `Trace` impl"),
        "{message}"
    );
    let nosy = weak.upgrade().unwrap();
    nosy.nosy.set(false);
    drop(nosy);
    assert_eq!(cyclegc::collect(), 1);
}

thread_local! {
    /// Dropped after the thread's exit hooks have run (registered later), with a node that
    /// outlives the registry.
    static LATE: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) };
}

#[test]
fn an_object_that_outlives_the_threads_registry_is_freed_safely() {
    std::thread::spawn(|| {
        // A root first, so that an exit hook is registered before `LATE`.
        let a = node(0);
        drop(a.clone());
        LATE.with(|late| *late.borrow_mut() = Some(a));
    })
    .join()
    .unwrap();
}

/// Holds a handle it never drops by itself.
#[derive(Trace)]
struct Keeper {
    kept: RefCell<std::mem::ManuallyDrop<Gc<Node>>>,
}

#[test]
fn a_manually_dropped_handle_is_still_an_edge() {
    let target = node(1);
    let keeper = Gc::new(Keeper {
        kept: RefCell::new(std::mem::ManuallyDrop::new(target.clone())),
    });
    assert_eq!(ids(referents(&AnyGc::from(keeper.clone()))), [1]);
    // SAFETY: taken once; the field is not used again.
    drop(unsafe { std::mem::ManuallyDrop::take(&mut *keeper.kept.borrow_mut()) });
}

#[test]
fn a_thread_that_only_allocates_frees_its_registry() {
    // No object ever becomes a possible root here, so only listing them can register the
    // exit hook that frees the table (Miri's leak check fails otherwise).
    std::thread::spawn(|| {
        let nodes: Vec<_> = (0..100).map(node).collect();
        assert_eq!(objects().len(), 100);
        drop(nodes);
    })
    .join()
    .unwrap();
}

/// Panics when cloned; may own a `Gc`, so a slice of it is tracked.
#[derive(Trace)]
struct Bomb {
    edges: RefCell<Vec<Gc<u8>>>,
}

impl Clone for Bomb {
    fn clone(&self) -> Self {
        panic!("clone fails")
    }
}

#[test]
fn a_slice_whose_clone_panics_is_never_listed() {
    let items = [Bomb {
        edges: RefCell::new(Vec::new()),
    }];
    let made = panic::catch_unwind(AssertUnwindSafe(|| Gc::<[Bomb]>::from(&items[..])));
    assert!(made.is_err());
    assert!(objects().is_empty(), "the freed allocation is not listed");
}

/// Looks at the heap from inside its `Clone`, while a slice of it is being built.
#[derive(Trace)]
struct Spy {
    edges: RefCell<Vec<Gc<u8>>>,
}

thread_local! {
    static SEEN_WHILE_CLONING: Cell<Option<usize>> = const { Cell::new(None) };
}

impl Clone for Spy {
    fn clone(&self) -> Self {
        SEEN_WHILE_CLONING.with(|s| s.set(Some(objects().len())));
        Spy {
            edges: RefCell::new(Vec::new()),
        }
    }
}

#[test]
fn a_half_built_slice_is_not_listed() {
    let items = [
        Spy {
            edges: RefCell::new(Vec::new()),
        },
        Spy {
            edges: RefCell::new(Vec::new()),
        },
    ];
    let slice = Gc::<[Spy]>::from(&items[..]);
    assert_eq!(SEEN_WHILE_CLONING.with(Cell::get), Some(0));
    assert_eq!(objects().len(), 1, "listed once complete");
    drop(slice);
}

#[test]
fn get_mut_takes_the_object_out_of_the_list_and_a_pinned_one_never_downcasts() {
    // `get_mut`'s `&mut` must not be aliased by a handle from the list (nor its value traced
    // by `referrers`).
    let mut a = node(1);
    assert_eq!(ids(objects()), [1]);
    let m = Gc::get_mut(&mut a).unwrap();
    assert!(objects().is_empty());
    m.id = 2;
    assert_eq!(a.id, 2);
    // `make_mut` goes through `get_mut`.
    let mut b = node(3);
    Gc::make_mut(&mut b).id = 4;
    assert!(objects().is_empty());
    // A pinned value is listed, but must not be moved out through an unpinned handle from
    // the list: its `AnyGc` never downcasts.
    let pinned = Gc::pin(Node {
        id: 5,
        edges: RefCell::new(Vec::new()),
    });
    let listed = objects();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].type_name(), std::any::type_name::<Node>());
    assert!(listed[0].clone().downcast::<Node>().is_err());
    drop(listed);
    drop((a, b, pinned));
}

thread_local! {
    static TRACE_PANICS: Cell<bool> = const { Cell::new(false) };
}

/// A `Trace` that panics on demand.
struct Flaky(RefCell<Vec<Gc<Node>>>);

// SAFETY: reports what it owns (or panics first).
unsafe impl Trace for Flaky {
    fn trace(&self, tracer: &mut Tracer) {
        if TRACE_PANICS.with(Cell::get) {
            panic!("trace fails");
        }
        self.0.trace(tracer);
    }
}

#[test]
fn referrers_gives_back_what_it_borrowed_when_a_trace_panics() {
    let flaky = Gc::new(Flaky(RefCell::new(Vec::new())));
    let weak = Gc::downgrade(&flaky);
    let target = AnyGc::from(node(1));
    TRACE_PANICS.with(|p| p.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| referrers(&target)));
    TRACE_PANICS.with(|p| p.set(false));
    assert!(result.is_err());
    assert_eq!(Gc::strong_count(&flaky), 1);
    drop(flaky);
    assert!(weak.upgrade().is_none(), "freed: nothing kept a reference");
}

/// Review finding: a pinned value reached through `referents` must not come back as a
/// `Gc`, which `try_unwrap` could move.
#[test]
fn a_pinned_value_is_never_downcast() {
    let pinned = Gc::pin(Node {
        id: 7,
        edges: RefCell::new(Vec::new()),
    });
    let holder = Gc::new(RefCell::new(vec![pinned]));
    let edges = referents(&AnyGc::from(holder.clone()));
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0].type_name(), std::any::type_name::<Node>());
    assert!(edges[0].clone().downcast::<Node>().is_err());
}
