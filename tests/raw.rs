//! `Rc` parity: raw pointers, strong-count manipulation, `make_mut` that moves, `pin`.
#![cfg(feature = "derive")]

use std::cell::{Cell, RefCell};

use cyclegc::{Gc, Trace, Weak};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
    static CLONES: Cell<usize> = const { Cell::new(0) };
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

fn clones() -> usize {
    CLONES.with(Cell::get)
}

#[derive(Trace)]
struct Node {
    label: u32,
    next: RefCell<Option<Gc<Node>>>,
}

impl Node {
    fn new(label: u32) -> Gc<Node> {
        Gc::new(Node {
            label,
            next: RefCell::new(None),
        })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

/// Counts its clones, to tell a `make_mut` that clones from one that moves.
#[derive(Trace, PartialEq, Debug)]
struct Counted(u32);

impl Clone for Counted {
    fn clone(&self) -> Self {
        CLONES.with(|c| c.set(c.get() + 1));
        Counted(self.0)
    }
}

#[test]
fn a_strong_reference_out_as_a_raw_pointer_keeps_its_cycle_alive() {
    cyclegc::collect();
    let before = drops();
    let a = Node::new(1);
    let b = Node::new(2);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop(b);
    let raw = Gc::into_raw(a);
    assert_eq!(
        cyclegc::collect(),
        0,
        "the raw pointer is a reference from outside"
    );
    // SAFETY: `raw` is alive (its reference is out) and a `Node`.
    assert_eq!(unsafe { &*raw }.label, 1);
    // SAFETY: taken back once.
    let a = unsafe { Gc::from_raw(raw) };
    assert_eq!(Gc::strong_count(&a), 2);
    drop(a);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(drops() - before, 2);
}

#[test]
fn increment_and_decrement_strong_count_add_and_give_back_references() {
    let before = drops();
    let raw = Gc::into_raw(Node::new(3));
    // SAFETY: `raw`'s reference is out for the whole block; every reference added is given
    // back once.
    unsafe {
        Gc::increment_strong_count(raw);
        Gc::increment_strong_count(raw);
        let node = Gc::from_raw(raw);
        assert_eq!(Gc::strong_count(&node), 3);
        Gc::decrement_strong_count(raw);
        assert_eq!(Gc::strong_count(&node), 2);
        Gc::decrement_strong_count(raw);
        assert_eq!(Gc::strong_count(&node), 1);
        assert_eq!(drops(), before);
    }
    assert_eq!(drops() - before, 1);
}

#[test]
fn from_raw_finds_the_box_for_every_alignment() {
    #[derive(Trace, Clone, Copy, PartialEq, Debug)]
    #[repr(align(64))]
    struct Wide(u8);

    let byte = Gc::into_raw(Gc::new(7u8));
    let wide = Gc::into_raw(Gc::new(Wide(9)));
    let text = Gc::into_raw(Gc::new(String::from("text")));
    // SAFETY: each is taken back once, with its own type.
    unsafe {
        assert_eq!(wide as usize % 64, 0);
        let (byte, wide, text) = (Gc::from_raw(byte), Gc::from_raw(wide), Gc::from_raw(text));
        assert_eq!((*byte, *wide, text.as_str()), (7, Wide(9), "text"));
        assert_eq!(Gc::strong_count(&wide), 1);
    }
}

#[test]
fn a_weak_survives_a_round_trip_through_a_raw_pointer() {
    let strong = Node::new(4);
    let raw = Gc::downgrade(&strong).into_raw();
    assert_eq!(raw, Gc::as_ptr(&strong));
    assert_eq!(Gc::weak_count(&strong), 1);
    // SAFETY: taken back once.
    let weak = unsafe { Weak::from_raw(raw) };
    assert_eq!(weak.upgrade().map(|node| node.label), Some(4));
    drop(strong);
    assert!(weak.upgrade().is_none());
    // The header stays until this last `Weak` goes (Miri checks it is freed then).
    let raw = weak.into_raw();
    // SAFETY: as above.
    drop(unsafe { Weak::from_raw(raw) });
}

#[test]
fn an_empty_weak_survives_a_round_trip_through_a_raw_pointer() {
    let raw = Weak::<Node>::new().into_raw();
    // SAFETY: from `into_raw` of the same type.
    let weak = unsafe { Weak::from_raw(raw) };
    assert!(weak.upgrade().is_none());
    assert!(weak.ptr_eq(&Weak::new()));
}

#[test]
fn make_mut_clones_when_other_strong_references_exist() {
    let before = clones();
    let mut data = Gc::new(Counted(1));
    let other = Gc::clone(&data);
    Gc::make_mut(&mut data).0 = 2;
    assert_eq!(clones() - before, 1);
    assert_eq!((data.0, other.0), (2, 1));
    assert!(!Gc::ptr_eq(&data, &other));
}

#[test]
fn make_mut_moves_the_value_when_only_weak_references_exist() {
    let before = clones();
    let mut data = Gc::new(Counted(1));
    let old = Gc::as_ptr(&data);
    let weak = Gc::downgrade(&data);
    Gc::make_mut(&mut data).0 = 2;
    assert_eq!(clones(), before, "moved, not cloned");
    assert_ne!(Gc::as_ptr(&data), old, "into a new allocation");
    assert!(weak.upgrade().is_none(), "the weak is disassociated");
    assert_eq!(weak.strong_count(), 0);
    assert_eq!((Gc::strong_count(&data), Gc::weak_count(&data)), (1, 0));
    assert_eq!(*data, Counted(2));
}

#[test]
fn make_mut_borrows_in_place_when_the_reference_is_unique() {
    let before = clones();
    let mut data = Gc::new(Counted(1));
    let old = Gc::as_ptr(&data);
    Gc::make_mut(&mut data).0 = 5;
    assert_eq!(clones(), before);
    assert_eq!(Gc::as_ptr(&data), old);
    assert_eq!(*data, Counted(5));
}

/// The old allocation of a moving `make_mut` may still sit in the root buffer: the collector
/// must give its entry back without touching the moved value, and the moved value is
/// dropped once, by its new owner. (Were the old copy dropped too, `inner` would lose a
/// second strong reference.)
#[test]
fn a_moved_value_is_not_dropped_again_through_the_old_buffer_entry() {
    #[derive(Trace, Clone)]
    struct Holder(Option<Gc<Node>>);

    cyclegc::collect();
    let before = drops();
    let inner = Node::new(6);
    let mut holder = Gc::new(Holder(Some(inner.clone())));
    let weak = Gc::downgrade(&holder);
    drop(holder.clone()); // a possible root: buffered
    assert_eq!(cyclegc::count(), 1);
    Gc::make_mut(&mut holder).0 = None; // moves, then drops the moved `Gc<Node>`
    assert!(weak.upgrade().is_none());
    assert_eq!(Gc::strong_count(&inner), 1);
    assert_eq!(
        cyclegc::collect(),
        0,
        "the old entry is given back, nothing freed"
    );
    assert_eq!(Gc::strong_count(&inner), 1);
    assert_eq!(drops(), before);
    drop((holder, inner, weak));
    assert_eq!(drops() - before, 1);
}

#[test]
fn a_pinned_gc_derefs_like_any_other() {
    let pinned = Gc::pin(Counted(3));
    assert_eq!(pinned.0, 3);
    let also = pinned.clone();
    assert_eq!(also.0, 3);
}
