//! What every collected object is, whatever the flavour: a header the flavour defines (the
//! [`Object`] trait says what the collector needs of it), followed by the value, with a
//! per-type [`VTable`] for the collector to reach the value through the header alone.
//!
//! [`drop_value`] is the one place where a value is dropped.

use std::alloc::Layout;
use std::any::TypeId;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::trace::{Trace, Tracer};

/// The object sits in the root buffer as a possible root (and the buffer holds one unit of
/// its weak count).
pub(crate) const BUFFERED: usize = 1;
/// The type can never own a `Gc` ([`Trace::may_contain_gc`] is false): never buffered or
/// traced.
pub(crate) const UNTRACKED: usize = 2;
/// The cycle collector has claimed the object (or, while it traces, tentatively so):
/// `Weak::upgrade` fails, and once the claim is final, dereferencing panics.
pub(crate) const DEAD: usize = 4;
/// The value of a `DEAD` object has been dropped while strong references to it remain (a
/// `Drop` of a collected cycle kept one): the last of them gives back the implicit hold.
/// Whichever comes last — the value's drop, or the last strong reference going — gives it
/// back.
pub(crate) const DROPPED: usize = 8;
/// The object's root-buffer entry was withdrawn by `Gc::get_mut`, which hands out `&mut` to
/// the value: the entry still holds its unit of the weak count, but the collector skips it,
/// so no collection reaches the value through the buffer while the `&mut` may live
/// (ARCHITECTURE.md, invariant 1). The next drop that would buffer the object turns the
/// entry back into a root (`BUFFERED`) instead of adding another. `BUFFERED` and `WITHDRAWN`
/// are never both set.
pub(crate) const WITHDRAWN: usize = 16;
/// The object has an entry in the root buffer, live or withdrawn.
pub(crate) const IN_BUFFER: usize = BUFFERED | WITHDRAWN;

/// The flavour a header belongs to. A [`Tracer`] records only the edges of the flavour it
/// traces for: a value may own `Gc`s of another flavour, which that flavour's collector
/// follows, and which this one must never read as its own headers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Flavour {
    /// `cyclegc::unsync`.
    Unsync,
    /// `cyclegc::sync`.
    Sync,
}

/// What the collector needs of an object's header: its counts and flags, the slot that
/// holds the type's [`VTable`] (or, during a snapshot, the object's scan index), and the
/// weak count that keeps the allocation.
///
/// The flags are the constants of this module. Changing them, the counts or the slot has
/// preconditions (the invariants in ARCHITECTURE.md), so those methods are `unsafe`.
///
/// # Safety
///
/// Implementations must do what each method says; in particular `vtable` must return the
/// vtable the header was created with whenever the slot is not in a scan, `scan_index` must
/// return exactly the index `enter_scan` stored until `leave_scan`, and `release_hold` must
/// free the allocation through the vtable (`VTable::free`) exactly when the last unit goes. Each
/// flavour has exactly one header type: no two implementations share a `FLAVOUR` (the
/// [`Tracer`] reads an edge recorded for a flavour as that flavour's header type).
pub(crate) unsafe trait Object: Sized + 'static {
    /// The flavour, for the [`Tracer`]'s filter.
    const FLAVOUR: Flavour;

    /// Whether other threads may change the object while a collection judges it: then the
    /// garbage must be claimed ([`Object::claim`]) after the verdict, and the snapshot's
    /// guards held until the claim is decided (phase 4 in ARCHITECTURE.md).
    const CONCURRENT: bool;

    /// What the snapshot keeps of a node besides its header: whatever the header cannot
    /// keep itself while it is in the scan.
    type Saved: Copy;

    /// The strong count.
    fn strong(&self) -> usize;

    /// Whether any of the flags in `flags` is set.
    fn has(&self, flags: usize) -> bool;

    /// Sets `flag`.
    ///
    /// # Safety
    /// The change must keep the header's invariants: who owns which unit of the weak count
    /// depends on `IN_BUFFER` and `DROPPED`, and who drops the value on `DEAD`.
    unsafe fn set_flag(&self, flag: usize);

    /// Clears `flag`.
    ///
    /// # Safety
    /// As for [`Object::set_flag`].
    unsafe fn clear_flag(&self, flag: usize);

    /// Takes one unit of the weak count (a hold), which keeps the header allocated.
    fn take_hold(&self);

    /// What decides the object's generation (ARCHITECTURE.md, "Generations"): its number in
    /// the flavour's registry, or 0 if it is not listed (then it counts as the
    /// oldest generation).
    fn registry_key(&self) -> usize;

    /// The registry table that lists the object (below `registry::MAX_TABLES`), and its
    /// [`registry_key`](Object::registry_key): a flavour with one table per thread has only
    /// table 0. Another thread may change the key meanwhile (tidying its table): a stale one
    /// only makes the collector examine an object more or less, never unsoundly.
    #[inline(always)]
    fn registry_place(&self) -> (usize, usize) {
        (0, self.registry_key())
    }

    /// Makes the object a possible root, for the collection of its generation: a snapshot
    /// reached it by an edge into an older generation ([`Examined`](crate::cycle::Examined)).
    /// A withdrawn entry becomes a root again; an object with no entry gets one, with its
    /// unit of the weak count. Returns whether it made an entry, which the caller then owns
    /// (for `Scan::take_older`).
    ///
    /// # Safety
    /// The object is tracked and alive for the length of the call, and not in the running
    /// scan; the caller is the collecting thread.
    unsafe fn make_root(&self) -> bool;

    /// A header for a fresh allocation of the type whose vtable is `vtable`, with `strong`
    /// strong references and the implicit hold; `tracked` unless the type can never own a
    /// `Gc`.
    fn new_header(vtable: &'static VTable<Self>, tracked: bool, strong: usize) -> Self;

    /// Called once a fresh allocation is complete (header and value written), before anything
    /// else sees it: the single-threaded flavour lists a tracked object in its thread's
    /// registry (`unsync/registry.rs`), from which it leaves when the allocation is freed
    /// (through `release_hold`, so never before this call).
    ///
    /// # Safety
    /// `this` is the header of a fresh allocation, header and value written, not yet shared,
    /// its counts untouched since [`Object::new_header`] (no hold taken, no `Weak` made: the
    /// thread-safe flavour stores the weak word whole), which is freed only through
    /// [`Object::release_hold`] from now on.
    unsafe fn placed(this: NonNull<Self>);

    /// Gives back one unit of the weak count (a `Weak` handle or a hold), and frees the
    /// allocation if that was the last one.
    ///
    /// # Safety
    /// `this` must point to a live header, and the caller must own the unit it gives back.
    /// If the header is in a scan, that unit must not be the last one (its strong
    /// references, or the value handed to the collector, keep the implicit hold). If this
    /// frees the header, nothing may use `this` afterwards.
    unsafe fn release_hold(this: NonNull<Self>);

    /// The type's vtable.
    ///
    /// # Safety
    /// The header must not be in a scan: between [`Object::enter_scan`] and
    /// [`Object::leave_scan`] its slot holds an index, not a vtable.
    unsafe fn vtable(&self) -> &'static VTable<Self>;

    /// The scan index stored in the slot, if a snapshot holds this object.
    fn scan_index(&self) -> Option<usize>;

    /// Takes the object's root-buffer entry out of the buffer (clearing `IN_BUFFER`) and, if
    /// the entry was a live root (`BUFFERED`, strong references, not `DEAD`, not in the
    /// scan), enters the object as node `index` in the same step, as
    /// [`Object::enter_scan`] does. The entry's unit of the weak count stays with the
    /// caller, who gives it back after this.
    ///
    /// # Safety
    /// The caller owns the entry (it took it from the buffer), and takes the object out of
    /// the scan as [`Object::enter_scan`] requires.
    unsafe fn enter_root(&self, index: usize) -> Option<(usize, Self::Saved)>;

    /// Enters the object into a snapshot as node `index`, and returns the strong count the
    /// snapshot counts for it and what the snapshot must keep — or `None` if the object
    /// cannot be scanned now (then the snapshot leaves it, and the edge that led to it, out:
    /// it counts as referenced from outside). How the object is marked is the flavour's: the
    /// single-threaded header makes it tentatively `DEAD` and stores the index in its vtable
    /// slot; the thread-safe header sets `SCANNED` (which keeps its value and header alive
    /// until it leaves the scan) and may refuse.
    ///
    /// # Safety
    /// The object is alive and tracked. The caller keeps what this returns, and takes the
    /// object out of the scan with [`Object::revive`] or [`Object::leave_scan`] before
    /// anything can call [`Object::vtable`] on this header.
    unsafe fn enter_scan(&self, index: usize) -> Option<(usize, Self::Saved)>;

    /// The vtable of an object in the scan.
    ///
    /// # Safety
    /// The object is in the scan, and `saved` is what entering it returned.
    unsafe fn scanned_vtable(&self, saved: Self::Saved) -> &'static VTable<Self>;

    /// Starts claiming an object the verdict found to be garbage; `false` if the object
    /// changed since it entered the scan (a strong reference came or went), when the claim
    /// of its whole set is abandoned. Without [`Object::CONCURRENT`], nothing can have
    /// changed, and the tentative `DEAD` of the snapshot is the claim.
    ///
    /// # Safety
    /// The object is in the scan, judged garbage, and `saved` is what entering it returned.
    /// The caller ends the claim with [`Object::kill`] or [`Object::unclaim`].
    unsafe fn claim(&self, saved: Self::Saved) -> bool {
        let _ = saved;
        true
    }

    /// Abandons a claim that [`Object::claim`] started.
    ///
    /// # Safety
    /// The claim was started and is not ended yet.
    unsafe fn unclaim(&self) {}

    /// Completes a claim that [`Object::claim`] started: the object is `DEAD`.
    ///
    /// # Safety
    /// The claim was started and is not ended yet, and every other member of the garbage has
    /// been claimed too.
    unsafe fn kill(&self) {}

    /// Completes a claim that [`Object::claim`] started by keeping the object alive instead:
    /// it gets one more strong reference, which the caller owns, as the claim ends; clones
    /// and upgrades waiting on the claim see it alive. It stays in the scan until
    /// [`Object::revive`]. What makes this sound is that the reference is taken while the
    /// snapshot's held guards still keep every member's edges from changing: once they are
    /// released, another thread may reach a member again and unlink another, whose last
    /// other reference that may be. Only [`Object::CONCURRENT`] headers keep (a
    /// single-threaded save revives the tentative claim instead).
    ///
    /// # Safety
    /// As for [`Object::kill`].
    unsafe fn keep(&self) {
        unreachable!("only a thread-safe claim is kept");
    }

    /// Takes a survivor out of the scan: its vtable back, the scan's mark cleared. Returns
    /// whether the value was handed over to the collector while the object was in the scan
    /// (its last strong reference went meanwhile, on another thread): then the caller owns
    /// the value's drop and the implicit hold.
    ///
    /// # Safety
    /// The object is in the scan, not claimed, and `saved` is what entering it returned; for
    /// a [`Object::CONCURRENT`] header, the snapshot's guards are released.
    unsafe fn revive(&self, saved: Self::Saved) -> bool;

    /// Takes claimed garbage out of the scan for its destruction: its vtable back, the claim
    /// (`DEAD`) kept.
    ///
    /// # Safety
    /// The object is in the scan and claimed, and `saved` is what entering it returned.
    unsafe fn leave_scan(&self, saved: Self::Saved);

    /// The value is dropped. If no strong reference is left, gives back the implicit hold
    /// (the last strong reference, gone before, left it to whoever drops the value);
    /// otherwise marks the object `DROPPED`, so that the last of them gives it back.
    ///
    /// # Safety
    /// `this` is live and not in a scan, and its value was just dropped by the caller, who
    /// owned that drop; if the strong count is zero, the caller owns the implicit hold.
    #[inline]
    unsafe fn value_dropped(this: NonNull<Self>) {
        // SAFETY: by the caller's contract the header is live; the implicit hold keeps it so
        // until the release below.
        let header = unsafe { this.as_ref() };
        if header.strong() == 0 {
            // SAFETY: with no strong reference, the implicit hold belongs to the caller (a
            // release owns it; the collector's destroy is left it by the last drop). No
            // strong reference can appear any more, so nothing reads `DROPPED`.
            unsafe { Self::release_hold(this) };
        } else {
            // SAFETY: the value is gone while strong references remain (a `Drop` of a
            // collected cycle kept one): `DROPPED` hands the hold to the last of them.
            unsafe { header.set_flag(DROPPED) };
        }
    }
}

/// An allocation: header, then value. `#[repr(C)]` so the header is at offset 0 and a
/// pointer to the box can be used as a pointer to the header, whatever `T` is.
#[repr(C)]
pub(crate) struct GcBox<H, T: ?Sized> {
    pub(crate) header: H,
    pub(crate) value: T,
}

impl<H, T: ?Sized> GcBox<H, T> {
    /// The box whose value `value` points to (the inverse of projecting to the `value`
    /// field), for the handles' `from_raw`.
    ///
    /// # Safety
    /// `value` points to the value of a `GcBox<H, T>` whose allocation is live.
    pub(crate) unsafe fn from_value(value: *const T) -> NonNull<GcBox<H, T>> {
        // With `#[repr(C)]`, the value starts at the header's size rounded up to the value's
        // alignment. `align_of_val` reads only the pointer's metadata (a slice's element
        // type, a trait object's vtable); the allocation is live, so the reference is
        // dereferenceable. The value itself may be uninitialized (`new_cyclic`) or dropped
        // (a handle a `Drop` kept): this relies on a reference to such memory being allowed
        // when nothing reads through it (Miri's default checks accept it; its
        // `-Zmiri-recursive-validation` does not). `align_of_val_raw` replaces this once
        // stable.
        // SAFETY: by the caller's contract.
        let align = std::mem::align_of_val(unsafe { &*value });
        let offset = std::mem::size_of::<H>().next_multiple_of(align);
        // SAFETY: the box starts `offset` bytes before its value, in the same allocation;
        // the cast keeps the pointer's metadata, which `GcBox<H, T>` shares with `T`.
        unsafe { NonNull::new_unchecked(value.byte_sub(offset) as *mut GcBox<H, T>) }
    }
}

/// What the collector needs to know about a type it only sees through a header.
pub(crate) struct VTable<H> {
    /// Reports the edges of the value behind the header.
    pub(crate) trace: unsafe fn(NonNull<H>, &mut Tracer),
    /// Drops the value behind the header in place (the header stays).
    pub(crate) drop_in_place: unsafe fn(NonNull<H>),
    /// The layout of the whole allocation, header included (unless `free` is set).
    pub(crate) layout: Layout,
    /// Frees an allocation whose layout is not the type's: a slice allocation, whose length
    /// only the allocation knows (`cycle/slice.rs`, `cycle/boxed.rs`). `None` for an
    /// allocation made by `Gc::new`.
    pub(crate) free: Option<unsafe fn(NonNull<H>)>,
    /// The value's type, for messages (and per-type counts). A function because
    /// `type_name` is not `const` on stable.
    pub(crate) type_name: fn() -> &'static str,
    /// The value's type, for `AnyGc::downcast` (the unsized type itself for a slice or a
    /// box-made trait object, which a downcast to a sized type then refuses; a private
    /// marker's for a pinned value, which every downcast refuses).
    pub(crate) type_id: fn() -> TypeId,
    /// The address of the value behind the header (which only the type knows: it depends on
    /// the value's alignment).
    pub(crate) value: unsafe fn(NonNull<H>) -> NonNull<()>,
}

/// The per-type vtables, as promoted constants.
pub(crate) struct VTableFor<H, T>(PhantomData<(H, T)>);

impl<H: Object, T: Trace + 'static> VTableFor<H, T> {
    pub(crate) const VTABLE: &'static VTable<H> = &VTable {
        trace: trace_value::<H, T>,
        drop_in_place: drop_in_place::<H, T>,
        layout: Layout::new::<GcBox<H, T>>(),
        free: None,
        type_name: std::any::type_name::<T>,
        type_id: TypeId::of::<T>,
        value: value_of::<H, T>,
    };

    /// The vtable of a value made by `Gc::pin`: the type's, but with a type id no
    /// `AnyGc::downcast` asks for, so that the heap's view (which hands out `AnyGc`s) never
    /// makes an unpinned `Gc` to a pinned value (which `try_unwrap` could move out).
    pub(crate) const PINNED: &'static VTable<H> = &VTable {
        type_id: TypeId::of::<Pinned<T>>,
        ..*Self::VTABLE
    };
}

/// The type id of a pinned `T`'s vtable ([`VTableFor::PINNED`]): private, so no downcast
/// names it.
struct Pinned<T>(PhantomData<T>);

/// # Safety
/// `header` is the header of a live `GcBox<H, T>` (the value may be dropped: only its address
/// is computed).
unsafe fn value_of<H, T>(header: NonNull<H>) -> NonNull<()> {
    // SAFETY: by the caller's contract the allocation is live; no reference is created.
    unsafe {
        NonNull::new_unchecked(
            ptr::addr_of_mut!((*header.cast::<GcBox<H, T>>().as_ptr()).value).cast(),
        )
    }
}

impl<H> VTable<H> {
    /// Frees the allocation whose header is `header`.
    ///
    /// # Safety
    /// `header` is the header of an allocation made with this vtable whose last unit of the
    /// weak count is gone; nothing uses it afterwards.
    #[inline(always)]
    pub(crate) unsafe fn free(&self, header: NonNull<H>) {
        match self.free {
            // SAFETY: by the caller's contract: a sized allocation starts at its header and
            // has the type's layout.
            None => unsafe { std::alloc::dealloc(header.as_ptr().cast::<u8>(), self.layout) },
            // SAFETY: by the caller's contract.
            Some(free) => unsafe { free(header) },
        }
    }
}

/// # Safety
/// `header` must be the header of a live `GcBox<H, T>` whose value has not been dropped, and
/// nothing but `Trace` impls may run while the tracer holds what it was handed.
unsafe fn trace_value<H, T: Trace>(header: NonNull<H>, tracer: &mut Tracer) {
    // SAFETY: by the caller's contract the value is alive; a shared reference is all `trace`
    // gets, and user code may only have shared references to it too.
    let value = unsafe { &(*header.cast::<GcBox<H, T>>().as_ptr()).value };
    // SAFETY: by the caller's contract.
    unsafe { tracer.trace_value(value) };
}

/// # Safety
/// `header` must be the header of a live `GcBox<H, T>` whose value has not been dropped, and
/// nothing may use the value afterwards.
unsafe fn drop_in_place<H, T>(header: NonNull<H>) {
    // SAFETY: by the caller's contract the value is alive and dropped exactly once here.
    unsafe {
        ptr::drop_in_place(ptr::addr_of_mut!(
            (*header.cast::<GcBox<H, T>>().as_ptr()).value
        ))
    }
}

/// Drops the value behind `header` with `drop`, then finishes it with
/// [`Object::value_dropped`] — also when the value's `Drop` panics (the drop glue still drops
/// every field), so a panicking destructor cannot leak its header.
///
/// This is the one path that drops a value: the release of a last strong reference, the
/// release loop's pending list and the collector's destroy phase all come here.
///
/// # Safety
/// The header is live and not in a scan, its value is alive, and the caller owns its drop:
/// `drop` must drop it exactly once. Either its strong count is zero and the caller holds
/// the implicit hold (a release), or the collector has claimed it (`DEAD`), when the hold
/// stays with the strong references while any are left.
#[inline(always)]
pub(crate) unsafe fn drop_value<H: Object>(header: NonNull<H>, drop: impl FnOnce()) {
    /// Finishes the value after its drop, also while a panic from the drop unwinds.
    struct Dropped<H: Object>(NonNull<H>);
    impl<H: Object> Drop for Dropped<H> {
        #[inline]
        fn drop(&mut self) {
            // SAFETY: the caller of `drop_value` owned the drop that just ended.
            unsafe { H::value_dropped(self.0) }
        }
    }
    let _dropped = Dropped(header);
    drop();
}
