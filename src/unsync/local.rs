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
//! hook is registered (by touching a fresh one) whenever a root is buffered or a callback
//! added, and no hook is pending — at a thread's first root, and again each time a
//! destructor that runs after the last hook leaves a root behind. The last hook to run
//! gives back what is still buffered and frees the collector's memory. There are
//! [`EXIT_HOOKS`]`.len()` hooks; a thread whose teardown needs more stops buffering (a late
//! cycle then leaks; nothing dangles).

use std::ptr::NonNull;
use std::thread::LocalKey;

use crate::cycle::Stats;
use crate::cycle::FULL;
use crate::hooks::{CallbackId, CollectionEvent};
use crate::unsync::any::AnyGc;
use crate::unsync::collector::{Collector, Trigger, GENERATIONS};
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
    match COLLECTOR.with(|collector| collector.registry().enter(header)) {
        Some(number) => Some(number),
        None => register_slowly(header),
    }
}

/// [`register`] when the table is full.
#[cold]
#[inline(never)]
fn register_slowly(header: NonNull<Header>) -> Option<usize> {
    COLLECTOR.with(|collector| collector.register_slowly(header))
}

/// Removes the object numbered `number` from the thread's registry as its allocation is
/// freed. Not inlined, for the same reason as [`register`].
#[inline(never)]
pub(crate) fn unregister(number: usize) {
    COLLECTOR.with(|collector| collector.registry().leave(number));
}

/// Takes the object numbered `number` out of the thread's registry for good (`Gc::get_mut`,
/// `make_mut`); `in_buffer`: it has a root-buffer entry.
pub(crate) fn unlist(number: usize, in_buffer: bool) {
    COLLECTOR.with(|collector| collector.unlist(number, in_buffer));
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
/// Every buffered possible root of generations 0 to 2 is examined, with everything
/// reachable from it that is not frozen ([`freeze`]); cycles that nothing outside
/// references are destroyed. Called while a collection is already running
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
    COLLECTOR.with(|collector| collector.collect(Trigger::Explicit, FULL))
}

/// Collects generations 0 to `generation` of this thread's heap, and returns the number of
/// objects freed: Python's `gc.collect(generation)`. [`collect`] is `collect_generation(2)`.
///
/// The objects of generations 0..=`generation` that the buffered roots of those generations
/// reach are examined; an edge into an older generation (or to a frozen object) is not
/// followed, and its target counts as referenced from outside, so a cycle that reaches into
/// an older generation is found by that generation's collection (its member there becomes a
/// root of it). The survivors move to the next generation (generation 2's stay), as in
/// CPython. Panics of `Drop` and `Trace` impls are dealt with as [`collect`] does.
///
/// # Panics
///
/// If `generation` is above 2 (before collecting anything).
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
/// cyclegc::collect(); // everything alive is now in generation 2
/// let young = Gc::new(Node(RefCell::new(None)));
/// *young.0.borrow_mut() = Some(young.clone());
/// drop(young);
/// // A young cycle: generation 0's collection finds it.
/// assert_eq!(cyclegc::collect_generation(0), 1);
/// assert_eq!(cyclegc::stats().generations[0].collected, 1);
/// ```
pub fn collect_generation(generation: usize) -> usize {
    assert!(
        generation < GENERATIONS,
        "invalid generation {generation}: expected 0, 1 or 2"
    );
    COLLECTOR.with(|collector| collector.collect(Trigger::Explicit, generation))
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

/// Generation 0's automatic-collection threshold: `thresholds()[0]`, Python's
/// `gc.get_threshold()[0]`. See [`thresholds`].
///
/// # Examples
///
/// ```
/// assert_eq!(cyclegc::threshold(), cyclegc::thresholds()[0]);
/// ```
pub fn threshold() -> usize {
    thresholds()[0]
}

/// Sets generation 0's automatic-collection threshold for this thread, keeping the others; 0
/// turns automatic collection off, as Python's `gc.set_threshold(0)` does.
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
    let [_, middle, old] = thresholds();
    set_thresholds([threshold, middle, old]);
}

/// This thread's automatic-collection thresholds, Python's `gc.get_threshold()`. An
/// automatic collection runs at a `Gc::new` of a type that may own a `Gc` once
/// `thresholds()[0]` possible cycle roots have been buffered since the last collection. It
/// collects generation 2 if generation 1 has been collected `thresholds()[2]` times since
/// the last collection of 2, *and* the roots buffered in generation 2 are at least a quarter
/// of the objects the last full collection found alive (so that re-tracing a large live heap
/// stays amortised O(1) per root, as CPython's rule of a quarter of the long-lived objects
/// does); otherwise generation 1 if generation 0 has been collected `thresholds()[1]` times
/// since the last collection of 1; otherwise generation 0.
///
/// The defaults are 700, 10 and 10 (CPython's before 3.13, which raised the first to 2000):
/// building a linked list whose every node becomes a possible root cost 8 % less with 700
/// than with 2000 (the young objects a collection traces then stay in the processor's
/// cache), 300 no less than 700, and other workloads the same (BENCHMARKS.md,
/// "Generations").
///
/// # Examples
///
/// ```
/// let [young, middle, old] = cyclegc::thresholds();
/// assert!(young > 0 && middle > 0 && old > 0);
/// ```
pub fn thresholds() -> [usize; 3] {
    COLLECTOR.with(Collector::thresholds)
}

/// Sets this thread's automatic-collection thresholds (see [`thresholds`]): Python's
/// `gc.set_threshold(threshold0, threshold1, threshold2)`. A first threshold of 0 turns
/// automatic collection off; a second or third of 0 makes every automatic collection reach
/// that generation.
///
/// # Examples
///
/// ```
/// let old = cyclegc::thresholds();
/// cyclegc::set_thresholds([10_000, 20, 5]);
/// assert_eq!(cyclegc::thresholds(), [10_000, 20, 5]);
/// cyclegc::set_thresholds(old);
/// ```
pub fn set_thresholds(thresholds: [usize; 3]) {
    COLLECTOR.with(|collector| collector.set_thresholds(thresholds));
}

/// The number of possible cycle roots buffered since the last collection: `counts()[0]`,
/// Python's `gc.get_count()[0]`.
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
    counts()[0]
}

/// Python's `gc.get_count()` for this thread: the possible cycle roots buffered since the
/// last collection (what `thresholds()[0]` is compared with), the collections of generation
/// 0 since the last of generation 1, and those of generation 1 since the last of 2.
///
/// # Examples
///
/// ```
/// cyclegc::collect();
/// assert_eq!(cyclegc::counts(), [0, 0, 0]);
/// cyclegc::collect_generation(0);
/// cyclegc::collect_generation(0);
/// cyclegc::collect_generation(1);
/// assert_eq!(cyclegc::counts(), [0, 0, 1]);
/// ```
pub fn counts() -> [usize; 3] {
    COLLECTOR.with(Collector::counts)
}

/// Moves every object of this thread's heap that is tracked now into a permanent
/// generation that no collection examines, Python's `gc.freeze()`: for a heap built once and
/// kept, so that full collections stop re-tracing it. Frozen objects are not listed by
/// [`objects`](crate::objects) (as in CPython) and are never freed by a collection, nor is
/// a cycle through one (dropping them is still freeing them: reference counting goes on).
/// [`unfreeze`] gives them back to generation 2; so does the thread's exit, whose
/// collections reclaim them like the rest.
///
/// Objects whose value `Gc::get_mut` (or `make_mut`) lent are not listed: they stay in
/// generation 2, and so does a frozen object lent later (it
/// leaves the frozen ones). A `freeze()` called while a collection runs (from a `Drop` impl
/// or a callback) takes effect from the next collection.
///
/// # Examples
///
/// ```
/// use cyclegc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Config {
///     parent: Option<Gc<Config>>,
/// }
///
/// let config = Gc::new(Config { parent: None });
/// cyclegc::freeze();
/// assert!(cyclegc::freeze_count() >= 1);
/// cyclegc::unfreeze();
/// assert_eq!(cyclegc::freeze_count(), 0);
/// # drop(config);
/// ```
pub fn freeze() {
    COLLECTOR.with(Collector::freeze);
}

/// Moves the frozen objects of this thread's heap back into generation 2 (the oldest), with
/// the possible roots buffered for them meanwhile: Python's `gc.unfreeze()`. See [`freeze`].
///
/// # Examples
///
/// ```
/// cyclegc::freeze();
/// cyclegc::unfreeze();
/// assert_eq!(cyclegc::freeze_count(), 0);
/// ```
pub fn unfreeze() {
    COLLECTOR.with(Collector::unfreeze);
}

/// How many of this thread's objects are frozen ([`freeze`]): Python's
/// `gc.get_freeze_count()`. O(frozen objects).
///
/// # Examples
///
/// ```
/// use cyclegc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Node(Option<Gc<Node>>);
///
/// cyclegc::unfreeze();
/// let before = cyclegc::freeze_count();
/// let node = Gc::new(Node(None));
/// cyclegc::freeze();
/// assert_eq!(cyclegc::freeze_count(), before + 1);
/// drop(node); // freed by its reference count all the same
/// assert_eq!(cyclegc::freeze_count(), before);
/// cyclegc::unfreeze();
/// ```
pub fn freeze_count() -> usize {
    COLLECTOR.with(|collector| collector.registry().frozen_count())
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
/// are dropped before its last collections, so that what they captured is reclaimed too
/// (those collections call only a callback that a destructor adds meanwhile, which goes at
/// the thread's next exit hook).
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
    COLLECTOR.with(|collector| collector.add_callback(callback))
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
