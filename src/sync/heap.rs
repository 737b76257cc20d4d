//! The thread-safe heap's own view of itself: CPython's `gc.get_objects()`,
//! `gc.get_referents()` and `gc.get_referrers()` for the heap every thread shares, over its
//! registry (`registry.rs`).
//!
//! Other threads keep running: a list is a snapshot of objects that were alive while it was
//! taken, each kept alive by its handle from then on. Objects the collector has claimed
//! are never listed, nor are untracked ones, nor those whose value `Gc::get_mut` (or
//! `make_mut`) has lent mutably (they leave the list for good). A value made by `Gc::pin` is
//! listed, but its `AnyGc` refuses every `downcast` (a `Gc` to it could move it).
//! Values are read only through their `Trace` impls, with the collector's own tracer: a lock
//! held by another thread at that moment (or a `RefCell` borrowed mutably) is skipped, so
//! its value shows the edges it can, never a block or a panic.

use std::ptr::NonNull;

use crate::any::Handles;
use crate::cycle::{Flavour, Object, DEAD, FULL, UNTRACKED};
use crate::sync::any::AnyGc;
use crate::sync::header::Header;
use crate::sync::registry;
use crate::sync::state::Attempt;
use crate::trace::Tracer;

/// An object found by a walk under a lock, where it could not wait for a handle.
enum Found {
    /// A handle, taken at once.
    Handle(AnyGc),
    /// A weak unit of an object whose state word was locked (a claim being decided):
    /// [`resolve`] upgrades it once no lock is held.
    Unit(Unit),
}

/// One unit of an object's weak count, given back when dropped.
struct Unit(NonNull<Header>);

impl Drop for Unit {
    fn drop(&mut self) {
        // SAFETY: the unit taken in `take`, given back once.
        unsafe { Header::release_hold(self.0) };
    }
}

/// Takes a handle to `header`'s object into `found`, if it is alive; if its word is locked,
/// a weak unit to upgrade later (nothing that waits runs here: the caller may hold a lock).
///
/// # Safety
/// `header` is allocated for the length of the call (listed in a table whose lock the caller
/// holds, or reached through an edge that a held guard keeps).
unsafe fn take(header: NonNull<Header>, found: &mut Vec<Found>) {
    // SAFETY: by the caller's contract.
    let h = unsafe { header.as_ref() };
    match h.state().try_increment_now() {
        // SAFETY: the strong reference just taken, handed over.
        Attempt::Taken => found.push(Found::Handle(unsafe { AnyGc::adopt(header) })),
        Attempt::Gone => {}
        Attempt::Busy => {
            if h.try_take_hold() {
                found.push(Found::Unit(Unit(header)));
            }
        }
    }
}

/// The handles of `found`, in order: each weak unit upgraded (waiting for its object's
/// claim to be decided), or left out if the object turned out dead. Called with no lock
/// held.
fn resolve(found: Vec<Found>) -> Vec<AnyGc> {
    found
        .into_iter()
        .filter_map(|found| match found {
            Found::Handle(handle) => Some(handle),
            Found::Unit(unit) => {
                // SAFETY: the unit keeps the header allocated.
                let upgraded = unsafe { unit.0.as_ref() }.state().try_increment();
                // SAFETY: a strong reference just taken, handed over; the unit goes after.
                upgraded.then(|| unsafe { AnyGc::adopt(unit.0) })
            }
        })
        .collect()
}

/// Every live tracked object of the thread-safe heap, made on any thread: Python's
/// `gc.get_objects()`. Each comes as an [`AnyGc`], which keeps it alive while held. The
/// oldest generation comes first, and the objects of one thread in the order it allocated
/// them (those made during its thread-local teardown go to a shared table). Not listed: objects whose value [`Gc::get_mut`](crate::sync::Gc::get_mut) (or
/// `make_mut`) has lent mutably, which leave the list for good (a handle from here could
/// alias the `&mut`), and frozen objects ([`freeze`](crate::sync::freeze)), as in CPython.
/// A value made by [`Gc::pin`](crate::sync::Gc::pin) is listed, but its `AnyGc` refuses
/// every `downcast` (a `Gc` to it could move it).
///
/// Other threads keep running meanwhile: an object allocated or freed during the call may
/// be listed or not, and while the list holds an object, `Gc::get_mut` and
/// `Gc::try_unwrap` on another thread find it shared. O(objects); the registry's locks are
/// taken one table at a time, and the threads that allocate or free objects of a table wait
/// for it. Dropping the list is dropping that many handles: the objects become possible
/// roots, which the next collection of their generation examines.
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use cyclegc::sync::{objects, AnyGc, Gc};
///
/// let node = Gc::new(Mutex::new(Vec::<Gc<u8>>::new()));
/// let handle = AnyGc::from(node.clone());
/// let from_a_thread = std::thread::spawn(|| AnyGc::from(Gc::new(Mutex::new(Vec::<Gc<u8>>::new()))))
///     .join()
///     .unwrap();
/// let listed = objects();
/// assert!(listed.iter().any(|o| AnyGc::ptr_eq(o, &handle)));
/// assert!(listed.iter().any(|o| AnyGc::ptr_eq(o, &from_a_thread)));
/// // `Gc<String>` can never own a `Gc`: untracked, and not listed.
/// let text = AnyGc::from(Gc::new(String::from("atomic")));
/// assert!(!objects().iter().any(|o| AnyGc::ptr_eq(o, &text)));
/// ```
pub fn objects() -> Vec<AnyGc> {
    // One pass over each table, sorting by generation as it goes: between two passes, a
    // collection on another thread could promote objects into a generation already walked
    // (found by review).
    let mut found: [Vec<Found>; FULL + 1] = Default::default();
    registry::for_each_with_generation(|generation, header| {
        if let Some(found) = found.get_mut(generation) {
            // SAFETY: listed in the table whose lock `for_each_with_generation` holds.
            unsafe { take(header, found) };
        }
    });
    let [young, middle, old] = found;
    resolve(old.into_iter().chain(middle).chain(young).collect())
}

/// The live tracked objects of one generation of the thread-safe heap (0, the youngest, to
/// 2): Python's `gc.get_objects(generation)`. What [`objects`] lists, split by generation
/// (see [`collect_generation`](crate::sync::collect_generation)).
///
/// # Panics
///
/// If `generation` is above 2.
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use cyclegc::sync::{self, objects_in, AnyGc, Gc};
///
/// let node = AnyGc::from(Gc::new(Mutex::new(Vec::<Gc<u8>>::new())));
/// let listed_in = |generation| objects_in(generation).iter().any(|o| AnyGc::ptr_eq(o, &node));
/// assert!(listed_in(0));
/// sync::collect(); // the survivors of a full collection move to generation 2
/// assert!(listed_in(2) && !listed_in(0));
/// ```
pub fn objects_in(generation: usize) -> Vec<AnyGc> {
    assert!(
        generation <= FULL,
        "invalid generation {generation}: expected 0, 1 or 2"
    );
    let mut found = Vec::new();
    // SAFETY: each header is listed in the table whose lock `for_each_in` holds.
    registry::for_each_in(generation, |header| unsafe { take(header, &mut found) });
    resolve(found)
}

/// Calls `trace` on the value of `object` (alive: the caller holds a handle) with `tracer`.
///
/// # Safety
/// `object` is not `DEAD` (its value is alive), and the caller keeps its handle until the
/// tracer has released every guard it holds.
unsafe fn trace(object: &AnyGc, tracer: &mut Tracer) {
    let header = object.header_ptr();
    tracer.clear();
    // SAFETY: the handle keeps the header alive.
    let vtable = unsafe { header.as_ref() }.vtable_of_live();
    // SAFETY: the value is alive (not `DEAD`, with the caller's strong reference), and it
    // cannot be moved or borrowed mutably while that reference exists (`get_mut` and
    // `try_unwrap` need the only one), so guards a holding tracer keeps stay valid.
    unsafe { (vtable.trace)(header, tracer) };
}

/// The objects `object`'s value reports through its `Trace` impl (its outgoing edges, one
/// per `Gc` it owns): Python's `gc.get_referents()`. Objects of the single-threaded flavour
/// inside it are not listed (they belong to their thread's heap); neither is anything
/// behind a lock that is held right now (by any thread, this one included) or poisoned, or
/// behind a `RefCell` borrowed mutably: the value shows the edges it can, with no panic and
/// no wait for the lock.
///
/// Empty for an untracked object, and for one the collector has claimed.
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use cyclegc::sync::{referents, AnyGc, Gc};
///
/// let leaf = Gc::new(Mutex::new(Vec::<Gc<u8>>::new()));
/// let parent = Gc::new(Mutex::new(vec![leaf.clone(), leaf.clone()]));
/// let edges = referents(&AnyGc::from(parent.clone()));
/// assert_eq!(edges.len(), 2);
/// assert!(edges.iter().all(|e| AnyGc::ptr_eq(e, &AnyGc::from(leaf.clone()))));
///
/// // While the vector is locked, it shows nothing.
/// let guard = parent.lock().unwrap();
/// assert!(referents(&AnyGc::from(parent.clone())).is_empty());
/// drop(guard);
/// ```
pub fn referents(object: &AnyGc) -> Vec<AnyGc> {
    // SAFETY: `object` keeps the header alive.
    if unsafe { object.header_ptr().as_ref() }.has(DEAD | UNTRACKED) {
        return Vec::new();
    }
    // Declared before the tracer, so that if a `trace` panics, the guards go before any
    // handle taken (whose drop may run user code that takes those locks).
    let mut found = Vec::new();
    let mut tracer = Tracer::new(Flavour::Sync);
    // The guards stay held until a handle to every edge is taken: another thread may move
    // an edge out of a lock and drop it once the lock is released.
    tracer.set_holding(true);
    // SAFETY: not `DEAD`, and `object` outlives the tracer's guards (released below).
    unsafe { trace(object, &mut tracer) };
    for &edge in tracer.edges::<Header>() {
        // SAFETY: the value owns a strong reference to each edge, which the held guards
        // keep where it was traced (and an immutable field cannot change while `object`
        // keeps the value shared).
        unsafe { take(edge, &mut found) };
    }
    tracer.release_held();
    drop(tracer);
    resolve(found)
}

/// Every live tracked object of the thread-safe heap that has an edge to `object`: Python's
/// `gc.get_referrers()`, once each, among those [`objects`] lists. O(heap): it traces every
/// tracked object (with no lock of the registry held), so it sees each as it was when
/// traced. An object whose edge to `object` is behind a held or poisoned lock (or a
/// `RefCell` borrowed mutably) is not found, as in [`referents`]: no panic, no wait.
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use cyclegc::sync::{referrers, AnyGc, Gc};
///
/// let leaf = Gc::new(Mutex::new(Vec::<Gc<u8>>::new()));
/// let a = Gc::new(Mutex::new(vec![leaf.clone()]));
/// let b = Gc::new(Mutex::new(vec![leaf.clone(), leaf.clone()]));
/// let found = referrers(&AnyGc::from(leaf.clone()));
/// assert_eq!(found.len(), 2);
/// assert!(found.iter().any(|o| AnyGc::ptr_eq(o, &AnyGc::from(a.clone()))));
/// assert!(found.iter().any(|o| AnyGc::ptr_eq(o, &AnyGc::from(b.clone()))));
/// ```
pub fn referrers(object: &AnyGc) -> Vec<AnyGc> {
    let target = object.header_ptr();
    let mut tracer = Tracer::new(Flavour::Sync);
    objects()
        .into_iter()
        .filter(|candidate| {
            // SAFETY: `candidate` keeps the header alive.
            if unsafe { candidate.header_ptr().as_ref() }.has(DEAD) {
                return false;
            }
            // SAFETY: not `DEAD`, and this tracer holds no guard after the call.
            unsafe { trace(candidate, &mut tracer) };
            // Only compared, never read: an edge another thread has dropped since is
            // harmless here.
            tracer.edges::<Header>().contains(&target)
        })
        .collect()
}
