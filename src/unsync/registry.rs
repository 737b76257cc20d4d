//! [`Registry`]: every tracked object of a thread's heap, for the heap's view of itself
//! (`gc.get_objects()`, `get_referrers()`), in the order they were allocated.
//!
//! It costs one word per tracked object: the table's slot. Each object's *number* — its
//! position in the table plus the table's `offset` — lives in the spare high bits of its
//! header's `weak_flags` word (`header.rs`), so the header stays three words and leaving is
//! O(1): the slot becomes a hole. When the table is full and holes make up half of it, it is
//! tidied instead of grown, keeping the order: holes at the front are dropped by moving the table down and raising `offset`
//! (the numbers stay valid, no header is written), holes at the back by truncating, and only
//! holes in the middle make it renumber the objects after them (paid for by the objects that
//! left). Freeing in allocation order, or in reverse, therefore never writes a header.
//! Untracked objects are never listed, as in CPython.

use std::cell::{Cell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use crate::unsync::header::Header;

/// One past the largest object number: numbers are stored in 32 bits, plus one (see
/// `Header`).
const NUMBERS: usize = u32::MAX as usize - 1;

/// Below this many holes the table is never tidied: tidying a small table costs more than
/// the holes.
const MIN_HOLES_TO_TIDY: usize = 32;

/// The tracked objects of one thread, oldest first.
///
/// Its methods take `&self` and reach the table through an `UnsafeCell`: they run on the
/// thread that owns the registry (it lives in a thread-local), none of them runs user code
/// or calls another while it has the table, so no two accesses overlap. (A `RefCell`'s
/// borrow flag cost a tenth of an allocation's instructions here.)
pub(crate) struct Registry {
    /// One slot per tracked object whose allocation is live; `None` where one has left.
    /// `ManuallyDrop`, like the collector's other fields, so that the collector needs no
    /// destructor; [`Registry::close`] frees it.
    slots: UnsafeCell<ManuallyDrop<Vec<Option<NonNull<Header>>>>>,
    /// The number of the object in the first slot.
    offset: Cell<usize>,
    /// How many slots are `None`.
    holes: Cell<usize>,
    /// The thread's last exit hook has run: nothing is listed any more.
    closed: Cell<bool>,
    /// How many slots the allocation path may fill: the table's capacity, but no more than
    /// the numbers left after `offset` (so that every number it hands out fits), and none
    /// once closed. The one thing that path checks.
    room: Cell<usize>,
}

impl Registry {
    pub(crate) const fn new() -> Registry {
        Registry {
            slots: UnsafeCell::new(ManuallyDrop::new(Vec::new())),
            offset: Cell::new(0),
            holes: Cell::new(0),
            closed: Cell::new(false),
            room: Cell::new(0),
        }
    }

    /// The table, for the length of one method that runs no user code.
    ///
    /// # Safety
    /// No other reference to the table is live while the returned one is (see the type's
    /// docs).
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    unsafe fn slots(&self) -> &mut Vec<Option<NonNull<Header>>> {
        // SAFETY: by the caller's contract.
        unsafe { &mut *self.slots.get() }
    }

    /// Lists a tracked object whose header is about to be written at `header`, and returns
    /// its number, for the header; `None` if the table is full: then the caller makes sure
    /// the table's memory will be freed (an exit hook) and calls [`Registry::enter_slowly`].
    #[inline(always)]
    pub(crate) fn enter(&self, header: NonNull<Header>) -> Option<usize> {
        // SAFETY: the only access to the table for the length of this call.
        let slots = unsafe { self.slots() };
        let len = slots.len();
        if len >= self.room.get() {
            return None;
        }
        // SAFETY: there is room for one more slot (checked above), written before the length
        // covers it.
        unsafe {
            slots.as_mut_ptr().add(len).write(Some(header));
            slots.set_len(len + 1);
        }
        Some(self.offset.get() + len)
    }

    /// [`Registry::enter`] when the table is full: makes room (tidying or growing it, or
    /// renumbering when the numbers ran out). `None` if the registry is closed.
    ///
    /// # Panics
    /// If the thread has `u32::MAX - 1` tracked objects at once.
    #[cold]
    #[inline(never)]
    pub(crate) fn enter_slowly(&self, header: NonNull<Header>) -> Option<usize> {
        if self.closed.get() {
            return None;
        }
        // A full table is tidied rather than grown when half of it is holes (which costs
        // no more than growing it, and amortises over the frees that made the holes).
        self.tidy_if_holey();
        // SAFETY: the only access to the table until `renumber` below, which takes its own.
        let len = unsafe { self.slots() }.len();
        if self.offset.get() + len >= NUMBERS {
            // Number everything again from zero.
            self.renumber(0);
        }
        // SAFETY: the only access to the table for the rest of this call.
        let slots = unsafe { self.slots() };
        if slots.len() >= NUMBERS {
            panic!("cyclegc: more than {NUMBERS} tracked objects on one thread");
        }
        if slots.len() == self.room.get() {
            slots.reserve(1);
        }
        self.set_room(slots.capacity());
        let number = self.offset.get() + slots.len();
        slots.push(Some(header));
        Some(number)
    }

    /// Recomputes [`Registry::room`] after the table's capacity or offset changed. Takes
    /// the table: no other reference to it may be used afterwards.
    fn update_room(&self) {
        // SAFETY: the only access to the table for the length of this call.
        let capacity = unsafe { self.slots() }.capacity();
        self.set_room(capacity);
    }

    /// Sets [`Registry::room`] for a table of `capacity` slots.
    fn set_room(&self, capacity: usize) {
        let room = if self.closed.get() {
            0
        } else {
            capacity.min(NUMBERS - self.offset.get())
        };
        self.room.set(room);
    }

    /// Tidies the table if half of it is holes: when it is full, and after a collection
    /// (so that a heap that shrank gives back the table's memory).
    pub(crate) fn tidy_if_holey(&self) {
        // SAFETY: the only access to the table for the length of this call.
        let len = unsafe { self.slots() }.len();
        if self.holes.get() >= MIN_HOLES_TO_TIDY && self.holes.get() * 2 >= len {
            self.tidy();
            // SAFETY: as above.
            let slots = unsafe { self.slots() };
            if slots.capacity() > 4 * slots.len().max(16) {
                slots.shrink_to(2 * slots.len());
            }
            self.update_room();
        }
    }

    /// Removes the object numbered `number` as its allocation is freed.
    #[inline]
    pub(crate) fn leave(&self, number: usize) {
        // SAFETY: the only access to the table for the length of this call. A listed
        // object's number is inside the table (`close` unlists every object before it frees
        // the table, and tidying tells every object whose number it changes).
        let slots = unsafe { self.slots() };
        let slot = number - self.offset.get();
        debug_assert!(slots[slot].is_some(), "a registry slot left twice");
        // SAFETY: a listed object's number is inside the table (above).
        unsafe { *slots.get_unchecked_mut(slot) = None };
        // The holes are tidied when the table is next full (`enter_slowly`).
        self.holes.set(self.holes.get() + 1);
    }

    /// Removes the holes, keeping the order: those at either end without renumbering
    /// anything, those in the middle by renumbering the objects after the first of them.
    #[cold]
    #[inline(never)]
    fn tidy(&self) {
        // SAFETY: the only access to the table for the length of this call.
        let slots = unsafe { self.slots() };
        let front = slots.iter().take_while(|slot| slot.is_none()).count();
        slots.drain(..front);
        self.offset.set(self.offset.get() + front);
        let mut back = 0;
        while slots.last().is_some_and(Option::is_none) {
            slots.pop();
            back += 1;
        }
        let left = self.holes.get() - front - back;
        self.holes.set(left);
        if left >= MIN_HOLES_TO_TIDY && left * 2 >= slots.len() {
            self.renumber(self.offset.get());
        }
        self.update_room();
    }

    /// Closes every hole, numbering the objects from `offset` on in order (and telling each
    /// whose number changes).
    fn renumber(&self, offset: usize) {
        // SAFETY: the only access to the table for the length of this call (headers are
        // written, not the registry).
        let slots = unsafe { self.slots() };
        let moved_offset = offset != self.offset.get();
        let mut kept = 0;
        for slot in 0..slots.len() {
            if let Some(header) = slots[slot] {
                if kept != slot || moved_offset {
                    slots[kept] = Some(header);
                    // SAFETY: a listed header's allocation is live (it leaves the registry
                    // when freed); `offset + kept` is below the old number, or counts from
                    // zero, so below `NUMBERS`.
                    unsafe { header.as_ref().set_registry_number(Some(offset + kept)) };
                }
                kept += 1;
            }
        }
        slots.truncate(kept);
        self.offset.set(offset);
        self.holes.set(0);
        self.update_room();
    }

    /// Calls `f` on each listed object, oldest first. `f` must not run user code (it may
    /// read headers and take strong references).
    pub(crate) fn for_each(&self, mut f: impl FnMut(NonNull<Header>)) {
        // SAFETY: `f` runs no user code, so nothing else reaches the table meanwhile.
        let slots = unsafe { self.slots() };
        for header in slots.iter().flatten() {
            f(*header);
        }
    }

    /// Whether the thread's last exit hook has closed the registry.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// The number of the oldest listed object (or where the next one will be).
    pub(crate) fn first_number(&self) -> usize {
        self.offset.get()
    }

    /// The object numbered `number` (`None` past the last, `Some(None)` for one that has
    /// left, or before the first): for walks that let user code run between two steps
    /// (which may tidy the table: such a walk may then miss an object or see one twice).
    pub(crate) fn get(&self, number: usize) -> Option<Option<NonNull<Header>>> {
        // SAFETY: the only access to the table for the length of this call.
        let slots = unsafe { self.slots() };
        match number.checked_sub(self.offset.get()) {
            None => Some(None),
            Some(slot) => slots.get(slot).copied(),
        }
    }

    /// The thread's last exit hook is over: unlists every object and frees the table.
    /// Objects that outlive it (held by a later thread-local destructor) are no longer
    /// listed, and no new one is.
    pub(crate) fn close(&self) {
        // SAFETY: the only access to the table for the length of this call.
        let slots = unsafe { self.slots() };
        for header in slots.iter().flatten() {
            // SAFETY: listed, so the allocation is live.
            unsafe { header.as_ref().set_registry_number(None) };
        }
        drop(std::mem::take(slots));
        self.holes.set(0);
        self.closed.set(true);
        self.room.set(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cycle::VTableFor;

    /// Headers outside any allocation the collector knows, for the registry alone.
    fn headers(n: usize) -> Vec<NonNull<Header>> {
        (0..n)
            .map(|_| {
                let header = Header::new(VTableFor::<Header, u8>::VTABLE, true, 1, None);
                NonNull::from(Box::leak(Box::new(header)))
            })
            .collect()
    }

    fn enter(registry: &Registry, header: NonNull<Header>) -> usize {
        let number = registry
            .enter(header)
            .or_else(|| registry.enter_slowly(header))
            .unwrap();
        // SAFETY: a live header; the registry's number fits.
        unsafe { header.as_ref().set_registry_number(Some(number)) };
        number
    }

    #[test]
    fn numbers_that_run_out_start_again_from_zero() {
        let all = headers(3);
        let registry = Registry::new();
        // As after some four billion objects freed oldest first.
        registry.offset.set(NUMBERS - 2);
        let numbers: Vec<usize> = all.iter().map(|&h| enter(&registry, h)).collect();
        // The third found no number left: all were renumbered from zero, the first two
        // becoming 0 and 1.
        assert_eq!(numbers, [NUMBERS - 2, NUMBERS - 1, 2]);
        let mut listed = Vec::new();
        registry.for_each(|h| listed.push(h));
        assert_eq!(listed, all);
        // The first two leave at their new numbers.
        registry.leave(0);
        registry.leave(1);
        registry.leave(2);
        registry.close();
        for header in all {
            // SAFETY: leaked above, listed no more.
            drop(unsafe { Box::from_raw(header.as_ptr()) });
        }
    }
}
