//! `Gc<[T]>` and `Gc<str>` built from vectors, slices, arrays, boxes, strings and iterators:
//! traced element by element, dropped once, freed with the layout they were allocated with
//! (Miri checks the last).
#![cfg(feature = "derive")]

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};

use cyclegc::{Gc, Trace, Weak};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

#[derive(Trace)]
struct Node {
    children: RefCell<Option<Gc<[Gc<Node>]>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

#[test]
fn a_cycle_through_a_slice_of_gcs_is_collected() {
    let before = drops();
    let parent = Gc::new(Node {
        children: RefCell::new(None),
    });
    let kids: Gc<[Gc<Node>]> = (0..3)
        .map(|_| {
            Gc::new(Node {
                children: RefCell::new(None),
            })
        })
        .collect();
    // Each child points back to the slice that holds it, and so does the parent.
    for kid in kids.iter() {
        *kid.children.borrow_mut() = Some(kids.clone());
    }
    *parent.children.borrow_mut() = Some(kids.clone());
    assert_eq!(Gc::strong_count(&kids), 5);
    drop(kids);
    drop(parent); // frees the parent by reference counting; the slice and kids remain
    assert_eq!(drops() - before, 1);
    assert_eq!(cyclegc::collect(), 4, "the slice and its three kids");
    assert_eq!(drops() - before, 4);
}

#[test]
fn every_conversion_makes_the_same_slice() {
    let from_vec: Gc<[String]> = vec!["a".to_string(), "b".to_string()].into();
    let from_slice: Gc<[String]> = Gc::from(&["a".to_string(), "b".to_string()][..]);
    let from_array: Gc<[String]> = ["a".to_string(), "b".to_string()].into();
    let from_box: Gc<[String]> =
        Gc::from(vec!["a".to_string(), "b".to_string()].into_boxed_slice());
    let from_iter: Gc<[String]> = ["a", "b"].iter().map(|s| s.to_string()).collect();
    for g in [&from_slice, &from_array, &from_box, &from_iter] {
        assert_eq!(*from_vec, **g);
    }
    let empty: Gc<[u64]> = Gc::default();
    assert!(empty.is_empty());
    let units: Gc<[()]> = vec![(); 1000].into();
    assert_eq!(units.len(), 1000);
    let wide: Gc<[u128]> = vec![u128::MAX; 3].into();
    assert_eq!(wide[2], u128::MAX);
    assert_eq!(
        Gc::as_ptr(&wide).cast::<u128>() as usize % std::mem::align_of::<u128>(),
        0
    );
    let boxed: Gc<i32> = Gc::from(Box::new(3));
    assert_eq!(*boxed, 3);
}

#[test]
fn strings() {
    let a: Gc<str> = Gc::from("héllo");
    let b: Gc<str> = Gc::from(String::from("héllo"));
    let c: Gc<str> = Gc::from(Box::<str>::from("héllo"));
    assert_eq!(a, b);
    assert_eq!(&*c, "héllo");
    assert_eq!(a.to_string(), "héllo");
    assert_eq!(format!("{a:?}"), "\"héllo\"");
    let empty: Gc<str> = Gc::default();
    assert_eq!(&*empty, "");
    let weak: Weak<str> = Gc::downgrade(&a);
    assert_eq!(&*weak.upgrade().unwrap(), "héllo");
    drop((a, b, c));
    assert!(weak.upgrade().is_none());
}

#[test]
fn raw_pointers_round_trip_for_slices_and_strings() {
    let slice: Gc<[u16]> = vec![1, 2, 3].into();
    let raw = Gc::into_raw(slice);
    // SAFETY: from `into_raw`, taken back once.
    let slice = unsafe { Gc::from_raw(raw) };
    assert_eq!(&*slice, [1, 2, 3]);
    let s: Gc<str> = Gc::from("raw");
    let weak = Gc::downgrade(&s);
    let raw = weak.into_raw();
    // SAFETY: from `into_raw`, taken back once.
    let weak = unsafe { Weak::from_raw(raw) };
    assert_eq!(&*weak.upgrade().unwrap(), "raw");
}

#[test]
fn a_panicking_clone_drops_the_clones_made_and_frees_the_allocation() {
    struct Fragile(u32);
    impl Clone for Fragile {
        fn clone(&self) -> Self {
            assert!(self.0 != 2, "clone of 2");
            Fragile(self.0)
        }
    }
    impl Drop for Fragile {
        fn drop(&mut self) {
            DROPS.with(|d| d.set(d.get() + 1));
        }
    }
    // SAFETY: owns no `Gc`.
    unsafe impl Trace for Fragile {
        fn trace(&self, _: &mut cyclegc::Tracer) {}
        fn may_contain_gc() -> bool {
            false
        }
    }
    let items = [Fragile(0), Fragile(1), Fragile(2), Fragile(3)];
    let before = drops();
    let result = panic::catch_unwind(AssertUnwindSafe(|| Gc::<[Fragile]>::from(&items[..])));
    assert!(result.is_err());
    assert_eq!(drops() - before, 2, "the two clones made were dropped");
    drop(items);
}

#[test]
#[cfg(target_has_atomic = "64")]
fn sync_slices_and_strings_cross_threads_and_collect() {
    use cyclegc::sync;
    use std::sync::Mutex;

    #[derive(Trace)]
    struct Shared {
        items: Mutex<Option<sync::Gc<[sync::Gc<Shared>]>>>,
    }
    let name: sync::Gc<str> = sync::Gc::from("shared");
    let a = sync::Gc::new(Shared {
        items: Mutex::new(None),
    });
    let slice: sync::Gc<[sync::Gc<Shared>]> = vec![a.clone(), a.clone()].into();
    *a.items.lock().unwrap() = Some(slice.clone());
    let seen = std::thread::spawn(move || (slice.len(), name.len()))
        .join()
        .unwrap();
    assert_eq!(seen, (2, 6));
    drop(a);
    assert_eq!(sync::collect(), 2, "the node and the slice");
}
