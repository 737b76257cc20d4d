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
use crate::hooks::{CallbackId, CollectionEvent};
use crate::unsync::any::AnyGc;
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

/// Registers `callback` to be called at the start and at the stop of every collection on
/// this thread, automatic or not: Python's `gc.callbacks`. Returns its id, for
/// [`remove_callback`].
///
/// Callbacks run in the order they were added, on the collecting thread, with no internal
/// borrow held: they may allocate, drop handles, inspect the heap ([`objects`](crate::objects))
/// or add and remove callbacks (effective from the next event). A `collect()` inside one
/// returns 0: collections do not nest. A callback that panics is removed, and its panic is
/// resumed once the collection has finished (by `collect()`; an automatic collection keeps
/// it for the next `collect()`, as it does a `Drop`'s). When the thread exits, its callbacks
/// are dropped before its last collections (which they do not see), so that what they
/// captured is reclaimed too.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use cyclegc::{add_callback, remove_callback, CallbackPhase, Gc, Trace};
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let sink = log.clone();
/// let id = add_callback(move |event| sink.borrow_mut().push((event.phase, event.collected)));
///
/// #[derive(Trace)]
/// struct Node(RefCell<Option<Gc<Node>>>);
/// let node = Gc::new(Node(RefCell::new(None)));
/// *node.0.borrow_mut() = Some(node.clone());
/// drop(node);
/// cyclegc::collect();
///
/// assert_eq!(*log.borrow(), [(CallbackPhase::Start, 0), (CallbackPhase::Stop, 1)]);
/// assert!(remove_callback(id));
/// ```
pub fn add_callback(callback: impl FnMut(&CollectionEvent) + 'static) -> CallbackId {
    COLLECTOR.with(|collector| collector.hooks().add(callback))
}

/// Removes a callback [`add_callback`] registered; `false` if it is not registered (removed
/// already, or removed because it panicked).
///
/// # Examples
///
/// ```
/// let id = cyclegc::add_callback(|_| {});
/// assert!(cyclegc::remove_callback(id));
/// assert!(!cyclegc::remove_callback(id));
/// ```
pub fn remove_callback(id: CallbackId) -> bool {
    COLLECTOR.with(|collector| collector.hooks().remove(id))
}

/// Turns saving on or off: while on, every object a collection on this thread finds
/// unreachable is kept, alive and intact, instead of being destroyed, until
/// [`take_garbage`] hands it over. Python's `gc.set_debug(gc.DEBUG_SAVEALL)`. Such objects
/// count as `uncollectable` in [`stats`]; `collect()` returns only what it freed. The
/// collections of a thread's exit never save.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{set_save_all, take_garbage, Gc, Trace};
///
/// #[derive(Trace)]
/// struct Node(RefCell<Option<Gc<Node>>>);
///
/// set_save_all(true);
/// let node = Gc::new(Node(RefCell::new(None)));
/// *node.0.borrow_mut() = Some(node.clone());
/// drop(node);
/// assert_eq!(cyclegc::collect(), 0, "found, but kept");
/// set_save_all(false);
///
/// let garbage = take_garbage();
/// assert_eq!(garbage.len(), 1);
/// let node: Gc<Node> = garbage.into_iter().next().unwrap().downcast().unwrap();
/// assert!(node.0.borrow().is_some(), "intact");
/// drop(node); // garbage again
/// assert_eq!(cyclegc::collect(), 1);
/// ```
pub fn set_save_all(save_all: bool) {
    COLLECTOR.with(|collector| collector.hooks().set_save_all(save_all));
}

/// Whether collections on this thread save what they find unreachable ([`set_save_all`]).
///
/// # Examples
///
/// ```
/// assert!(!cyclegc::save_all());
/// ```
pub fn save_all() -> bool {
    COLLECTOR.with(|collector| collector.hooks().save_all())
}

/// Hands over the objects collections on this thread found unreachable while saving was on
/// ([`set_save_all`]), oldest find first, and empties the list: Python's `gc.garbage`.
/// Dropping them makes them garbage again.
///
/// # Examples
///
/// ```
/// assert!(cyclegc::take_garbage().is_empty());
/// ```
pub fn take_garbage() -> Vec<AnyGc> {
    COLLECTOR.with(|collector| collector.hooks().take_garbage())
}
