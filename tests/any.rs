//! `AnyGc` (both flavours): a type-erased strong handle counts, drops, traces and downcasts
//! like the `Gc` it came from.
#![cfg(feature = "derive")]

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};

use cyclegc::{AnyGc, Gc, Trace, Tracer};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

#[derive(Trace)]
struct Node {
    next: RefCell<Option<AnyGc>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

fn node() -> Gc<Node> {
    Gc::new(Node {
        next: RefCell::new(None),
    })
}

#[test]
fn the_last_handle_drops_the_value_whatever_its_type() {
    let before = drops();
    let any = AnyGc::from(node());
    let again = any.clone();
    assert_eq!(any.strong_count(), 2);
    drop(any);
    assert_eq!(drops() - before, 0);
    drop(again);
    assert_eq!(drops() - before, 1);
    // An untracked value too (its drop takes the other path).
    let text = AnyGc::from(Gc::new(String::from("x")));
    assert!(!text.is_tracked());
    drop(text);
}

#[test]
fn a_cycle_through_erased_handles_is_collected() {
    let before = drops();
    let a = node();
    let b = node();
    *a.next.borrow_mut() = Some(AnyGc::from(b.clone()));
    *b.next.borrow_mut() = Some(AnyGc::from(a.clone()));
    drop(b);
    // A collection now finds both alive and empties the root buffer; the last outside handle
    // is erased, and only its drop can record a possible root.
    assert_eq!(cyclegc::collect(), 0);
    assert_eq!(cyclegc::count(), 0);
    let outside = AnyGc::from(a);
    drop(outside);
    assert_eq!(drops() - before, 0);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(drops() - before, 2);
}

trait Named: Trace {
    fn name(&self) -> &'static str;
}

#[derive(Trace, Debug)]
struct Cat;

impl Named for Cat {
    fn name(&self) -> &'static str {
        "cat"
    }
}

#[test]
fn downcasts_follow_the_vtable_the_object_was_made_with() {
    // Made by `Gc::new` then unsized: the concrete type's vtable.
    let cat: Gc<dyn Named> = cyclegc::unsize!(Gc::new(Cat) => dyn Named);
    let any = AnyGc::from(cat.clone());
    assert!(any.type_name().ends_with("Cat"));
    assert_eq!(any.as_ptr(), Gc::as_ptr(&cat).cast::<()>());
    let back: Gc<Cat> = any.downcast().unwrap();
    assert_eq!(cat.name(), "cat");
    assert!(Gc::ptr_eq(&cyclegc::unsize!(back => dyn Named), &cat));

    // Made from a box: known only as the trait object.
    let boxed: Gc<dyn Named> = Gc::from(Box::new(Cat) as Box<dyn Named>);
    let any = AnyGc::from(boxed.clone());
    assert!(any.type_name().contains("dyn"));
    assert_eq!(any.as_ptr(), Gc::as_ptr(&boxed).cast::<()>());
    let any = any.downcast::<Cat>().unwrap_err();
    assert_eq!(
        any.strong_count(),
        2,
        "a refused downcast keeps the reference"
    );

    // Slices: their address, and no sized type.
    let slice: Gc<[u64]> = vec![1, 2, 3].into();
    let any = AnyGc::from(slice.clone());
    assert_eq!(any.as_ptr(), Gc::as_ptr(&slice).cast::<()>());
    assert_eq!(any.type_name(), "[u64]");
    assert!(any.downcast::<u64>().is_err());
}

#[test]
fn debug_shows_type_address_and_counts_without_reading_the_value() {
    let gc = Gc::new(RefCell::new(5_i32));
    let _weak = Gc::downgrade(&gc);
    let _borrowed = gc.borrow_mut();
    let any = AnyGc::from(gc.clone());
    let shown = format!("{any:?}");
    assert!(shown.contains("core::cell::RefCell<i32>"), "{shown}");
    assert!(shown.contains(&format!("{:?}", Gc::as_ptr(&gc))), "{shown}");
    assert!(shown.contains("strong: 2, weak: 1"), "{shown}");
}

/// Inspects the `AnyGc` it holds from its `Trace` impl, while the collector scans it.
struct Nosy {
    held: RefCell<Option<AnyGc>>,
    inspect: Cell<bool>,
}

// SAFETY: reports the one handle it owns.
unsafe impl Trace for Nosy {
    fn trace(&self, tracer: &mut Tracer) {
        if let Some(held) = &*self.held.borrow() {
            if self.inspect.get() {
                let _ = held.type_name();
            }
            held.trace(tracer);
        }
    }
}

#[test]
fn inspecting_from_a_trace_impl_during_a_scan_panics_clearly_and_the_collector_recovers() {
    let nosy = Gc::new(Nosy {
        held: RefCell::new(None),
        inspect: Cell::new(true),
    });
    *nosy.held.borrow_mut() = Some(AnyGc::from(nosy.clone()));
    let weak = Gc::downgrade(&nosy);
    drop(nosy);
    let result = panic::catch_unwind(AssertUnwindSafe(cyclegc::collect));
    let message = result.unwrap_err();
    let message = message
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| message.downcast_ref::<&str>().copied())
        .unwrap();
    assert!(
        message.contains("while a collection holds its object"),
        "{message}"
    );
    // Nothing was lost: the object is still there, and the next collection frees it.
    let nosy = weak
        .upgrade()
        .expect("not collected by the collection that panicked");
    nosy.inspect.set(false);
    drop(nosy);
    assert_eq!(cyclegc::collect(), 1);
    assert!(weak.upgrade().is_none());
}

/// The thread-safe flavour's `AnyGc` (which needs 64-bit atomics).
#[cfg(target_has_atomic = "64")]
mod sync_handles {
    use super::*;
    use cyclegc::sync;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    static SYNC_DROPS: AtomicUsize = AtomicUsize::new(0);

    #[derive(Trace)]
    struct SyncNode {
        next: Mutex<Option<sync::AnyGc>>,
    }

    impl Drop for SyncNode {
        fn drop(&mut self) {
            SYNC_DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn sync_debug_shows_type_address_and_counts_without_taking_the_lock() {
        let gc = sync::Gc::new(Mutex::new(5_i32));
        let _weak = sync::Gc::downgrade(&gc);
        // Held on this very thread: `Debug` must neither wait for it nor read the value.
        let _locked = gc.lock().unwrap();
        let any = sync::AnyGc::from(gc.clone());
        assert_eq!(any.as_ptr(), sync::Gc::as_ptr(&gc).cast::<()>());
        let shown = format!("{any:?}");
        assert!(shown.contains("Mutex<i32>"), "{shown}");
        assert!(
            shown.contains(&format!("{:?}", sync::Gc::as_ptr(&gc))),
            "{shown}"
        );
        assert!(shown.contains("strong: 2, weak: 1"), "{shown}");
    }

    #[test]
    fn sync_erased_handles_cross_threads_count_and_collect() {
        let before = SYNC_DROPS.load(Ordering::SeqCst);
        let a = sync::Gc::new(SyncNode {
            next: Mutex::new(None),
        });
        let b = sync::Gc::new(SyncNode {
            next: Mutex::new(None),
        });
        *a.next.lock().unwrap() = Some(sync::AnyGc::from(b.clone()));
        *b.next.lock().unwrap() = Some(sync::AnyGc::from(a.clone()));
        let erased = sync::AnyGc::from(a);
        assert_eq!(erased.strong_count(), 2);
        assert!(erased.type_name().ends_with("SyncNode"));
        let moved = erased.clone();
        std::thread::spawn(move || drop(moved)).join().unwrap();
        assert_eq!(erased.strong_count(), 2);
        let a: sync::Gc<SyncNode> = erased.downcast().unwrap();
        drop((a, b));
        // Other tests in this file do not use the sync heap, but collections may find the pair
        // in either order; collect until it is gone.
        for _ in 0..10 {
            sync::collect();
            if SYNC_DROPS.load(Ordering::SeqCst) - before == 2 {
                break;
            }
        }
        assert_eq!(SYNC_DROPS.load(Ordering::SeqCst) - before, 2);
    }
}
