//! The per-thread heap: the root buffer, the collector's settings and statistics, the
//! thread-exit collection, and the Python-style functions that control them. (The release
//! loop is in `release.rs`.)
//!
//! No borrow of this state is ever held while user code (a `Drop`, a `Trace`) runs: every
//! `RefCell` borrow here is a few instructions long.
//!
//! # Thread exit
//!
//! The heap lives in a thread-local without a destructor, so it is never torn down: drops
//! during thread-local teardown — whichever thread-local runs its destructor when — still
//! buffer their possible roots. What runs the last collections is an *exit hook*, a
//! thread-local whose destructor collects. Thread-local destructors run in the reverse order
//! of their registration, and a destructor registered while others run is run next; so a
//! hook is registered (by touching a fresh one) whenever a root is buffered and no hook is
//! pending — at a thread's first root, and again each time a destructor that runs after the
//! last hook leaves a root behind. The last hook to run gives back what is still buffered and
//! frees the heap's memory. There are [`EXIT_HOOKS`]`.len()` hooks; a thread whose teardown
//! needs more stops buffering (a late cycle then leaks; nothing dangles).

use std::cell::{Cell, RefCell};
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
use std::thread::LocalKey;

use crate::collect::{Scan, Trigger};
use crate::header::{Header, BUFFERED, IN_BUFFER, WITHDRAWN};
use crate::panics::{drop_payload, Payload};
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

/// How many collections an exit hook runs at most: each may leave new garbage behind (a
/// `Drop` building a cycle), and a thread must still be able to exit.
const EXIT_ROUNDS: usize = 4;

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
    /// Collections run on this thread, automatic and explicit.
    pub collections: u64,
    /// Objects reclaimed by those collections.
    pub collected: u64,
    /// Objects examined (traced) by those collections, garbage and survivors alike.
    pub traced: u64,
    /// Collections that caught a `Trace` impl reporting more references to an object than it
    /// has (such a collection keeps every object connected to that one and reclaims the rest
    /// as usual), or that gave up because `Trace` impls kept panicking (it frees nothing and
    /// leaves its roots in the buffer).
    pub aborted: u64,
}

pub(crate) struct Heap {
    /// Possible cycle roots (B–R's "purple" buffer). Each entry holds a unit of its weak count.
    /// `ManuallyDrop` (like the other fields that own memory) so that the heap needs no
    /// destructor: the last exit hook frees it.
    roots: RefCell<ManuallyDrop<Vec<NonNull<Header>>>>,
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
    /// The work arrays of the last collection, emptied, for the next one.
    spare_scan: Cell<Option<ManuallyDrop<Scan>>>,
    /// The first panic of a collection that could not resume it (an automatic one, or one
    /// run while the thread was unwinding), for the next explicit `collect()`.
    kept_panic: Cell<Option<ManuallyDrop<Payload>>>,
    /// An exit hook is registered and has not run yet.
    exit_hook_pending: Cell<bool>,
    /// How many of [`EXIT_HOOKS`] this thread has registered.
    exit_hooks_used: Cell<usize>,
}

// The heap must stay reachable through all of thread-local teardown.
const _: () = assert!(!std::mem::needs_drop::<Heap>());

thread_local! {
    static HEAP: Heap = const { Heap::new() };
    /// How many more possible roots may be buffered before an automatic collection is due:
    /// `trigger - roots.len()`, or `usize::MAX` while automatic collection is off (buffering
    /// counts it down, but no program buffers `usize::MAX` roots). `Gc::new` reads it every
    /// time, so it lives apart from [`Heap`] (one load). It starts at 0, so that a thread's
    /// first tracked allocation goes to [`collect_due`], which initializes it from the heap.
    static ROOM: Cell<usize> = const { Cell::new(0) };
}

/// A thread-local whose destructor runs the thread's last collections (see the module docs).
struct ExitHook;

impl Drop for ExitHook {
    fn drop(&mut self) {
        exit_collection();
    }
}

macro_rules! exit_hooks {
    ($($hook:ident)*) => {
        thread_local! {
            $(static $hook: ExitHook = const { ExitHook };)*
        }
        /// The exit hooks, registered in this order as they are needed.
        static EXIT_HOOKS: &[&LocalKey<ExitHook>] = &[$(&$hook),*];
    };
}

exit_hooks!(
    EXIT_HOOK_0 EXIT_HOOK_1 EXIT_HOOK_2 EXIT_HOOK_3 EXIT_HOOK_4 EXIT_HOOK_5 EXIT_HOOK_6
    EXIT_HOOK_7 EXIT_HOOK_8 EXIT_HOOK_9 EXIT_HOOK_10 EXIT_HOOK_11 EXIT_HOOK_12 EXIT_HOOK_13
    EXIT_HOOK_14 EXIT_HOOK_15
);

impl Heap {
    const fn new() -> Heap {
        Heap {
            roots: RefCell::new(ManuallyDrop::new(Vec::new())),
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
            spare_scan: Cell::new(None),
            kept_panic: Cell::new(None),
            exit_hook_pending: Cell::new(false),
            exit_hooks_used: Cell::new(0),
        }
    }

    /// Records `header` as a possible cycle root, unless it is one already; an entry
    /// withdrawn by `Gc::get_mut` becomes a root again. Without an exit hook to come (a
    /// thread past its last one) nothing is buffered: a cycle through the object may leak,
    /// nothing worse.
    ///
    /// # Safety
    /// `header` must be the live header of a tracked object with strong references.
    pub(crate) unsafe fn buffer(&self, header: NonNull<Header>) {
        // SAFETY: the caller guarantees the header is alive.
        let h = unsafe { header.as_ref() };
        if h.has(BUFFERED) {
            return;
        }
        if h.has(WITHDRAWN) {
            // The entry is still in the buffer, holding its unit: make it a root again.
            h.clear_flag(WITHDRAWN);
            h.set_flag(BUFFERED);
            return;
        }
        if !self.ensure_exit_hook() {
            return;
        }
        h.set_flag(BUFFERED);
        h.take_hold();
        self.roots.borrow_mut().push(header);
        ROOM.with(|room| room.set(room.get().saturating_sub(1)));
    }

    /// Takes the root buffer, leaving `spare` (empty) in its place.
    pub(crate) fn take_roots(&self, spare: Vec<NonNull<Header>>) -> Vec<NonNull<Header>> {
        std::mem::replace(&mut **self.roots.borrow_mut(), spare)
    }

    /// The work arrays kept from the last collection, if any.
    pub(crate) fn take_spare_scan(&self) -> Option<Scan> {
        self.spare_scan.take().map(ManuallyDrop::into_inner)
    }

    /// Keeps a collection's emptied work arrays for the next one, if an exit hook is due to
    /// free them. (Registering one just for this would make every exit hook's collection
    /// register the next.)
    pub(crate) fn keep_spare_scan(&self, scan: Option<Scan>) {
        if self.exit_hook_pending.get() {
            let old = self.spare_scan.replace(scan.map(ManuallyDrop::new));
            drop(old.map(ManuallyDrop::into_inner));
        }
    }

    /// Deals with the first panic a collection caught (later ones are already dropped): an
    /// explicit collection resumes it — or an older one kept from an earlier collection; an
    /// automatic one keeps it for the next explicit collection, if none is kept yet; an exit
    /// collection drops it. The panic hook has reported it in any case. (No collection runs
    /// while the thread is panicking, where resuming would abort.)
    pub(crate) fn report(&self, panic: Option<Payload>, trigger: Trigger) {
        if trigger == Trigger::Explicit {
            if let Some(older) = self.take_kept_panic() {
                if let Some(panic) = panic {
                    drop_payload(panic);
                }
                std::panic::resume_unwind(older);
            }
            if let Some(panic) = panic {
                std::panic::resume_unwind(panic);
            }
        } else if let Some(panic) = panic {
            if trigger == Trigger::Exit || self.has_kept_panic() || !self.ensure_exit_hook() {
                drop_payload(panic);
            } else {
                self.kept_panic.set(Some(ManuallyDrop::new(panic)));
            }
        }
    }

    fn take_kept_panic(&self) -> Option<Payload> {
        self.kept_panic.take().map(ManuallyDrop::into_inner)
    }

    fn has_kept_panic(&self) -> bool {
        let kept = self.kept_panic.take();
        let has = kept.is_some();
        self.kept_panic.set(kept);
        has
    }

    /// Makes sure an exit hook will run after this point; false if none can any more.
    fn ensure_exit_hook(&self) -> bool {
        if self.exit_hook_pending.get() {
            return true;
        }
        let used = self.exit_hooks_used.get();
        let Some(hook) = EXIT_HOOKS.get(used) else {
            return false;
        };
        self.exit_hooks_used.set(used + 1);
        // The first access registers the hook's destructor.
        let registered = hook.try_with(|_| ()).is_ok();
        self.exit_hook_pending.set(registered);
        registered
    }

    /// The last exit hook is over: gives back what is still buffered (the thread stops
    /// collecting; cycles through it leak, nothing dangles) and frees the heap's memory.
    fn release_everything(&self) {
        let roots = std::mem::take(&mut **self.roots.borrow_mut());
        for header in roots {
            // SAFETY: each buffer entry holds one unit of its header's weak count, and no
            // collection is running, so the header's `slot` holds its vtable.
            unsafe {
                header.as_ref().clear_flag(IN_BUFFER);
                Header::release_hold(header);
            }
        }
        drop(self.take_spare_scan());
        if let Some(panic) = self.take_kept_panic() {
            drop_payload(panic);
        }
        self.update_room();
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

/// The destructor of an exit hook: collect (a few rounds: destructors may leave new garbage
/// behind), then, unless another hook was registered meanwhile, release everything.
///
/// A thread-local destructor must not unwind (the process would abort), so these
/// collections drop the panics of the garbage's `Drop` impls (the panic hook has already
/// reported them), and so does a panic kept from an earlier automatic collection.
fn exit_collection() {
    HEAP.with(|heap| {
        heap.exit_hook_pending.set(false);
        if let Some(panic) = heap.take_kept_panic() {
            drop_payload(panic);
        }
        for _ in 0..EXIT_ROUNDS {
            // An exit collection drops what it catches: only the collector's own bugs unwind.
            let collect = AssertUnwindSafe(|| crate::collect::collect(heap, Trigger::Exit));
            match panic::catch_unwind(collect) {
                Ok(0) => break,
                Ok(_) => {}
                Err(payload) => {
                    drop_payload(payload);
                    break;
                }
            }
        }
        if !heap.exit_hook_pending.get() {
            heap.release_everything();
        }
    });
}

/// Records `header` as a possible cycle root (its strong count just dropped to a non-zero
/// value).
///
/// # Safety
/// As for [`Heap::buffer`].
#[cold]
#[inline(never)]
pub(crate) unsafe fn possible_root(header: NonNull<Header>) {
    // SAFETY: by the caller's contract.
    HEAP.with(|heap| unsafe { heap.buffer(header) });
}

/// The last strong reference to a `DEAD` object whose value the collector has not dropped
/// went. During a destruction that is normal (the collector drops the value, then gives back
/// the implicit hold). During a snapshot the object is only tentatively dead — a misbehaving
/// `Trace` impl dropped its last reference — so it is released like any other: into the
/// pending list, which the collector notices and then revives the object.
///
/// # Safety
/// `header` must be live, `DEAD` and not `DROPPED`, with a strong count that just reached
/// zero: its implicit hold is handed over.
#[cold]
pub(crate) unsafe fn dead_released(header: NonNull<Header>) {
    if scanning() {
        // SAFETY: by the caller's contract, the value is alive and unclaimed (the snapshot
        // only tentatively marked it), and its drop and implicit hold are handed over.
        unsafe { release::defer(header) };
    }
}

/// Whether a collection is tracing on this thread (its `DEAD` flags are still tentative).
pub(crate) fn scanning() -> bool {
    HEAP.with(|heap| heap.scanning.get())
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
    let due = HEAP.with(|heap| {
        heap.update_room();
        ROOM.with(Cell::get) == 0
    });
    if due && !release::releasing() {
        HEAP.with(|heap| crate::collect::collect(heap, Trigger::Automatic));
    }
}

/// Runs a full collection on the current thread and returns the number of objects it freed.
/// Python's `gc.collect()`.
///
/// Every buffered possible root is examined, with everything reachable from it; cycles that
/// nothing outside references are destroyed. Called while a collection is already running
/// (from a `Drop` impl of a garbage object, say), it does nothing and returns 0; so while the
/// thread is panicking (see below).
///
/// The collector keeps the work arrays of a collection (about 48 bytes per object traced,
/// plus 8 per reference) for the next one on the same thread. They are freed after a
/// collection that needed less than an eighth of them (if they hold more than 4096 objects'
/// worth), and when the thread exits.
///
/// # Panics
///
/// A panic in user code never cuts a collection short: it is resumed once the collection is
/// complete (the first one, if there were several), and the collector stays usable.
///
/// * If a `Drop` impl of a garbage object panics, the rest of the garbage is still destroyed.
/// * If a `Trace` impl panics, the collector traces again without that object: whatever it
///   points to counts as referenced from outside, so it is kept, and the object is examined
///   again by the next collection. (The panic hook ran in the middle of the tracing, and it
///   may have changed the object graph, so nothing counted before it can be trusted.)
/// * Debug builds also panic when the collector catches a `Trace` impl reporting more
///   references than exist (see [`Stats::aborted`]); everything connected to that object is
///   kept, the rest collected.
///
/// The drops that the garbage's own drops lead to (objects it held the last references to)
/// count as part of the collection: their panics are handled the same way. A panic that an
/// automatic collection (in `Gc::new`) caught is resumed here, by the next `collect()`,
/// before any of its own. Payloads other than the one resumed are dropped under
/// `catch_unwind` once the collection is complete (a chain of payloads that panic when
/// dropped is cut after a few links and the last one leaked).
///
/// While the thread is panicking — in a `Drop` that runs during unwinding, or in the panic
/// hook — `collect()` does nothing and returns 0 (and no automatic collection runs): a panic
/// there, even one the collection would catch, can abort the process. The garbage waits for
/// the next collection.
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
    HEAP.with(|heap| crate::collect::collect(heap, Trigger::Explicit))
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
    HEAP.with(|heap| {
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
    HEAP.with(|heap| {
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
    HEAP.with(|heap| heap.enabled.get())
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
    HEAP.with(|heap| heap.threshold.get())
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
    HEAP.with(|heap| {
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
    HEAP.with(|heap| heap.roots.borrow().len())
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
    HEAP.with(|heap| heap.stats.borrow().clone())
}
