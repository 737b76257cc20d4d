//! [`Registry`]: every tracked object of a thread's heap, for the heap's view of itself
//! (`gc.get_objects()`, `get_referrers()`) and the generations, in the order they were
//! allocated: one [`Table`] per thread (`cycle/registry.rs` says how it keeps the order and
//! the generations). Each object's number lives in the spare high bits of its header's
//! `weak_flags` word (`header.rs`), so the header stays three words.

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use crate::cycle::registry::Table;
pub(crate) use crate::cycle::registry::FROZEN;
use crate::unsync::header::Header;

/// The tracked objects of one thread, oldest first.
///
/// Its methods take `&self` and reach the table through an `UnsafeCell`: they run on the
/// thread that owns the registry (it lives in a thread-local), none of them runs user code
/// or calls another while it has the table, so no two accesses overlap. (A `RefCell`'s
/// borrow flag cost a tenth of an allocation's instructions here.)
pub(crate) struct Registry {
    /// `Table` frees its memory in [`Registry::close`] (the thread's last exit hook), so
    /// that the collector needs no destructor.
    table: UnsafeCell<ManuallyDrop<Table<Header>>>,
}

impl Registry {
    pub(crate) const fn new() -> Registry {
        Registry {
            table: UnsafeCell::new(ManuallyDrop::new(Table::new())),
        }
    }

    /// The table, for the length of one method that runs no user code.
    ///
    /// # Safety
    /// No other reference to the table is live while the returned one is (see the type's
    /// docs).
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    unsafe fn table(&self) -> &mut Table<Header> {
        // SAFETY: by the caller's contract.
        unsafe { &mut *self.table.get() }
    }

    /// [`Table::generation`].
    #[inline]
    pub(crate) fn generation(&self, key: usize) -> usize {
        // SAFETY: the only access to the table for the length of this call.
        unsafe { self.table() }.generation(key)
    }

    /// [`Table::first_of`].
    pub(crate) fn first_of(&self, generation: usize) -> usize {
        // SAFETY: as above.
        unsafe { self.table() }.first_of(generation)
    }

    /// [`Table::begin_collection`].
    pub(crate) fn begin_collection(&self) {
        // SAFETY: as above.
        unsafe { self.table() }.begin_collection();
    }

    /// [`Table::promote`].
    pub(crate) fn promote(&self, generation: usize) {
        // SAFETY: as above.
        unsafe { self.table() }.promote(generation);
    }

    /// [`Table::freeze`].
    pub(crate) fn freeze(&self) {
        // SAFETY: as above.
        unsafe { self.table() }.freeze();
    }

    /// [`Table::unfreeze`].
    pub(crate) fn unfreeze(&self) {
        // SAFETY: as above.
        unsafe { self.table() }.unfreeze();
    }

    /// [`Table::frozen_count`].
    pub(crate) fn frozen_count(&self) -> usize {
        // SAFETY: as above (it reads headers, never the registry).
        unsafe { self.table() }.frozen_count()
    }

    /// [`Table::enter`]: `None` if the table is full, when the caller makes sure the table's
    /// memory will be freed (an exit hook) and calls [`Registry::enter_slowly`].
    #[inline(always)]
    pub(crate) fn enter(&self, header: NonNull<Header>) -> Option<usize> {
        // SAFETY: as above.
        unsafe { self.table() }.enter(header)
    }

    /// [`Table::enter_slowly`].
    #[cold]
    #[inline(never)]
    pub(crate) fn enter_slowly(&self, header: NonNull<Header>) -> Option<usize> {
        // SAFETY: as above (renumbering writes headers, never the registry).
        unsafe { self.table() }.enter_slowly(header)
    }

    /// [`Table::tidy_if_holey`].
    pub(crate) fn tidy_if_holey(&self) {
        // SAFETY: as above.
        unsafe { self.table() }.tidy_if_holey();
    }

    /// [`Table::leave`].
    #[inline]
    pub(crate) fn leave(&self, number: usize) {
        // SAFETY: as above.
        unsafe { self.table() }.leave(number);
    }

    /// [`Table::for_each_in`]; `f` must not run user code (it may read headers and take
    /// strong references).
    pub(crate) fn for_each_in(&self, generation: usize, f: impl FnMut(NonNull<Header>)) {
        // SAFETY: `f` runs no user code, so nothing else reaches the table meanwhile.
        unsafe { self.table() }.for_each_in(generation, f);
    }

    /// Whether the thread's last exit hook has closed the registry.
    pub(crate) fn is_closed(&self) -> bool {
        // SAFETY: as above.
        unsafe { self.table() }.is_closed()
    }

    /// [`Table::first_thawed`].
    pub(crate) fn first_thawed(&self) -> usize {
        // SAFETY: as above.
        unsafe { self.table() }.first_thawed()
    }

    /// [`Table::get`].
    pub(crate) fn get(&self, number: usize) -> Option<Option<NonNull<Header>>> {
        // SAFETY: as above.
        unsafe { self.table() }.get(number)
    }

    /// The thread's last exit hook is over: unlists every object and frees the table.
    /// Objects that outlive it (held by a later thread-local destructor) are no longer
    /// listed, and no new one is.
    pub(crate) fn close(&self) {
        // SAFETY: as above (it writes headers, never the registry).
        unsafe { self.table() }.close();
    }
}
