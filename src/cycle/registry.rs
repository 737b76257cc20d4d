//! [`Table`]: tracked objects in the order they were allocated, for the heap's view of
//! itself (`gc.get_objects()`, `get_referrers()`) and for the generations. Each flavour
//! keeps its tables its own way (`unsync/registry.rs`: one per thread, reached without a
//! lock; `sync/registry.rs`: shared ones, each behind a lock) and stores each object's
//! *number* in its header ([`Numbered`]).
//!
//! It costs one word per tracked object: the table's slot. An object's number is its
//! position in the table plus the table's `offset`, so leaving is O(1): the slot becomes a
//! hole. Numbers begin at [`FIRST_NUMBER`], so that a header stores its number as it is,
//! with 0 for "not listed" (its *key*), and nothing adds or subtracts one on the way. When
//! the table is full and holes make up half of it, it is tidied instead of grown, keeping
//! the order: holes at the front are dropped by moving the table down and raising
//! `offset` (the numbers stay valid, no header is written), holes at the back by truncating,
//! and only holes in the middle make it renumber the objects after them (paid for by the
//! objects that left). Freeing in allocation order, or in reverse, therefore never writes a
//! header. Untracked objects are never listed, as in CPython.
//!
//! The order is also what makes the generations (ARCHITECTURE.md, "Generations"): every
//! collection of generation *n* promotes all of generations 0..=*n*, so each generation is a
//! range of numbers, `[frozen | 2 | 1 | 0]`, and the table keeps where each begins
//! ([`Mark`]). Promoting, freezing and unfreezing move marks; an object's generation is a
//! comparison of its number with them. Tidying keeps the order, and moves the marks with the
//! numbers.

use std::ptr::NonNull;

use crate::cycle::Object;

/// One past the largest object number: numbers are stored in 32 bits (see each flavour's
/// header).
pub(crate) const NUMBERS: usize = u32::MAX as usize;

/// The first object number: 0 is the key of an object that is not listed.
pub(crate) const FIRST_NUMBER: usize = 1;

/// Below this many holes the table is never tidied: tidying a small table costs more than
/// the holes. (Two under loom, so that its models reach tidying.)
const MIN_HOLES_TO_TIDY: usize = if cfg!(loom) { 2 } else { 32 };

/// The generation of a tracked object that is not listed (lent by `Gc::get_mut` or
/// `make_mut`, or allocated after its table closed): the oldest, which only a full collection examines
/// (unless it is a root: every collection examines its roots).
pub(crate) const UNLISTED_GENERATION: usize = 2;
/// The index of the frozen objects among the generations (`freeze()`): no collection
/// examines them.
pub(crate) const FROZEN: usize = 3;

/// How many tables a flavour may have: the scan's [`Examined`](crate::cycle::Examined) keeps a
/// threshold for each.
pub(crate) const MAX_TABLES: usize = 32;

/// Where a table's generations begin, as numbers (a copy of [`Table`]'s marks), to judge
/// generations without the table.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Marks([usize; 4]);

impl Marks {
    /// The generation of the object whose header stores `key` (its number, 0 if not
    /// listed): 0 to 2, or [`FROZEN`].
    #[inline]
    pub(crate) fn generation(&self, key: usize) -> usize {
        let number = key;
        if number == 0 {
            return UNLISTED_GENERATION;
        }
        if number >= self.0[Mark::Young as usize] {
            0
        } else if number >= self.0[Mark::Middle as usize] {
            1
        } else if number >= self.0[Mark::Thawed as usize] {
            2
        } else {
            FROZEN
        }
    }

    /// The first number of `generation` (0 to 2): a collection of it examines the numbers
    /// from there on.
    pub(crate) fn first_of(&self, generation: usize) -> usize {
        match generation {
            0 => self.0[Mark::Young as usize],
            1 => self.0[Mark::Middle as usize],
            _ => self.0[Mark::Thawed as usize],
        }
    }
}

/// A header that stores its object's number in a [`Table`].
pub(crate) trait Numbered: Object {
    /// Records the object's number; `None`: not listed.
    ///
    /// # Safety
    /// `number` is below [`NUMBERS`], so that it fits; the header is alive, and the caller
    /// has the table that lists it (or will list it) to itself.
    unsafe fn set_registry_number(&self, number: Option<usize>);
}

/// The marks of [`Table::marks`]: where a range of object numbers begins. While the table
/// is open, `Thawed <= Middle <= Young <= ` the next number; `Collecting` means something
/// only while a collection runs.
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

/// Tracked objects, oldest first. Its methods run no user code.
pub(crate) struct Table<H> {
    /// One slot per tracked object whose allocation is live; `None` where one has left.
    slots: Vec<Option<NonNull<H>>>,
    /// The number of the object in the first slot.
    offset: usize,
    /// How many slots are `None`.
    holes: usize,
    /// Nothing is listed any more (the single-threaded table's thread has exited).
    closed: bool,
    /// How many slots the allocation path may fill: the table's capacity, but no more than
    /// the numbers left after `offset` (so that every number it hands out fits), and none
    /// once closed. The one thing that path checks.
    room: usize,
    /// Where the generations begin, as numbers, indexed by [`Mark`].
    marks: [usize; 4],
    /// [`Table::end`] when [`Table::tidy_keeping_recent_room`] last ran.
    end_at_last_collection: usize,
}

/// The panic of [`Table::leave`] given a number the table does not hold.
#[cold]
#[inline(never)]
pub(crate) fn outside_the_table() -> ! {
    panic!("cyclegc: a registry number outside its table (a bug in cyclegc)")
}

impl<H: Numbered> Table<H> {
    pub(crate) const fn new() -> Table<H> {
        Table {
            slots: Vec::new(),
            offset: FIRST_NUMBER,
            holes: 0,
            closed: false,
            room: 0,
            marks: [0; 4],
            end_at_last_collection: FIRST_NUMBER,
        }
    }

    fn mark(&self, mark: Mark) -> usize {
        self.marks[mark as usize]
    }

    fn set_mark(&mut self, mark: Mark, number: usize) {
        self.marks[mark as usize] = number;
    }

    /// The number the next listed object gets (past every listed one).
    fn end(&self) -> usize {
        self.offset + self.slots.len()
    }

    /// A copy of the marks.
    pub(crate) fn marks(&self) -> Marks {
        Marks(self.marks)
    }

    /// [`Marks::generation`].
    #[inline]
    pub(crate) fn generation(&self, key: usize) -> usize {
        self.marks().generation(key)
    }

    /// [`Marks::first_of`].
    pub(crate) fn first_of(&self, generation: usize) -> usize {
        self.marks().first_of(generation)
    }

    /// A collection begins: it will promote what is listed now.
    pub(crate) fn begin_collection(&mut self) {
        self.set_mark(Mark::Collecting, self.end());
    }

    /// A collection of `generation` is over: every object listed when it began that was in
    /// generations 0..=`generation` moves to the next one (or stays in 2), as in CPython.
    /// Objects allocated meanwhile (by `Drop` impls) stay young.
    pub(crate) fn promote(&mut self, generation: usize) {
        let promoted = self.mark(Mark::Collecting);
        // `max`: a `freeze()` during the collection may have moved the marks past it.
        self.set_mark(Mark::Young, self.mark(Mark::Young).max(promoted));
        if generation >= 1 {
            self.set_mark(Mark::Middle, self.mark(Mark::Middle).max(promoted));
        }
    }

    /// Moves every listed object into the frozen range (`freeze()`).
    pub(crate) fn freeze(&mut self) {
        let end = self.end();
        for mark in [Mark::Thawed, Mark::Middle, Mark::Young] {
            self.set_mark(mark, end);
        }
    }

    /// Moves the frozen objects into generation 2 (`unfreeze()`): the frozen range is the
    /// oldest, next to it.
    pub(crate) fn unfreeze(&mut self) {
        self.set_mark(Mark::Thawed, 0);
    }

    /// How many listed objects are frozen and alive (an object stays listed until its
    /// allocation is freed, which a `Weak` or a root-buffer entry may delay). O(frozen
    /// objects).
    pub(crate) fn frozen_count(&self) -> usize {
        let frozen = self.mark(Mark::Thawed).saturating_sub(self.offset);
        self.slots[..frozen.min(self.slots.len())]
            .iter()
            .flatten()
            // SAFETY: a listed header's allocation is live.
            .filter(|header| unsafe { header.as_ref() }.strong() > 0)
            .count()
    }

    /// Lists a tracked object at `header` (whose header may not be written yet: the table
    /// only keeps the pointer), and returns its number; `None` if the table is full: then
    /// the caller calls [`Table::enter_slowly`] (the single-threaded flavour first makes
    /// sure the table's memory will be freed).
    #[inline(always)]
    pub(crate) fn enter(&mut self, header: NonNull<H>) -> Option<usize> {
        let len = self.slots.len();
        if len >= self.room {
            return None;
        }
        // SAFETY: there is room for one more slot (checked above), written before the length
        // covers it.
        unsafe {
            self.slots.as_mut_ptr().add(len).write(Some(header));
            self.slots.set_len(len + 1);
        }
        Some(self.offset + len)
    }

    /// [`Table::enter`] when the table is full: makes room (tidying or growing it, or
    /// renumbering when the numbers ran out). `None` if the table is closed.
    ///
    /// # Panics
    /// If the table lists `u32::MAX - 1` objects at once.
    #[cold]
    #[inline(never)]
    pub(crate) fn enter_slowly(&mut self, header: NonNull<H>) -> Option<usize> {
        if self.closed {
            return None;
        }
        // A full table is tidied rather than grown when half of it is holes (which costs
        // no more than growing it, and amortises over the frees that made the holes).
        self.tidy_if_holey();
        if self.offset + self.slots.len() >= NUMBERS {
            // Number everything again from the first number.
            self.renumber(FIRST_NUMBER);
        }
        if self.slots.len() >= NUMBERS - FIRST_NUMBER {
            panic!(
                "cyclegc: more than {} tracked objects in one registry table",
                NUMBERS - FIRST_NUMBER
            );
        }
        if self.slots.len() == self.room {
            self.slots.reserve(1);
        }
        self.update_room();
        let number = self.offset + self.slots.len();
        self.slots.push(Some(header));
        Some(number)
    }

    /// Recomputes [`Table::room`] after the table's capacity or offset changed.
    fn update_room(&mut self) {
        self.room = if self.closed {
            0
        } else {
            self.slots.capacity().min(NUMBERS - self.offset)
        };
    }

    /// After a collection of the thread-safe heap: tidies the table if half of it is holes,
    /// and gives back memory beyond the room for as many objects as were listed since the
    /// previous collection (and those listed now). A thread that fills and empties its
    /// table between collections keeps the room, instead of growing the table again every
    /// time: threads that grow their tables at once wait for each other's page faults
    /// (BENCHMARKS.md, "Tables that keep their room"). A one-off peak goes back at the
    /// second collection after it.
    pub(crate) fn tidy_keeping_recent_room(&mut self) {
        // Numbers handed out since then (fewer if tidying renumbered meanwhile, which only
        // gives memory back sooner).
        let recent = self.end().saturating_sub(self.end_at_last_collection);
        if self.holey() {
            self.tidy();
        }
        // Room for 16 objects at least: a thread's table is its allocations' fast path.
        self.shrink_keeping(self.slots.len().max(recent).max(16));
        self.end_at_last_collection = self.end();
    }

    /// Gives back the memory beyond the room for `kept` objects: a capacity over four times
    /// that (or over 64 slots, for fewer than 16 objects) shrinks to twice that, so a table
    /// that hovers around a size neither shrinks nor grows every time. Both ways of tidying
    /// shrink by this one rule; what they keep differs. (A single-threaded table that
    /// tidying left empty keeps nothing: freeing its whole block in the collection, rather
    /// than shrinking it, is what has glibc merge the freed objects' chunks there, and not
    /// in the next phase that asks for a large block — BENCHMARKS.md, "Where the build
    /// target stands".)
    fn shrink_keeping(&mut self, kept: usize) {
        if self.slots.capacity() > 4 * kept.max(16) {
            self.slots.shrink_to(2 * kept);
            self.update_room();
        }
    }

    /// Whether half of the table is holes, and enough of them to be worth tidying.
    fn holey(&self) -> bool {
        self.holes >= MIN_HOLES_TO_TIDY && self.holes * 2 >= self.slots.len()
    }

    /// Tidies the table if half of it is holes: when it is full, and after a collection of
    /// the single-threaded heap (so that a heap that shrank gives back the table's memory).
    pub(crate) fn tidy_if_holey(&mut self) {
        if self.holey() {
            self.tidy();
            self.shrink_keeping(self.slots.len());
        }
    }

    /// Removes the object numbered `number` (its allocation is being freed, or it leaves
    /// the list for good).
    #[inline]
    pub(crate) fn leave(&mut self, number: usize) {
        if !self.try_leave(number) {
            outside_the_table()
        }
    }

    /// [`Table::leave`], returning `false` instead of panicking if the table has no such
    /// number (a bug in cyclegc): for a caller that must release a lock before the panic,
    /// so that its path keeps nothing for the unwinding.
    #[inline]
    #[must_use]
    pub(crate) fn try_leave(&mut self, number: usize) -> bool {
        // A listed object's number is inside the table (`close` unlists every object before
        // it empties the table, and tidying tells every object whose number it changes).
        let slot = number.wrapping_sub(self.offset);
        // Checked all the same: a wrong number is a bug that must not write elsewhere.
        let Some(slot) = self.slots.get_mut(slot) else {
            return false;
        };
        debug_assert!(slot.is_some(), "a registry slot left twice");
        *slot = None;
        // The holes are tidied when the table is next full (`enter_slowly`).
        self.holes += 1;
        true
    }

    /// Removes the holes, keeping the order: those at either end without renumbering
    /// anything, those in the middle by renumbering the objects after the first of them.
    #[cold]
    #[inline(never)]
    fn tidy(&mut self) {
        // A table whose every object has left (a heap emptied, as after a collection that
        // freed everything) goes as one front, with no look at each slot.
        let front = if self.holes == self.slots.len() {
            self.holes
        } else {
            self.slots.iter().take_while(|slot| slot.is_none()).count()
        };
        self.slots.drain(..front);
        self.offset += front;
        let mut back = 0;
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
            back += 1;
        }
        let end = self.end();
        for mark in &mut self.marks {
            *mark = (*mark).min(end);
        }
        self.holes -= front + back;
        if self.holey() {
            self.renumber(self.offset);
        }
        self.update_room();
    }

    /// Closes every hole, numbering the objects from `offset` on in order (and telling each
    /// whose number changes); each mark moves to the new number of the first object at or
    /// past it.
    fn renumber(&mut self, offset: usize) {
        // Each mark as a slot index (those below the table at 0, those past it at its end).
        let old_offset = self.offset;
        let mark_slots = self.marks.map(|mark| mark.saturating_sub(old_offset));
        let moved_offset = offset != old_offset;
        let mut kept = 0;
        for slot in 0..self.slots.len() {
            for (mark, &mark_slot) in self.marks.iter_mut().zip(&mark_slots) {
                if mark_slot == slot {
                    *mark = offset + kept;
                }
            }
            if let Some(header) = self.slots[slot] {
                if kept != slot || moved_offset {
                    self.slots[kept] = Some(header);
                    // SAFETY: a listed header's allocation is live (it leaves the table
                    // before it is freed), and the table is the caller's; `offset + kept` is
                    // below the old number, or counts from the first, so below `NUMBERS`.
                    unsafe { header.as_ref().set_registry_number(Some(offset + kept)) };
                }
                kept += 1;
            }
        }
        for (mark, &mark_slot) in self.marks.iter_mut().zip(&mark_slots) {
            if mark_slot >= self.slots.len() {
                *mark = offset + kept;
            }
        }
        self.slots.truncate(kept);
        self.offset = offset;
        self.holes = 0;
        self.update_room();
    }

    /// Calls `f` on each listed object, oldest first. `f` must not run user code (it may
    /// read headers and take strong references).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn for_each(&self, mut f: impl FnMut(NonNull<H>)) {
        for header in self.slots.iter().flatten() {
            f(*header);
        }
    }

    /// Calls `f` on each listed object of `generation` (0 to 2), oldest first.
    pub(crate) fn for_each_in(&self, generation: usize, mut f: impl FnMut(NonNull<H>)) {
        let first = self.first_of(generation);
        let past = match generation {
            0 => usize::MAX,
            1 => self.mark(Mark::Young),
            _ => self.mark(Mark::Middle),
        };
        let start = first.saturating_sub(self.offset).min(self.slots.len());
        let end = past.saturating_sub(self.offset).min(self.slots.len());
        for header in self.slots[start..end.max(start)].iter().flatten() {
            f(*header);
        }
    }

    /// Calls `f` on each listed object with its generation (0 to 2, or [`FROZEN`]), oldest
    /// first.
    pub(crate) fn for_each_with_generation(&self, mut f: impl FnMut(usize, NonNull<H>)) {
        let marks = self.marks();
        for (slot, header) in self.slots.iter().enumerate() {
            if let Some(header) = header {
                f(marks.generation(self.offset + slot), *header);
            }
        }
    }

    /// Whether the table is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// The number of the oldest listed object that is not frozen (or where the next one will
    /// be).
    pub(crate) fn first_thawed(&self) -> usize {
        self.offset.max(self.mark(Mark::Thawed))
    }

    /// The object numbered `number` (`None` past the last, `Some(None)` for one that has
    /// left, or before the first): for walks that let user code run between two steps
    /// (which may tidy the table: such a walk may then miss an object or see one twice).
    pub(crate) fn get(&self, number: usize) -> Option<Option<NonNull<H>>> {
        match number.checked_sub(self.offset) {
            None => Some(None),
            Some(slot) => self.slots.get(slot).copied(),
        }
    }

    /// Unlists every object and frees the table's memory; nothing is listed afterwards.
    pub(crate) fn close(&mut self) {
        for header in self.slots.iter().flatten() {
            // SAFETY: listed, so the allocation is live; the table is the caller's.
            unsafe { header.as_ref().set_registry_number(None) };
        }
        drop(std::mem::take(&mut self.slots));
        self.holes = 0;
        self.closed = true;
        self.room = 0;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::cycle::{Object, VTableFor};
    use crate::unsync::header::Header;

    /// Headers outside any allocation the collector knows, for the table alone.
    fn headers(n: usize) -> Vec<NonNull<Header>> {
        (0..n)
            .map(|_| {
                let header = Header::new(VTableFor::<Header, u8>::VTABLE, true, 1, None);
                NonNull::from(Box::leak(Box::new(header)))
            })
            .collect()
    }

    fn enter(table: &mut Table<Header>, header: NonNull<Header>) -> usize {
        let number = table
            .enter(header)
            .or_else(|| table.enter_slowly(header))
            .unwrap();
        // SAFETY: a live header; the table's number fits.
        unsafe { header.as_ref().set_registry_number(Some(number)) };
        number
    }

    /// The generation each header's number falls in.
    fn generations(table: &Table<Header>, all: &[NonNull<Header>]) -> Vec<usize> {
        all.iter()
            // SAFETY: leaked by `headers`, alive until the test frees them.
            .map(|h| table.generation(unsafe { h.as_ref() }.registry_key()))
            .collect()
    }

    /// Frees headers made by [`headers`], listed no more.
    fn free(all: Vec<NonNull<Header>>) {
        for header in all {
            // SAFETY: leaked by `headers`, listed no more.
            drop(unsafe { Box::from_raw(header.as_ptr()) });
        }
    }

    #[test]
    fn tidying_moves_the_generations_with_the_numbers() {
        let all = headers(200);
        let mut table = Table::new();
        let mut numbers: Vec<usize> = all[..100].iter().map(|&h| enter(&mut table, h)).collect();
        // The first 100 become generation 2 (a full collection), the next 50 generation 1.
        table.begin_collection();
        table.promote(2);
        numbers.extend(all[100..150].iter().map(|&h| enter(&mut table, h)));
        table.begin_collection();
        table.promote(0);
        numbers.extend(all[150..].iter().map(|&h| enter(&mut table, h)));
        let expected: Vec<usize> = (0..200)
            .map(|i| match i {
                0..100 => 2,
                100..150 => 1,
                _ => 0,
            })
            .collect();
        assert_eq!(generations(&table, &all), expected);
        // Holes in each generation, and all of generation 1's first 40 (a mark's own slot):
        // renumbering closes them, and every mark follows.
        let kept: Vec<usize> = (0..200)
            .filter(|&i| !(i % 3 == 0 || (100..140).contains(&i)))
            .collect();
        for (i, &number) in numbers.iter().enumerate() {
            if !kept.contains(&i) {
                table.leave(number);
            }
        }
        table.renumber(table.offset);
        let kept_headers: Vec<NonNull<Header>> = kept.iter().map(|&i| all[i]).collect();
        let kept_expected: Vec<usize> = kept.iter().map(|&i| expected[i]).collect();
        assert_eq!(generations(&table, &kept_headers), kept_expected);
        // The same when the front and the back are dropped without renumbering, with enough
        // holes left in the middle for tidying to consider renumbering them.
        let mut middle = Vec::new();
        let mut middle_expected = Vec::new();
        for (k, &h) in kept_headers.iter().enumerate() {
            let end = k < 10 || k >= kept.len() - 10;
            if end || k % 2 == 0 {
                // SAFETY: alive, listed.
                table.leave(unsafe { h.as_ref() }.registry_key());
            } else {
                middle.push(h);
                middle_expected.push(kept_expected[k]);
            }
        }
        assert!(table.holes - 20 >= MIN_HOLES_TO_TIDY);
        table.tidy();
        assert_eq!(generations(&table, &middle), middle_expected);
        // Everything is promoted, then the newest objects leave (the table's back is
        // dropped): a new object is young all the same.
        table.begin_collection();
        table.promote(0);
        let (middle, newest) = middle.split_at(middle.len() - 5);
        for &h in newest {
            // SAFETY: alive, listed.
            table.leave(unsafe { h.as_ref() }.registry_key());
        }
        table.tidy();
        let fresh = headers(1);
        enter(&mut table, fresh[0]);
        assert_eq!(generations(&table, &fresh), [0]);
        table.freeze();
        assert_eq!(table.frozen_count(), middle.len() + 1);
        assert!(generations(&table, middle).iter().all(|&g| g == FROZEN));
        table.unfreeze();
        assert!(generations(&table, middle).iter().all(|&g| g == 2));
        table.close();
        free(all);
        free(fresh);
    }

    #[test]
    fn an_emptied_table_goes_as_its_front() {
        let old = headers(3 * MIN_HOLES_TO_TIDY);
        let mut table = Table::new();
        let mut numbers: Vec<usize> = old.iter().map(|&h| enter(&mut table, h)).collect();
        // The old objects become generation 1, the last one stays young.
        table.begin_collection();
        table.promote(0);
        let young = headers(1);
        numbers.push(enter(&mut table, young[0]));
        for &number in &numbers {
            table.leave(number);
        }
        assert_eq!(table.holes, numbers.len());
        table.tidy_if_holey();
        // Every slot went as the front: nothing was renumbered, so the next number follows
        // the last one handed out, and no mark is past the end, so a new object is young.
        assert_eq!((table.holes, table.slots.len()), (0, 0));
        assert_eq!(table.offset, FIRST_NUMBER + numbers.len());
        assert!(table.marks.iter().all(|&mark| mark <= table.offset));
        let fresh = headers(1);
        assert_eq!(enter(&mut table, fresh[0]), FIRST_NUMBER + numbers.len());
        assert_eq!(generations(&table, &fresh), [0]);
        table.close();
        free(old);
        free(young);
        free(fresh);
    }

    #[test]
    fn a_thread_safe_table_keeps_the_room_it_used_since_the_last_collection() {
        let many = 64 * MIN_HOLES_TO_TIDY;
        let mut table = Table::new();
        // Fills the table with `n` objects and empties it, then a collection ends.
        let fill_and_empty = |table: &mut Table<Header>, n: usize| {
            let all = headers(n);
            let numbers: Vec<usize> = all.iter().map(|&h| enter(table, h)).collect();
            for number in numbers {
                table.leave(number);
            }
            table.tidy_keeping_recent_room();
            free(all);
        };
        fill_and_empty(&mut table, many);
        assert_eq!((table.slots.len(), table.holes), (0, 0));
        let room = table.slots.capacity();
        assert!(room >= many);
        // Filled and emptied again between collections: the room stays, and the table did
        // not grow (the objects had their slots at once).
        fill_and_empty(&mut table, many);
        assert_eq!(table.slots.capacity(), room);
        // A quiet interval after the peak: its room goes back at the collection that ends
        // it, though there was too little to tidy.
        fill_and_empty(&mut table, 1);
        assert_eq!(table.holes, 1);
        assert!(
            table.slots.capacity() <= 2 * 16,
            "{}",
            table.slots.capacity()
        );
        // The room the table keeps is counted in numbers handed out, whatever is left.
        let kept = headers(many);
        for &h in &kept {
            enter(&mut table, h);
        }
        table.tidy_keeping_recent_room();
        table.tidy_keeping_recent_room();
        assert_eq!(table.slots.len() - table.holes, many);
        assert!(table.slots.capacity() >= many);
        table.close();
        free(kept);
    }

    #[test]
    fn numbers_that_run_out_start_again_from_the_first() {
        let all = headers(3);
        let mut table = Table::new();
        // As after some four billion objects freed oldest first.
        table.offset = NUMBERS - 2;
        let numbers: Vec<usize> = all.iter().map(|&h| enter(&mut table, h)).collect();
        // The third found no number left: all were renumbered from the first number, the
        // first two becoming 1 and 2.
        assert_eq!(numbers, [NUMBERS - 2, NUMBERS - 1, 3]);
        let mut listed = Vec::new();
        table.for_each(|h| listed.push(h));
        assert_eq!(listed, all);
        // The first two leave at their new numbers.
        table.leave(1);
        table.leave(2);
        table.leave(3);
        table.close();
        free(all);
    }
}
