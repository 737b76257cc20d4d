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
//!
//! The order is also what makes the generations (ARCHITECTURE.md, "Generations"): every
//! collection of generation *n* promotes all of generations 0..=*n*, so each generation is a
//! range of numbers, `[frozen | 2 | 1 | 0]`, and the registry keeps where each begins
//! ([`Mark`]). Promoting, freezing and unfreezing move marks; an object's generation is a
//! comparison of its number with them. Tidying keeps the order, and moves the marks with the
//! numbers.

use std::cell::{Cell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use crate::cycle::Object;
use crate::unsync::header::Header;

/// One past the largest object number: numbers are stored in 32 bits, plus one (see
/// `Header`).
const NUMBERS: usize = u32::MAX as usize - 1;

/// Below this many holes the table is never tidied: tidying a small table costs more than
/// the holes.
const MIN_HOLES_TO_TIDY: usize = 32;

/// The marks of [`Registry::marks`]: where a range of object numbers begins. While the
/// registry is open, `Thawed <= Middle <= Young <= ` the next number; `Collecting` means
/// something only while a collection runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mark {
    /// The first number past the frozen objects: generation 2 begins here.
    Thawed = 0,
    /// The first number of generation 1.
    Middle = 1,
    /// The first number of generation 0: objects allocated since the last collection.
    Young = 2,
    /// The next number when the running collection began: what it promotes ends here.
    Collecting = 3,
}

/// The generation of a tracked object that is not listed (lent by `Gc::get_mut`, pinned, or
/// allocated after the registry closed): the oldest, which only a full collection examines
/// (unless it is a root: every collection examines its roots).
pub(crate) const UNLISTED_GENERATION: usize = 2;
/// The index of the frozen objects among the generations (`freeze()`): no collection
/// examines them.
pub(crate) const FROZEN: usize = 3;

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
    /// Where the generations begin, as numbers, indexed by [`Mark`].
    marks: [Cell<usize>; 4],
}

impl Registry {
    pub(crate) const fn new() -> Registry {
        Registry {
            slots: UnsafeCell::new(ManuallyDrop::new(Vec::new())),
            offset: Cell::new(0),
            holes: Cell::new(0),
            closed: Cell::new(false),
            room: Cell::new(0),
            marks: [Cell::new(0), Cell::new(0), Cell::new(0), Cell::new(0)],
        }
    }

    fn mark(&self, mark: Mark) -> usize {
        self.marks[mark as usize].get()
    }

    fn set_mark(&self, mark: Mark, number: usize) {
        self.marks[mark as usize].set(number);
    }

    /// The number the next listed object gets (past every listed one).
    fn end(&self) -> usize {
        // SAFETY: the only access to the table for the length of this call.
        self.offset.get() + unsafe { self.slots() }.len()
    }

    /// The generation of the object whose header stores `key` (`Header::registry_key`: its
    /// number plus one, 0 if not listed): 0 to 2, or [`FROZEN`].
    #[inline]
    pub(crate) fn generation(&self, key: usize) -> usize {
        let Some(number) = key.checked_sub(1) else {
            return UNLISTED_GENERATION;
        };
        if number >= self.mark(Mark::Young) {
            0
        } else if number >= self.mark(Mark::Middle) {
            1
        } else if number >= self.mark(Mark::Thawed) {
            2
        } else {
            FROZEN
        }
    }

    /// The first number of `generation` (0 to 2): a collection of it examines the numbers
    /// from there on.
    pub(crate) fn first_of(&self, generation: usize) -> usize {
        match generation {
            0 => self.mark(Mark::Young),
            1 => self.mark(Mark::Middle),
            _ => self.mark(Mark::Thawed),
        }
    }

    /// A collection begins: it will promote what is listed now.
    pub(crate) fn begin_collection(&self) {
        self.set_mark(Mark::Collecting, self.end());
    }

    /// A collection of `generation` is over: every object listed when it began that was in
    /// generations 0..=`generation` moves to the next one (or stays in 2), as in CPython.
    /// Objects allocated meanwhile (by `Drop` impls) stay young.
    pub(crate) fn promote(&self, generation: usize) {
        let promoted = self.mark(Mark::Collecting);
        // `max`: a `freeze()` during the collection may have moved the marks past it.
        self.set_mark(Mark::Young, self.mark(Mark::Young).max(promoted));
        if generation >= 1 {
            self.set_mark(Mark::Middle, self.mark(Mark::Middle).max(promoted));
        }
    }

    /// Moves every listed object into the frozen range (`freeze()`).
    pub(crate) fn freeze(&self) {
        let end = self.end();
        for mark in [Mark::Thawed, Mark::Middle, Mark::Young] {
            self.set_mark(mark, end);
        }
    }

    /// Moves the frozen objects into generation 2 (`unfreeze()`): the frozen range is the
    /// oldest, next to it.
    pub(crate) fn unfreeze(&self) {
        self.set_mark(Mark::Thawed, 0);
    }

    /// How many listed objects are frozen and alive (an object stays listed until its
    /// allocation is freed, which a `Weak` or a root-buffer entry may delay). O(frozen
    /// objects).
    pub(crate) fn frozen_count(&self) -> usize {
        let frozen = self.mark(Mark::Thawed).saturating_sub(self.offset.get());
        // SAFETY: the only access to the table for the length of this call.
        let slots = unsafe { self.slots() };
        slots[..frozen.min(slots.len())]
            .iter()
            .flatten()
            // SAFETY: a listed header's allocation is live.
            .filter(|header| unsafe { header.as_ref() }.strong() > 0)
            .count()
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
        self.clamp_marks(self.offset.get() + slots.len());
        let left = self.holes.get() - front - back;
        self.holes.set(left);
        if left >= MIN_HOLES_TO_TIDY && left * 2 >= slots.len() {
            self.renumber(self.offset.get());
        }
        self.update_room();
    }

    /// Keeps every mark at or below `end`, the next number, after the table lost its last
    /// slots. (Takes the number rather than the table: the caller holds the table.)
    fn clamp_marks(&self, end: usize) {
        for mark in &self.marks {
            mark.set(mark.get().min(end));
        }
    }

    /// Closes every hole, numbering the objects from `offset` on in order (and telling each
    /// whose number changes); each mark moves to the new number of the first object at or
    /// past it.
    fn renumber(&self, offset: usize) {
        // Each mark as a slot index (those below the table at 0, those past it at its end).
        let old_offset = self.offset.get();
        let mut mark_slots = [0; 4];
        for (mark, slot) in self.marks.iter().zip(&mut mark_slots) {
            *slot = mark.get().saturating_sub(old_offset);
        }
        // SAFETY: the only access to the table for the length of this call (headers are
        // written, not the registry).
        let slots = unsafe { self.slots() };
        let moved_offset = offset != old_offset;
        let mut kept = 0;
        for slot in 0..slots.len() {
            for (mark, &mark_slot) in self.marks.iter().zip(&mark_slots) {
                if mark_slot == slot {
                    mark.set(offset + kept);
                }
            }
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
        for (mark, &mark_slot) in self.marks.iter().zip(&mark_slots) {
            if mark_slot >= slots.len() {
                mark.set(offset + kept);
            }
        }
        slots.truncate(kept);
        self.offset.set(offset);
        self.holes.set(0);
        self.update_room();
    }

    /// Calls `f` on each listed object, oldest first. `f` must not run user code (it may
    /// read headers and take strong references).
    #[cfg(test)]
    pub(crate) fn for_each(&self, mut f: impl FnMut(NonNull<Header>)) {
        // SAFETY: `f` runs no user code, so nothing else reaches the table meanwhile.
        let slots = unsafe { self.slots() };
        for header in slots.iter().flatten() {
            f(*header);
        }
    }

    /// Calls `f` on each listed object of `generation` (0 to 2), oldest first, as
    /// [`Registry::for_each`] does.
    pub(crate) fn for_each_in(&self, generation: usize, mut f: impl FnMut(NonNull<Header>)) {
        let first = self.first_of(generation);
        let past = match generation {
            0 => usize::MAX,
            1 => self.mark(Mark::Young),
            _ => self.mark(Mark::Middle),
        };
        let offset = self.offset.get();
        // SAFETY: `f` runs no user code, so nothing else reaches the table meanwhile.
        let slots = unsafe { self.slots() };
        let start = first.saturating_sub(offset).min(slots.len());
        let end = past.saturating_sub(offset).min(slots.len());
        for header in slots[start..end.max(start)].iter().flatten() {
            f(*header);
        }
    }

    /// Whether the thread's last exit hook has closed the registry.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// The number of the oldest listed object that is not frozen (or where the next one will
    /// be).
    pub(crate) fn first_thawed(&self) -> usize {
        self.offset.get().max(self.mark(Mark::Thawed))
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
    use crate::cycle::{Object, VTableFor};

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

    /// The generation each header's number falls in.
    fn generations(registry: &Registry, all: &[NonNull<Header>]) -> Vec<usize> {
        all.iter()
            // SAFETY: leaked by `headers`, alive until the test frees them.
            .map(|h| registry.generation(unsafe { h.as_ref() }.registry_key()))
            .collect()
    }

    #[test]
    fn tidying_moves_the_generations_with_the_numbers() {
        let all = headers(200);
        let registry = Registry::new();
        let mut numbers: Vec<usize> = all[..100].iter().map(|&h| enter(&registry, h)).collect();
        // The first 100 become generation 2 (a full collection), the next 50 generation 1.
        registry.begin_collection();
        registry.promote(2);
        numbers.extend(all[100..150].iter().map(|&h| enter(&registry, h)));
        registry.begin_collection();
        registry.promote(0);
        numbers.extend(all[150..].iter().map(|&h| enter(&registry, h)));
        let expected: Vec<usize> = (0..200)
            .map(|i| match i {
                0..100 => 2,
                100..150 => 1,
                _ => 0,
            })
            .collect();
        assert_eq!(generations(&registry, &all), expected);
        // Holes in each generation, and all of generation 1's first 40 (a mark's own slot):
        // renumbering closes them, and every mark follows.
        let kept: Vec<usize> = (0..200)
            .filter(|&i| !(i % 3 == 0 || (100..140).contains(&i)))
            .collect();
        for (i, &number) in numbers.iter().enumerate() {
            if !kept.contains(&i) {
                registry.leave(number);
            }
        }
        registry.renumber(registry.offset.get());
        let kept_headers: Vec<NonNull<Header>> = kept.iter().map(|&i| all[i]).collect();
        let kept_expected: Vec<usize> = kept.iter().map(|&i| expected[i]).collect();
        assert_eq!(generations(&registry, &kept_headers), kept_expected);
        // The same when the front and the back are dropped without renumbering, with enough
        // holes left in the middle for tidying to consider renumbering them.
        let mut middle = Vec::new();
        let mut middle_expected = Vec::new();
        for (k, &h) in kept_headers.iter().enumerate() {
            let end = k < 10 || k >= kept.len() - 10;
            if end || k % 2 == 0 {
                // SAFETY: alive, listed.
                registry.leave(unsafe { h.as_ref() }.registry_key() - 1);
            } else {
                middle.push(h);
                middle_expected.push(kept_expected[k]);
            }
        }
        assert!(registry.holes.get() - 20 >= MIN_HOLES_TO_TIDY);
        registry.tidy();
        assert_eq!(generations(&registry, &middle), middle_expected);
        // Everything is promoted, then the newest objects leave (the table's back is
        // dropped): a new object is young all the same.
        registry.begin_collection();
        registry.promote(0);
        let (middle, newest) = middle.split_at(middle.len() - 5);
        for &h in newest {
            // SAFETY: alive, listed.
            registry.leave(unsafe { h.as_ref() }.registry_key() - 1);
        }
        registry.tidy();
        let fresh = headers(1);
        enter(&registry, fresh[0]);
        assert_eq!(generations(&registry, &fresh), [0]);
        registry.freeze();
        assert_eq!(registry.frozen_count(), middle.len() + 1);
        assert!(generations(&registry, middle).iter().all(|&g| g == FROZEN));
        registry.unfreeze();
        assert!(generations(&registry, middle).iter().all(|&g| g == 2));
        registry.close();
        for header in all.into_iter().chain(fresh) {
            // SAFETY: leaked above, listed no more.
            drop(unsafe { Box::from_raw(header.as_ptr()) });
        }
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
