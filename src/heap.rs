//! The per-thread heap: the root buffer, the release "trashcan", the collector's settings and
//! statistics, and the Python-style functions that control them.
//!
//! No borrow of this state is ever held while user code (a `Drop`, a `Trace`) runs: every
//! `RefCell` borrow here is a few instructions long.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use crate::collect::Scan;
use crate::header::{GcBox, Header, BUFFERED};

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
    /// Values whose last strong reference was dropped while [`RELEASE_DEPTH_LIMIT`] releases
    /// were already running (or during a collection): the outermost release drops them, so
    /// long chains never recurse deeper than the limit. Each entry holds the implicit hold of
    /// its header.
    pending: RefCell<Vec<NonNull<Header>>>,
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

/// The state that `Gc::new` and the last-reference drop read every time, kept apart from
/// [`Heap`] in a thread-local without a destructor: such a thread-local needs no lazy
/// registration and never becomes inaccessible, so reading it is a single load.
struct Hot {
    /// How many releases are running on this thread, nested in each other; a collection sets
    /// it to the limit so that every release is deferred while it runs.
    depth: Cell<usize>,
    /// The pending list may be non-empty: the outermost release must drain it.
    pending: Cell<bool>,
    /// How many more possible roots may be buffered before an automatic collection is due
    /// (`trigger - roots.len()`, or `usize::MAX` while automatic collection is off).
    room: Cell<usize>,
}

thread_local! {
    static HEAP: Heap = const { Heap::new() };
    static HOT: Hot = const {
        Hot {
            depth: Cell::new(0),
            pending: Cell::new(false),
            room: Cell::new(DEFAULT_THRESHOLD),
        }
    };
    static EXIT: ExitCollector = const { ExitCollector };
}

impl Heap {
    const fn new() -> Heap {
        Heap {
            roots: RefCell::new(Vec::new()),
            pending: RefCell::new(Vec::new()),
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
        HOT.with(|hot| hot.room.set(hot.room.get().saturating_sub(1)));
        if !self.exit_registered.get() {
            self.exit_registered.set(true);
            // Registering after `HEAP` means the exit collection runs while `HEAP` is alive
            // on platforms that run thread-local destructors in reverse order.
            let _ = EXIT.try_with(|_| ());
        }
    }

    /// Defers every release until [`Heap::end_deferral`]: a collection must not free headers
    /// under its scan, and destroying garbage must not recurse.
    pub(crate) fn begin_deferral(&self) -> usize {
        HOT.with(|hot| hot.depth.replace(RELEASE_DEPTH_LIMIT))
    }

    /// Ends a deferral begun with `saved` as the previous depth. If no release was running
    /// before, the caller owns the pending list and drops it now.
    pub(crate) fn end_deferral(&self, saved: usize) {
        if saved == 0 {
            self.finish_release();
        } else {
            HOT.with(|hot| hot.depth.set(saved));
        }
    }

    /// Drops everything pending as the outermost release (nested releases may recurse again
    /// up to the limit), then ends it. If a value's `Drop` panics, the rest are still dropped
    /// (by [`ReleaseGuard`]) before the panic goes on.
    fn finish_release(&self) {
        if HOT.with(|hot| hot.pending.get()) {
            HOT.with(|hot| hot.depth.set(1));
            let guard = ReleaseGuard(self);
            // While unwinding, a second panic would abort: the guard drops the rest instead.
            if !std::thread::panicking() {
                while let Some(header) = self.pop_pending() {
                    // SAFETY: pending entries are alive, unclaimed, and own their value's drop.
                    unsafe { destroy(header) };
                }
            }
            drop(guard);
        }
        HOT.with(|hot| hot.depth.set(0));
    }

    /// Defers the drop of a value whose strong count reached zero to the outermost release.
    fn defer(&self, header: NonNull<Header>) {
        self.pending.borrow_mut().push(header);
        HOT.with(|hot| hot.pending.set(true));
    }

    pub(crate) fn pending_len(&self) -> usize {
        self.pending.borrow().len()
    }

    fn pop_pending(&self) -> Option<NonNull<Header>> {
        let popped = self.pending.borrow_mut().pop();
        if popped.is_none() {
            HOT.with(|hot| hot.pending.set(false));
        }
        popped
    }

    pub(crate) fn set_trigger_after(&self, survivors: usize) {
        self.trigger
            .set(self.threshold.get().max(survivors / SURVIVOR_RATIO));
        self.update_room();
    }

    /// Recomputes [`Hot::room`] after the buffer, the trigger or the settings changed.
    pub(crate) fn update_room(&self) {
        let room = if self.enabled.get() && self.threshold.get() != 0 {
            self.trigger.get().saturating_sub(self.roots.borrow().len())
        } else {
            usize::MAX
        };
        HOT.with(|hot| hot.room.set(room));
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

/// Ends a release, dropping whatever is still pending, also when a `Drop` panicked.
struct ReleaseGuard<'a>(&'a Heap);

impl Drop for ReleaseGuard<'_> {
    fn drop(&mut self) {
        let heap = self.0;
        // Only reached with entries left while a `Drop` panic unwinds: drop the rest,
        // swallowing further panics (the first one is already on its way).
        while let Some(header) = heap.pop_pending() {
            // SAFETY: as in `finish_release`.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe { destroy(header) }));
        }
        HOT.with(|hot| hot.depth.set(0));
    }
}

/// Drops the value behind `header` and gives back its implicit hold.
///
/// # Safety
/// The strong count is zero, the value is alive and unclaimed, and the caller owns its drop.
unsafe fn destroy(header: NonNull<Header>) {
    // SAFETY: by the caller's contract; the header is alive until the hold is given back.
    unsafe {
        let drop_value = header.as_ref().vtable().drop_value;
        Header::drop_value_then_release(header, || drop_value(header));
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

/// How deep releases may nest before they are deferred to the pending list. Below it, drops
/// happen in exactly `Rc`'s order; beyond it a chain is dropped iteratively, so stack use is
/// bounded whatever the data (CPython's trashcan nests 50 deep). Small, because debug builds
/// use a few KiB of stack per level.
pub(crate) const RELEASE_DEPTH_LIMIT: usize = 16;

/// Drops the value of a box whose strong count reached zero. Releases nest like `Rc`'s drops
/// up to [`RELEASE_DEPTH_LIMIT`]; deeper ones (and all of them during a collection) join the
/// pending list, which the outermost release drains.
///
/// # Safety
/// The strong count of `ptr` is zero, its value is alive and unclaimed, and the caller owns
/// its drop.
#[inline]
pub(crate) unsafe fn release<T: ?Sized>(ptr: NonNull<GcBox<T>>) {
    /// Leaves a nesting level when the drop is over, also when it panics; the outermost
    /// level drains the pending list first.
    struct Leave {
        depth: usize,
    }
    impl Drop for Leave {
        #[inline]
        fn drop(&mut self) {
            let drain = HOT.with(|hot| {
                let drain = self.depth == 0 && hot.pending.get();
                if !drain {
                    hot.depth.set(self.depth);
                }
                drain
            });
            if drain {
                finish_release();
            }
        }
    }

    // The thread-local closures stay tiny so that they inline to a single access.
    let depth = HOT.with(|hot| {
        let depth = hot.depth.get();
        if depth < RELEASE_DEPTH_LIMIT {
            hot.depth.set(depth + 1);
        }
        depth
    });
    if depth >= RELEASE_DEPTH_LIMIT {
        // SAFETY: by the caller's contract.
        return unsafe { defer(ptr.cast()) };
    }
    let _leave = Leave { depth };
    // SAFETY: by the caller's contract.
    unsafe { drop_box_value(ptr) };
}

/// The outermost release is over and the pending list is not empty: drop what is in it.
#[cold]
#[inline(never)]
fn finish_release() {
    if HEAP.try_with(Heap::finish_release).is_err() {
        HOT.with(|hot| hot.depth.set(0));
    }
}

/// Joins a value whose strong count reached zero to the pending list; without a heap
/// (thread-local teardown), drops it at once.
///
/// # Safety
/// As for [`release`].
#[cold]
#[inline(never)]
unsafe fn defer(header: NonNull<Header>) {
    if HEAP.try_with(|heap| heap.defer(header)).is_err() {
        // The thread's heap is gone: nothing can drain a pending list any more.
        // SAFETY: by the caller's contract.
        unsafe { destroy(header) };
    }
}

/// Drops the value of `ptr` in place and gives back its implicit hold.
///
/// # Safety
/// The strong count is zero, the value is alive and unclaimed, and the caller owns its drop.
pub(crate) unsafe fn drop_box_value<T: ?Sized>(ptr: NonNull<GcBox<T>>) {
    // SAFETY: by the caller's contract.
    unsafe {
        Header::drop_value_then_release(ptr.cast(), || {
            ptr::drop_in_place(ptr::addr_of_mut!((*ptr.as_ptr()).value))
        })
    }
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
            heap.defer(header);
        }
    });
}

/// Called by `Gc::new` for tracked types: runs an automatic collection if one is due.
#[inline]
pub(crate) fn before_alloc() {
    if HOT.with(|hot| hot.room.get() == 0) {
        collect_due();
    }
}

/// Enough possible roots are buffered: collect, unless this allocation happens inside a
/// release or a collection (a `Drop` impl allocating), where collecting is not safe.
#[cold]
#[inline(never)]
fn collect_due() {
    if HOT.with(|hot| hot.depth.get()) == 0 {
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
/// The collector keeps the work arrays of a collection (about 40 bytes per object traced, plus
/// 8 per reference) for the next one on the same thread; they are freed when a later
/// collection needs less than an eighth of them, and when the thread exits.
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
