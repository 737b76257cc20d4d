//! The thread-safe heap's registry: every tracked object, for the heap's view of itself
//! (`heap.rs`), in [`Table`]s (`cycle/registry.rs`: allocation order, holes, tidying).
//!
//! A thread lists the objects it allocates in a table of its own, so that allocating
//! threads do not contend; but an object may be freed on any thread, and the heap's view
//! reads every table, so each table sits behind its own lock. There is a fixed set of
//! tables: a thread takes one nobody uses when it first lists an object, and gives it back
//! when it exits (the objects stay listed; the next thread appends to them); past that many
//! threads at once, threads share tables. An object's header records its table and its
//! number in it, in the weak word's spare bits: the table written once, before the object
//! is shared; the number changed only under the table's lock, by an atomic XOR that leaves
//! the weak count alone.
//!
//! The rules that keep it sound (ARCHITECTURE.md, "The registry"):
//!
//! 1. An object is listed once it is complete (value written) and before it is shared, and
//!    leaves its table before its allocation is freed, under the table's lock: a header
//!    found in a table, under its lock, is allocated.
//! 2. Its number is read, to leave, under the table's lock, so a renumbering cannot come
//!    between.
//! 3. A walk under a table's lock runs no user code and waits for nothing: it takes a
//!    strong reference only from a live one ([`State::try_increment_now`]), and from an
//!    object whose word is locked (a claim being decided) only a weak unit, if one is left,
//!    to upgrade once the lock is released.
//!
//! [`State::try_increment_now`]: crate::sync::state::State::try_increment_now

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::cycle::registry::{outside_the_table, Marks, Numbered, Table, FROZEN, MAX_TABLES};
use crate::cycle::FULL;
use crate::primitive::cell::UnsafeCell;
use crate::primitive::hint::spin_loop;
use crate::primitive::local;
use crate::primitive::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::primitive::thread::yield_now;
use crate::sync::collector;
use crate::sync::header::{self, Header};

/// How many tables there are: threads beyond this many at once share them.
pub(crate) const TABLES: usize = if cfg!(loom) { 2 } else { 32 };

/// One table, its lock, and how many threads list their objects in it.
///
/// The lock is a flag taken by compare-and-swap, spinning and then yielding while another
/// thread has it: it is held only for a few instructions, except by a walk of the heap's
/// view (O(table)), and the allocation path pays for a `Mutex`'s poison checks and wake-up
/// protocol on every object.
///
/// Each table is on cache lines of its own (two of them, as the CPU fetches lines in
/// pairs): the threads that allocate at once each take their own table's lock and write
/// its length, and with neighbouring tables on one line they slowed each other down
/// (BENCHMARKS.md, "Tables on cache lines of their own").
#[repr(align(128))]
struct Shared {
    locked: AtomicBool,
    table: UnsafeCell<Table<Header>>,
    users: AtomicUsize,
}

// SAFETY: the table is reached only through `lock`, one thread at a time; the headers it
// lists are thread-safe (`Header: Sync`), and whoever holds the lock may read any of them
// (rule 1 of the module docs).
unsafe impl Sync for Shared {}

impl Shared {
    #[cfg(not(loom))]
    const fn new() -> Shared {
        Shared {
            locked: AtomicBool::new(false),
            table: UnsafeCell::new(Table::new()),
            users: AtomicUsize::new(0),
        }
    }

    #[cfg(loom)]
    fn new() -> Shared {
        Shared {
            locked: AtomicBool::new(false),
            table: UnsafeCell::new(Table::new()),
            users: AtomicUsize::new(0),
        }
    }
}

/// The lock of table `index`, held: the table, to this thread alone.
struct Locked {
    shared: &'static Shared,
    /// The table, reached through the cell while the lock is held.
    table: *mut Table<Header>,
    /// Under loom, the cell's record of this access, which checks that no two overlap.
    #[cfg(loom)]
    _access: loom::cell::MutPtr<Table<Header>>,
}

impl Deref for Locked {
    type Target = Table<Header>;

    #[inline]
    fn deref(&self) -> &Table<Header> {
        // SAFETY: the lock is held: no other thread reaches the table.
        unsafe { &*self.table }
    }
}

impl DerefMut for Locked {
    #[inline]
    fn deref_mut(&mut self) -> &mut Table<Header> {
        // SAFETY: as above.
        unsafe { &mut *self.table }
    }
}

impl Drop for Locked {
    #[inline]
    fn drop(&mut self) {
        self.shared.locked.store(false, Ordering::Release);
    }
}

#[cfg(not(loom))]
static REGISTRY: [Shared; TABLES] = [const { Shared::new() }; TABLES];

#[cfg(loom)]
loom::lazy_static! {
    static ref REGISTRY: [Shared; TABLES] = std::array::from_fn(|_| Shared::new());
}

/// A thread's use of a table, given back when the thread exits.
struct Membership(usize);

impl Drop for Membership {
    fn drop(&mut self) {
        let _ = MINE.try_with(|mine| mine.set(None));
        // Under loom, a model's threads-locals go after its statics: its tables are not
        // given back (a model has too few threads to run out of them).
        #[cfg(not(loom))]
        REGISTRY[self.0].users.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The table a thread lists its objects in, as the allocation path uses it.
#[derive(Clone, Copy)]
struct Mine {
    shared: &'static Shared,
    /// The weak word of a fresh object listed in it, but for its key
    /// ([`header::fresh_listed`]).
    fresh_listed: u64,
}

local! {
    /// The table this thread lists its objects in (`None` before its first, and once its
    /// membership is given back): read on every allocation, so a plain cell, with no
    /// destructor.
    static MINE: Cell<Option<Mine>> = const { Cell::new(None) };
}

local! {
    /// Gives the thread's table back when it exits.
    static MEMBERSHIP: Membership = Membership(join());
}

/// The calling thread's table: the one it took, or a table no thread uses if there is one,
/// else the least used. Table 0 in the thread's thread-local teardown.
fn mine() -> usize {
    MEMBERSHIP.try_with(|membership| membership.0).unwrap_or(0)
}

/// Takes a table for the calling thread (see [`mine`]).
#[cold]
fn join() -> usize {
    let index = REGISTRY
        .iter()
        .position(|shared| {
            shared
                .users
                .compare_exchange(0, 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        })
        .unwrap_or_else(|| {
            let index = (0..TABLES)
                .min_by_key(|&index| REGISTRY[index].users.load(Ordering::Relaxed))
                .unwrap_or(0);
            REGISTRY[index].users.fetch_add(1, Ordering::Relaxed);
            index
        });
    // Only once the membership that gives it back exists (the caller is its initialiser).
    let mine = Mine {
        shared: table(index),
        fresh_listed: header::fresh_listed(index),
    };
    let _ = MINE.try_with(|cell| cell.set(Some(mine)));
    index
}

/// Table `index`.
#[inline(always)]
fn table(index: usize) -> &'static Shared {
    // The mask keeps the index in bounds without a check (`TABLES` is a power of two).
    &REGISTRY[index & (TABLES - 1)]
}

/// Locks `shared`, whose lock another thread holds (or a spurious failure said so). A walk
/// may hold it for a while: spins briefly, then lets it run.
#[cold]
#[inline(never)]
fn lock_contended(shared: &'static Shared) -> Locked {
    let mut spins = 0_u32;
    while shared
        .locked
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        if spins < 64 {
            spins += 1;
            spin_loop();
        } else {
            yield_now();
        }
    }
    locked(shared)
}

/// Takes `shared`'s lock if no other thread holds it (and the compare-and-swap does not
/// fail spuriously): the first try, with no call.
#[inline(always)]
fn try_lock(shared: &'static Shared) -> Option<Locked> {
    shared
        .locked
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .ok()?;
    Some(locked(shared))
}

/// The guard of `shared`'s lock, which the caller has just taken.
#[inline(always)]
fn locked(shared: &'static Shared) -> Locked {
    #[cfg(not(loom))]
    let locked = Locked {
        shared,
        table: shared.table.with_mut(|table| table),
    };
    #[cfg(loom)]
    let locked = {
        let access = shared.table.get_mut();
        // SAFETY: only dereferenced while the lock is held (`Locked`).
        let table = unsafe { access.deref() } as *mut Table<Header>;
        Locked {
            shared,
            table,
            _access: access,
        }
    };
    locked
}

/// Locks table `index`.
#[inline(always)]
fn lock(index: usize) -> Locked {
    let shared = table(index);
    try_lock(shared).unwrap_or_else(|| lock_contended(shared))
}

/// Lists a tracked object in the calling thread's table (in table 0 during the thread's
/// thread-local teardown), and records the table and its number in the header.
/// `weak_shared`: other threads may hold `Weak`s to it already (`new_cyclic`).
///
/// # Safety
/// The object is complete (value written), or has no strong reference yet; no other
/// thread can reach it but through `Weak`s, and only if `weak_shared` (else its weak word is
/// as `Header::new` wrote it). It is freed only through `Header::release_hold`, which takes
/// it out of its table ([`try_leave`], then [`leave`] if the table's lock is taken).
#[inline(always)]
pub(crate) unsafe fn enter(header: NonNull<Header>, weak_shared: bool) {
    // SAFETY: the caller's contract.
    if !unsafe { try_enter(header, weak_shared) } {
        // SAFETY: the caller's contract.
        unsafe { enter_slowly(header, weak_shared) }
    }
}

/// [`enter`]'s fast path, with no call: lists the object and returns `true` if the thread
/// has a table, its lock is free and it has room; else `false`, having done nothing (then
/// the caller calls [`enter`]).
///
/// # Safety
/// As for [`enter`].
#[inline(always)]
pub(crate) unsafe fn try_enter(header: NonNull<Header>, weak_shared: bool) -> bool {
    let Ok(Some(mine)) = MINE.try_with(Cell::get) else {
        return false;
    };
    let Some(mut table) = try_lock(mine.shared) else {
        return false;
    };
    let Some(number) = table.enter(header) else {
        return false;
    };
    // SAFETY: not listed yet, reached by others only as `weak_shared` says, and fresh
    // otherwise (the caller's contract); this thread holds the table's lock.
    unsafe {
        header
            .as_ref()
            .set_listed(mine.fresh_listed, number, weak_shared)
    };
    true
}

/// [`enter`] when its fast path fails: the thread has no table yet, another thread holds
/// its table's lock, or the table is full.
///
/// # Safety
/// As for [`enter`].
#[cold]
#[inline(never)]
unsafe fn enter_slowly(header: NonNull<Header>, weak_shared: bool) {
    let index = mine();
    let mut table = lock(index);
    let thawed = table.first_of(FULL);
    let number = match table.enter(header) {
        Some(number) => number,
        None => table
            .enter_slowly(header)
            .expect("a thread-safe table is never closed"),
    };
    let fresh_listed = header::fresh_listed(index);
    // SAFETY: not listed yet, reached by others only as `weak_shared` says, and fresh
    // otherwise (the caller's contract); this thread holds the table's lock.
    unsafe {
        header
            .as_ref()
            .set_listed(fresh_listed, number, weak_shared)
    };
    // Tidying lowered the end of the frozen range: a collection running meanwhile, judging
    // keys read from now on with marks copied before, may take an object that is not frozen
    // for one (every other key stays at or above the end), and file its entry with the
    // frozen ones.
    let thawed_lowered = table.first_of(FULL) < thawed;
    drop(table);
    if thawed_lowered {
        collector::recheck_frozen();
    }
}

/// Takes an object out of its table as its allocation is about to be freed, waiting for the
/// table's lock ([`try_leave`] first, which does not).
///
/// # Safety
/// The caller gave back the object's last unit (no other thread uses the header, except a
/// registry walk under the table's lock).
#[cold]
#[inline(never)]
pub(crate) unsafe fn leave(header: &Header) {
    let Some(index) = header.table() else {
        // As in `try_leave`.
        return;
    };
    let mut table = lock(index);
    // Read under the lock (rule 2), as in `try_leave`.
    table.leave(header.listed_key());
}

/// [`leave`]'s fast path, with no call: returns `true` once the object is out of its table
/// (or was never in one), `false`, having done nothing, if another thread holds the
/// table's lock (then the caller calls [`leave`]).
///
/// # Safety
/// As for [`leave`].
#[inline(always)]
pub(crate) unsafe fn try_leave(header: &Header) -> bool {
    let Some(index) = header.table() else {
        // Never listed (untracked), or unlisted for good: nothing changes the key now.
        return true;
    };
    let Some(mut table) = try_lock(table(index)) else {
        return false;
    };
    // Read under the lock (rule 2): tidying may have renumbered it. (The key is left as it
    // is: the header is about to be freed.)
    let inside = table.try_leave(header.listed_key());
    // Unlocked before the panic of a number outside the table, so that this path keeps
    // nothing for the unwinding.
    drop(table);
    if !inside {
        outside_the_table();
    }
    true
}

/// Takes an object out of its table for good, though it stays alive (`Gc::get_mut`: a
/// handle from the heap's view would alias its `&mut`). Returns whether it was frozen (its
/// generation is 2 from now on, as for every unlisted object).
pub(crate) fn unlist(header: &Header) -> bool {
    let Some(index) = header.table() else {
        return false;
    };
    let mut table = lock(index);
    let number = header.listed_key();
    if number == 0 {
        return false;
    }
    let frozen = table.generation(number) == FROZEN;
    table.leave(number);
    // SAFETY: the lock is held; the caller's strong reference keeps the header alive.
    unsafe { header.set_registry_number(None) };
    frozen
}

/// Calls `f` on every listed object of `generation` (0 to 2; the frozen ones are left out),
/// table by table, each table under its lock. `f` must run no user code and wait for
/// nothing (rule 3 of the module docs); the header it gets is allocated while it runs.
pub(crate) fn for_each_in(generation: usize, mut f: impl FnMut(NonNull<Header>)) {
    for index in 0..TABLES {
        lock(index).for_each_in(generation, &mut f);
    }
}

/// Calls `f` on every listed object with its generation (0 to 2, or `FROZEN`), table by
/// table, each table under its lock, in one pass per table: a collection on another thread
/// may promote objects between two passes, which would hide them from a walk by generation.
/// `f` must run no user code and wait for nothing (rule 3 of the module docs); the header it
/// gets is allocated while it runs.
pub(crate) fn for_each_with_generation(mut f: impl FnMut(usize, NonNull<Header>)) {
    for index in 0..TABLES {
        lock(index).for_each_with_generation(&mut f);
    }
}

/// A collection begins (the caller holds the collector lock): each table notes what it will
/// promote, and the marks of every table are returned, for judging generations while the
/// tables go on changing (a number read meanwhile may be stale after a renumbering: that
/// only makes the collector examine an object more or less).
pub(crate) fn begin_collection() -> [Marks; TABLES] {
    std::array::from_fn(|index| {
        let mut table = lock(index);
        table.begin_collection();
        table.marks()
    })
}

/// The marks of every table, as [`begin_collection`] returns them.
pub(crate) fn marks() -> [Marks; TABLES] {
    std::array::from_fn(|index| lock(index).marks())
}

/// A collection of `generation` is over (the caller holds the collector lock): every table
/// promotes what was listed when it began (`Table::promote`), and gives back memory if it
/// shrank (`Table::tidy_keeping_recent_room`). Returns the marks of every table afterwards,
/// as [`marks`] does.
pub(crate) fn promote(generation: usize) -> [Marks; TABLES] {
    std::array::from_fn(|index| {
        let mut table = lock(index);
        table.promote(generation);
        // Under the collector lock, so no flag for a lowered frozen range: the entries this
        // collection files from here on are judged with the marks returned, those filed
        // before keep their generation (tidying moves numbers and marks together).
        table.tidy_keeping_recent_room();
        table.marks()
    })
}

/// `sync::freeze`, in every table (the caller holds the collector lock).
pub(crate) fn freeze() {
    for index in 0..TABLES {
        lock(index).freeze();
    }
}

/// `sync::unfreeze`, in every table (the caller holds the collector lock).
pub(crate) fn unfreeze() {
    for index in 0..TABLES {
        lock(index).unfreeze();
    }
}

/// `sync::freeze_count`: the frozen objects of every table that are alive.
pub(crate) fn frozen_count() -> usize {
    (0..TABLES).map(|index| lock(index).frozen_count()).sum()
}

// The header keeps a table's index in five bits; `lock` masks indices with `TABLES - 1`; the
// scan keeps a threshold per table.
const _: () = assert!(TABLES <= 32 && TABLES <= MAX_TABLES && TABLES.is_power_of_two());
