//! The thread-local front: each thread's [`Collector`], the exit hooks that run its last
//! collections, and the Python-style functions (`gc.collect()` and friends) that reach it.
//!
//! # Thread exit
//!
//! The collector lives in a thread-local without a destructor, so it is never torn down:
//! drops during thread-local teardown — whichever thread-local runs its destructor when —
//! still buffer their possible roots. What runs the last collections is an *exit hook*, a
//! thread-local whose destructor collects. Thread-local destructors run in the reverse order
//! of their registration, and a destructor registered while others run is run next; so a
//! hook is registered (by touching a fresh one) whenever a root is buffered and no hook is
//! pending — at a thread's first root, and again each time a destructor that runs after the
//! last hook leaves a root behind. The last hook to run gives back what is still buffered and
//! frees the collector's memory. There are [`EXIT_HOOKS`]`.len()` hooks; a thread whose
//! teardown needs more stops buffering (a late cycle then leaks; nothing dangles).

use std::ptr::NonNull;
use std::thread::LocalKey;

use crate::cycle::Stats;
use crate::unsync::collector::{Collector, Trigger};
use crate::unsync::header::Header;

thread_local! {
    static COLLECTOR: Collector = const { Collector::new(register_exit_hook) };
}

/// A thread-local whose destructor runs the thread's last collections (see the module docs).
struct ExitHook;

impl Drop for ExitHook {
    fn drop(&mut self) {
        COLLECTOR.with(Collector::exit_collection);
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

/// Registers the thread's `n`-th exit hook: its first access registers its destructor.
fn register_exit_hook(n: usize) -> bool {
    EXIT_HOOKS
        .get(n)
        .is_some_and(|hook| hook.try_with(|_| ()).is_ok())
}

/// Records `header` as a possible cycle root (its strong count just dropped to a non-zero
/// value).
///
/// # Safety
/// As for [`Collector::buffer`].
#[cold]
#[inline(never)]
pub(crate) unsafe fn possible_root(header: NonNull<Header>) {
    // SAFETY: by the caller's contract.
    COLLECTOR.with(|collector| unsafe { collector.buffer(header) });
}

/// Lists a tracked object whose header is about to be written at `header` in the thread's
/// registry, and returns its number for the header. Not inlined: a call keeps
/// `Gc::new` small enough to be inlined itself, which saves more than the call costs.
#[inline(never)]
pub(crate) fn register(header: NonNull<Header>) -> Option<usize> {
    COLLECTOR.with(|collector| collector.register(header))
}

/// Removes the object numbered `number` from the thread's registry as its allocation is
/// freed. Not inlined, for the same reason as [`register`].
#[inline(never)]
pub(crate) fn unregister(number: usize) {
    COLLECTOR.with(|collector| collector.registry().leave(number));
}

/// Calls `f` with the thread's collector.
pub(crate) fn with_collector<R>(f: impl FnOnce(&Collector) -> R) -> R {
    COLLECTOR.with(f)
}

/// Called by `Gc::new` for tracked types: runs an automatic collection if one is due.
#[inline]
pub(crate) fn before_alloc() {
    if COLLECTOR.with(Collector::due) {
        COLLECTOR.with(Collector::collect_if_due);
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
/// The collector keeps the work arrays of a collection (45 to 70 bytes per object traced,
/// plus 8 per reference) for the next one on the same thread. They are freed after a
/// collection that needed less than an eighth of them, if they hold more than 32,768
/// objects' worth, and when the thread exits.
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
    COLLECTOR.with(|collector| collector.collect(Trigger::Explicit))
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
    COLLECTOR.with(|collector| collector.set_enabled(true));
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
    COLLECTOR.with(|collector| collector.set_enabled(false));
}

/// Whether automatic collection is on for this thread. Python's `gc.isenabled()`.
///
/// # Examples
///
/// ```
/// assert!(cyclegc::is_enabled());
/// ```
pub fn is_enabled() -> bool {
    COLLECTOR.with(Collector::is_enabled)
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
    COLLECTOR.with(Collector::threshold)
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
    COLLECTOR.with(|collector| collector.set_threshold(threshold));
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
    COLLECTOR.with(Collector::count)
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
    COLLECTOR.with(Collector::stats)
}
