//! Callbacks around collections, saved garbage and per-generation statistics (single-threaded
//! flavour). Each test runs on its own thread, so its collector is its own.
#![cfg(feature = "derive")]

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cyclegc::{
    add_callback, collect, remove_callback, set_save_all, stats, take_garbage, CallbackPhase,
    CollectionEvent, Gc, Trace,
};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

#[derive(Trace)]
struct Node {
    next: RefCell<Option<Gc<Node>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

/// Leaves a garbage 2-cycle behind.
fn garbage_pair() {
    let a = Gc::new(Node {
        next: RefCell::new(None),
    });
    let b = Gc::new(Node {
        next: RefCell::new(Some(a.clone())),
    });
    *a.next.borrow_mut() = Some(b);
}

fn recorder() -> (Rc<RefCell<Vec<CollectionEvent>>>, cyclegc::CallbackId) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let sink = log.clone();
    let id = add_callback(move |event| sink.borrow_mut().push(event.clone()));
    (log, id)
}

#[test]
fn callbacks_see_every_collection_start_and_stop() {
    let (log, id) = recorder();
    garbage_pair();
    assert_eq!(collect(), 2);
    {
        let log = log.borrow();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].phase, CallbackPhase::Start);
        assert_eq!(
            (log[0].generation, log[0].collected, log[0].duration),
            (2, 0, None)
        );
        assert_eq!(log[1].phase, CallbackPhase::Stop);
        assert_eq!(
            (log[1].generation, log[1].collected, log[1].uncollectable),
            (2, 2, 0)
        );
        assert!(log[1].duration.is_some());
    }
    // Automatic collections too.
    cyclegc::set_threshold(1);
    garbage_pair();
    drop(Gc::new(Node {
        next: RefCell::new(None),
    }));
    cyclegc::set_threshold(2000);
    assert!(log.borrow().len() >= 4, "an automatic collection ran");
    assert!(remove_callback(id));
    let seen = log.borrow().len();
    collect();
    assert_eq!(log.borrow().len(), seen, "removed: not called any more");
}

#[test]
fn a_callback_learns_which_generation_is_collected() {
    let (log, id) = recorder();
    for generation in 0..3 {
        cyclegc::collect_generation(generation);
    }
    assert!(remove_callback(id));
    let seen: Vec<(CallbackPhase, usize)> = log
        .borrow()
        .iter()
        .map(|event| (event.phase, event.generation))
        .collect();
    use CallbackPhase::{Start, Stop};
    assert_eq!(
        seen,
        [
            (Start, 0),
            (Stop, 0),
            (Start, 1),
            (Stop, 1),
            (Start, 2),
            (Stop, 2)
        ]
    );
}

// The thread-safe flavour needs 64-bit atomics.
#[cfg(target_has_atomic = "64")]
#[test]
fn a_callback_id_names_one_callback_of_one_heap() {
    let calls = Rc::new(Cell::new(0));
    let sink = calls.clone();
    let here = add_callback(move |_| sink.set(sink.get() + 1));
    let shared = cyclegc::sync::add_callback(|_| {});
    let elsewhere = std::thread::spawn(|| add_callback(|_| {})).join().unwrap();
    assert!(here != shared && here != elsewhere && shared != elsewhere);
    // Another heap's ids remove nothing here, and this heap's nothing there.
    assert!(!remove_callback(shared));
    assert!(!remove_callback(elsewhere));
    assert!(!cyclegc::sync::remove_callback(here));
    collect();
    assert_eq!(calls.get(), 2, "this heap's callback is still registered");
    assert!(remove_callback(here));
    assert!(cyclegc::sync::remove_callback(shared));
}

#[test]
fn a_callback_that_collects_gets_zero_and_one_that_edits_the_list_waits_for_the_next_event() {
    let inner = Rc::new(Cell::new(None));
    let added = Rc::new(Cell::new(0));
    let (inner2, added2) = (inner.clone(), added.clone());
    let id = add_callback(move |event| {
        if event.phase == CallbackPhase::Start {
            inner2.set(Some(collect()));
            let added3 = added2.clone();
            // Added during the start event: first called at the stop.
            add_callback(move |_| added3.set(added3.get() + 1));
        }
    });
    garbage_pair();
    assert_eq!(collect(), 2);
    assert_eq!(inner.get(), Some(0));
    assert_eq!(
        added.get(),
        1,
        "the callback added at the start saw the stop only"
    );
    remove_callback(id);
}

#[test]
fn a_panicking_callback_is_removed_and_its_panic_resumed_after_the_collection() {
    let before = drops();
    let calls = Rc::new(Cell::new(0));
    let calls2 = calls.clone();
    let id = add_callback(move |_| {
        calls2.set(calls2.get() + 1);
        panic!("callback failed");
    });
    let (log, other) = recorder();
    garbage_pair();
    let payload = panic::catch_unwind(AssertUnwindSafe(collect)).unwrap_err();
    assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "callback failed");
    assert_eq!(
        drops() - before,
        2,
        "the collection finished and freed the cycle"
    );
    assert_eq!(calls.get(), 1, "removed after its first panic");
    assert_eq!(
        log.borrow().len(),
        2,
        "the other callback saw start and stop"
    );
    assert!(!remove_callback(id), "already removed");
    assert_eq!(collect(), 0);
    assert_eq!(calls.get(), 1);
    remove_callback(other);
}

/// A callback's capture that panics when it is dropped.
struct PanicsWhenDropped(Rc<Cell<usize>>);

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
        panic!("a capture failed to drop");
    }
}

#[test]
fn a_panicking_callback_whose_capture_panics_as_it_goes_does_not_unwind_an_automatic_collection() {
    let dropped = Rc::new(Cell::new(0));
    let capture = PanicsWhenDropped(dropped.clone());
    let id = add_callback(move |_| {
        let _ = capture.0.get();
        panic!("callback failed");
    });
    let thresholds = cyclegc::thresholds();
    cyclegc::set_thresholds([1, thresholds[1], thresholds[2]]);
    let collections = stats().collections;
    let root = Gc::new(Node {
        next: RefCell::new(None),
    });
    drop(root.clone());
    assert_eq!(stats().collections, collections, "nothing collected yet");
    let before = drops();
    // The callback panics and is removed; dropping it drops its capture, which panics too.
    // Neither unwinds out of the automatic collection this allocation starts.
    let node = Gc::new(Node {
        next: RefCell::new(Some(root.clone())),
    });
    assert_eq!(stats().collections, collections + 1);
    assert_eq!(dropped.get(), 1);
    assert!(!remove_callback(id), "removed for its panic");
    assert_eq!(drops(), before, "the new value is intact");
    assert!(Gc::ptr_eq(node.next.borrow().as_ref().unwrap(), &root));
    // The next explicit collection raises the callback's panic, the first of the two.
    let payload = panic::catch_unwind(AssertUnwindSafe(collect)).unwrap_err();
    assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "callback failed");
    cyclegc::set_thresholds(thresholds);
    drop((node, root));
    assert_eq!(drops(), before + 2);
}

#[test]
fn saved_garbage_is_kept_intact_counted_and_handed_over() {
    let before = drops();
    let stats_before = stats();
    let (log, id) = recorder();
    set_save_all(true);
    assert!(cyclegc::save_all());
    garbage_pair();
    assert_eq!(collect(), 0);
    assert_eq!(drops() - before, 0, "nothing destroyed");
    assert_eq!(log.borrow()[1].uncollectable, 2);
    let after = stats();
    assert_eq!(
        after.generations[2].uncollectable - stats_before.generations[2].uncollectable,
        2
    );
    assert_eq!(after.collected, stats_before.collected);
    // Still saved, not found again: the list holds them.
    assert_eq!(collect(), 0);
    set_save_all(false);
    let garbage = take_garbage();
    assert_eq!(garbage.len(), 2);
    assert!(take_garbage().is_empty());
    let first: Gc<Node> = garbage[0].clone().downcast().unwrap();
    assert!(first.next.borrow().is_some(), "intact");
    drop((first, garbage));
    assert_eq!(collect(), 2);
    assert_eq!(drops() - before, 2);
    remove_callback(id);
}

#[test]
fn stats_count_per_generation_and_print_as_a_table() {
    let before = stats();
    garbage_pair();
    collect();
    let after = stats();
    assert_eq!(after.collections, before.collections + 1);
    assert_eq!(
        after.generations[2].collections,
        before.generations[2].collections + 1
    );
    assert_eq!(
        after.generations[2].collected,
        before.generations[2].collected + 2
    );
    assert_eq!(after.generations[0], before.generations[0]);
    let table = after.to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(lines[3].trim_start().starts_with('2'), "{table}");
    assert!(lines[4].starts_with("total "), "{table}");
}

struct Counted(Arc<AtomicUsize>, RefCell<Option<Gc<Counted>>>);

// SAFETY: reports the one handle it owns.
unsafe impl Trace for Counted {
    fn trace(&self, tracer: &mut cyclegc::Tracer) {
        self.1.trace(tracer);
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_threads_exit_reclaims_what_it_saved_and_never_saves() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let counter = dropped.clone();
    std::thread::spawn(move || {
        set_save_all(true);
        let a = Gc::new(Counted(counter.clone(), RefCell::new(None)));
        *a.1.borrow_mut() = Some(a.clone());
        drop(a);
        assert_eq!(collect(), 0);
        // A second cycle, left for the exit collections, which must destroy both.
        let b = Gc::new(Counted(counter, RefCell::new(None)));
        *b.1.borrow_mut() = Some(b.clone());
    })
    .join()
    .unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
}

/// Counts its drop: what a callback captures.
struct Capture(Arc<AtomicUsize>);

impl Drop for Capture {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_thread_that_only_adds_a_callback_drops_it_when_it_exits() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let capture = Capture(dropped.clone());
    // No object, no root: the callback alone must make the thread's exit clean up.
    std::thread::spawn(move || {
        add_callback(move |_| {
            let _ = &capture;
        });
    })
    .join()
    .unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

/// Adds a callback from its destructor, which runs during the thread's teardown.
struct AddsACallbackWhenDropped(Option<Capture>);

impl Drop for AddsACallbackWhenDropped {
    fn drop(&mut self) {
        if let Some(capture) = self.0.take() {
            add_callback(move |_| {
                let _ = &capture;
            });
        }
    }
}

thread_local! {
    static LATE: RefCell<AddsACallbackWhenDropped> =
        const { RefCell::new(AddsACallbackWhenDropped(None)) };
}

#[test]
fn a_callback_added_by_a_thread_local_destructor_after_the_last_exit_hook_is_dropped() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let capture = Capture(dropped.clone());
    std::thread::spawn(move || {
        // Touched before the thread's first root, so its destructor runs after the exit hook
        // that root registers: the collector has given everything back by then.
        LATE.with(|late| late.borrow_mut().0 = Some(capture));
        garbage_pair();
    })
    .join()
    .unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn a_threads_exit_reclaims_what_its_callbacks_captured_or_made() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let counter = dropped.clone();
    std::thread::spawn(move || {
        // A cycle only a callback still holds.
        let captured = Gc::new(Counted(counter.clone(), RefCell::new(None)));
        *captured.1.borrow_mut() = Some(captured.clone());
        let made = counter.clone();
        add_callback(move |_| {
            let _ = &captured;
            // And a callback that leaves a garbage cycle at every event.
            let cycle = Gc::new(Counted(made.clone(), RefCell::new(None)));
            *cycle.1.borrow_mut() = Some(cycle.clone());
        });
        collect(); // two events: two cycles made, one of them collected by this collection
    })
    .join()
    .unwrap();
    // Everything the callbacks held or made is gone: the captured cycle and the two made
    // ones (Miri's leak check would also see a leak).
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}
