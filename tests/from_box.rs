//! `Gc::from(Box<T>)` for sized and unsized `T`, both flavours: a `Gc<dyn Trait>` made from a
//! `Box<dyn Trait>` traces, collects, derefs and drops like any `Gc`, and every allocation is
//! freed with the layout it was made with (Miri checks the last).
#![cfg(feature = "derive")]

use std::cell::{Cell, RefCell};

use cyclegc::{Gc, Trace};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

trait Observer: Trace {
    fn name(&self) -> String;
    fn watch(&self, other: Gc<dyn Observer>);
    fn hold(&self, _slice: Observers) {}
}

#[derive(Trace)]
struct Logger {
    #[trace(skip)]
    label: &'static str,
    watching: RefCell<Vec<Gc<dyn Observer>>>,
}

impl Observer for Logger {
    fn name(&self) -> String {
        self.label.to_string()
    }
    fn watch(&self, other: Gc<dyn Observer>) {
        self.watching.borrow_mut().push(other);
    }
}

impl Drop for Logger {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

/// Over-aligned, so the prefix before the header is padded.
#[derive(Trace)]
#[repr(align(64))]
struct Aligned {
    peer: RefCell<Option<Gc<dyn Observer>>>,
    #[trace(skip)]
    byte: u8,
}

impl Observer for Aligned {
    fn name(&self) -> String {
        format!("aligned {}", self.byte)
    }
    fn watch(&self, other: Gc<dyn Observer>) {
        *self.peer.borrow_mut() = Some(other);
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

fn logger(label: &'static str) -> Gc<dyn Observer> {
    let boxed: Box<dyn Observer> = Box::new(Logger {
        label,
        watching: RefCell::new(Vec::new()),
    });
    Gc::from(boxed)
}

#[test]
fn a_cycle_of_boxed_trait_objects_is_collected() {
    let before = drops();
    let a = logger("a");
    let b = logger("b");
    let c: Gc<dyn Observer> = Gc::from(Box::new(Aligned {
        peer: RefCell::new(None),
        byte: 7,
    }) as Box<dyn Observer>);
    assert_eq!(Gc::as_ptr(&c).cast::<u8>().align_offset(64), 0);
    a.watch(b.clone());
    b.watch(c.clone());
    c.watch(a.clone());
    assert_eq!(
        (a.name(), b.name(), c.name()),
        ("a".into(), "b".into(), "aligned 7".into())
    );
    assert_eq!(Gc::strong_count(&a), 2);
    let weak = Gc::downgrade(&c);
    drop((a, b, c));
    assert_eq!(drops() - before, 0, "the cycle keeps itself alive");
    assert_eq!(cyclegc::collect(), 3);
    assert_eq!(drops() - before, 3);
    assert!(weak.upgrade().is_none());
}

#[test]
fn a_boxed_value_that_is_not_garbage_is_dropped_once_by_reference_counting() {
    let before = drops();
    let a = logger("solo");
    let other = a.clone();
    drop(a);
    assert_eq!(drops() - before, 0);
    assert_eq!(cyclegc::collect(), 0);
    drop(other);
    assert_eq!(drops() - before, 1);
}

#[test]
fn sized_boxes_slices_strings_and_zero_sized_values() {
    let five: Gc<i32> = Gc::from(Box::new(5));
    assert_eq!(*five, 5);
    assert_eq!(Gc::try_unwrap(five).ok(), Some(5));

    let words: Gc<[String]> = Gc::from(vec!["x".to_string(), "y".to_string()].into_boxed_slice());
    assert_eq!(&*words, ["x", "y"]);
    let empty: Gc<[String]> = Gc::from(Vec::new().into_boxed_slice());
    assert!(empty.is_empty());
    let text: Gc<str> = Gc::from(Box::<str>::from("hello"));
    assert_eq!(&*text, "hello");

    let unit: Gc<()> = Gc::from(Box::new(()));
    assert_eq!(Gc::try_unwrap(unit).ok(), Some(()));
    let zsts: Gc<[()]> = Gc::from(vec![(); 3].into_boxed_slice());
    assert_eq!(zsts.len(), 3);

    // A raw-pointer round trip finds the header again in front of the value.
    let raw = Gc::into_raw(words);
    // SAFETY: `raw` comes from `Gc::into_raw` and is used once.
    let words = unsafe { Gc::from_raw(raw) };
    assert_eq!(words[1], "y");
}

/// A shared slice of observers.
type Observers = Gc<[Gc<dyn Observer>]>;

/// Holds a slice of observers: the cycle below runs through the slice.
#[derive(Trace)]
struct Holder {
    slice: RefCell<Option<Observers>>,
}

impl Observer for Holder {
    fn name(&self) -> String {
        "holder".into()
    }
    fn watch(&self, _: Gc<dyn Observer>) {}
    fn hold(&self, slice: Observers) {
        *self.slice.borrow_mut() = Some(slice);
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

#[test]
fn a_slice_of_gcs_from_a_box_is_traced_element_by_element() {
    let before = drops();
    let a = logger("a");
    let holder: Gc<dyn Observer> = Gc::from(Box::new(Holder {
        slice: RefCell::new(None),
    }) as Box<dyn Observer>);
    let both: Gc<[Gc<dyn Observer>]> = Gc::from(vec![a.clone(), holder.clone()].into_boxed_slice());
    // holder → slice → [a, holder]: the cycle's edge back is the slice's second element.
    holder.hold(both.clone());
    assert_eq!(both[1].name(), "holder");
    drop((a, holder, both));
    assert_eq!(drops() - before, 0, "the cycle keeps everything alive");
    assert_eq!(
        cyclegc::collect(),
        3,
        "the holder, the slice and the logger in it"
    );
    assert_eq!(drops() - before, 2);
}

/// The thread-safe flavour's boxes (it needs 64-bit atomics).
#[cfg(target_has_atomic = "64")]
mod sync_handles {
    use super::*;
    use cyclegc::sync;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    static SYNC_DROPS: AtomicUsize = AtomicUsize::new(0);

    trait Peer: Trace + Send + Sync {
        fn link(&self, other: sync::Gc<dyn Peer>);
    }

    #[derive(Trace)]
    struct SyncNode {
        next: Mutex<Option<sync::Gc<dyn Peer>>>,
    }

    impl Peer for SyncNode {
        fn link(&self, other: sync::Gc<dyn Peer>) {
            *self.next.lock().unwrap() = Some(other);
        }
    }

    impl Drop for SyncNode {
        fn drop(&mut self) {
            SYNC_DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn sync_boxed_trait_objects_cross_threads_and_collect() {
        let make = || -> sync::Gc<dyn Peer> {
            let boxed: Box<dyn Peer> = Box::new(SyncNode {
                next: Mutex::new(None),
            });
            sync::Gc::from(boxed)
        };
        let before = SYNC_DROPS.load(Ordering::SeqCst);
        let a = make();
        let b = make();
        a.link(b.clone());
        let a2 = a.clone();
        std::thread::spawn(move || b.link(a2)).join().unwrap();
        drop(a);
        // Other tests collect too; collecting until the pair is gone is what this test checks.
        for _ in 0..10 {
            sync::collect();
            if SYNC_DROPS.load(Ordering::SeqCst) - before == 2 {
                break;
            }
        }
        assert_eq!(SYNC_DROPS.load(Ordering::SeqCst) - before, 2);
        let text: sync::Gc<str> = sync::Gc::from(Box::<str>::from("shared"));
        assert_eq!(&*text, "shared");
    }

    #[test]
    fn a_boxed_any_becomes_a_gc_of_dyn_any_and_downcasts() {
        let boxed: Box<dyn std::any::Any> = Box::new(41_u32);
        let any: Gc<dyn std::any::Any> = Gc::from(boxed);
        assert_eq!(*any.downcast_ref::<u32>().unwrap(), 41);
        let shared: Box<dyn std::any::Any + Send + Sync> = Box::new(String::from("s"));
        let shared: sync::Gc<dyn std::any::Any + Send + Sync> = sync::Gc::from(shared);
        assert_eq!(shared.downcast_ref::<String>().unwrap(), "s");
    }

    /// A peer without a drop counter, for tests that run beside the one that counts.
    #[derive(Trace)]
    struct Quiet;

    impl Peer for Quiet {
        fn link(&self, _: sync::Gc<dyn Peer>) {}
    }

    #[test]
    fn sync_weak_handles_unsize_too() {
        let peer = sync::Gc::new(Quiet);
        let weak = sync::Gc::downgrade(&peer);
        let weak: sync::Weak<dyn Peer> = cyclegc::unsize!(weak => dyn Peer);
        let strong = weak.upgrade().unwrap();
        assert_eq!(sync::Gc::strong_count(&strong), 2);
        drop((strong, peer));
        assert!(weak.upgrade().is_none());
    }
}
