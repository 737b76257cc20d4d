//! The thread-safe flavour: [`Gc`] and [`Weak`], which are `Send + Sync` when their value
//! is, one heap for the whole process, and the Python-style functions that control its
//! collector ([`collect`], [`enable`], [`set_threshold`] …).
//!
//! Values are shared between threads, so they are mutated through locks: std's `Mutex`,
//! `RwLock` and `OnceLock` (or `parking_lot`'s, with the `parking_lot` feature). The same
//! [`Trace`](crate::Trace) trait and `#[derive(Trace)]` serve both flavours. [`collect`]
//! may be called from any thread, and reclaims the garbage cycles whose last handles were
//! dropped on any thread, including threads that have exited.
//! [`objects`], [`referents`] and [`referrers`] show the heap as CPython's `gc` module does,
//! every thread's objects, while the threads keep running.
//!
//! The rest of CPython's `gc` module is here too, under the names the crate root uses for a
//! thread's heap (its documentation maps them to Python's): generations
//! ([`collect_generation`], [`thresholds`], [`set_thresholds`], [`counts`]), [`freeze`],
//! [`unfreeze`] and [`freeze_count`], [`stats`] per generation, callbacks around every
//! collection ([`add_callback`], [`remove_callback`]: closures `Send + Sync`, called on the
//! collecting thread with no lock held), saved garbage ([`set_save_all`], [`save_all`],
//! [`take_garbage`]), and the heap's view ([`objects_in`], [`Gc::is_tracked`], [`AnyGc`]).
//!
//! This module needs 64-bit atomics (`cfg(target_has_atomic = "64")`): every 64-bit target
//! has them, and so do 32-bit x86 and ARM; on a target without them (32-bit PowerPC or
//! MIPS, for example) it is left out, and the rest of the crate works as everywhere.
//!
//! ```
//! use std::sync::Mutex;
//! use std::thread;
//! use cyclegc::sync::{self, Gc};
//! use cyclegc::Trace;
//!
//! #[derive(Trace)]
//! struct Node {
//!     id: usize,
//!     next: Mutex<Option<Gc<Node>>>,
//! }
//!
//! // Worker threads each build a ring of nodes shared with the main thread.
//! let workers: Vec<_> = (0..4)
//!     .map(|t| {
//!         thread::spawn(move || {
//!             let first = Gc::new(Node { id: t * 10, next: Mutex::new(None) });
//!             let mut last = first.clone();
//!             for i in 1..10 {
//!                 let node = Gc::new(Node { id: t * 10 + i, next: Mutex::new(None) });
//!                 *last.next.lock().unwrap() = Some(node.clone());
//!                 last = node;
//!             }
//!             *last.next.lock().unwrap() = Some(first.clone()); // close the ring
//!             first
//!         })
//!     })
//!     .collect();
//! let rings: Vec<Gc<Node>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
//! assert_eq!(rings[1].id, 10);
//! drop(rings); // the workers have exited; their rings are garbage cycles now
//! assert_eq!(sync::collect(), 40);
//! ```
//!
//! # How a collection stays sound while other threads run
//!
//! Mutators move `Gc`s between fields behind locks the library does not own, clone them
//! through any `&`, and drop them, while a collection judges which objects are garbage. The
//! collector makes the picture it judges consistent, and its verdict safe to act on, with
//! three rules (ARCHITECTURE.md, "A thread-safe collection", has the full argument and the
//! race-by-race table):
//!
//! 1. **It checks what it read, and holds it while it claims.** The collector traces with
//!    `try_lock`/`try_read`, releasing each lock once its object is traced (a lock it cannot
//!    take makes what is behind it count as referenced from outside). Mutators may move
//!    `Gc`s between fields meanwhile, so before it claims anything, it traces every object
//!    it judged garbage once more, now keeping each lock until the claim is decided, and
//!    abandons the claim if any edge differs from the one it counted. From then on no
//!    counted edge can be removed or moved: a field behind a held lock cannot change, and an
//!    immutable field cannot change without `&mut` to the value, which `get_mut`,
//!    `try_unwrap` and `make_mut` cannot have while the collector holds the object (they
//!    wait). Edges can only be added (a `OnceLock` set after it was traced), and a missed
//!    edge only makes its target look referenced from outside: more conservative. Live
//!    objects' locks are held only for their own trace, so mutators rarely wait on the
//!    collector.
//! 2. **It claims by compare-and-swap from the count it read.** An object is judged garbage
//!    only if its recorded strong count equals the references from inside the examined set.
//!    Each member is then moved to a *claiming* state by a compare-and-swap from exactly the
//!    recorded state word; if any member changed (a clone, an upgrade, a drop), the claim of
//!    the whole set is abandoned and it is examined again later. Clones and upgrades of a
//!    claiming object wait until the claim is decided, and a waiting clone still holds the
//!    handle it clones from, whose own member's claim then fails. So when every member is
//!    claimed, no thread holds or can obtain a handle to any of them, except through
//!    `Weak::upgrade`, which then sees it dead.
//! 3. **A value it reads is not dropped under it.** The last drop of an object the
//!    collector is examining leaves the value to the collector, which drops it once it has
//!    let go; headers are freed only when their weak count (which every reader without a
//!    strong reference holds a unit of: a `Weak`, a buffer entry, the collector) reaches
//!    zero, as with `Arc`. So no header or value is freed under a reader, and no
//!    epoch-based reclamation is needed.
//!
//! The garbage is destroyed after the collector lock and every guard are released, on the
//! collecting thread: `Drop` impls may lock, allocate, drop more `Gc`s and call
//! [`collect`] (which returns 0 on the collecting thread, and waits for the running
//! collection on others). Every phase runs on explicit work lists, so a million-node ring
//! is collected on a small stack.

mod any;
mod collector;
mod gc;
mod header;
mod heap;
#[cfg(all(test, loom))]
mod loom_models;
mod registry;
mod state;
mod weak;

use crate::cycle::FULL;
use collector::Trigger;

pub use crate::cycle::{GenerationStats, Stats};
pub use crate::hooks::{CallbackId, CallbackPhase, CollectionEvent};
pub use any::AnyGc;
pub use gc::Gc;
pub use heap::{objects, objects_in, referents, referrers};
pub use weak::Weak;

/// Runs a collection of the whole heap and returns the number of objects it freed, as
/// Python's `gc.collect()`.
///
/// Every thread's possible roots are examined, so this reclaims cycles whose last handles
/// were dropped on any thread. If another thread is collecting, this waits for it, then
/// collects what is left; on a thread that is already collecting (from a `Drop` impl of
/// garbage), it returns 0 at once. A panic of a `Drop` impl of the garbage is re-raised
/// once every object is dropped (and one kept from an automatic collection before it).
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use cyclegc::sync::{self, Gc};
/// use cyclegc::Trace;
///
/// #[derive(Trace)]
/// struct Node(Mutex<Option<Gc<Node>>>);
///
/// let a = Gc::new(Node(Mutex::new(None)));
/// *a.0.lock().unwrap() = Some(a.clone()); // a self-cycle
/// drop(a);
/// assert_eq!(sync::collect(), 1);
/// ```
pub fn collect() -> usize {
    collector::collect(Trigger::Explicit, FULL)
}

/// Collects generations 0 to `generation` of the shared heap, and returns the number of
/// objects freed: Python's `gc.collect(generation)`. [`collect`] is
/// `collect_generation(2)`.
///
/// Every thread's possible roots of generations 0..=`generation` are examined, with the
/// objects of those generations they reach; an edge into an older generation (or to a
/// frozen object) is not followed, and its target counts as referenced from outside, so a
/// cycle that reaches into an older generation is found by a collection of that generation
/// (its possible roots move to older generations as they survive). The survivors move to
/// the next generation (generation 2's stay), as in CPython: each thread's objects listed
/// when the collection began, in every generation collected. Waits, and deals with panics,
/// as [`collect`] does.
///
/// # Panics
///
/// If `generation` is above 2 (before collecting anything).
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use cyclegc::sync::{self, Gc};
/// use cyclegc::Trace;
///
/// #[derive(Trace)]
/// struct Node(Mutex<Option<Gc<Node>>>);
///
/// sync::collect(); // everything alive is now in generation 2
/// let young = Gc::new(Node(Mutex::new(None)));
/// *young.0.lock().unwrap() = Some(young.clone());
/// drop(young);
/// // A young cycle: generation 0's collection finds it.
/// assert_eq!(sync::collect_generation(0), 1);
/// ```
pub fn collect_generation(generation: usize) -> usize {
    assert!(
        generation <= FULL,
        "invalid generation {generation}: expected 0, 1 or 2"
    );
    collector::collect(Trigger::Explicit, generation)
}

/// Turns automatic collection on (as Python's `gc.enable()`).
///
/// # Examples
///
/// ```
/// cyclegc::sync::disable();
/// cyclegc::sync::enable();
/// assert!(cyclegc::sync::is_enabled());
/// ```
pub fn enable() {
    collector::set_enabled(true);
}

/// Turns automatic collection off, for every thread (as Python's `gc.disable()`);
/// [`collect`] still works.
///
/// # Examples
///
/// ```
/// cyclegc::sync::disable();
/// assert!(!cyclegc::sync::is_enabled());
/// cyclegc::sync::enable();
/// ```
pub fn disable() {
    collector::set_enabled(false);
}

/// Whether automatic collection is on (as Python's `gc.isenabled()`).
///
/// # Examples
///
/// ```
/// assert!(cyclegc::sync::is_enabled());
/// ```
pub fn is_enabled() -> bool {
    collector::is_enabled()
}

/// How many possible roots are buffered (on all threads together) before `Gc::new` of a
/// tracked type runs an automatic collection: `thresholds()[0]`.
///
/// # Examples
///
/// ```
/// assert!(cyclegc::sync::threshold() > 0);
/// ```
pub fn threshold() -> usize {
    thresholds()[0]
}

/// Sets generation 0's threshold (see [`thresholds`]); 0 turns automatic collection off.
///
/// # Examples
///
/// ```
/// let before = cyclegc::sync::threshold();
/// cyclegc::sync::set_threshold(10_000);
/// assert_eq!(cyclegc::sync::threshold(), 10_000);
/// cyclegc::sync::set_threshold(before);
/// ```
pub fn set_threshold(threshold: usize) {
    let [_, middle, old] = thresholds();
    set_thresholds([threshold, middle, old]);
}

/// The shared heap's automatic-collection thresholds, Python's `gc.get_threshold()`. An
/// automatic collection runs at a `Gc::new` of a type that may own a `Gc` once
/// `thresholds()[0]` possible cycle roots have been buffered (by all threads together)
/// since the last collection. It collects generation 2 if generation 1 has been collected
/// `thresholds()[2]` times since the last collection of 2, *and* the roots filed in
/// generation 2 are at least a quarter of the objects the last full collection found alive
/// (so that re-tracing a large live heap stays amortised O(1) per root, as CPython's rule of
/// a quarter of the long-lived objects does); otherwise generation 1 if generation 0 has
/// been collected `thresholds()[1]` times since the last collection of 1; otherwise
/// generation 0.
///
/// The defaults are 700, 10 and 10, as for the single-threaded heap (CPython's before
/// 3.13): building lists whose every node becomes a possible root cost 4–5 % less with 700
/// than with 2000 or 10,000, and reclaiming cycles the same (BENCHMARKS.md, "Generations").
///
/// # Examples
///
/// ```
/// let [young, middle, old] = cyclegc::sync::thresholds();
/// assert!(young > 0 && middle > 0 && old > 0);
/// ```
pub fn thresholds() -> [usize; 3] {
    collector::thresholds()
}

/// Sets the shared heap's automatic-collection thresholds (see [`thresholds`]): Python's
/// `gc.set_threshold(threshold0, threshold1, threshold2)`. A first threshold of 0 turns
/// automatic collection off; a second or third of 0 makes every automatic collection reach
/// that generation.
///
/// # Examples
///
/// ```
/// let old = cyclegc::sync::thresholds();
/// cyclegc::sync::set_thresholds([10_000, 20, 5]);
/// assert_eq!(cyclegc::sync::thresholds(), [10_000, 20, 5]);
/// cyclegc::sync::set_thresholds(old);
/// ```
pub fn set_thresholds(thresholds: [usize; 3]) {
    collector::set_thresholds(thresholds);
}

/// Python's `gc.get_count()` for the shared heap: the possible cycle roots buffered by all
/// threads since the last collection (what `thresholds()[0]` is compared with), the
/// collections of generation 0 since the last of generation 1, and those of generation 1
/// since the last of 2.
///
/// # Examples
///
/// ```
/// cyclegc::sync::collect();
/// assert_eq!(cyclegc::sync::counts()[1..], [0, 0]);
/// cyclegc::sync::collect_generation(0);
/// cyclegc::sync::collect_generation(0);
/// cyclegc::sync::collect_generation(1);
/// assert_eq!(cyclegc::sync::counts()[1..], [0, 1]);
/// ```
pub fn counts() -> [usize; 3] {
    collector::counts()
}

/// Moves every object of the shared heap that is tracked now into a permanent generation
/// that no collection examines, Python's `gc.freeze()`: for a heap built once and kept, so
/// that full collections stop re-tracing it. Frozen objects are not listed by [`objects`]
/// (as in CPython) and are never freed by a collection, nor is a cycle through one
/// (dropping them is still freeing them: reference counting goes on). [`unfreeze`] gives
/// them back to generation 2.
///
/// Waits for a running collection. Called while a collection runs on the calling thread
/// (from a `Trace` or `Drop` impl, or a callback) and another holds the collector lock, it
/// takes effect when a collection next lets go of that lock (the one holding it, or the
/// next); meanwhile [`freeze_count`] does not count it, and a later `unfreeze()` so asked
/// replaces it.
/// Objects whose value `Gc::get_mut` (or `make_mut`) lent are not listed: they stay in
/// generation 2.
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use cyclegc::sync::{self, Gc};
///
/// let config = Gc::new(Mutex::new(Vec::<Gc<u8>>::new()));
/// sync::freeze();
/// assert!(sync::freeze_count() >= 1);
/// sync::unfreeze();
/// assert_eq!(sync::freeze_count(), 0);
/// # drop(config);
/// ```
pub fn freeze() {
    collector::freeze();
}

/// Moves the frozen objects of the shared heap back into generation 2 (the oldest), with
/// the possible roots buffered for them meanwhile: Python's `gc.unfreeze()`. See [`freeze`].
///
/// # Examples
///
/// ```
/// cyclegc::sync::freeze();
/// cyclegc::sync::unfreeze();
/// assert_eq!(cyclegc::sync::freeze_count(), 0);
/// ```
pub fn unfreeze() {
    collector::unfreeze();
}

/// How many objects of the shared heap are frozen ([`freeze`]) and alive: Python's
/// `gc.get_freeze_count()`. O(frozen objects).
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use cyclegc::sync::{self, Gc};
///
/// let node = Gc::new(Mutex::new(Vec::<Gc<u8>>::new()));
/// sync::freeze();
/// assert!(sync::freeze_count() >= 1);
/// sync::unfreeze();
/// # drop(node);
/// ```
pub fn freeze_count() -> usize {
    collector::freeze_count()
}

/// The number of possible roots buffered by every thread since the last collection:
/// `counts()[0]` (as Python's `gc.get_count()[0]`).
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use cyclegc::sync::{self, Gc};
///
/// let shared = Gc::new(Mutex::new(Vec::<Gc<u8>>::new()));
/// drop(shared.clone()); // a drop that leaves a reference behind: a possible root
/// assert!(sync::count() >= 1);
/// sync::collect(); // examined (and kept: `shared` is alive); the buffers are empty again
/// assert_eq!(sync::count(), 0);
/// ```
pub fn count() -> usize {
    collector::count()
}

/// The heap's running totals: collections, objects collected and traced (as Python's
/// `gc.get_stats()`).
///
/// # Examples
///
/// ```
/// let before = cyclegc::sync::stats();
/// cyclegc::sync::collect();
/// assert!(cyclegc::sync::stats().collections > before.collections);
/// ```
pub fn stats() -> Stats {
    collector::stats()
}

/// Registers `callback` to be called at the start and at the stop of every collection of the
/// shared heap, automatic or not, on whichever thread runs it: Python's `gc.callbacks`.
/// Returns its id, for [`remove_callback`].
///
/// Callbacks are called in the order they were added, with no internal lock held (the
/// collector takes its lock after the start event and gives it back before the stop event),
/// possibly from several threads at once: hence `Fn + Send + Sync`. A `sync::collect()`
/// inside one returns 0. A callback that panics is removed, and its panic is resumed once the
/// collection has finished (by `sync::collect()`; an automatic collection keeps it for the
/// next one).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use cyclegc::sync::{self, CallbackPhase};
///
/// let stops = Arc::new(AtomicUsize::new(0));
/// let counter = stops.clone();
/// let id = sync::add_callback(move |event| {
///     if event.phase == CallbackPhase::Stop {
///         counter.fetch_add(1, Ordering::SeqCst);
///     }
/// });
/// sync::collect();
/// assert!(stops.load(Ordering::SeqCst) >= 1);
/// assert!(sync::remove_callback(id));
/// ```
pub fn add_callback(callback: impl Fn(&CollectionEvent) + Send + Sync + 'static) -> CallbackId {
    collector::add_callback(std::sync::Arc::new(callback))
}

/// Removes a callback [`add_callback`] registered; `false` if it is not registered (removed
/// already, or the id of a single-threaded heap's callback: ids are unique in the process).
///
/// # Examples
///
/// ```
/// let id = cyclegc::sync::add_callback(|_| {});
/// assert!(cyclegc::sync::remove_callback(id));
/// assert!(!cyclegc::sync::remove_callback(id));
///
/// // Another heap's id names nothing here, and this heap's nothing there.
/// let here = cyclegc::add_callback(|_| {});
/// let shared = cyclegc::sync::add_callback(|_| {});
/// assert!(!cyclegc::remove_callback(shared));
/// assert!(!cyclegc::sync::remove_callback(here));
/// assert!(cyclegc::remove_callback(here));
/// assert!(cyclegc::sync::remove_callback(shared));
/// ```
pub fn remove_callback(id: CallbackId) -> bool {
    collector::remove_callback(id)
}

/// Turns saving garbage on or off for the shared heap: Python's
/// `gc.set_debug(gc.DEBUG_SAVEALL)`. While it is on, every object a collection finds
/// unreachable is kept alive and intact in the heap's list of garbage instead of being
/// destroyed, counted as `uncollectable` in [`stats`], until [`take_garbage`] hands the list
/// over. A thread that upgrades a `Weak` to such an object meanwhile gets it, alive. A
/// collection already running when saving is turned on or off keeps to the setting it began
/// with (so after `set_save_all(false)`, a `take_garbage()` may be needed once more).
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use cyclegc::sync::{self, Gc};
/// use cyclegc::Trace;
///
/// #[derive(Trace)]
/// struct Node(Mutex<Option<Gc<Node>>>);
///
/// let a = Gc::new(Node(Mutex::new(None)));
/// *a.0.lock().unwrap() = Some(a.clone());
/// drop(a);
/// sync::set_save_all(true);
/// sync::collect(); // found, but kept (another thread's test may add garbage too)
/// sync::set_save_all(false);
/// let garbage = sync::take_garbage();
/// assert!(garbage.iter().any(|o| o.type_name().ends_with("Node")));
/// drop(garbage); // garbage again, for the next collection
/// sync::collect();
/// ```
pub fn set_save_all(save_all: bool) {
    collector::set_save_all(save_all);
}

/// Whether collections of the shared heap keep their garbage ([`set_save_all`]).
///
/// # Examples
///
/// ```
/// assert!(!cyclegc::sync::save_all());
/// ```
pub fn save_all() -> bool {
    collector::save_all()
}

/// Hands over the garbage collections kept while [`set_save_all`] was on (Python's
/// `gc.garbage`), oldest first, and empties the list (a collection that is running keeps
/// to the setting it began with, and may add to it afterwards). Dropping the handles makes the objects
/// garbage again, for the next collection.
///
/// # Examples
///
/// ```
/// // Nothing was saved (unless another thread turned saving on).
/// let garbage = cyclegc::sync::take_garbage();
/// drop(garbage);
/// ```
pub fn take_garbage() -> Vec<AnyGc> {
    collector::take_garbage()
}
