//! The per-thread heap: the root buffer, the collector's settings and statistics, and the
//! Python-style functions that control them. (The release loop is in `release.rs`.)
//!
//! No borrow of this state is ever held while user code (a `Drop`, a `Trace`) runs: every
//! `RefCell` borrow here is a few instructions long.

use std::cell::{Cell, RefCell};
use std::ptr::NonNull;

use crate::collect::Scan;
use crate::header::{Header, BUFFERED};
use crate::release;

/// The automatic-collection threshold a thread starts with: a collection runs when this many
/// possible cycle roots have been buffered since the last one. CPython's first-generation
/// threshold is 2000 (700 before 3.13). Small under Miri so that short tests reach it.
pub(crate) const DEFAULT_THRESHOLD: usize = if cfg!(miri) { 16 } else { 2000 };

/// How many survivors a collection may trace per buffered root before the next automatic one:
/// the next automatic collection waits for `survivors / SURVIVOR_RATIO` new roots (if that
/// is more than the threshold). This keeps automatic collection amortised O(1) per root even
/// when every root leads into a large live structure — CPython's 25% rule for its oldest
/// generation, applied to the traced subgraph.
const SURVIVOR_RATIO: usize = 4;

/// Collector statistics for the current thread, as returned by [`stats`]: the running totals
/// of Python's `gc.get_stats()`.
///
/// # Examples
///
/// ```
/// let before = cyclegc::stats();
/// cyclegc::collect();
/// assert_eq!(cyclegc::stats().collections, before.collections + 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Collections run on this thread, automatic and explicit (aborted ones included).
    pub collections: u64,
    /// Objects reclaimed by those collections.
    pub collected: u64,
    /// Objects examined (traced) by those collections, garbage and survivors alike.
    pub traced: u64,
    /// Collections given up because the object graph did not add up: a `Trace` impl reported
    /// more references to an object than it has. Nothing is freed by such a collection.
    pub aborted: u64,
}

pub(crate) struct Heap {
    /// Possible cycle roots (B–R's "purple" buffer). Each entry holds a unit of its weak count.
    pub(crate) roots: RefCell<Vec<NonNull<Header>>>,
    /// A collection is running on this thread.
    pub(crate) collecting: Cell<bool>,
    /// A collection is tracing (the only time its tentatively `DEAD` objects are not yet
    /// really claimed).
    pub(crate) scanning: Cell<bool>,
    enabled: Cell<bool>,
    threshold: Cell<usize>,
    /// Buffered roots needed before the next automatic collection (≥ `threshold`).
    trigger: Cell<usize>,
    pub(crate) stats: RefCell<Stats>,
    /// The thread-exit collector has been registered.
    exit_registered: Cell<bool>,
    /// The work arrays of the last collection, emptied, for the next one.
    pub(crate) spare_scan: Cell<Option<Scan>>,
}

thread_local! {
    static HEAP: Heap = const { Heap::new() };
    /// How many more possible roots may be buffered before an automatic collection is due:
    /// `trigger - roots.len()`, or `usize::MAX` while automatic collection is off (buffering
    /// counts it down, but no program buffers `usize::MAX` roots). `Gc::new` reads it every
    /// time, so it lives apart from [`Heap`], in a thread-local without a destructor (one
    /// load, no lazy registration). It starts at 0, so that a thread's first tracked
    /// allocation goes to [`collect_due`], which initializes it from the heap — and thereby
    /// registers the heap's destructor early, before most other thread-locals.
    static ROOM: Cell<usize> = const { Cell::new(0) };
    static EXIT: ExitCollector = const { ExitCollector };
}

impl Heap {
    const fn new() -> Heap {
        Heap {
            roots: RefCell::new(Vec::new()),
            collecting: Cell::new(false),
            scanning: Cell::new(false),
            enabled: Cell::new(true),
            threshold: Cell::new(DEFAULT_THRESHOLD),
            trigger: Cell::new(DEFAULT_THRESHOLD),
            stats: RefCell::new(Stats {
                collections: 0,
                collected: 0,
                traced: 0,
                aborted: 0,
            }),
            exit_registered: Cell::new(false),
            spare_scan: Cell::new(None),
        }
    }

    pub(crate) fn buffer(&self, header: NonNull<Header>) {
        // SAFETY: the caller holds a strong reference to the object.
        let h = unsafe { header.as_ref() };
        h.set_flag(BUFFERED);
        h.take_hold();
        self.roots.borrow_mut().push(header);
        ROOM.with(|room| room.set(room.get().saturating_sub(1)));
        if !self.exit_registered.get() {
            self.exit_registered.set(true);
            // Registering after `HEAP` means the exit collection runs while `HEAP` is alive
            // on platforms that run thread-local destructors in reverse order.
            let _ = EXIT.try_with(|_| ());
        }
    }

    pub(crate) fn set_trigger_after(&self, survivors: usize) {
        self.trigger
            .set(self.threshold.get().max(survivors / SURVIVOR_RATIO));
        self.update_room();
    }

    /// Recomputes [`ROOM`] after the buffer, the trigger or the settings changed.
    pub(crate) fn update_room(&self) {
        let room = if self.enabled.get() && self.threshold.get() != 0 {
            self.trigger.get().saturating_sub(self.roots.borrow().len())
        } else {
            usize::MAX
        };
        ROOM.with(|r| r.set(room));
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        // The thread is exiting and the exit collection (if it ran) is over. Give back the
        // buffer's holds; what is still buffered stays valid for whoever holds it.
        for header in self.roots.get_mut().drain(..) {
            // SAFETY: each buffer entry holds one unit of its header's weak count.
            unsafe {
                header.as_ref().clear_flag(BUFFERED);
                Header::release_hold(header);
            }
        }
    }
}

/// Runs a thread's last collection when it exits.
struct ExitCollector;

impl Drop for ExitCollector {
    fn drop(&mut self) {
        // A few rounds: destructors may leave new garbage behind. Bounded, so a `Drop` that
        // builds a new cycle every time cannot keep the thread from exiting.
        for _ in 0..4 {
            if collect() == 0 {
                break;
            }
        }
    }
}

/// Records `header` as a possible cycle root (its strong count just dropped to a non-zero
/// value). Without a heap (thread-local teardown) the object is simply not buffered: a cycle
/// through it may leak, nothing worse.
#[cold]
#[inline(never)]
pub(crate) fn possible_root(header: NonNull<Header>) {
    let _ = HEAP.try_with(|heap| heap.buffer(header));
}

/// The last strong reference to a `DEAD` object whose value the collector has not dropped
/// went. During a destruction that is normal (the collector drops the value, then gives back
/// the implicit hold). During a snapshot the object is only tentatively dead — a misbehaving
/// `Trace` impl dropped its last reference — so it is released like any other: into the
/// pending list, which the collector notices and then revives the object.
#[cold]
pub(crate) fn dead_released(header: NonNull<Header>) {
    let _ = HEAP.try_with(|heap| {
        if heap.scanning.get() {
            release::defer(header);
        }
    });
}

/// Called by `Gc::new` for tracked types: runs an automatic collection if one is due.
#[inline]
pub(crate) fn before_alloc() {
    if ROOM.with(Cell::get) == 0 {
        collect_due();
    }
}

/// [`ROOM`] is 0: enough possible roots are buffered (or this is the thread's first tracked
/// allocation). Collect, unless this allocation happens inside a release or a collection (a
/// `Drop` impl allocating), where collecting is not safe.
#[cold]
#[inline(never)]
fn collect_due() {
    let due = HEAP
        .try_with(|heap| {
            heap.update_room();
            ROOM.with(Cell::get) == 0
        })
        .unwrap_or(false);
    if due && !release::releasing() {
        collect();
    }
}

/// Runs a full collection on the current thread and returns the number of objects it freed.
/// Python's `gc.collect()`.
///
/// Every buffered possible root is examined, with everything reachable from it; cycles that
/// nothing outside references are destroyed. Called while a collection is already running
/// (from a `Drop` impl of a garbage object, say), it does nothing and returns 0.
///
/// The collector keeps the work arrays of a collection (about 48 bytes per object traced,
/// plus 8 per reference) for the next one on the same thread. They are freed after a
/// collection that needed less than an eighth of them (if they hold more than 4096 objects'
/// worth), after a collection that ended in a panic, and when the thread exits.
///
/// # Panics
///
/// If a `Drop` impl of a garbage object panics, the rest of the garbage is still destroyed
/// and then the first panic is resumed. If a `Trace` impl panics, the collection is abandoned
/// (nothing is freed) and the panic is resumed. In both cases the collector stays usable.
/// Debug builds also panic when the collector catches a `Trace` impl reporting more
/// references than exist (see [`Stats::aborted`]).
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Node(RefCell<Option<Gc<Node>>>);
///
/// let a = Gc::new(Node(RefCell::new(None)));
/// *a.0.borrow_mut() = Some(a.clone());
/// drop(a);
/// assert_eq!(cyclegc::collect(), 1);
/// assert_eq!(cyclegc::collect(), 0);
/// ```
pub fn collect() -> usize {
    HEAP.try_with(crate::collect::collect).unwrap_or(0)
}

/// Turns automatic collection on (the default). Python's `gc.enable()`.
///
/// # Examples
///
/// ```
/// cyclegc::disable();
/// assert!(!cyclegc::is_enabled());
/// cyclegc::enable();
/// assert!(cyclegc::is_enabled());
/// ```
pub fn enable() {
    let _ = HEAP.try_with(|heap| {
        heap.enabled.set(true);
        heap.update_room();
    });
}

/// Turns automatic collection off for this thread; [`collect`] still works. Python's
/// `gc.disable()`.
///
/// # Examples
///
/// ```
/// cyclegc::disable();
/// // ... allocation-heavy phase with no pauses ...
/// cyclegc::enable();
/// ```
pub fn disable() {
    let _ = HEAP.try_with(|heap| {
        heap.enabled.set(false);
        heap.update_room();
    });
}

/// Whether automatic collection is on for this thread. Python's `gc.isenabled()`.
///
/// # Examples
///
/// ```
/// assert!(cyclegc::is_enabled());
/// ```
pub fn is_enabled() -> bool {
    HEAP.try_with(|heap| heap.enabled.get()).unwrap_or(false)
}

/// The automatic-collection threshold: a collection runs (at the next `Gc::new` of a type that
/// may own a `Gc`) once this many possible cycle roots are buffered. After a collection that
/// traced many live objects the next one waits longer, so that automatic collection stays
/// amortised O(1). Python's `gc.get_threshold()[0]`.
///
/// # Examples
///
/// ```
/// assert!(cyclegc::threshold() > 0);
/// ```
pub fn threshold() -> usize {
    HEAP.try_with(|heap| heap.threshold.get()).unwrap_or(0)
}

/// Sets the automatic-collection threshold for this thread; 0 turns automatic collection off,
/// as in Python's `gc.set_threshold(0)`.
///
/// # Examples
///
/// ```
/// let old = cyclegc::threshold();
/// cyclegc::set_threshold(10_000);
/// assert_eq!(cyclegc::threshold(), 10_000);
/// cyclegc::set_threshold(old);
/// ```
pub fn set_threshold(threshold: usize) {
    let _ = HEAP.try_with(|heap| {
        heap.threshold.set(threshold);
        heap.trigger.set(threshold);
        heap.update_room();
    });
}

/// The number of possible cycle roots buffered since the last collection. Python's
/// `gc.get_count()[0]`.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Node(RefCell<Option<Gc<Node>>>);
///
/// cyclegc::collect();
/// let a = Gc::new(Node(RefCell::new(None)));
/// drop(a.clone()); // a decrement that leaves a reference: a possible root
/// assert_eq!(cyclegc::count(), 1);
/// ```
pub fn count() -> usize {
    HEAP.try_with(|heap| heap.roots.borrow().len()).unwrap_or(0)
}

/// This thread's collector statistics.
///
/// # Examples
///
/// ```
/// let stats = cyclegc::stats();
/// println!("{} collections freed {} objects", stats.collections, stats.collected);
/// ```
pub fn stats() -> Stats {
    HEAP.try_with(|heap| heap.stats.borrow().clone())
        .unwrap_or_default()
}
