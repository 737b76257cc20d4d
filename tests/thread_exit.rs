//! A thread's garbage cycles are reclaimed when it exits; objects still referenced from
//! elsewhere stay valid through thread-local teardown.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cyclegc::{Gc, Trace, Tracer};

struct Node {
    next: RefCell<Option<Gc<Node>>>,
    drops: Arc<AtomicUsize>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: reports its one owned `Gc`.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }
}

fn two_cycle(drops: &Arc<AtomicUsize>) -> Gc<Node> {
    let a = Gc::new(Node {
        next: RefCell::new(None),
        drops: drops.clone(),
    });
    let b = Gc::new(Node {
        next: RefCell::new(Some(a.clone())),
        drops: drops.clone(),
    });
    *a.next.borrow_mut() = Some(b);
    a
}

#[test]
fn garbage_cycles_are_reclaimed_at_thread_exit() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    std::thread::spawn(move || {
        cyclegc::disable();
        for _ in 0..10 {
            drop(two_cycle(&d));
        }
        assert_eq!(d.load(Ordering::SeqCst), 0);
    })
    .join()
    .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 20);
}

thread_local! {
    /// Another thread-local that owns cycles and drops them in its destructor.
    static KEEPER: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
}

/// Two live cycles owned by `KEEPER`, one garbage cycle, then the thread exits.
fn keeper_thread(drops: &Arc<AtomicUsize>, keeper_first: bool) {
    let touch_keeper = || KEEPER.with(|k| k.borrow().len());
    let touch_collector = || drop(two_cycle(drops)); // garbage, reclaimed at exit
    if keeper_first {
        touch_keeper();
        touch_collector();
    } else {
        touch_collector();
        touch_keeper();
    }
    KEEPER.with(|k| k.borrow_mut().extend([two_cycle(drops), two_cycle(drops)]));
    assert_eq!(drops.load(Ordering::SeqCst), 0);
}

/// Thread-local destructors run in reverse order of registration on Linux: a thread-local
/// first used after the collector is torn down before it, so the cycles it drops are still
/// collected at exit.
#[test]
#[cfg(target_os = "linux")]
fn cycles_dropped_by_a_later_thread_local_are_collected_at_exit() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    std::thread::spawn(move || keeper_thread(&d, false))
        .join()
        .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 6);
}

/// A thread-local torn down after the collector drops its cycles into a heap that is gone:
/// they are not collected (a leak), but nothing panics or touches freed memory.
#[test]
#[cfg(target_os = "linux")]
#[cfg_attr(miri, ignore = "leaks the keeper's cycles by design")]
fn handles_dropped_after_the_collector_is_gone_are_safe() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    std::thread::spawn(move || keeper_thread(&d, true))
        .join()
        .unwrap();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "only the garbage cycle is reclaimed"
    );
}

thread_local! {
    /// A thread-local first used before the collector, so torn down after it.
    static CHAIN: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) };
}

/// The release loop does not depend on the collector's heap: a long chain dropped by a
/// thread-local destructor after the heap is gone is still dropped iteratively, on a small
/// stack, and completely.
#[test]
#[cfg(target_os = "linux")]
fn a_long_chain_dropped_after_the_collector_is_gone_is_dropped_iteratively() {
    const N: usize = if cfg!(miri) { 500 } else { 200_000 };
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            CHAIN.with(|c| assert!(c.borrow().is_none()));
            let mut head = None;
            for _ in 0..N {
                head = Some(Gc::new(Node {
                    next: RefCell::new(head.take()),
                    drops: d.clone(),
                }));
            }
            CHAIN.with(|c| *c.borrow_mut() = head);
            assert_eq!(cyclegc::collect(), 0);
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), N);
}
