//! The three-word header in front of every `unsync::Gc` allocation.
//!
//! ```text
//! GcBox<T>  (#[repr(C)]: the header is at offset 0, so a `*GcBox<T>` is also a `*Header`)
//! ┌──────────────────────────────────────────────────────┬──────────┬──────────────────────────────┬───────┐
//! │ weak_flags = registry slot << 32 | weak << 5 | flags │ strong   │ slot: &VTable, or scan index │ value │
//! └──────────────────────────────────────────────────────┴──────────┴──────────────────────────────┴───────┘
//! ```
//!
//! Three words on a 64-bit target; on a 32-bit one, 16 bytes (`weak_flags` is 64 bits on
//! every target, and comes first so that it needs no padding where it is 8-aligned).
//!
//! * `strong` is a plain count, so clone is `Rc`'s clone to the instruction (increment, abort
//!   on overflow) and drop is `Rc`'s decrement plus one test of the flags when the count stays
//!   above zero.
//! * `weak_flags` packs the five flags (`BUFFERED`, `UNTRACKED`, `DEAD`, `DROPPED`,
//!   `WITHDRAWN`, defined in `cycle`) under the weak count, which counts `Weak` handles plus
//!   *holds*: one implicit hold while strong references exist or the value waits in the
//!   release loop (std's "strong references collectively own one weak"), one while the header
//!   has an entry in the root buffer, one while the collector destroys it. The header is freed
//!   exactly when the weak count reaches zero: one rule, in [`Header::release_hold`]. The
//!   high 32 bits hold the object's number in the thread's registry (`registry.rs`), or
//!   zero, which no object's number is, for "not listed"; `weak_flags` is a `u64` on every
//!   target.
//! * `slot` normally points to the type's [`VTable`]. During a collection's snapshot it holds
//!   the object's index in the scan instead (tagged with the low bit; a vtable is
//!   word-aligned), which maps a header to its scan node in O(1) without a hash map. Nothing
//!   but the collector reads `slot` while it is tagged (see `cycle/scan.rs`).

use std::cell::Cell;
use std::ptr::{self, NonNull};

use crate::cycle::registry::Numbered;
use crate::cycle::{
    self, Flavour, Object, VTable, BUFFERED, DEAD, IN_BUFFER, UNTRACKED, WITHDRAWN,
};
use crate::unsync::local;

const FLAG_BITS: u32 = 5;
const FLAGS: u64 = (1 << FLAG_BITS) - 1;
/// One unit of the weak count, in `weak_flags`.
const ONE_WEAK: u64 = 1 << FLAG_BITS;
/// The weak count's bits in `weak_flags`: 27 of them, up to the registry slot.
const WEAK: u64 = (1 << REGISTRY_SHIFT) - ONE_WEAK;
/// Where the registry slot starts in `weak_flags`: the high 32 bits.
const REGISTRY_SHIFT: u32 = 32;
/// The registry slot bits of `weak_flags`.
const REGISTRY: u64 = !((1 << REGISTRY_SHIFT) - 1);

/// An `unsync::Gc` allocation: header, then value.
pub(crate) type GcBox<T> = cycle::GcBox<Header, T>;

/// The header of a `Gc` allocation. See the module docs for the layout.
///
/// The 64-bit word comes first so that a 32-bit target that aligns it to 8 bytes needs no
/// padding: 16 bytes there, 24 on a 64-bit target.
#[repr(C)]
pub(crate) struct Header {
    weak_flags: Cell<u64>,
    strong: Cell<usize>,
    slot: Cell<*const VTable<Header>>,
}

impl Header {
    /// A header for a fresh allocation with `strong` strong references (0 for `new_cyclic`,
    /// which sets it later) and the implicit hold, listed in the registry as `number` (for
    /// a tracked object: [`local::register`] gave it).
    #[inline]
    pub(crate) fn new(
        vtable: &'static VTable<Header>,
        tracked: bool,
        strong: usize,
        number: Option<usize>,
    ) -> Header {
        Header {
            weak_flags: Cell::new(
                ONE_WEAK | if tracked { 0 } else { UNTRACKED as u64 } | stored_number(number),
            ),
            strong: Cell::new(strong),
            slot: Cell::new(vtable),
        }
    }

    /// All the flags, to test several at once.
    #[inline(always)]
    pub(crate) fn flags(&self) -> usize {
        (self.weak_flags.get() & FLAGS) as usize
    }

    /// Sets the strong count.
    ///
    /// # Safety
    /// The count must become the number of `Gc`s to this allocation: from 0 to 1 when
    /// `new_cyclic` has written the value, to 0 when `try_unwrap` has moved it out (the
    /// caller then owns the implicit hold).
    pub(crate) unsafe fn set_strong(&self, strong: usize) {
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
    ///
    /// # Safety
    /// The caller gives up a strong reference it owns (a `Gc` being dropped), and deals with
    /// the count it returns as `Drop for Gc` does.
    #[inline(always)]
    pub(crate) unsafe fn dec_strong(&self) -> usize {
        let strong = self.strong.get() - 1;
        self.strong.set(strong);
        strong
    }

    fn weak(&self) -> usize {
        ((self.weak_flags.get() & WEAK) >> FLAG_BITS) as usize
    }

    /// Gives a fresh object the vtable `vtable` (`Gc::pin`'s, for its type).
    ///
    /// # Safety
    /// The object is fresh: not in a scan, and no `AnyGc` or other handle to it exists
    /// besides the caller's; `vtable` describes the same type as the one it replaces.
    pub(crate) unsafe fn set_vtable(&self, vtable: &'static VTable<Header>) {
        self.slot.set(vtable);
    }

    /// Takes the object out of the thread's registry, if it is listed: for `Gc::get_mut` (and
    /// `make_mut`), whose `&mut` a handle from the heap's view would alias.
    #[inline]
    pub(crate) fn unlist(&self) {
        let weak_flags = self.weak_flags.get();
        if weak_flags & REGISTRY != 0 {
            let number = (weak_flags >> REGISTRY_SHIFT) as usize;
            local::unlist(number, self.has(IN_BUFFER));
            self.weak_flags.set(weak_flags & !REGISTRY);
        }
    }

    /// The number of `Weak` handles: the weak count without the holds.
    pub(crate) fn weak_handles(&self) -> usize {
        let implicit = usize::from(self.strong() > 0);
        let buffered = usize::from(self.has(IN_BUFFER));
        self.weak() - implicit - buffered
    }

    /// Adds a `Weak` handle or a hold; aborts when the weak count's 27 bits are full (about
    /// 134 million `Weak`s to one object), as `Rc` aborts when its count overflows.
    #[inline]
    pub(crate) fn take_hold(&self) {
        let weak_flags = self.weak_flags.get();
        if weak_flags & WEAK == WEAK {
            count_overflow();
        }
        self.weak_flags.set(weak_flags + ONE_WEAK);
    }
}

impl Numbered for Header {
    /// Records the object's number in the thread's registry (`registry.rs`).
    #[inline(always)]
    unsafe fn set_registry_number(&self, number: Option<usize>) {
        let weak_flags = self.weak_flags.get() & !REGISTRY;
        self.weak_flags.set(weak_flags | stored_number(number));
    }
}

// SAFETY: each method does what the trait says; `release_hold` frees through the vtable the
// header was created with (`VTable::free`), exactly when the last unit of `weak` goes.
unsafe impl Object for Header {
    const FLAVOUR: Flavour = Flavour::Unsync;
    const CONCURRENT: bool = false;
    /// The vtable, whose slot holds the scan index while the object is in the scan.
    type Saved = &'static VTable<Header>;

    #[inline(always)]
    fn strong(&self) -> usize {
        self.strong.get()
    }

    #[inline(always)]
    fn has(&self, flags: usize) -> bool {
        self.weak_flags.get() & flags as u64 != 0
    }

    #[inline]
    unsafe fn set_flag(&self, flag: usize) {
        self.weak_flags.set(self.weak_flags.get() | flag as u64);
    }

    #[inline]
    unsafe fn clear_flag(&self, flag: usize) {
        self.weak_flags.set(self.weak_flags.get() & !(flag as u64));
    }

    /// The number in the thread's registry, or 0 if not listed.
    #[inline(always)]
    fn registry_key(&self) -> usize {
        (self.weak_flags.get() >> REGISTRY_SHIFT) as usize
    }

    #[inline]
    fn new_header(vtable: &'static VTable<Header>, tracked: bool, strong: usize) -> Header {
        Header::new(vtable, tracked, strong, None)
    }

    fn take_hold(&self) {
        Header::take_hold(self);
    }

    unsafe fn make_root(&self) -> bool {
        if self.has(WITHDRAWN) {
            // SAFETY: the entry and its unit stay; only its kind changes, as a decrement
            // would change it.
            unsafe {
                self.clear_flag(WITHDRAWN);
                self.set_flag(BUFFERED);
            }
            false
        } else if self.has(BUFFERED) {
            false
        } else {
            // SAFETY: the entry's flag and its unit of the weak count are taken together and
            // handed to the caller.
            unsafe { self.set_flag(BUFFERED) };
            self.take_hold();
            true
        }
    }

    #[inline]
    unsafe fn placed(this: NonNull<Header>) {
        // SAFETY: a fresh header (the caller's contract).
        let header = unsafe { this.as_ref() };
        if !header.has(UNTRACKED) {
            // SAFETY: the number the registry gave, below `u32::MAX`.
            unsafe { header.set_registry_number(local::register(this)) };
        }
    }

    #[inline]
    unsafe fn release_hold(this: NonNull<Header>) {
        // SAFETY: the caller guarantees the header is alive.
        let header = unsafe { this.as_ref() };
        let weak_flags = header.weak_flags.get() - ONE_WEAK;
        header.weak_flags.set(weak_flags);
        if weak_flags & WEAK == 0 {
            debug_assert_eq!(header.strong(), 0);
            if weak_flags & REGISTRY != 0 {
                local::unregister((weak_flags >> REGISTRY_SHIFT) as usize);
            }
            // SAFETY: not in a scan: the last unit of a header in a scan is never given back
            // (the caller's contract).
            let vtable = unsafe { header.vtable() };
            // SAFETY: the last unit is gone: no handle, buffer entry or collector refers to the
            // allocation any more, and it was allocated with this vtable.
            unsafe { vtable.free(this) }
        }
    }

    #[inline]
    unsafe fn vtable(&self) -> &'static VTable<Header> {
        let slot = self.slot.get();
        debug_assert!(slot.addr() & 1 == 0, "vtable read during a scan");
        // SAFETY: not in a scan (the caller's contract), so `slot` holds the
        // `&'static VTable` the header was created with.
        unsafe { &*slot }
    }

    fn scan_index(&self) -> Option<usize> {
        let addr = self.slot.get().addr();
        (addr & 1 == 1).then_some(addr >> 1)
    }

    /// Nothing changes between the checks and the flag writes: one thread. A root cannot be
    /// in the scan yet: every root enters before anything is traced, and each once.
    #[inline]
    unsafe fn enter_root(&self, index: usize) -> Option<(usize, Self::Saved)> {
        debug_assert!(self.scan_index().is_none(), "a root listed twice");
        let wanted = self.flags() & (BUFFERED | DEAD) == BUFFERED && self.strong() > 0;
        // SAFETY: the caller took the entry out of the buffer.
        unsafe { self.clear_flag(IN_BUFFER) };
        if wanted {
            // SAFETY: a live root: tracked (buffered), with strong references.
            unsafe { self.enter_scan(index) }
        } else {
            None
        }
    }

    /// Stores the index in the vtable slot and marks the object tentatively `DEAD`: most
    /// scanned objects are garbage, and this way a garbage header is written only here and
    /// when it is destroyed. Never refuses.
    #[inline]
    unsafe fn enter_scan(&self, index: usize) -> Option<(usize, Self::Saved)> {
        // SAFETY: not in a scan yet.
        let vtable = unsafe { self.vtable() };
        self.slot.set(ptr::without_provenance((index << 1) | 1));
        // SAFETY: a tentative `DEAD` hands no drop or hold to anyone: the last drop of a
        // tentatively dead object is released as usual (`dead_released` in `gc.rs`).
        unsafe { self.set_flag(DEAD) };
        Some((self.strong(), vtable))
    }

    #[inline(always)]
    unsafe fn scanned_vtable(&self, saved: Self::Saved) -> &'static VTable<Header> {
        saved
    }

    /// Never reports a hand-over: a last release during a collection on this thread goes to
    /// the release loop's pending list.
    #[inline]
    unsafe fn revive(&self, vtable: &'static VTable<Header>) -> bool {
        self.slot.set(vtable);
        // SAFETY: the `DEAD` was tentative, set by `enter_scan`.
        unsafe { self.clear_flag(DEAD) };
        false
    }

    #[inline]
    unsafe fn leave_scan(&self, vtable: &'static VTable<Header>) {
        self.slot.set(vtable);
    }
}

/// A registry number as `weak_flags` stores it: in the high 32 bits (zero: not listed). The
/// registry hands out numbers from 1 to below `u32::MAX`.
#[inline(always)]
fn stored_number(number: Option<usize>) -> u64 {
    number.map_or(0, |number| {
        debug_assert!(number != 0 && number < u32::MAX as usize);
        (number as u64) << REGISTRY_SHIFT
    })
}

#[cold]
#[inline(never)]
fn count_overflow() -> ! {
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three words on a 64-bit target; on a 32-bit one the weak word stays 64 bits (it
    /// holds the registry number beside the count), so 16 bytes, with no padding also where
    /// a `u64` is 8-aligned (32-bit ARM, PowerPC, MIPS).
    #[test]
    fn header_is_three_words_on_64_bit_targets_and_16_bytes_on_32_bit_ones() {
        let size = if cfg!(target_pointer_width = "64") {
            24
        } else {
            16
        };
        assert_eq!(std::mem::size_of::<Header>(), size);
        assert_eq!(std::mem::offset_of!(GcBox<u64>, value), size);
    }
}
