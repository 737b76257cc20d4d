//! The heap's own view of itself: CPython's `gc.get_objects()`, `gc.get_referents()` and
//! `gc.get_referrers()` for the calling thread's heap, over its [`Registry`]
//! (`registry.rs`).
//!
//! Objects the collector has claimed (members of a garbage cycle being destroyed) are never
//! listed, nor are untracked ones, nor those whose value `Gc::get_mut` (or `make_mut`) has
//! lent mutably: a handle from the list could alias that `&mut` (they leave the list for
//! good). A value made by `Gc::pin` is listed, but its `AnyGc` refuses every `downcast` (a
//! `Gc` to it could move it). Values are read only through their `Trace` impls, with the
//! collector's own tracer: a `RefCell` that is mutably borrowed at that moment (or a lock
//! that is held) is skipped, so its value shows the edges it can, never a panic or a block.
//!
//! [`Registry`]: crate::unsync::registry::Registry

use std::ptr::NonNull;

use crate::any::Handles;
use crate::cycle::{Flavour, Object, DEAD, FULL, UNTRACKED};
use crate::release;
use crate::trace::Tracer;
use crate::unsync::any::AnyGc;
use crate::unsync::header::Header;
use crate::unsync::local::with_collector;

/// Panics if a collection on this thread is reading the heap (a `Trace` impl called the
/// inspection function `what`): the collector has lent the objects' type slots to its scan.
fn not_while_tracing(what: &str) {
    if release::phase().tracing() {
        panic!(
            "cyclegc: `{what}` was called from a `Trace` impl during a collection; a `Trace` \
             impl should only report edges"
        );
    }
}

/// Whether `header`'s object can be handed out: its value is alive and unclaimed.
fn listable(header: &Header) -> bool {
    header.strong() > 0 && !header.has(DEAD | UNTRACKED)
}

/// Records in `tracer` the edges of `header`'s value, as its `Trace` impl reports them.
///
/// # Safety
/// `header` is alive and [`listable`], not in a scan, and the caller holds a strong reference
/// to it until this returns.
unsafe fn trace(header: NonNull<Header>, tracer: &mut Tracer) {
    tracer.clear();
    // SAFETY: alive (the caller's reference).
    let vtable = unsafe { header.as_ref() }.vtable_of_live();
    // SAFETY: the value is alive and unclaimed, the caller's strong reference keeps it so,
    // and only `Trace` impls run while the tracer (which lets go of every guard after each
    // value) holds what it was handed.
    unsafe { (vtable.trace)(header, tracer) };
}

/// Every live tracked object of this thread's heap, oldest first: Python's
/// `gc.get_objects()`. Each comes as an [`AnyGc`], which keeps it alive while held. Not
/// listed: objects whose value [`Gc::get_mut`](crate::Gc::get_mut) (or `make_mut`) has lent
/// mutably, which leave the list for good (a handle from here could alias the `&mut`), and
/// frozen objects
/// ([`freeze`](crate::freeze)), as in CPython.
///
/// O(objects). Dropping the list is dropping that many handles: the objects become possible
/// roots, which the next collection of their generation examines.
///
/// # Panics
///
/// If called from a `Trace` impl during a collection.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{objects, AnyGc, Gc};
///
/// let node = Gc::new(RefCell::new(Vec::<Gc<u8>>::new()));
/// let listed = objects();
/// assert!(listed.iter().any(|o| AnyGc::ptr_eq(o, &AnyGc::from(node.clone()))));
/// // `Gc<String>` can never own a `Gc`: untracked, and not listed.
/// let text = AnyGc::from(Gc::new(String::from("atomic")));
/// assert!(!objects().iter().any(|o| AnyGc::ptr_eq(o, &text)));
/// ```
pub fn objects() -> Vec<AnyGc> {
    not_while_tracing("objects");
    let mut listed = Vec::new();
    with_collector(|collector| {
        let registry = collector.registry();
        for generation in 0..=FULL {
            registry.for_each_in(FULL - generation, |header| list(header, &mut listed));
        }
    });
    listed
}

/// The live tracked objects of one generation of this thread's heap (0, the youngest, to 2),
/// oldest first: Python's `gc.get_objects(generation)`. What [`objects`] lists, split by
/// generation (see [`collect_generation`](crate::collect_generation)).
///
/// # Panics
///
/// If `generation` is above 2, or if called from a `Trace` impl during a collection.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{objects_in, AnyGc, Gc};
///
/// let node = AnyGc::from(Gc::new(RefCell::new(Vec::<Gc<u8>>::new())));
/// let listed_in = |generation| objects_in(generation).iter().any(|o| AnyGc::ptr_eq(o, &node));
/// assert!(listed_in(0));
/// cyclegc::collect_generation(0); // survivors of generation 0 move to 1
/// assert!(listed_in(1) && !listed_in(0));
/// cyclegc::collect(); // and those of a full collection to 2
/// assert!(listed_in(2));
/// ```
pub fn objects_in(generation: usize) -> Vec<AnyGc> {
    assert!(
        generation <= FULL,
        "invalid generation {generation}: expected 0, 1 or 2"
    );
    not_while_tracing("objects_in");
    let mut listed = Vec::new();
    with_collector(|collector| {
        collector
            .registry()
            .for_each_in(generation, |header| list(header, &mut listed))
    });
    listed
}

/// Adds a handle to `header`'s object to `listed`, if it is [`listable`].
fn list(header: NonNull<Header>, listed: &mut Vec<AnyGc>) {
    // SAFETY: a listed header's allocation is live (it leaves the registry when freed).
    if listable(unsafe { header.as_ref() }) {
        // SAFETY: alive, with strong references that last (no user code runs here).
        listed.push(unsafe { AnyGc::from_header(header) });
    }
}

/// The objects `object`'s value reports through its `Trace` impl (its outgoing edges, one
/// per `Gc` it owns): Python's `gc.get_referents()`. Objects of the thread-safe flavour
/// inside it are not listed (they belong to the other heap); neither is anything behind a
/// `RefCell` that is mutably borrowed right now: the value shows the edges it can, with no
/// panic.
///
/// Empty for an untracked object, and for one the collector has claimed.
///
/// # Panics
///
/// If called from a `Trace` impl during a collection.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{referents, AnyGc, Gc};
///
/// let leaf = Gc::new(RefCell::new(Vec::<Gc<u8>>::new()));
/// let parent = Gc::new(RefCell::new(vec![leaf.clone(), leaf.clone()]));
/// let edges = referents(&AnyGc::from(parent.clone()));
/// assert_eq!(edges.len(), 2);
/// assert!(edges.iter().all(|e| AnyGc::ptr_eq(e, &AnyGc::from(leaf.clone()))));
///
/// // While the vector is borrowed mutably, it shows nothing.
/// let guard = parent.borrow_mut();
/// assert!(referents(&AnyGc::from(parent.clone())).is_empty());
/// drop(guard);
/// ```
pub fn referents(object: &AnyGc) -> Vec<AnyGc> {
    not_while_tracing("referents");
    let header = object.header_ptr();
    // SAFETY: `object` keeps the header alive.
    if !listable(unsafe { header.as_ref() }) {
        return Vec::new();
    }
    let mut tracer = Tracer::new(Flavour::Unsync);
    // SAFETY: listable, not in a scan (no collection is tracing), and `object` holds a strong
    // reference throughout.
    unsafe { trace(header, &mut tracer) };
    let mut listed = Vec::new();
    for &edge in tracer.edges::<Header>() {
        // SAFETY: the value owns a strong reference to each edge, so each is alive, and no
        // user code has run since the trace.
        if listable(unsafe { edge.as_ref() }) {
            // SAFETY: as above.
            listed.push(unsafe { AnyGc::from_header(edge) });
        }
    }
    listed
}

/// Every live tracked object of this thread's heap that has an edge to `object`: Python's
/// `gc.get_referrers()`, oldest first, once each; among those [`objects`] lists (so not
/// frozen ones, as in CPython). O(heap): it traces every tracked object. An object whose
/// edge to `object` is behind a `RefCell` mutably borrowed right now is not found (as in
/// [`referents`]), with no panic.
///
/// # Panics
///
/// If called from a `Trace` impl during a collection.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{referrers, AnyGc, Gc};
///
/// let leaf = Gc::new(RefCell::new(Vec::<Gc<u8>>::new()));
/// let a = Gc::new(RefCell::new(vec![leaf.clone()]));
/// let b = Gc::new(RefCell::new(vec![leaf.clone(), leaf.clone()]));
/// let found = referrers(&AnyGc::from(leaf.clone()));
/// assert_eq!(found.len(), 2);
/// assert!(AnyGc::ptr_eq(&found[0], &AnyGc::from(a)));
/// assert!(AnyGc::ptr_eq(&found[1], &AnyGc::from(b)));
/// ```
pub fn referrers(object: &AnyGc) -> Vec<AnyGc> {
    not_while_tracing("referrers");
    let target = object.header_ptr();
    let mut tracer = Tracer::new(Flavour::Unsync);
    let mut found = Vec::new();
    // By number, taking the registry for one step at a time: tracing runs `Trace` impls,
    // which may allocate (and so register) objects, or even free some (and so renumber).
    let mut number = with_collector(|c| c.registry().first_thawed());
    while let Some(entry) = with_collector(|c| c.registry().get(number)) {
        number += 1;
        let Some(header) = entry else { continue };
        // SAFETY: a listed header is alive.
        let h = unsafe { header.as_ref() };
        if !listable(h) {
            continue;
        }
        // Borrows a strong reference for the trace (given back also if it panics).
        let borrowed = Borrowed::new(header);
        // SAFETY: listable, not in a scan, and the borrowed reference keeps it alive.
        unsafe { trace(header, &mut tracer) };
        if tracer.edges::<Header>().contains(&target) {
            // SAFETY: alive (the borrowed reference).
            found.push(unsafe { AnyGc::from_header(header) });
        }
        drop(borrowed);
    }
    found
}

/// A strong reference borrowed for a moment, given back without making the object a
/// possible root: its count ends as it was, so no garbage can have appeared (unless a
/// `Trace` impl dropped handles meanwhile, when the ordinary drop takes over).
struct Borrowed(NonNull<Header>);

impl Borrowed {
    fn new(header: NonNull<Header>) -> Borrowed {
        // SAFETY: the caller's header is alive.
        unsafe { header.as_ref() }.clone_strong();
        Borrowed(header)
    }
}

impl Drop for Borrowed {
    fn drop(&mut self) {
        // SAFETY: the borrowed reference keeps the header alive.
        let h = unsafe { self.0.as_ref() };
        if h.strong() > 1 {
            // SAFETY: gives back the reference borrowed in `new`; others remain.
            unsafe { h.dec_strong() };
        } else {
            // SAFETY: the reference borrowed in `new`, given up.
            unsafe { Header::drop_strong(self.0) };
        }
    }
}
