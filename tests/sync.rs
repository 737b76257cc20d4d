//! The thread-safe flavour: handles, collection across threads, `Drop` and panic safety.
//!
//! The heap is one per process, so the tests of this file take `SERIAL` while they count
//! collections or buffered roots; sizes shrink under Miri.
// The thread-safe flavour needs 64-bit atomics.
#![cfg(all(feature = "derive", target_has_atomic = "64"))]

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::thread;

use cyclegc::sync::{self, Gc, Weak};
use cyclegc::Trace;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counts drops of the nodes that share it.
#[derive(Clone, Default)]
struct Drops(Arc<AtomicUsize>);

impl Drops {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Trace)]
struct Node {
    id: usize,
    edges: Mutex<Vec<Gc<Node>>>,
    #[trace(skip)]
    drops: Drops,
}

impl Node {
    fn new(id: usize, drops: &Drops) -> Gc<Node> {
        Gc::new(Node {
            id,
            edges: Mutex::new(Vec::new()),
            drops: drops.clone(),
        })
    }

    fn link(&self, to: &Gc<Node>) {
        self.edges.lock().unwrap().push(to.clone());
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Collects until a collection frees nothing; returns the total.
fn collect_all() -> usize {
    let mut total = 0;
    loop {
        match sync::collect() {
            0 => return total,
            n => total += n,
        }
    }
}

#[test]
fn a_cycle_built_on_another_thread_is_collected_here() {
    let _serial = serial();
    let drops = Drops::default();
    let d = drops.clone();
    let (a, weak) = thread::spawn(move || {
        let a = Node::new(1, &d);
        let b = Node::new(2, &d);
        a.link(&b);
        b.link(&a);
        let weak = Gc::downgrade(&b);
        (a, weak)
    })
    .join()
    .unwrap();
    assert_eq!(collect_all(), 0, "reachable from `a`");
    assert_eq!(weak.upgrade().map(|b| b.id), Some(2));
    drop(a);
    assert_eq!(collect_all(), 2);
    assert_eq!(drops.get(), 2);
    assert!(
        weak.upgrade().is_none(),
        "a collected member cannot be upgraded"
    );
    assert_eq!(weak.strong_count(), 0);
}

#[test]
fn garbage_dropped_on_exited_threads_is_collected() {
    let _serial = serial();
    let drops = Drops::default();
    let threads = if cfg!(miri) { 2 } else { 4 };
    let per_thread = if cfg!(miri) { 3 } else { 100 };
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let drops = drops.clone();
            thread::spawn(move || {
                for i in 0..per_thread {
                    let a = Node::new(t * 1000 + i, &drops);
                    let b = Node::new(t * 1000 + i + 500, &drops);
                    a.link(&b);
                    b.link(&a);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    // Automatic collections may have freed some already; the rest goes now.
    collect_all();
    assert_eq!(drops.get(), 2 * threads * per_thread);
    assert_eq!(sync::count(), 0, "nothing left in any buffer");
}

#[test]
fn a_self_cycle_through_every_std_lock_is_collected() {
    let _serial = serial();
    #[derive(Trace)]
    struct Locks {
        mutex: Mutex<Option<Gc<Locks>>>,
        rwlock: RwLock<Option<Gc<Locks>>>,
        once: OnceLock<Gc<Locks>>,
        #[trace(skip)]
        drops: Drops,
    }
    impl Drop for Locks {
        fn drop(&mut self) {
            self.drops.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Drops::default();
    let x = Gc::new(Locks {
        mutex: Mutex::new(None),
        rwlock: RwLock::new(None),
        once: OnceLock::new(),
        drops: drops.clone(),
    });
    *x.mutex.lock().unwrap() = Some(x.clone());
    *x.rwlock.write().unwrap() = Some(x.clone());
    assert!(x.once.set(x.clone()).is_ok());
    assert_eq!(Gc::strong_count(&x), 4);
    drop(x);
    assert_eq!(collect_all(), 1);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_held_lock_keeps_its_cycle_until_it_is_released() {
    let _serial = serial();
    let drops = Drops::default();
    let a = Node::new(1, &drops);
    a.link(&a);
    let weak = Gc::downgrade(&a);
    let value = Gc::as_ptr(&a);
    // SAFETY: the self-cycle keeps the value alive as long as it is not collected, and the
    // test asserts that no collection frees it while this guard is held (Miri would report
    // the use after free otherwise).
    let guard = unsafe { &*value }.edges.lock().unwrap();
    drop(a);
    // The cycle is garbage now, but its lock is held: the collector cannot read it, and
    // counts it live.
    assert_eq!(thread::spawn(sync::collect).join().unwrap(), 0);
    assert!(weak.upgrade().is_some());
    assert_eq!(drops.get(), 0);
    drop(guard);
    assert_eq!(collect_all(), 1);
    assert_eq!(drops.get(), 1);
    assert!(weak.upgrade().is_none());
}

#[test]
fn handles_mirror_arc() {
    let mut a = Gc::new(5);
    assert_eq!(Gc::strong_count(&a), 1);
    *Gc::get_mut(&mut a).unwrap() += 1;
    let w = Gc::downgrade(&a);
    assert_eq!(
        (Gc::weak_count(&a), w.strong_count(), w.weak_count()),
        (1, 1, 1)
    );
    assert!(Gc::get_mut(&mut a).is_none(), "a `Weak` exists");
    // Only `Weak`s: `make_mut` moves the value and disassociates them.
    *Gc::make_mut(&mut a) += 1;
    assert_eq!(*a, 7);
    assert!(w.upgrade().is_none());
    let b = a.clone();
    *Gc::make_mut(&mut a) += 1; // shared: clones
    assert_eq!((*a, *b), (8, 7));
    assert_eq!(Gc::try_unwrap(b), Ok(7));
    assert_eq!(Gc::into_inner(a), Some(8));
    let s = Gc::new(String::from("x"));
    let t = s.clone();
    assert!(Gc::try_unwrap(s).is_err());
    assert_eq!(Gc::unwrap_or_clone(t), "x");
    assert!(Weak::<u8>::new().upgrade().is_none());
}

#[test]
fn handles_are_send_and_sync_when_the_value_is() {
    fn shared<T: Send + Sync>() {}
    shared::<Gc<Mutex<u8>>>();
    shared::<Weak<Mutex<u8>>>();
    assert_eq!(std::mem::size_of::<Gc<u8>>(), std::mem::size_of::<usize>());
    assert_eq!(
        std::mem::size_of::<Option<Gc<u8>>>(),
        std::mem::size_of::<usize>()
    );
}

#[test]
fn new_cyclic_builds_a_self_reference_that_collects() {
    let _serial = serial();
    #[derive(Trace)]
    struct Me {
        me: Weak<Me>,
        strong: Mutex<Option<Gc<Me>>>,
    }
    let me = Gc::new_cyclic(|weak| {
        assert!(weak.upgrade().is_none(), "not built yet");
        Me {
            me: weak.clone(),
            strong: Mutex::new(None),
        }
    });
    *me.strong.lock().unwrap() = me.me.upgrade();
    let weak = Gc::downgrade(&me);
    drop(me);
    assert_eq!(collect_all(), 1);
    assert!(weak.upgrade().is_none());
}

#[test]
fn a_drop_of_garbage_may_collect_and_make_more_garbage() {
    let _serial = serial();
    static NESTED: AtomicUsize = AtomicUsize::new(usize::MAX);
    static MADE: AtomicUsize = AtomicUsize::new(0);
    #[derive(Trace)]
    struct Collecting {
        me: Mutex<Option<Gc<Collecting>>>,
    }
    impl Drop for Collecting {
        fn drop(&mut self) {
            // On the collecting thread: returns 0 at once.
            NESTED.store(sync::collect(), Ordering::SeqCst);
            // On another thread: collects (or waits for a running collection first).
            thread::spawn(sync::collect).join().unwrap();
            // More garbage, made and dropped during the destruction.
            let drops = Drops::default();
            let a = Node::new(0, &drops);
            a.link(&a);
            MADE.fetch_add(1, Ordering::SeqCst);
        }
    }
    let x = Gc::new(Collecting {
        me: Mutex::new(None),
    });
    *x.me.lock().unwrap() = Some(x.clone());
    drop(x);
    assert_eq!(sync::collect(), 1);
    assert_eq!(NESTED.load(Ordering::SeqCst), 0);
    assert_eq!(MADE.load(Ordering::SeqCst), 1);
    // The self-cycle the `Drop` made is collected by the next collection.
    assert_eq!(collect_all(), 1);
}

#[test]
fn a_panicking_drop_is_re_raised_and_the_collector_stays_usable() {
    let _serial = serial();
    #[derive(Trace)]
    struct Bomb {
        other: Mutex<Option<Gc<Bomb>>>,
        #[trace(skip)]
        drops: Drops,
    }
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.drops.0.fetch_add(1, Ordering::SeqCst);
            panic!("boom");
        }
    }
    let drops = Drops::default();
    let a = Gc::new(Bomb {
        other: Mutex::new(None),
        drops: drops.clone(),
    });
    let b = Gc::new(Bomb {
        other: Mutex::new(Some(a.clone())),
        drops: drops.clone(),
    });
    *a.other.lock().unwrap() = Some(b.clone());
    drop((a, b));
    let caught = panic::catch_unwind(AssertUnwindSafe(sync::collect));
    assert!(caught.is_err(), "the `Drop` panic is re-raised");
    assert_eq!(drops.get(), 2, "both dropped despite the first panic");
    let other = Drops::default();
    let c = Node::new(3, &other);
    c.link(&c);
    drop(c);
    assert_eq!(collect_all(), 1);
    assert_eq!(other.get(), 1);
}

#[test]
fn a_dead_member_reached_from_a_drop_is_none_for_try_deref() {
    let _serial = serial();
    static SAW_DEAD: AtomicBool = AtomicBool::new(false);
    #[derive(Trace)]
    struct Peer {
        other: Mutex<Option<Gc<Peer>>>,
    }
    impl Drop for Peer {
        fn drop(&mut self) {
            if let Some(other) = self.other.get_mut().unwrap().as_ref() {
                if Gc::try_deref(other).is_none() {
                    SAW_DEAD.store(true, Ordering::SeqCst);
                }
            }
        }
    }
    let a = Gc::new(Peer {
        other: Mutex::new(None),
    });
    let b = Gc::new(Peer {
        other: Mutex::new(Some(a.clone())),
    });
    *a.other.lock().unwrap() = Some(b.clone());
    drop((a, b));
    assert_eq!(collect_all(), 2);
    assert!(SAW_DEAD.load(Ordering::SeqCst));
}

#[test]
fn a_clone_and_drop_loop_on_a_live_pointer_never_collects() {
    let _serial = serial();
    let drops = Drops::default();
    let a = Node::new(1, &drops);
    sync::collect();
    let before = sync::stats().collections;
    let n = if cfg!(miri) { 100 } else { 100_000 };
    for _ in 0..n {
        let b = a.clone();
        drop(b);
    }
    // Allocating a tracked object checks the countdown; nothing is due.
    drop(Node::new(2, &drops));
    assert_eq!(sync::stats().collections, before);
    assert!(sync::count() <= 1, "the pointer is buffered once");
}

#[test]
fn automatic_collection_bounds_garbage_made_on_four_threads() {
    let _serial = serial();
    let drops = Drops::default();
    let per_thread = if cfg!(miri) { 20 } else { 50_000 };
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let drops = drops.clone();
            thread::spawn(move || {
                let mut max_pending = 0;
                for i in 0..per_thread {
                    let a = Node::new(t * per_thread + i, &drops);
                    let b = Node::new(t * per_thread + i, &drops);
                    a.link(&b);
                    b.link(&a);
                    drop((a, b));
                    max_pending = max_pending.max(sync::count());
                }
                max_pending
            })
        })
        .collect();
    let max_pending = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap();
    if !cfg!(miri) {
        // Each 2-cycle buffers two roots; a collection starts once the threshold is
        // reached, and the other threads go on meanwhile: allow them a generous margin.
        assert!(
            max_pending < 20 * sync::threshold(),
            "pending roots stayed bounded: {max_pending}"
        );
        assert!(drops.get() > 0, "automatic collections ran");
    }
    collect_all();
    assert_eq!(drops.get(), 8 * per_thread);
}

/// Chains and rings of a million nodes drop and collect on a 256 KiB stack.
#[test]
fn a_long_chain_and_ring_need_no_deep_stack() {
    let _serial = serial();
    #[derive(Trace)]
    struct Link {
        next: OnceLock<Gc<Link>>,
    }
    let n = if cfg!(miri) { 100 } else { 1_000_000 };
    thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            // A chain, dropped from its head: the release loop, not recursion.
            let head = Gc::new(Link {
                next: OnceLock::new(),
            });
            let mut tail = head.clone();
            for _ in 1..n {
                let next = Gc::new(Link {
                    next: OnceLock::new(),
                });
                let _ = tail.next.set(next.clone());
                tail = next;
            }
            drop(tail);
            drop(head);
            // A ring: collected.
            let first = Gc::new(Link {
                next: OnceLock::new(),
            });
            let mut last = first.clone();
            for _ in 1..n {
                let next = Gc::new(Link {
                    next: OnceLock::new(),
                });
                let _ = last.next.set(next.clone());
                last = next;
            }
            let _ = last.next.set(first.clone());
            drop((first, last));
            let mut freed = 0;
            loop {
                match sync::collect() {
                    0 => break,
                    k => freed += k,
                }
            }
            freed
        })
        .unwrap()
        .join()
        .map(|freed| assert!(freed >= n, "the ring was collected: {freed}"))
        .unwrap();
}

/// Several threads link, unlink and move handles among shared nodes through their locks
/// while another thread loops `collect()`. Each node's `Drop` checks a side table of live
/// flags: dropping a node that is still reachable, or dropping one twice, fails the run; at
/// the end every node has been dropped exactly once.
#[test]
fn stress_mutators_and_a_collector() {
    let _serial = serial();
    static LIVE: Mutex<Vec<bool>> = Mutex::new(Vec::new());
    static DROPPED_TWICE: AtomicBool = AtomicBool::new(false);

    #[derive(Trace)]
    struct Cell {
        #[trace(skip)]
        id: usize,
        edges: Mutex<Vec<Gc<Cell>>>,
        // Checked by mutators: a node they can reach must not have been dropped.
        #[trace(skip)]
        alive: AtomicBool,
    }
    impl Drop for Cell {
        fn drop(&mut self) {
            let mut live = LIVE.lock().unwrap();
            if !std::mem::replace(&mut live[self.id], false) {
                DROPPED_TWICE.store(true, Ordering::SeqCst);
            }
            self.alive.store(false, Ordering::SeqCst);
        }
    }

    let nodes = if cfg!(miri) { 8 } else { 64 };
    let steps = if cfg!(miri) { 40 } else { 20_000 };
    let mutators = if cfg!(miri) { 2 } else { 3 };
    *LIVE.lock().unwrap() = vec![true; nodes];
    let table: Vec<Gc<Cell>> = (0..nodes)
        .map(|id| {
            Gc::new(Cell {
                id,
                edges: Mutex::new(Vec::new()),
                alive: AtomicBool::new(true),
            })
        })
        .collect();
    // The roots: a shared table each mutator takes handles from and puts handles back into.
    let roots: Arc<Vec<Mutex<Option<Gc<Cell>>>>> =
        Arc::new(table.into_iter().map(|gc| Mutex::new(Some(gc))).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let collector = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut freed = 0;
            while !stop.load(Ordering::SeqCst) {
                freed += sync::collect();
                thread::yield_now();
            }
            freed
        })
    };
    let workers: Vec<_> = (0..mutators)
        .map(|seed| {
            let roots = roots.clone();
            thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ (seed as u64 + 1);
                let mut next = move |n: usize| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    (rng % n as u64) as usize
                };
                let mut held: Vec<Gc<Cell>> = Vec::new();
                for _ in 0..steps {
                    let slot = &roots[next(roots.len())];
                    match next(6) {
                        // Take a root handle onto the stack (a move out of a `Mutex`).
                        0 => held.extend(slot.lock().unwrap().take()),
                        // Put one back (or drop it if the slot is full).
                        1 => {
                            if let Some(gc) = held.pop() {
                                let mut slot = slot.lock().unwrap();
                                if slot.is_none() {
                                    *slot = Some(gc);
                                }
                            }
                        }
                        // Link two reachable nodes (clone through a lock).
                        2 => {
                            if let (Some(a), Some(b)) = (held.last(), held.first()) {
                                a.edges.lock().unwrap().push(b.clone());
                            }
                        }
                        // Move an edge out of a node onto the stack, dropping the node's copy
                        // (the move-out race).
                        3 => {
                            if let Some(a) = held.last() {
                                let taken = a.edges.lock().unwrap().pop();
                                held.extend(taken);
                            }
                        }
                        // Unlink everything out of a node.
                        4 => {
                            if let Some(a) = held.first() {
                                let edges = std::mem::take(&mut *a.edges.lock().unwrap());
                                drop(edges);
                            }
                        }
                        // Drop a handle.
                        _ => drop(held.pop()),
                    }
                    for gc in &held {
                        assert!(
                            gc.alive.load(Ordering::SeqCst),
                            "a reachable node was dropped"
                        );
                    }
                    if held.len() > 8 {
                        held.truncate(4);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    collector.join().unwrap();
    drop(roots);
    collect_all();
    assert!(
        !DROPPED_TWICE.load(Ordering::SeqCst),
        "a node was dropped twice"
    );
    assert!(
        LIVE.lock().unwrap().iter().all(|&live| !live),
        "every node was dropped"
    );
}

/// Trait objects behind `sync::Gc`, made with `unsize!`, on a cycle the collector reclaims.
#[test]
fn a_cycle_through_sync_trait_objects_is_collected() {
    let _serial = serial();
    trait Observer: Trace + Send + Sync {
        fn id(&self) -> usize;
    }
    #[derive(Trace)]
    struct Subject {
        observers: Mutex<Vec<Gc<dyn Observer>>>,
    }
    #[derive(Trace)]
    struct Watcher {
        id: usize,
        subject: Gc<Subject>,
        #[trace(skip)]
        drops: Drops,
    }
    impl Observer for Watcher {
        fn id(&self) -> usize {
            self.id
        }
    }
    impl Drop for Watcher {
        fn drop(&mut self) {
            self.drops.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Drops::default();
    let subject = Gc::new(Subject {
        observers: Mutex::new(Vec::new()),
    });
    for id in 0..3 {
        let watcher = Gc::new(Watcher {
            id,
            subject: subject.clone(),
            drops: drops.clone(),
        });
        let observer: Gc<dyn Observer> = cyclegc::unsize!(watcher => dyn Observer);
        subject.observers.lock().unwrap().push(observer);
    }
    let ids: Vec<usize> = subject
        .observers
        .lock()
        .unwrap()
        .iter()
        .map(|o| o.id())
        .collect();
    assert_eq!(ids, [0, 1, 2]);
    drop(subject);
    assert_eq!(collect_all(), 4);
    assert_eq!(drops.get(), 3);
    // `dyn Any` and back.
    let any: Gc<dyn std::any::Any + Send + Sync> =
        cyclegc::unsize!(Gc::new(5_u32) => dyn std::any::Any + Send + Sync);
    assert_eq!(*any.downcast::<u32>().unwrap(), 5);
}

#[cfg(all(feature = "serde", feature = "serde_json"))]
#[test]
fn serde_round_trip() {
    let gc = Gc::new(vec![1, 2]);
    let json = serde_json::to_string(&gc).unwrap();
    assert_eq!(json, "[1,2]");
    let back: Gc<Vec<i32>> = serde_json::from_str(&json).unwrap();
    assert_eq!(*back, [1, 2]);
    let weak = Gc::downgrade(&back);
    assert_eq!(serde_json::to_string(&weak).unwrap(), "[1,2]");
    let empty: Weak<Vec<i32>> = serde_json::from_str(&json).unwrap();
    assert!(empty.upgrade().is_none());
}

/// A `Trace` impl that panics once, while the holding tracer holds another object's lock:
/// the collection re-raises the panic, releases every guard, judges nothing it read before
/// the panic, and the next collection frees the cycle.
#[test]
fn a_trace_panic_releases_the_held_locks_and_the_cycle_is_collected_later() {
    let _serial = serial();
    struct Flaky {
        next: Mutex<Option<Gc<Flaky>>>,
        panic_once: AtomicBool,
        drops: Drops,
    }
    // SAFETY: reports its one edge (or panics before reporting anything).
    unsafe impl Trace for Flaky {
        fn trace(&self, tracer: &mut cyclegc::Tracer) {
            if self.panic_once.swap(false, Ordering::SeqCst) {
                panic!("flaky trace");
            }
            self.next.trace(tracer);
        }
    }
    impl Drop for Flaky {
        fn drop(&mut self) {
            self.drops.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Drops::default();
    let flaky = |panic_once| {
        Gc::new(Flaky {
            next: Mutex::new(None),
            panic_once: AtomicBool::new(panic_once),
            drops: drops.clone(),
        })
    };
    let (a, b) = (flaky(false), flaky(true));
    *a.next.lock().unwrap() = Some(b.clone());
    *b.next.lock().unwrap() = Some(a.clone());
    let weak = Gc::downgrade(&a);
    drop((a, b));
    let err = panic::catch_unwind(sync::collect).unwrap_err();
    assert_eq!(*err.downcast_ref::<&str>().unwrap(), "flaky trace");
    // Every lock was released: taking one does not block.
    let a = weak.upgrade().expect("nothing was freed");
    assert!(a.next.try_lock().is_ok(), "the tracer released its guards");
    drop(a);
    assert_eq!(collect_all(), 2);
    assert_eq!(drops.get(), 2);
}

/// A `Trace` impl that reports its one edge twice: the collection keeps the object instead
/// of freeing what may be reachable. (Unlike the single-threaded heap, it does not report the
/// lie: another thread storing a handle during the collection looks the same;
/// `tests/sync_concurrent_store.rs`.)
#[test]
fn a_lying_trace_keeps_its_object() {
    let _serial = serial();
    // (A lock traced twice is no lie: the second `try_lock` finds it held by the tracer.)
    struct Liar {
        me: OnceLock<Gc<Liar>>,
        lie: AtomicBool,
    }
    // SAFETY: deliberately wrong while `lie` is set (reports its edge twice), which the crate
    // must survive.
    unsafe impl Trace for Liar {
        fn trace(&self, tracer: &mut cyclegc::Tracer) {
            self.me.trace(tracer);
            if self.lie.load(Ordering::SeqCst) {
                self.me.trace(tracer);
            }
        }
    }
    let liar = Gc::new(Liar {
        me: OnceLock::new(),
        lie: AtomicBool::new(true),
    });
    assert!(liar.me.set(liar.clone()).is_ok());
    let weak = Gc::downgrade(&liar);
    drop(liar);
    let aborted = sync::stats().aborted;
    assert_eq!(sync::collect(), 0);
    assert_eq!(sync::stats().aborted, aborted);
    // Kept alive. Once it tells the truth (and is a possible root again), it goes.
    let liar = weak.upgrade().expect("kept alive");
    liar.lie.store(false, Ordering::SeqCst);
    drop(liar);
    assert_eq!(collect_all(), 1);
    assert!(weak.upgrade().is_none());
}

/// A `Drop` of garbage (collection A, destroying outside the collector lock) resurrects a
/// handle to another member of its cycle, already claimed, and links it, with a live object
/// `y`, into a new cycle that collection B, on another thread, examines meanwhile. B must
/// not take A's scan index of the claimed member for one of its own nodes (that gave `y` a
/// phantom edge, and B freed `y` under a live handle; found by review).
#[test]
fn a_later_collection_never_reads_an_earlier_ones_scan_index() {
    let _serial = serial();
    static Y: Mutex<Option<Gc<Res>>> = Mutex::new(None);
    static Y_DROPPED: AtomicBool = AtomicBool::new(false);
    #[derive(Trace)]
    struct Res {
        items: Mutex<Vec<Gc<Res>>>,
        #[trace(skip)]
        resurrect: bool,
        #[trace(skip)]
        is_y: bool,
    }
    fn res(resurrect: bool, is_y: bool) -> Gc<Res> {
        Gc::new(Res {
            items: Mutex::new(Vec::new()),
            resurrect,
            is_y,
        })
    }
    impl Drop for Res {
        fn drop(&mut self) {
            if self.is_y {
                Y_DROPPED.store(true, Ordering::SeqCst);
            }
            if !self.resurrect {
                return;
            }
            // The other member of this garbage cycle: claimed, not destroyed yet.
            let m2 = self.items.lock().unwrap()[0].clone();
            let y = Y.lock().unwrap().clone().unwrap();
            let c = res(false, false);
            c.items.lock().unwrap().extend([c.clone(), m2, y]);
            drop(c);
            thread::spawn(sync::collect).join().unwrap();
        }
    }
    *Y.lock().unwrap() = Some(res(false, true));
    let m1 = res(true, false);
    let m2 = res(false, false);
    m1.items.lock().unwrap().push(m2.clone());
    m2.items.lock().unwrap().push(m1.clone());
    drop((m1, m2));
    sync::collect();
    assert!(
        !Y_DROPPED.load(Ordering::SeqCst),
        "y was dropped while a handle to it lives"
    );
    let y = Y.lock().unwrap().take().unwrap();
    assert!(Gc::try_deref(&y).is_some());
    drop(y);
    collect_all();
    assert!(Y_DROPPED.load(Ordering::SeqCst));
}

/// Threads that buffer a possible root right before they exit, while another thread loops
/// `collect()`: no entry is lost with its exited thread's buffer (found by review: an entry
/// pushed after the buffer was drained, by a thread that exited before the buffer was
/// unregistered, leaked its cycle).
#[test]
fn entries_of_exiting_threads_are_never_lost() {
    let _serial = serial();
    use std::sync::Barrier;
    #[derive(Trace)]
    struct Selfish {
        me: Mutex<Option<Gc<Selfish>>>,
        #[trace(skip)]
        drops: Drops,
    }
    impl Drop for Selfish {
        fn drop(&mut self) {
            self.drops.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn self_cycle(drops: &Drops) {
        let s = Gc::new(Selfish {
            me: Mutex::new(None),
            drops: drops.clone(),
        });
        *s.me.lock().unwrap() = Some(s.clone());
    }
    let threshold = sync::threshold();
    sync::set_threshold(0); // only the collector thread collects
    let drops = Drops::default();
    let stop = Arc::new(AtomicBool::new(false));
    let collector = {
        let stop = stop.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                sync::collect();
            }
        })
    };
    let (rounds, width) = if cfg!(miri) { (2, 3) } else { (100, 24) };
    for _ in 0..rounds {
        let barrier = Arc::new(Barrier::new(width));
        let threads: Vec<_> = (0..width)
            .map(|_| {
                let (barrier, drops) = (barrier.clone(), drops.clone());
                thread::spawn(move || {
                    self_cycle(&drops); // registers the thread's buffer
                    barrier.wait();
                    self_cycle(&drops); // pushed right before the thread exits
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }
    stop.store(true, Ordering::SeqCst);
    collector.join().unwrap();
    sync::set_threshold(threshold);
    collect_all();
    assert_eq!(drops.get(), 2 * rounds * width, "no cycle leaked");
}

/// parking_lot's locks serve the thread-safe flavour as std's do: traced by `try_lock`,
/// held until the verdict, a busy one keeping its object alive.
#[cfg(feature = "parking_lot")]
#[test]
fn parking_lot_locks_carry_sync_cycles() {
    let _serial = serial();
    #[derive(Trace)]
    struct Pl {
        mutex: parking_lot::Mutex<Option<Gc<Pl>>>,
        rwlock: parking_lot::RwLock<Option<Gc<Pl>>>,
        #[trace(skip)]
        drops: Drops,
    }
    impl Drop for Pl {
        fn drop(&mut self) {
            self.drops.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Drops::default();
    let pl = || {
        Gc::new(Pl {
            mutex: parking_lot::Mutex::new(None),
            rwlock: parking_lot::RwLock::new(None),
            drops: drops.clone(),
        })
    };
    let (a, b) = (pl(), pl());
    *a.mutex.lock() = Some(b.clone());
    *b.rwlock.write() = Some(a.clone());
    let weak = Gc::downgrade(&a);
    let a_value = Gc::as_ptr(&a);
    drop((a, b));
    {
        // SAFETY: the cycle keeps the value alive while its lock is held (asserted below).
        let _held = unsafe { &*a_value }.mutex.lock();
        assert_eq!(thread::spawn(sync::collect).join().unwrap(), 0);
        assert!(weak.upgrade().is_some());
    }
    assert_eq!(collect_all(), 2);
    assert_eq!(drops.get(), 2);
}

/// The hand-off (found by review): between the collector's trace of `q` and its trace of
/// `a`, the mutator moves the only handle to `a` out of `q` onto its stack and its own handle
/// to `q` into `a`. No count changes and nothing is dropped, yet the edges the collector
/// counted explain both counts. The claim must see that `q -> a` is gone (it traces `q`
/// again under its lock) and keep both. `a`'s `Trace` waits for the mutator, to pin the
/// interleaving.
#[test]
fn a_handle_handed_into_a_member_traced_later_stays_alive() {
    let _serial = serial();
    #[derive(Default)]
    struct Gate {
        started: AtomicBool,
        done: AtomicBool,
    }
    struct Hand {
        edges: Mutex<Vec<Gc<Hand>>>,
        gate: Option<Arc<Gate>>,
        #[allow(dead_code)] // counted through `Drops`
        drops: Drops,
    }
    // SAFETY: reports its edges (the wait comes before any of them is reported).
    unsafe impl Trace for Hand {
        fn trace(&self, tracer: &mut cyclegc::Tracer) {
            if let Some(gate) = &self.gate {
                gate.started.store(true, Ordering::SeqCst);
                while !gate.done.load(Ordering::SeqCst) {
                    thread::yield_now();
                }
            }
            self.edges.trace(tracer);
        }
    }
    impl Drop for Hand {
        fn drop(&mut self) {
            self.drops.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Drops::default();
    let gate = Arc::new(Gate::default());
    let hand = |gate| {
        Gc::new(Hand {
            edges: Mutex::new(Vec::new()),
            gate,
            drops: drops.clone(),
        })
    };
    let q = hand(None);
    let a = hand(Some(gate.clone()));
    q.edges.lock().unwrap().push(a); // the only handle to `a` is in `q`
    drop(q.clone()); // `q` is a possible root; the test holds its only outside handle
    let mutator = {
        let gate = gate.clone();
        thread::spawn(move || {
            while !gate.started.load(Ordering::SeqCst) {
                thread::yield_now();
            }
            // `q` is traced and unlocked, `a` entered and being traced.
            let a = q.edges.lock().unwrap().pop().expect("q's edge to a");
            a.edges.lock().unwrap().push(q);
            gate.done.store(true, Ordering::SeqCst);
            a
        })
    };
    assert_eq!(sync::collect(), 0, "nothing is garbage");
    let a = mutator.join().unwrap();
    assert!(Gc::try_deref(&a).is_some(), "the mutator's handle is alive");
    assert_eq!(drops.get(), 0);
    drop(a); // now `a <-> q` is garbage
    collect_all();
    assert_eq!(drops.get(), 2);
}
