//! Types that can never own a `Gc` are never buffered and never traced (CPython's untracked
//! objects).

use std::cell::RefCell;

use cyclegc::{Gc, Trace, Tracer};

/// Owns no `Gc` and says so; its `trace` must never be called.
struct Leaf(u64);

// SAFETY: owns no `Gc`.
unsafe impl Trace for Leaf {
    fn trace(&self, _: &mut Tracer) {
        panic!("an untracked value was traced");
    }
    fn may_contain_gc() -> bool {
        false
    }
}

/// A tracked node that points at leaves.
struct Holder {
    leaves: Vec<Gc<Leaf>>,
    me: RefCell<Option<Gc<Holder>>>,
}

// SAFETY: reports every owned `Gc` once.
unsafe impl Trace for Holder {
    fn trace(&self, tracer: &mut Tracer) {
        self.leaves.trace(tracer);
        self.me.trace(tracer);
    }
}

#[test]
fn untracked_values_are_never_buffered() {
    cyclegc::collect();
    let leaf = Gc::new(Leaf(1));
    let s = Gc::new(String::from("s"));
    let v = Gc::new(vec![1u8, 2, 3]);
    for _ in 0..100 {
        drop(leaf.clone());
        drop(s.clone());
        drop(v.clone());
    }
    assert_eq!(cyclegc::count(), 0);
    assert_eq!(leaf.0 + s.len() as u64 + v.len() as u64, 5);
}

#[test]
fn untracked_values_are_never_traced() {
    cyclegc::collect();
    let leaf = Gc::new(Leaf(7));
    let holder = Gc::new(Holder {
        leaves: vec![leaf.clone(), leaf.clone()],
        me: RefCell::new(None),
    });
    *holder.me.borrow_mut() = Some(holder.clone());
    drop(holder);
    let s0 = cyclegc::stats();
    assert_eq!(
        cyclegc::collect(),
        1,
        "only the holder: the leaf is not part of the scan"
    );
    assert_eq!(cyclegc::stats().traced, s0.traced + 1);
    assert_eq!(
        Gc::strong_count(&leaf),
        1,
        "the holder's references went with it"
    );
}

#[test]
fn may_contain_gc_of_std_and_crate_types() {
    assert!(!<Leaf as Trace>::may_contain_gc());
    assert!(!<String as Trace>::may_contain_gc());
    assert!(!<Vec<Option<(u8, String)>> as Trace>::may_contain_gc());
    assert!(!<cyclegc::Weak<Holder> as Trace>::may_contain_gc());
    assert!(
        <Gc<Leaf> as Trace>::may_contain_gc(),
        "a Gc is an edge, whatever it points to"
    );
    assert!(<RefCell<Vec<Gc<u8>>> as Trace>::may_contain_gc());
    assert!(
        <Holder as Trace>::may_contain_gc(),
        "the default is the safe answer"
    );
}
