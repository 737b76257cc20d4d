//! The release loop (CPython's "trashcan"): dropping values whose last strong reference went,
//! with bounded stack whatever the data; and the thread's [`Phase`], which it reads on every
//! release. Shared by the flavours: a thread has one loop, and a pending entry carries the
//! function that destroys it, so objects of both flavours nest and defer together.
//!
//! Releases nest like `Rc`'s drops up to [`RELEASE_DEPTH_LIMIT`](crate::cycle::phase::RELEASE_DEPTH_LIMIT) levels; a release that would
//! go deeper joins the *pending* list, which the outermost release drains. A collection sets
//! the depth to the limit, so that every release during it is deferred too.
//!
//! This state lives in a thread-local without a destructor: reading it is one load (no lazy
//! registration), and it never becomes inaccessible, so releases work the same during
//! thread-local teardown. Such a thread-local cannot free anything at thread exit, so the
//! pending list is allocated when a release first needs it and freed as soon as it has been
//! drained.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use crate::cycle::{drop_value, GcBox, Object, Phase};
use crate::panics::{drop_payload, Panics};

/// A released value waiting for its drop: its header, and the function that destroys it
/// (drops the value through the one drop path, which gives back the implicit hold).
struct Pending {
    header: NonNull<()>,
    destroy: unsafe fn(NonNull<()>),
}

struct ReleaseLoop {
    /// What is running on this thread.
    phase: Cell<Phase>,
    /// Values whose last strong reference went while [`RELEASE_DEPTH_LIMIT`](crate::cycle::phase::RELEASE_DEPTH_LIMIT) releases were
    /// already running (or during a collection), and objects a misbehaving `Trace` released
    /// during a snapshot (`unsync`'s `dead_released`). Each entry holds the implicit hold of
    /// its header and owns its value's drop. `None` when empty.
    pending: Cell<Option<NonNull<Vec<Pending>>>>,
}

crate::primitive::local! {
    static RELEASE_LOOP: ReleaseLoop = const {
        ReleaseLoop {
            phase: Cell::new(Phase::MUTATOR),
            pending: Cell::new(None),
        }
    };
}

/// What a handle knows of the object whose last strong reference it drops: a typed box
/// (`Gc<T>`, whose value drops through its own type, inlined) or only the header
/// ([`Erased`], for `AnyGc`, whose value drops through the vtable).
pub(crate) trait Droppable<H: Object>: Copy {
    /// The object's header.
    fn header(self) -> NonNull<H>;

    /// Drops the value in place through the one drop path ([`drop_value`]), which gives back
    /// its implicit hold.
    ///
    /// # Safety
    /// The strong count is zero, the value is alive and unclaimed (not in a scan), and the
    /// caller owns its drop and the implicit hold.
    unsafe fn drop_now(self);
}

impl<H: Object, T: ?Sized> Droppable<H> for NonNull<GcBox<H, T>> {
    #[inline(always)]
    fn header(self) -> NonNull<H> {
        self.cast()
    }

    #[inline(always)]
    unsafe fn drop_now(self) {
        // SAFETY: by the caller's contract.
        unsafe { drop_box_value(self) }
    }
}

/// A header whose value's type is known only to its vtable.
pub(crate) struct Erased<H>(pub(crate) NonNull<H>);

impl<H> Clone for Erased<H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<H> Copy for Erased<H> {}

impl<H: Object> Droppable<H> for Erased<H> {
    #[inline]
    fn header(self) -> NonNull<H> {
        self.0
    }

    #[inline]
    unsafe fn drop_now(self) {
        // SAFETY: by the caller's contract.
        unsafe { destroy::<H>(self.0.cast()) }
    }
}

/// Drops the value of an object whose strong count reached zero, nesting or deferring as
/// the module docs say.
///
/// # Safety
/// The strong count of `ptr`'s object is zero, its value is alive and unclaimed, and the
/// caller owns its drop.
#[inline]
pub(crate) unsafe fn release<H: Object>(ptr: impl Droppable<H>) {
    /// Leaves a nesting level when the drop is over, also when it panics; the outermost
    /// level drains the pending list first.
    struct Leave {
        /// The phase before this release.
        outer: Phase,
    }
    impl Drop for Leave {
        #[inline]
        fn drop(&mut self) {
            let drain = RELEASE_LOOP.with(|r| {
                let drain = self.outer.depth() == 0 && r.pending.get().is_some();
                if !drain {
                    r.phase.set(self.outer);
                }
                drain
            });
            if drain {
                drain_pending();
            }
        }
    }

    // The thread-local closures stay tiny so that they inline to a single access.
    let outer = RELEASE_LOOP.with(|r| {
        let phase = r.phase.get();
        if phase.nests() {
            r.phase.set(phase.deeper());
        }
        phase
    });
    if !outer.nests() {
        // SAFETY: by the caller's contract, handed over to the pending list.
        return unsafe { defer(ptr.header()) };
    }
    let _leave = Leave { outer };
    // SAFETY: by the caller's contract.
    unsafe { ptr.drop_now() };
}

/// Drops the value of `ptr` in place through the one drop path, which gives back its
/// implicit hold.
///
/// # Safety
/// The strong count is zero, the value is alive and unclaimed, and the caller owns its drop
/// and the implicit hold.
#[inline(always)]
unsafe fn drop_box_value<H: Object, T: ?Sized>(ptr: NonNull<GcBox<H, T>>) {
    // SAFETY: by the caller's contract.
    unsafe {
        drop_value(ptr.cast::<H>(), || {
            ptr::drop_in_place(ptr::addr_of_mut!((*ptr.as_ptr()).value))
        })
    }
}

/// Appends a released value to the pending list; the outermost release drops it.
///
/// # Safety
/// The strong count of `header` is zero, its value is alive and unclaimed, and the caller
/// hands over its drop and its implicit hold.
#[cold]
#[inline(never)]
pub(crate) unsafe fn defer<H: Object>(header: NonNull<H>) {
    let pending = Pending {
        header: header.cast(),
        destroy: destroy::<H>,
    };
    RELEASE_LOOP.with(|r| {
        let list = match r.pending.get() {
            Some(list) => list,
            None => {
                let list = NonNull::from(Box::leak(Box::new(Vec::new())));
                r.pending.set(Some(list));
                list
            }
        };
        // SAFETY: the list belongs to this thread's `RELEASE_LOOP`, and no other reference to it
        // is live: `defer`, `pop_pending` and `pending_len` run no user code while they hold
        // one.
        unsafe { (*list.as_ptr()).push(pending) };
    });
}

/// Takes the last pending entry; frees the list when it is empty.
fn pop_pending() -> Option<Pending> {
    RELEASE_LOOP.with(|r| {
        let list = r.pending.get()?;
        // SAFETY: as in `defer`.
        let popped = unsafe { (*list.as_ptr()).pop() };
        if popped.is_none() {
            r.pending.set(None);
            // SAFETY: allocated by `defer` with `Box`, and no longer reachable from `r`.
            drop(unsafe { Box::from_raw(list.as_ptr()) });
        }
        popped
    })
}

/// The number of pending releases (the collector compares it before and after a snapshot).
pub(crate) fn pending_len() -> usize {
    RELEASE_LOOP.with(|r| {
        // SAFETY: as in `defer`.
        r.pending
            .get()
            .map_or(0, |list| unsafe { (*list.as_ptr()).len() })
    })
}

/// What is running on this thread.
#[inline]
pub(crate) fn phase() -> Phase {
    RELEASE_LOOP.with(|r| r.phase.get())
}

fn set_phase(phase: Phase) {
    RELEASE_LOOP.with(|r| r.phase.set(phase));
}

/// A collection begins: defers every release until [`end_deferral`]; returns the phase to
/// restore with [`end_collection`]. A collection must not free headers under its scan, and
/// destroying garbage must not recurse.
///
/// # Safety
/// No collection is running on the thread, and the caller ends this one with
/// [`end_deferral`] (or [`end_deferral_catching`]) and then [`end_collection`], passing the
/// phase returned here, on every path.
pub(crate) unsafe fn begin_collection() -> Phase {
    RELEASE_LOOP.with(|r| r.phase.replace(Phase::COLLECTION))
}

/// The collection's snapshot begins (`true`) or ends.
///
/// # Safety
/// Only around a snapshot of the running collection: while the phase says tracing, the last
/// release of a `DEAD` object that is not `DROPPED` goes to the pending list, which would
/// drop a value the collector drops too if the object were claimed for good.
pub(crate) unsafe fn set_tracing(tracing: bool) {
    set_phase(phase().with_tracing(tracing));
}

/// Ends a collection's deferral of releases, begun in phase `outer`. If no release was
/// running before, the collection is the outermost release and drops what is pending now.
///
/// # Safety
/// Once per collection, begun in phase `outer`, after its scan has revived or destroyed
/// every node (the pending list may hold objects it revived, which are dropped now).
pub(crate) unsafe fn end_deferral(outer: Phase) {
    if outer.is_mutator() {
        drain_pending();
    } else {
        set_phase(outer.with_collecting());
    }
}

/// [`end_deferral`], with the panics of the drops it runs caught and recorded in `panics`
/// (the first one; [`DrainGuard`] drops the rest and swallows their panics).
///
/// # Safety
/// As for [`end_deferral`].
pub(crate) unsafe fn end_deferral_catching(outer: Phase, panics: &mut Panics) {
    if outer.is_mutator() {
        panics.catch(drain_pending);
    } else {
        set_phase(outer.with_collecting());
    }
}

/// Ends a collection begun in phase `outer`.
///
/// # Safety
/// Once per collection, after its deferral ended.
pub(crate) unsafe fn end_collection(outer: Phase) {
    set_phase(outer);
}

/// Drops everything pending as the outermost release (nested releases may recurse again up
/// to the limit), then ends it. If a value's `Drop` panics, the rest are still dropped (by
/// [`DrainGuard`]) before the panic goes on.
#[cold]
#[inline(never)]
fn drain_pending() {
    if RELEASE_LOOP.with(|r| r.pending.get().is_some()) {
        set_phase(phase().with_depth(1));
        let guard = DrainGuard;
        // While unwinding, a second panic would abort: the guard drops the rest instead.
        if !std::thread::panicking() {
            while let Some(Pending { header, destroy }) = pop_pending() {
                // SAFETY: pending entries are alive, unclaimed, and own their value's drop
                // (entries a misbehaving `Trace` released during a snapshot are revived by
                // the collector, never claimed, before its deferral ends); `destroy` is the
                // one `defer` chose for the header's type.
                unsafe { destroy(header) };
            }
        }
        drop(guard);
    }
    set_phase(phase().with_depth(0));
}

/// Ends a drain, dropping whatever is still pending, also when a `Drop` panicked.
struct DrainGuard;

impl Drop for DrainGuard {
    fn drop(&mut self) {
        // Only reached with entries left while a `Drop` panic unwinds: drop the rest,
        // swallowing further panics (the first one is already on its way). Their payloads
        // are dropped under `catch_unwind` too: a second panic here would abort.
        while let Some(Pending { header, destroy }) = pop_pending() {
            // SAFETY: as in `drain_pending`.
            let destroy = || unsafe { destroy(header) };
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(destroy)) {
                drop_payload(payload);
            }
        }
        set_phase(phase().with_depth(0));
    }
}

/// Drops the value behind `header`, an `H`, through the one drop path, which gives back its
/// implicit hold.
///
/// # Safety
/// `header` is an `H` whose strong count is zero, whose value is alive and unclaimed (not in
/// a scan), and the caller owns its drop and the implicit hold.
unsafe fn destroy<H: Object>(header: NonNull<()>) {
    let header = header.cast::<H>();
    // SAFETY: by the caller's contract; the header is alive until the hold is given back.
    unsafe {
        let drop_in_place = header.as_ref().vtable().drop_in_place;
        drop_value(header, || drop_in_place(header));
    }
}
