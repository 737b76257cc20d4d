//! A thread's garbage cycles are reclaimed when it exits, whatever order its thread-locals
//! are torn down in; objects still referenced from elsewhere stay valid through thread-local
//! teardown; a panicking `Drop` there never aborts the process (DESIGN.md §4, §6).

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cyclegc::{Gc, Trace, Tracer};

struct Node {
    next: RefCell<Option<Gc<Node>>>,
    drops: Arc<AtomicUsize>,
    on_drop: OnDrop,
}

/// What a `Node` does when it is dropped, after counting the drop.
#[derive(Clone, Copy)]
enum OnDrop {
    Nothing,
    Panic,
    /// Writes to `LOG`, a thread-local that may already be destroyed.
    Log,
    /// Builds a fresh garbage cycle of such nodes, `n - 1` more times.
    MakeCycle(usize),
}

thread_local! {
    static LOG: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        match self.on_drop {
            OnDrop::Nothing => {}
            OnDrop::Panic => panic!("a garbage node panics in drop at thread exit"),
            OnDrop::Log => LOG.with(|log| log.borrow_mut().push("dropped")),
            OnDrop::MakeCycle(0) => {}
            OnDrop::MakeCycle(n) => drop(cycle_of(&self.drops, OnDrop::MakeCycle(n - 1))),
        }
    }
}

// SAFETY: reports its one owned `Gc`.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }
}

fn node(drops: &Arc<AtomicUsize>, on_drop: OnDrop) -> Gc<Node> {
    Gc::new(Node {
        next: RefCell::new(None),
        drops: drops.clone(),
        on_drop,
    })
}

/// A two-node cycle whose first node does `on_drop`; returns that node.
fn cycle_of(drops: &Arc<AtomicUsize>, on_drop: OnDrop) -> Gc<Node> {
    let a = node(drops, on_drop);
    let b = node(drops, OnDrop::Nothing);
    *b.next.borrow_mut() = Some(a.clone());
    *a.next.borrow_mut() = Some(b);
    a
}

fn two_cycle(drops: &Arc<AtomicUsize>) -> Gc<Node> {
    cycle_of(drops, OnDrop::Nothing)
}

/// Runs `f` on a new thread and returns the drops counted once it has exited.
fn on_thread(f: impl FnOnce(&Arc<AtomicUsize>) + Send + 'static) -> usize {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    std::thread::spawn(move || f(&d)).join().unwrap();
    drops.load(Ordering::SeqCst)
}

#[test]
fn garbage_cycles_are_reclaimed_at_thread_exit() {
    let drops = on_thread(|d| {
        cyclegc::disable();
        for _ in 0..10 {
            drop(two_cycle(d));
        }
        assert_eq!(d.load(Ordering::SeqCst), 0);
    });
    assert_eq!(drops, 20);
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

/// A thread-local first used after the collector's first exit hook is torn down before it
/// (thread-local destructors run in reverse order of registration), so the cycles it drops
/// are collected by that hook.
#[test]
fn cycles_dropped_by_a_later_thread_local_are_collected_at_exit() {
    let drops = on_thread(|d| keeper_thread(d, false));
    assert_eq!(drops, 6);
}

/// A thread-local first used before the collector is torn down after its first exit hook;
/// the cycles it drops then are collected by the next hook.
#[test]
fn cycles_dropped_by_an_earlier_thread_local_are_collected_at_exit() {
    let drops = on_thread(|d| keeper_thread(d, true));
    assert_eq!(drops, 6);
}

thread_local! {
    static HOLD: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) };
}

/// The thread-local is set first; the cycle's other handle is dropped afterwards (the
/// collector's first root). At exit the collector sees the cycle held by the thread-local,
/// and it only becomes garbage when the thread-local goes.
#[test]
fn a_cycle_whose_other_handle_is_dropped_after_the_thread_local_was_set_is_collected() {
    let drops = on_thread(|d| {
        let a = two_cycle(d);
        let b = a.next.borrow().clone().unwrap();
        HOLD.with(|h| *h.borrow_mut() = Some(a));
        drop(b);
    });
    assert_eq!(drops, 2);
}

thread_local! {
    static KEEPER_1: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
    static KEEPER_2: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
    static KEEPER_3: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
}

/// Each thread-local torn down after an exit hook leaves garbage; each gets a hook after it.
#[test]
fn cycles_dropped_by_several_earlier_thread_locals_are_all_collected() {
    let drops = on_thread(|d| {
        let keepers = [&KEEPER_1, &KEEPER_2, &KEEPER_3];
        for keeper in keepers {
            keeper.with(|k| k.borrow().len());
        }
        drop(two_cycle(d)); // the collector's first root: its first exit hook
        for keeper in keepers {
            keeper.with(|k| k.borrow_mut().push(two_cycle(d)));
        }
    });
    assert_eq!(drops, 8);
}

/// A thread-local whose destructor reads the cycle it holds.
struct Reader {
    cycle: Option<Gc<Node>>,
    seen: Arc<AtomicUsize>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        let a = self.cycle.take().unwrap();
        // Both values must still be alive: an exit collection ran before this destructor.
        let b = a.next.borrow().clone().unwrap();
        assert!(b.next.borrow().is_some());
        self.seen.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static READER: RefCell<Option<Reader>> = const { RefCell::new(None) };
}

/// DESIGN.md §4: nothing is freed that another thread-local's destructor can still reach.
#[test]
fn an_exit_collection_frees_nothing_a_later_thread_local_destructor_can_reach() {
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let drops = on_thread(move |d| {
        READER.with(|r| r.borrow().is_some()); // registered before the collector's hook
        drop(two_cycle(d));
        let cycle = two_cycle(d);
        drop(cycle.clone()); // buffered: the exit collection examines it
        READER.with(|r| {
            *r.borrow_mut() = Some(Reader {
                cycle: Some(cycle),
                seen: s,
            })
        });
    });
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(drops, 4);
}

thread_local! {
    static RING: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) };
}

/// A million-node ring whose last handle a thread-local drops after the first exit hook is
/// collected, on a 256 KiB stack.
#[test]
fn a_long_ring_dropped_during_teardown_is_collected_on_a_small_stack() {
    const N: usize = if cfg!(miri) { 100 } else { 1_000_000 };
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            RING.with(|r| assert!(r.borrow().is_none()));
            drop(two_cycle(&d));
            let head = node(&d, OnDrop::Nothing);
            let mut tail = head.clone();
            for _ in 1..N {
                let next = node(&d, OnDrop::Nothing);
                *tail.next.borrow_mut() = Some(next.clone());
                tail = next;
            }
            *tail.next.borrow_mut() = Some(head.clone());
            drop(tail);
            RING.with(|r| *r.borrow_mut() = Some(head));
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), N + 2);
}

/// DESIGN.md §6: a panic in a garbage `Drop` during the exit collection is reported by the
/// panic hook but does not abort the process; the rest of the garbage is still dropped.
#[test]
fn a_panicking_drop_of_garbage_at_thread_exit_does_not_abort() {
    let drops = on_thread(|d| {
        drop(cycle_of(d, OnDrop::Panic));
        drop(two_cycle(d));
    });
    assert_eq!(drops, 4);
}

/// The common pattern of logging from `Drop` into a thread-local: at exit that thread-local
/// may be gone (`with` panics); it must not abort.
#[test]
fn a_drop_that_uses_a_destroyed_thread_local_at_exit_does_not_abort() {
    let drops = on_thread(|d| {
        drop(cycle_of(d, OnDrop::Log)); // the collector's hook registers first...
        LOG.with(|log| log.borrow().len()); // ...so `LOG` is torn down before it runs
    });
    assert_eq!(drops, 2);
}

/// A `Drop` that builds a new garbage cycle each time it runs leaves garbage after every exit
/// collection: each is collected by the next, for a bounded number of rounds, so that an
/// endless builder cannot keep the thread from exiting (its last cycle then leaks).
#[test]
fn garbage_built_by_exit_collections_is_collected_for_a_bounded_number_of_rounds() {
    // Under Miri (whose leak check must stay quiet) the builder stops on its own.
    let generations = if cfg!(miri) { 10 } else { usize::MAX };
    let drops = on_thread(move |d| drop(cycle_of(d, OnDrop::MakeCycle(generations))));
    if cfg!(miri) {
        assert_eq!(drops, 2 * (generations + 1), "every generation collected");
    } else {
        assert!(drops > 2 * 10, "several rounds ran: {drops}");
    }
}

thread_local! {
    /// A thread-local first used before the collector, so torn down after it.
    static CHAIN: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) };
}

/// The release loop does not depend on the collector's heap: a long chain dropped by a
/// thread-local destructor after the heap is gone is still dropped iteratively, on a small
/// stack, and completely.
#[test]
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
                let next = node(&d, OnDrop::Nothing);
                *next.next.borrow_mut() = head.take();
                head = Some(next);
            }
            CHAIN.with(|c| *c.borrow_mut() = head);
            assert_eq!(cyclegc::collect(), 0);
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), N);
}

/// A thread-local whose destructor drops the last outside handle of a cycle, then allocates.
struct DropThenAllocate(RefCell<Option<Gc<Node>>>);

impl Drop for DropThenAllocate {
    fn drop(&mut self) {
        let cycle = self.0.borrow_mut().take().unwrap();
        let drops = cycle.drops.clone();
        drop(cycle);
        drop(node(&drops, OnDrop::Nothing));
    }
}

thread_local! {
    static DROP_THEN_ALLOCATE: DropThenAllocate = const { DropThenAllocate(RefCell::new(None)) };
}

/// The allocation in a thread-local destructor may run an automatic collection, whose
/// garbage `Drop` panics: the panic must not unwind into the destructor (an abort).
#[test]
fn an_automatic_collection_in_a_thread_local_destructor_does_not_abort() {
    let drops = on_thread(|d| {
        cyclegc::set_threshold(1);
        DROP_THEN_ALLOCATE.with(|_| ()); // torn down after the first exit hook
        let cycle = cycle_of(d, OnDrop::Panic);
        DROP_THEN_ALLOCATE.with(|slot| *slot.0.borrow_mut() = Some(cycle));
        drop(two_cycle(d)); // the first root: the first exit hook
    });
    assert_eq!(drops, 5, "both cycles and the allocated node");
}
