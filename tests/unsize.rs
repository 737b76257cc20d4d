//! `unsize!`: trait objects and slices behind `Gc` and `Weak` on stable Rust.
#![cfg(feature = "derive")]

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt::Debug;

use cyclegc::{unsize, Gc, Trace, Weak};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

trait Observer: Trace {
    fn id(&self) -> u32;
}

#[derive(Trace)]
struct Subject {
    observers: RefCell<Vec<Gc<dyn Observer>>>,
}

#[derive(Trace)]
struct Watcher {
    id: u32,
    subject: Gc<Subject>,
}

impl Observer for Watcher {
    fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

#[test]
fn a_cycle_through_trait_objects_is_collected() {
    cyclegc::collect();
    let before = drops();
    let subject = Gc::new(Subject {
        observers: RefCell::new(Vec::new()),
    });
    for id in 0..3 {
        let watcher = Gc::new(Watcher {
            id,
            subject: subject.clone(),
        });
        let observer: Gc<dyn Observer> = unsize!(watcher => dyn Observer);
        subject.observers.borrow_mut().push(observer);
    }
    let ids: Vec<u32> = subject.observers.borrow().iter().map(|o| o.id()).collect();
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!(Gc::strong_count(&subject), 4);
    drop(subject);
    assert_eq!(cyclegc::collect(), 4);
    assert_eq!(drops() - before, 4);
}

#[test]
fn an_unsized_handle_keeps_identity_and_counts() {
    let concrete = Gc::new(7u64);
    let weak = Gc::downgrade(&concrete);
    let shown: Gc<dyn Debug> = unsize!(concrete.clone() => dyn Debug);
    assert_eq!(format!("{shown:?}"), "7");
    assert_eq!(Gc::strong_count(&shown), 2);
    assert_eq!(Gc::weak_count(&shown), 1);
    assert!(std::ptr::addr_eq(Gc::as_ptr(&shown), Gc::as_ptr(&concrete)));
    drop(concrete);
    assert_eq!(weak.upgrade().as_deref(), Some(&7));
    drop(shown);
    assert!(weak.upgrade().is_none());
}

#[test]
fn weak_handles_unsize_too() {
    let value = Gc::new(String::from("seen"));
    let weak: Weak<dyn Debug> = unsize!(Gc::downgrade(&value) => dyn Debug);
    assert_eq!(format!("{:?}", weak.upgrade().unwrap()), "\"seen\"");
    let empty: Weak<dyn Debug> = unsize!(Weak::<String>::new() => dyn Debug);
    assert!(empty.upgrade().is_none());
    drop(value);
    assert!(weak.upgrade().is_none());
}

#[test]
fn downcast_recovers_the_concrete_type() {
    let any: Gc<dyn Any> = unsize!(Gc::new(String::from("text")) => dyn Any);
    let any = any.downcast::<u32>().expect_err("not a u32");
    let text = any.downcast::<String>().expect("a String");
    assert_eq!(*text, "text");
    assert_eq!(Gc::strong_count(&text), 1);
}

#[derive(Trace)]
struct Node {
    items: RefCell<Option<Gc<[Slot]>>>,
}

#[derive(Trace)]
struct Slot(RefCell<Option<Gc<Node>>>);

impl Drop for Node {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

#[test]
fn a_cycle_through_a_slice_is_collected() {
    cyclegc::collect();
    let before = drops();
    let node = Gc::new(Node {
        items: RefCell::new(None),
    });
    let array = Gc::new([
        Slot(RefCell::new(None)),
        Slot(RefCell::new(Some(node.clone()))),
    ]);
    let slice: Gc<[Slot]> = unsize!(array => [Slot]);
    assert_eq!(slice.len(), 2);
    *node.items.borrow_mut() = Some(slice);
    drop(node);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(drops() - before, 1);
}

#[test]
fn over_aligned_and_zero_sized_values_unsize() {
    #[derive(Trace, Debug)]
    #[repr(align(32))]
    struct Wide(u8);
    #[derive(Trace, Debug)]
    struct Nothing;

    let wide: Gc<dyn Debug> = unsize!(Gc::new(Wide(3)) => dyn Debug);
    let nothing: Gc<dyn Debug> = unsize!(Gc::new(Nothing) => dyn Debug);
    assert_eq!(format!("{wide:?} {nothing:?}"), "Wide(3) Nothing");
    assert_eq!(Gc::as_ptr(&wide) as *const u8 as usize % 32, 0);
}
