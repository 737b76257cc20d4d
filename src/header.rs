//! The three-word header in front of every `Gc` allocation, and the per-type vtable it points to.
//!
//! ```text
//! GcBox<T>  (#[repr(C)]: the header is at offset 0, so a `*GcBox<T>` is also a `*Header`)
//! ┌──────────────┬─────────────────────────────────────┬──────────────────────────────┬───────┐
//! │ strong       │ weak_flags = weak << 4 | flags      │ slot: &VTable, or scan index │ value │
//! └──────────────┴─────────────────────────────────────┴──────────────────────────────┴───────┘
//! ```
//!
//! * `strong` is a plain count, so clone is `Rc`'s clone to the instruction (increment, abort
//!   on overflow) and drop is `Rc`'s decrement plus one test of the flags when the count stays
//!   above zero.
//! * `weak_flags` packs the five flags (`BUFFERED`, `UNTRACKED`, `DEAD`, `DROPPED`,
//!   `WITHDRAWN`) under the weak count, which counts `Weak` handles plus *holds*: one implicit hold while strong
//!   references exist or the value waits in the release loop (std's "strong references
//!   collectively own one weak"), one while the header sits in the root buffer, one while the
//!   collector destroys it. The header is freed exactly when the weak count reaches zero: one
//!   rule, in [`Header::release_hold`].
//! * `slot` normally points to the type's [`VTable`]. During the detection phase of a
//!   collection it holds the object's index in the scan instead (tagged with the low bit; a
//!   vtable is word-aligned), which maps a header to its scan node in O(1) without a hash map.
//!   Nothing but the collector reads `slot` while it is tagged (see `collect.rs`).

use std::alloc::{dealloc, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};

use crate::trace::{Trace, Tracer};

/// The object sits in the root buffer as a possible root (and the buffer holds one unit of
/// `weak`).
pub(crate) const BUFFERED: usize = 1;
/// The type can never own a `Gc` ([`Trace::may_contain_gc`] is false): never buffered or traced.
pub(crate) const UNTRACKED: usize = 2;
/// The cycle collector has claimed the object: its value is being or has been dropped.
/// `Weak::upgrade` fails and dereferencing panics from the moment this is set.
pub(crate) const DEAD: usize = 4;
/// The collector has dropped the value of a `DEAD` object. Whichever comes last — this, or
/// the last strong reference going — gives back the implicit hold.
pub(crate) const DROPPED: usize = 8;
/// The object's root-buffer entry was withdrawn by `Gc::get_mut`, which hands out `&mut` to
/// the value: the entry still holds its unit of `weak`, but the collector skips it, so no
/// collection reaches the value through the buffer while the `&mut` may live (DESIGN.md
/// §2.7). The next drop that would buffer the object turns the entry back into a root
/// (`BUFFERED`) instead of adding another. `BUFFERED` and `WITHDRAWN` are never both set.
pub(crate) const WITHDRAWN: usize = 16;
/// The object has an entry in the root buffer, live or withdrawn.
pub(crate) const IN_BUFFER: usize = BUFFERED | WITHDRAWN;
const FLAG_BITS: u32 = 5;
const FLAGS: usize = (1 << FLAG_BITS) - 1;
/// One unit of the weak count, in `weak_flags`.
const ONE_WEAK: usize = 1 << FLAG_BITS;

/// What the collector needs to know about a type it only sees through a header.
pub(crate) struct VTable {
    /// Reports the edges of the value behind the header.
    pub(crate) trace: unsafe fn(NonNull<Header>, &mut Tracer),
    /// Drops the value behind the header in place (the header stays).
    pub(crate) drop_value: unsafe fn(NonNull<Header>),
    /// The layout of the whole allocation, header included.
    pub(crate) layout: Layout,
    /// The value's type, for messages (and, later, per-type counts). A function because
    /// `type_name` is not `const` on stable.
    pub(crate) type_name: fn() -> &'static str,
}

/// The per-type vtables, as promoted constants.
pub(crate) struct VTableFor<T>(std::marker::PhantomData<T>);

impl<T: Trace> VTableFor<T> {
    pub(crate) const VTABLE: &'static VTable = &VTable {
        trace: trace_value::<T>,
        drop_value: drop_value::<T>,
        layout: Layout::new::<GcBox<T>>(),
        type_name: std::any::type_name::<T>,
    };
}

/// # Safety
/// `header` must be the header of a live `GcBox<T>` whose value has not been dropped.
unsafe fn trace_value<T: Trace>(header: NonNull<Header>, tracer: &mut Tracer) {
    // SAFETY: by the caller's contract the value is alive; a shared reference is all `trace`
    // gets, and user code may only have shared references to it too.
    let value = unsafe { &(*header.cast::<GcBox<T>>().as_ptr()).value };
    // SAFETY: the collector holds the value alive for the call, and runs no user code but
    // `Trace` impls meanwhile.
    unsafe { tracer.trace_value(value) };
}

/// # Safety
/// `header` must be the header of a live `GcBox<T>` whose value has not been dropped, and
/// nothing may use the value afterwards.
unsafe fn drop_value<T: Trace>(header: NonNull<Header>) {
    // SAFETY: by the caller's contract the value is alive and dropped exactly once here.
    unsafe {
        ptr::drop_in_place(ptr::addr_of_mut!(
            (*header.cast::<GcBox<T>>().as_ptr()).value
        ))
    }
}

/// The header of a `Gc` allocation. See the module docs for the layout.
#[repr(C)]
pub(crate) struct Header {
    strong: Cell<usize>,
    weak_flags: Cell<usize>,
    slot: Cell<*const VTable>,
}

/// A `Gc` allocation: header, then value. `#[repr(C)]` so the header is at offset 0 and a
/// pointer to the box can be used as a pointer to the header, whatever `T` is.
#[repr(C)]
pub(crate) struct GcBox<T: ?Sized> {
    pub(crate) header: Header,
    pub(crate) value: T,
}

impl Header {
    /// A header for a fresh allocation with `strong` strong references (0 for `new_cyclic`,
    /// which sets it later) and the implicit hold.
    #[inline]
    pub(crate) fn new(vtable: &'static VTable, tracked: bool, strong: usize) -> Header {
        Header {
            strong: Cell::new(strong),
            weak_flags: Cell::new(ONE_WEAK | if tracked { 0 } else { UNTRACKED }),
            slot: Cell::new(vtable),
        }
    }

    #[inline(always)]
    pub(crate) fn strong(&self) -> usize {
        self.strong.get()
    }

    /// All the flags, to test several at once.
    #[inline(always)]
    pub(crate) fn flags(&self) -> usize {
        self.weak_flags.get() & FLAGS
    }

    #[inline(always)]
    pub(crate) fn has(&self, flag: usize) -> bool {
        self.weak_flags.get() & flag != 0
    }

    #[inline]
    pub(crate) fn set_flag(&self, flag: usize) {
        self.weak_flags.set(self.weak_flags.get() | flag);
    }

    #[inline]
    pub(crate) fn clear_flag(&self, flag: usize) {
        self.weak_flags.set(self.weak_flags.get() & !flag);
    }

    /// Sets the strong count (for `new_cyclic` and `try_unwrap`).
    pub(crate) fn set_strong(&self, strong: usize) {
        self.strong.set(strong);
    }

    /// Adds a strong reference; aborts if the count would overflow, exactly like `Rc`.
    #[inline(always)]
    pub(crate) fn inc_strong(&self) {
        let strong = self.strong.get().wrapping_add(1);
        self.strong.set(strong);
        // Only `mem::forget` in a loop can get here; continuing would allow a use after free.
        if strong == 0 {
            count_overflow();
        }
    }

    /// Removes a strong reference and returns the new count.
    #[inline(always)]
    pub(crate) fn dec_strong(&self) -> usize {
        let strong = self.strong.get() - 1;
        self.strong.set(strong);
        strong
    }

    fn weak(&self) -> usize {
        self.weak_flags.get() >> FLAG_BITS
    }

    /// The number of `Weak` handles: the weak count without the holds.
    pub(crate) fn weak_handles(&self) -> usize {
        let implicit = usize::from(self.strong() > 0);
        let buffered = usize::from(self.has(IN_BUFFER));
        self.weak() - implicit - buffered
    }

    /// Adds a `Weak` handle or a hold; aborts on overflow, like `Rc`.
    #[inline]
    pub(crate) fn take_hold(&self) {
        let (weak_flags, overflow) = self.weak_flags.get().overflowing_add(ONE_WEAK);
        self.weak_flags.set(weak_flags);
        if overflow {
            count_overflow();
        }
    }

    /// Removes a `Weak` handle or a hold, and frees the allocation if that was the last one.
    ///
    /// # Safety
    /// `this` must point to a live header whose `slot` holds its vtable (not a scan index),
    /// and the caller must own the unit it gives back. If this frees the header, nothing may
    /// use `this` afterwards.
    #[inline]
    pub(crate) unsafe fn release_hold(this: NonNull<Header>) {
        // SAFETY: the caller guarantees the header is alive.
        let header = unsafe { this.as_ref() };
        let weak_flags = header.weak_flags.get() - ONE_WEAK;
        header.weak_flags.set(weak_flags);
        if weak_flags < ONE_WEAK {
            debug_assert_eq!(header.strong(), 0);
            let layout = header.vtable().layout;
            // SAFETY: the last unit is gone: no handle, buffer entry or collector refers to the
            // allocation any more, and it was allocated with this layout in `Gc::new`.
            unsafe { dealloc(this.as_ptr().cast::<u8>(), layout) }
        }
    }

    /// Drops the value behind `this` in place with `drop`, then gives back the hold the
    /// caller owns — also when the value's `Drop` panics (the drop glue still drops every
    /// field), so a panicking destructor cannot leak its header.
    ///
    /// # Safety
    /// As for [`Header::release_hold`]; `drop` must drop the value exactly once.
    #[inline(always)]
    pub(crate) unsafe fn drop_value_then_release(this: NonNull<Header>, drop: impl FnOnce()) {
        struct Release(NonNull<Header>);
        impl Drop for Release {
            #[inline]
            fn drop(&mut self) {
                // SAFETY: the caller of `drop_value_then_release` owns this unit.
                unsafe { Header::release_hold(self.0) }
            }
        }
        let _release = Release(this);
        drop();
    }

    /// The type's vtable.
    #[inline]
    pub(crate) fn vtable(&self) -> &'static VTable {
        let slot = self.slot.get();
        debug_assert!(slot.addr() & 1 == 0, "vtable read during a scan");
        // SAFETY: outside a scan, `slot` holds the `&'static VTable` it was created with.
        unsafe { &*slot }
    }

    /// The scan index stored in `slot`, if the collector is scanning this object.
    pub(crate) fn scan_index(&self) -> Option<usize> {
        let addr = self.slot.get().addr();
        (addr & 1 == 1).then_some(addr >> 1)
    }

    /// Replaces the vtable with a scan index (the caller has kept the vtable).
    pub(crate) fn enter_scan(&self, index: usize) {
        self.slot.set(ptr::without_provenance((index << 1) | 1));
    }

    /// Puts the vtable back after a scan.
    pub(crate) fn leave_scan(&self, vtable: *const VTable) {
        self.slot.set(vtable);
    }
}

#[cold]
#[inline(never)]
fn count_overflow() -> ! {
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_three_words() {
        assert_eq!(
            std::mem::size_of::<Header>(),
            3 * std::mem::size_of::<usize>()
        );
        assert_eq!(std::mem::offset_of!(GcBox<u64>, value), 24);
    }
}
