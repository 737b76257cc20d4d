//! `Gc` and `Weak` behave like `Rc` and `rc::Weak` wherever no cycle is involved.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::{drops, Node};
use cyclegc::{Gc, Trace, Tracer, Weak};

/// Counts its own drops in a shared counter.
struct Counted(Rc<Cell<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

// SAFETY: owns no `Gc`.
unsafe impl Trace for Counted {
    fn trace(&self, _: &mut Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
}

#[test]
fn acyclic_value_is_dropped_at_the_last_strong_drop() {
    let dropped = Rc::new(Cell::new(0));
    let a = Gc::new(Counted(dropped.clone()));
    let b = Gc::clone(&a);
    assert_eq!(Gc::strong_count(&a), 2);
    drop(a);
    assert_eq!(dropped.get(), 0);
    drop(b);
    assert_eq!(dropped.get(), 1);
}

#[test]
fn acyclic_tracked_value_is_dropped_at_the_last_strong_drop() {
    let before = drops();
    let a = Node::new(0);
    let b = Node::new(1);
    Node::link(&a, &b);
    drop(b);
    assert_eq!(drops(), before);
    drop(a);
    assert_eq!(
        drops(),
        before + 2,
        "the chain goes with its head, no collection needed"
    );
    assert_eq!(cyclegc::collect(), 0);
}

#[test]
fn counts() {
    let a = Gc::new(5);
    assert_eq!((Gc::strong_count(&a), Gc::weak_count(&a)), (1, 0));
    let w = Gc::downgrade(&a);
    let w2 = w.clone();
    let b = a.clone();
    assert_eq!((Gc::strong_count(&a), Gc::weak_count(&a)), (2, 2));
    assert_eq!((w.strong_count(), w.weak_count()), (2, 2));
    drop((b, w2));
    assert_eq!((w.strong_count(), w.weak_count()), (1, 1));
    drop(a);
    assert_eq!((w.strong_count(), w.weak_count()), (0, 0));
    assert!(w.upgrade().is_none());
}

#[test]
fn weak_counts_ignore_the_root_buffer() {
    let a = Node::new(0);
    let w = Gc::downgrade(&a);
    drop(a.clone()); // buffered as a possible root: an internal hold, not a `Weak`
    assert_eq!(cyclegc::count(), 1);
    assert_eq!((Gc::weak_count(&a), w.weak_count()), (1, 1));
    drop(w);
    assert_eq!(Gc::weak_count(&a), 0);
    cyclegc::collect();
}

#[test]
fn weak_outlives_value_and_frees_header_last() {
    let dropped = Rc::new(Cell::new(0));
    let a = Gc::new(Counted(dropped.clone()));
    let w = Gc::downgrade(&a);
    drop(a);
    assert_eq!(dropped.get(), 1);
    assert!(w.upgrade().is_none());
    assert_eq!(w.strong_count(), 0);
    drop(w); // Miri checks the header is freed here and not before
}

#[test]
fn weak_new_is_empty_and_allocation_free() {
    let w: Weak<String> = Weak::new();
    assert!(w.upgrade().is_none());
    assert_eq!((w.strong_count(), w.weak_count()), (0, 0));
    assert!(w.ptr_eq(&Weak::new()));
    assert!(w.clone().ptr_eq(&w));
    let d: Weak<String> = Weak::default();
    assert!(d.upgrade().is_none());
    assert_eq!(format!("{w:?}"), "(Weak)");
    const _CONST: Weak<u8> = Weak::new();
}

#[test]
fn upgrade_gives_a_strong_handle() {
    let a = Gc::new(String::from("x"));
    let w = Gc::downgrade(&a);
    let b = w.upgrade().unwrap();
    assert!(Gc::ptr_eq(&a, &b));
    assert_eq!(Gc::strong_count(&a), 2);
}

#[test]
fn try_unwrap_and_into_inner() {
    let a = Gc::new(String::from("x"));
    let w = Gc::downgrade(&a);
    let b = a.clone();
    let a = Gc::try_unwrap(a).unwrap_err();
    drop(b);
    assert_eq!(Gc::try_unwrap(a).unwrap(), "x");
    assert!(w.upgrade().is_none(), "weak pointers die with try_unwrap");
    assert_eq!(Gc::into_inner(Gc::new(3)), Some(3));
    let c = Gc::new(4);
    let _d = c.clone();
    assert_eq!(Gc::into_inner(c), None);
}

#[test]
fn try_unwrap_of_a_buffered_object() {
    let a = Node::new(7);
    drop(a.clone()); // buffered
    let node = Gc::try_unwrap(a).ok().unwrap();
    assert_eq!(node.id, 7);
    drop(node);
    cyclegc::collect(); // releases the buffer's hold on the (now empty) header
}

#[test]
fn get_mut_needs_uniqueness() {
    let mut a = Gc::new(1);
    *Gc::get_mut(&mut a).unwrap() += 1;
    let w = Gc::downgrade(&a);
    assert!(Gc::get_mut(&mut a).is_none(), "a Weak makes it shared");
    drop(w);
    let b = a.clone();
    assert!(Gc::get_mut(&mut a).is_none());
    drop(b);
    assert_eq!(*Gc::get_mut(&mut a).unwrap(), 2);
}

#[test]
fn make_mut_clones_when_shared() {
    let mut a = Gc::new(vec![1]);
    let b = a.clone();
    Gc::make_mut(&mut a).push(2);
    assert_eq!((&*a, &*b), (&vec![1, 2], &vec![1]));
    assert!(!Gc::ptr_eq(&a, &b));
    let before = Gc::as_ptr(&a);
    Gc::make_mut(&mut a).push(3);
    assert_eq!(Gc::as_ptr(&a), before, "unique: no clone");
    assert_eq!(Gc::unwrap_or_clone(b), vec![1]);
}

#[test]
fn new_cyclic_builds_self_reference() {
    struct Me {
        me: Weak<Me>,
        seen_in_closure: bool,
    }
    // SAFETY: a `Weak` is not an edge.
    unsafe impl Trace for Me {
        fn trace(&self, _: &mut Tracer) {}
    }
    let me = Gc::new_cyclic(|w| Me {
        me: w.clone(),
        seen_in_closure: w.upgrade().is_none(),
    });
    assert!(me.seen_in_closure);
    assert!(Gc::ptr_eq(&me, &me.me.upgrade().unwrap()));
    assert_eq!((Gc::strong_count(&me), Gc::weak_count(&me)), (1, 1));
}

#[test]
fn new_cyclic_panic_frees_the_allocation() {
    let result = std::panic::catch_unwind(|| {
        Gc::<u32>::new_cyclic(|w| {
            let _keep = w.clone();
            panic!("boom")
        })
    });
    assert!(result.is_err()); // Miri checks nothing leaked
}

#[test]
fn identity_and_formatting() {
    let a = Gc::new(5);
    let b = a.clone();
    let c = Gc::new(5);
    assert!(Gc::ptr_eq(&a, &b) && !Gc::ptr_eq(&a, &c));
    assert_eq!(a, c, "== compares values");
    assert!(Gc::new(4) < a);
    assert_eq!(a.cmp(&c), std::cmp::Ordering::Equal);
    assert_eq!(Gc::as_ptr(&a), Gc::as_ptr(&b));
    assert_eq!(format!("{a} {a:?}"), "5 5");
    assert_eq!(format!("{a:p}"), format!("{:p}", Gc::as_ptr(&a)));
    let d: Gc<i32> = Gc::default();
    let e: Gc<i32> = 9.into();
    assert_eq!((*d, *e), (0, 9));
    let s: &i32 = std::borrow::Borrow::borrow(&e);
    assert_eq!(*s, 9);
    assert_eq!(*e.as_ref(), 9);
    let mut set = std::collections::HashSet::new();
    set.insert(Gc::new(String::from("k")));
    assert!(set.contains(&String::from("k")));
}

#[test]
fn long_acyclic_chain_drops_iteratively() {
    const N: usize = if cfg!(miri) { 300 } else { 1_000_000 };
    common::on_small_stack(256 * 1024, || {
        let before = drops();
        let (head, tail) = common::build(common::Shape::Chain, N);
        drop(tail);
        drop(head);
        assert_eq!(drops() - before, N);
        assert_eq!(cyclegc::collect(), 0);
    });
}

#[test]
fn panicking_drop_in_a_chain_still_drops_the_rest() {
    struct Bomb {
        next: Option<Gc<Bomb>>,
        explode: bool,
        dropped: Rc<Cell<usize>>,
    }
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.dropped.set(self.dropped.get() + 1);
            if self.explode {
                panic!("bomb");
            }
        }
    }
    // SAFETY: reports its one owned `Gc`.
    unsafe impl Trace for Bomb {
        fn trace(&self, tracer: &mut Tracer) {
            self.next.trace(tracer);
        }
    }
    let dropped = Rc::new(Cell::new(0));
    let mut head = None;
    for i in 0..10 {
        head = Some(Gc::new(Bomb {
            next: head.take(),
            // One panic only: as with `Rc`, a second panic while the first unwinds through
            // nested drop glue aborts the process.
            explode: i == 5,
            dropped: dropped.clone(),
        }));
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(head)));
    assert!(result.is_err());
    assert_eq!(dropped.get(), 10, "every value dropped exactly once");
    // The heap is usable afterwards.
    let a = Node::new(0);
    Node::link(&a, &a);
    drop(a);
    assert_eq!(cyclegc::collect(), 1);
}

thread_local! {
    static ORDER: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A tree node that logs its drop, generic over the pointer so that `Rc` and `Gc` build the
/// very same tree.
struct Logged<P> {
    id: u32,
    children: Vec<P>,
}

impl<P> Drop for Logged<P> {
    fn drop(&mut self) {
        ORDER.with(|o| o.borrow_mut().push(self.id));
    }
}

fn drop_order<P>(make: impl Fn(u32, Vec<P>) -> P) -> Vec<u32> {
    // A complete ternary tree, 4 levels: ids in pre-order.
    fn build<P>(make: &impl Fn(u32, Vec<P>) -> P, next: &mut u32, depth: u32) -> P {
        let id = *next;
        *next += 1;
        let children = if depth == 0 {
            Vec::new()
        } else {
            (0..3).map(|_| build(make, next, depth - 1)).collect()
        };
        make(id, children)
    }
    let root = build(&make, &mut 0, 3);
    drop(root);
    ORDER.with(|o| std::mem::take(&mut *o.borrow_mut()))
}

#[test]
fn shallow_structures_drop_in_rc_order() {
    struct GcNode(Logged<Gc<GcNode>>);
    // SAFETY: reports each owned `Gc` once.
    unsafe impl Trace for GcNode {
        fn trace(&self, tracer: &mut Tracer) {
            self.0.children.trace(tracer);
        }
    }
    struct RcNode(#[allow(dead_code)] Logged<Rc<RcNode>>); // held for its drop only
    let rc = drop_order(|id, children| Rc::new(RcNode(Logged { id, children })));
    let gc = drop_order(|id, children| Gc::new(GcNode(Logged { id, children })));
    assert_eq!(rc.len(), 40);
    assert_eq!(gc, rc);
}
