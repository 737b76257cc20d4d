//! The release loop (CPython's "trashcan"): dropping values whose last strong reference went,
//! with bounded stack whatever the data.
//!
//! Releases nest like `Rc`'s drops up to [`RELEASE_DEPTH_LIMIT`] levels; a release that would
//! go deeper joins the *pending* list, which the outermost release drains. A collection sets
//! the depth to the limit, so that every release during it is deferred too.
//!
//! All of this state lives in a thread-local without a destructor: reading it is one load (no
//! lazy registration), and it never becomes inaccessible, so releases work the same during
//! thread-local teardown — also after the collector's own [`Heap`](crate::heap) is gone. Such
//! a thread-local cannot free anything at thread exit, so the pending list is allocated when a
//! release first needs it and freed as soon as it has been drained.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use crate::header::{GcBox, Header};
use crate::panics::{drop_payload, Panics};

/// How deep releases may nest before they are deferred to the pending list. Below it, drops
/// happen in exactly `Rc`'s order; beyond it a chain is dropped iteratively, so stack use is
/// bounded whatever the data (CPython's trashcan nests 50 deep). Small, because debug builds
/// use a few KiB of stack per level.
pub(crate) const RELEASE_DEPTH_LIMIT: usize = 16;

struct Release {
    /// How many releases are running on this thread, nested in each other.
    depth: Cell<usize>,
    /// Values whose last strong reference went while [`RELEASE_DEPTH_LIMIT`] releases were
    /// already running (or during a collection), and objects a misbehaving `Trace` released
    /// during a snapshot (`heap::dead_released`). Each entry holds the implicit hold of its
    /// header and owns its value's drop. `None` when empty.
    pending: Cell<Option<NonNull<Vec<NonNull<Header>>>>>,
}

thread_local! {
    static RELEASE: Release = const {
        Release {
            depth: Cell::new(0),
            pending: Cell::new(None),
        }
    };
}

/// Drops the value of a box whose strong count reached zero, nesting or deferring as the
/// module docs say.
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
            let drain = RELEASE.with(|r| {
                let drain = self.depth == 0 && r.pending.get().is_some();
                if !drain {
                    r.depth.set(self.depth);
                }
                drain
            });
            if drain {
                drain_pending();
            }
        }
    }

    // The thread-local closures stay tiny so that they inline to a single access.
    let depth = RELEASE.with(|r| {
        let depth = r.depth.get();
        if depth < RELEASE_DEPTH_LIMIT {
            r.depth.set(depth + 1);
        }
        depth
    });
    if depth >= RELEASE_DEPTH_LIMIT {
        // SAFETY: by the caller's contract, handed over to the pending list.
        return unsafe { defer(ptr.cast()) };
    }
    let _leave = Leave { depth };
    // SAFETY: by the caller's contract.
    unsafe { drop_box_value(ptr) };
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

/// Appends a released value to the pending list; the outermost release drops it.
///
/// # Safety
/// The strong count of `header` is zero, its value is alive and unclaimed, and the caller
/// hands over its drop and its implicit hold.
#[cold]
#[inline(never)]
pub(crate) unsafe fn defer(header: NonNull<Header>) {
    RELEASE.with(|r| {
        let list = match r.pending.get() {
            Some(list) => list,
            None => {
                let list = NonNull::from(Box::leak(Box::new(Vec::new())));
                r.pending.set(Some(list));
                list
            }
        };
        // SAFETY: the list belongs to this thread's `RELEASE`, and no other reference to it
        // is live: `defer`, `pop_pending` and `pending_len` run no user code while they hold
        // one.
        unsafe { (*list.as_ptr()).push(header) };
    });
}

/// Takes the last pending entry; frees the list when it is empty.
fn pop_pending() -> Option<NonNull<Header>> {
    RELEASE.with(|r| {
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
    RELEASE.with(|r| {
        // SAFETY: as in `defer`.
        r.pending
            .get()
            .map_or(0, |list| unsafe { (*list.as_ptr()).len() })
    })
}

/// Whether a release (or a collection) is running on this thread.
pub(crate) fn releasing() -> bool {
    RELEASE.with(|r| r.depth.get() != 0)
}

/// Defers every release until [`end_deferral`]; returns the depth to restore. A collection
/// must not free headers under its scan, and destroying garbage must not recurse.
pub(crate) fn begin_deferral() -> usize {
    RELEASE.with(|r| r.depth.replace(RELEASE_DEPTH_LIMIT))
}

/// Ends a deferral begun at depth `saved`. If no release was running before, the caller is
/// the outermost release and drops what is pending now.
pub(crate) fn end_deferral(saved: usize) {
    if saved == 0 {
        drain_pending();
    } else {
        RELEASE.with(|r| r.depth.set(saved));
    }
}

/// [`end_deferral`], with the panics of the drops it runs caught and recorded in `panics`
/// (the first one; [`DrainGuard`] drops the rest and swallows their panics).
pub(crate) fn end_deferral_catching(saved: usize, panics: &mut Panics) {
    if saved == 0 {
        panics.catch(drain_pending);
    } else {
        RELEASE.with(|r| r.depth.set(saved));
    }
}

/// Drops everything pending as the outermost release (nested releases may recurse again up
/// to the limit), then ends it. If a value's `Drop` panics, the rest are still dropped (by
/// [`DrainGuard`]) before the panic goes on.
#[cold]
#[inline(never)]
fn drain_pending() {
    if RELEASE.with(|r| r.pending.get().is_some()) {
        RELEASE.with(|r| r.depth.set(1));
        let guard = DrainGuard;
        // While unwinding, a second panic would abort: the guard drops the rest instead.
        if !std::thread::panicking() {
            while let Some(header) = pop_pending() {
                // SAFETY: pending entries are alive, unclaimed, and own their value's drop
                // (entries a misbehaving `Trace` released during a snapshot are revived or
                // claimed by the collector before its deferral ends).
                unsafe { destroy(header) };
            }
        }
        drop(guard);
    }
    RELEASE.with(|r| r.depth.set(0));
}

/// Ends a drain, dropping whatever is still pending, also when a `Drop` panicked.
struct DrainGuard;

impl Drop for DrainGuard {
    fn drop(&mut self) {
        // Only reached with entries left while a `Drop` panic unwinds: drop the rest,
        // swallowing further panics (the first one is already on its way). Their payloads
        // are dropped under `catch_unwind` too: a second panic here would abort.
        while let Some(header) = pop_pending() {
            // SAFETY: as in `drain_pending`.
            let destroy = || unsafe { destroy(header) };
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(destroy)) {
                drop_payload(payload);
            }
        }
        RELEASE.with(|r| r.depth.set(0));
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
