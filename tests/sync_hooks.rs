//! Callbacks around collections of the shared heap. One test, in a file of its own: the
//! callbacks are process-wide, and other tests' collections would call them.
// The thread-safe flavour needs 64-bit atomics.
#![cfg(all(feature = "derive", target_has_atomic = "64"))]

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cyclegc::sync::{self, Gc};
use cyclegc::{CallbackPhase, CollectionEvent, Trace};

#[derive(Trace)]
struct Node {
    next: Mutex<Option<Gc<Node>>>,
}

fn garbage_pair() {
    let a = Gc::new(Node {
        next: Mutex::new(None),
    });
    let b = Gc::new(Node {
        next: Mutex::new(Some(a.clone())),
    });
    *a.next.lock().unwrap() = Some(b);
}

#[test]
fn callbacks_of_the_shared_heap() {
    let log: Arc<Mutex<Vec<CollectionEvent>>> = Arc::default();
    let sink = log.clone();
    let nested = Arc::new(AtomicUsize::new(usize::MAX));
    let nested2 = nested.clone();
    let id = sync::add_callback(move |event| {
        if event.phase == CallbackPhase::Start {
            // No lock is held: collecting from here is allowed, and returns 0.
            nested2.store(sync::collect(), Ordering::SeqCst);
        }
        sink.lock().unwrap().push(event.clone());
    });

    garbage_pair();
    let freed = sync::collect();
    {
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].phase, CallbackPhase::Start);
        assert_eq!(log[1].phase, CallbackPhase::Stop);
        assert_eq!((log[1].generation, log[1].collected), (2, freed));
        assert!(log[1].duration.is_some());
    }
    assert_eq!(nested.load(Ordering::SeqCst), 0);

    // A callback may collect from another thread and wait for it: no lock is held while
    // callbacks run, so this cannot deadlock.
    let once = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let waiter = sync::add_callback(move |event| {
        // Once: the other thread's collection calls this callback too.
        if event.phase == CallbackPhase::Start && !once.swap(true, Ordering::SeqCst) {
            std::thread::spawn(sync::collect).join().unwrap();
        }
    });
    garbage_pair();
    sync::collect();
    assert!(sync::remove_callback(waiter));

    // A panicking callback is removed, and its panic resumed after the collection.
    let calls = Arc::new(AtomicUsize::new(0));
    let calls2 = calls.clone();
    let bad = sync::add_callback(move |_| {
        calls2.fetch_add(1, Ordering::SeqCst);
        panic!("callback failed");
    });
    let before = log.lock().unwrap().len();
    let payload = panic::catch_unwind(AssertUnwindSafe(sync::collect)).unwrap_err();
    assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "callback failed");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(!sync::remove_callback(bad));
    assert_eq!(log.lock().unwrap().len(), before + 2, "the others ran");

    // A callback that panics in the automatic collection a `Gc::new` starts, and whose
    // capture panics as it is dropped with it: neither unwinds out of `Gc::new`, which returns
    // the new object intact and listed (not listed while the collection ran), and the next
    // explicit collection raises the callback's panic.
    let capture = PanicsWhenDropped;
    let seen_unlisted = Arc::new(AtomicUsize::new(0));
    let seen = seen_unlisted.clone();
    let bad = sync::add_callback(move |event| {
        let _ = &capture;
        if event.phase == CallbackPhase::Start {
            let listed = sync::objects()
                .iter()
                .any(|object| object.type_name().ends_with("Counted"));
            if !listed {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            panic!("callback failed in an automatic collection");
        }
    });
    let thresholds = sync::thresholds();
    sync::set_thresholds([1, thresholds[1], thresholds[2]]);
    let collections = sync::stats().collections;
    let root = Gc::new(Node {
        next: Mutex::new(None),
    });
    drop(root.clone());
    assert_eq!(
        sync::stats().collections,
        collections,
        "nothing collected yet"
    );
    let counted = Gc::new(Counted {
        next: Mutex::new(Some(root.clone())),
    });
    assert_eq!(
        sync::stats().collections,
        collections + 1,
        "Gc::new collected"
    );
    assert_eq!(seen_unlisted.load(Ordering::SeqCst), 1);
    assert_eq!(CAPTURE_DROPS.load(Ordering::SeqCst), 1);
    assert!(
        !sync::remove_callback(bad),
        "the panicking callback is gone"
    );
    sync::set_thresholds(thresholds);
    assert_eq!(COUNTED_DROPS.load(Ordering::SeqCst), 0);
    assert!(Gc::ptr_eq(
        counted.next.lock().unwrap().as_ref().unwrap(),
        &root
    ));
    let counted_any = cyclegc::sync::AnyGc::from(counted.clone());
    assert!(sync::objects()
        .iter()
        .any(|object| cyclegc::sync::AnyGc::ptr_eq(object, &counted_any)));
    let payload = panic::catch_unwind(sync::collect).unwrap_err();
    assert_eq!(
        *payload.downcast_ref::<&str>().unwrap(),
        "callback failed in an automatic collection"
    );
    drop((counted, counted_any, root));
    assert_eq!(COUNTED_DROPS.load(Ordering::SeqCst), 1);

    assert!(sync::remove_callback(id));
    let seen = log.lock().unwrap().len();
    sync::collect();
    assert_eq!(log.lock().unwrap().len(), seen);
}

static COUNTED_DROPS: AtomicUsize = AtomicUsize::new(0);
static CAPTURE_DROPS: AtomicUsize = AtomicUsize::new(0);

/// A callback's capture that panics when it is dropped.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        CAPTURE_DROPS.fetch_add(1, Ordering::SeqCst);
        panic!("a capture failed to drop");
    }
}

/// A tracked value that counts its drops.
#[derive(Trace)]
struct Counted {
    next: Mutex<Option<Gc<Node>>>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        COUNTED_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}
