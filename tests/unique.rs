//! DESIGN.md §2.7: unique means unique to the collector too. `Gc::get_mut` and `Gc::make_mut`
//! hand out `&mut T`; no collection may read that value while the reference lives, even when
//! the object sits in the root buffer and the mutation runs code that collects.

use std::cell::{Cell, RefCell};

use cyclegc::{Gc, Trace, Tracer};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
    /// Set while a test holds `&mut` into its holder: tracing a `Holder` then is the bug.
    static BORROWED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` while the holder's value is borrowed mutably.
fn borrowed<R>(f: impl FnOnce() -> R) -> R {
    BORROWED.with(|b| b.set(true));
    let result = f();
    BORROWED.with(|b| b.set(false));
    result
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

struct Item {
    id: usize,
    next: RefCell<Option<Gc<Item>>>,
}

impl Drop for Item {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

// SAFETY: reports its one owned `Gc`.
unsafe impl Trace for Item {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }
}

fn item(id: usize) -> Gc<Item> {
    Gc::new(Item {
        id,
        next: RefCell::new(None),
    })
}

/// Allocates a tracked `Gc`, which runs an automatic collection when one is due. Not inside
/// a release (the drop of a `Gc`'s value), where automatic collection waits.
fn allocate_tracked() {
    drop(Gc::new(Holder::default()));
}

/// A plain value whose `Drop` allocates.
#[derive(Clone)]
struct AllocateOnDrop;

impl Drop for AllocateOnDrop {
    fn drop(&mut self) {
        allocate_tracked();
    }
}

/// A tracked value mutated through `get_mut`/`make_mut`.
#[derive(Clone, Default)]
struct Holder {
    items: Vec<Gc<Item>>,
    /// Dropped after `items` when the holder is overwritten.
    tail: Option<AllocateOnDrop>,
}

// SAFETY: reports every owned `Gc` once.
unsafe impl Trace for Holder {
    fn trace(&self, tracer: &mut Tracer) {
        // A panic here is resumed by the collection, failing the test.
        assert!(
            !BORROWED.with(Cell::get),
            "a collection traced a value borrowed by `get_mut`"
        );
        self.items.trace(tracer);
    }
}

/// A unique holder of `n` items that is in the root buffer (a clone of it was dropped).
fn buffered_holder(n: usize) -> Gc<Holder> {
    cyclegc::collect();
    let holder = Gc::new(Holder {
        items: (0..n).map(item).collect(),
        tail: None,
    });
    drop(holder.clone());
    assert_eq!(cyclegc::count(), 1, "buffered");
    holder
}

/// `sort_by` moves elements through a temporary, so while it runs the `Vec` holds one element
/// twice and another not at all: a collection tracing it then would count an edge twice
/// (reported as a lying `Trace`, and in release builds abandoned) or read moved-from memory.
#[test]
fn a_collection_from_a_sort_closure_does_not_read_a_value_borrowed_by_get_mut() {
    let mut holder = buffered_holder(8);
    let before = cyclegc::stats();
    let items = &mut Gc::get_mut(&mut holder).expect("unique").items;
    borrowed(|| {
        items.sort_by(|a, b| {
            cyclegc::collect();
            b.id.cmp(&a.id)
        })
    });
    let ids: Vec<usize> = holder.items.iter().map(|i| i.id).collect();
    assert_eq!(ids, [7, 6, 5, 4, 3, 2, 1, 0]);
    let after = cyclegc::stats();
    assert!(after.collections > before.collections, "collections ran");
    assert_eq!(after.aborted, before.aborted, "no collection saw a lie");
    assert_eq!(after.traced, before.traced, "the holder was not traced");
}

/// While `dedup_by` runs its closure, the `Vec` holds moved-from duplicates; an automatic
/// collection started by an allocation in the closure must not trace the half-updated `Vec`.
#[test]
fn an_automatic_collection_inside_dedup_does_not_read_the_borrowed_value() {
    let mut holder = buffered_holder(0);
    let shared = item(1);
    Gc::get_mut(&mut holder).unwrap().items = vec![shared.clone(), shared.clone(), item(2)];
    drop(shared);
    let old = cyclegc::threshold();
    cyclegc::set_threshold(1); // the buffer holds the withdrawn entry: a collection is due
    let before = cyclegc::stats();
    let items = &mut Gc::get_mut(&mut holder).unwrap().items;
    borrowed(|| {
        items.dedup_by(|a, b| {
            allocate_tracked();
            Gc::ptr_eq(a, b)
        })
    });
    cyclegc::set_threshold(old);
    assert_eq!(holder.items.len(), 2);
    assert_eq!(Gc::strong_count(&holder.items[0]), 1);
    let after = cyclegc::stats();
    assert!(
        after.collections > before.collections,
        "automatic collections ran"
    );
    assert_eq!(after.aborted, before.aborted, "no collection saw a lie");
}

/// Overwriting the value through `get_mut` drops the old one in place, field by field: when
/// the old `tail` starts a collection, the old `items` are already freed.
#[test]
fn an_automatic_collection_while_the_value_is_overwritten_through_get_mut_skips_it() {
    let mut holder = buffered_holder(4);
    Gc::get_mut(&mut holder).unwrap().tail = Some(AllocateOnDrop);
    let replacement = Holder {
        items: vec![item(9)],
        tail: None,
    };
    let old = cyclegc::threshold();
    cyclegc::set_threshold(1);
    let before = cyclegc::stats();
    let before_drops = drops();
    let value = Gc::get_mut(&mut holder).unwrap();
    borrowed(|| *value = replacement);
    cyclegc::set_threshold(old);
    assert_eq!(holder.items[0].id, 9);
    let after = cyclegc::stats();
    assert!(
        after.collections > before.collections,
        "the tail's drop collected"
    );
    assert_eq!(after.traced, before.traced, "the holder was not traced");
    assert_eq!(drops() - before_drops, 4, "the old items");
}

#[test]
fn make_mut_on_a_buffered_unique_object_withdraws_it_too() {
    let mut holder = buffered_holder(4);
    let before = cyclegc::stats();
    let items = &mut Gc::make_mut(&mut holder).items;
    borrowed(|| {
        items.sort_by(|a, b| {
            cyclegc::collect();
            b.id.cmp(&a.id)
        })
    });
    assert_eq!(holder.items[0].id, 3);
    let after = cyclegc::stats();
    assert_eq!(
        (after.aborted, after.traced),
        (before.aborted, before.traced)
    );
}

/// A withdrawn entry stays in the buffer (holding the header) and becomes a root again at
/// the next drop that may orphan a cycle: the cycle is still collected, with one entry.
#[test]
fn a_withdrawn_object_is_a_root_again_after_its_next_decrement() {
    cyclegc::collect();
    let before = drops();
    let mut a = item(0);
    drop(a.clone());
    assert!(Gc::get_mut(&mut a).is_some());
    assert_eq!(cyclegc::count(), 1, "the entry stays");
    assert_eq!(Gc::weak_count(&a), 0, "the buffer's hold is not a `Weak`");
    assert!(
        Gc::get_mut(&mut a).is_some(),
        "and does not make `a` shared"
    );
    let weak = Gc::downgrade(&a);
    *a.next.borrow_mut() = Some(a.clone()); // a self-cycle
    drop(a);
    assert_eq!(cyclegc::count(), 1, "re-armed, not buffered twice");
    assert_eq!(cyclegc::collect(), 1);
    assert_eq!(drops() - before, 1);
    assert!(weak.upgrade().is_none());
}

/// A withdrawn object nobody makes a root again is simply let go by the next collection.
#[test]
fn a_withdrawn_entry_is_dropped_by_the_next_collection_without_tracing() {
    let mut holder = buffered_holder(2);
    assert!(Gc::get_mut(&mut holder).is_some());
    let before = cyclegc::stats();
    assert_eq!(cyclegc::collect(), 0);
    let after = cyclegc::stats();
    assert_eq!(after.traced, before.traced);
    assert_eq!(cyclegc::count(), 0);
    let before_drops = drops();
    drop(holder);
    assert_eq!(drops() - before_drops, 2, "freed by reference counting");
}

/// `try_unwrap` moves the value out of a buffered object; the entry it leaves must neither
/// be traced nor keep the allocation.
#[test]
fn try_unwrap_of_a_buffered_object_leaves_nothing_for_the_collector() {
    let holder = buffered_holder(3);
    let value = Gc::try_unwrap(holder).ok().expect("unique");
    let before = cyclegc::stats();
    assert_eq!(cyclegc::collect(), 0);
    assert_eq!(cyclegc::stats().traced, before.traced);
    assert_eq!(value.items.len(), 3);
}
