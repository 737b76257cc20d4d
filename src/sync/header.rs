//! The header in front of every thread-safe allocation (ARCHITECTURE.md, "A thread-safe
//! collection"): the state word, the weak word (the weak count, and where the registry
//! lists the object), the vtable (never overwritten: other threads read it) and the scan
//! slot, which only the collecting thread touches.

use std::ptr::NonNull;

use crate::cycle::registry::Numbered;
use crate::cycle::{self, Flavour, Object, VTable, DEAD, DROPPED, IN_BUFFER, UNTRACKED, WITHDRAWN};
use crate::primitive::cell::UnsafeCell;
use crate::primitive::sync::atomic::{fence, AtomicU64, Ordering};
use crate::sync::registry;
use crate::sync::state::{self, State, SCANNED};

/// The weak count's bits in [`Header::weak`]: the low 27. A hold taken past half of them
/// (about 67 million `Weak`s to one object) aborts the process, as `Arc` aborts past
/// `isize::MAX`, leaving the other half for threads racing past the check.
const WEAK_COUNT: u64 = (1 << TABLE_SHIFT) - 1;
/// Where the registry table's index starts in [`Header::weak`]: five bits, enough for
/// `registry::TABLES`.
const TABLE_SHIFT: u32 = 27;
/// The table's bits in [`Header::weak`].
const TABLE: u64 = 0b11111 << TABLE_SHIFT;
/// The weak word of a fresh allocation: one unit, the implicit hold of its strong
/// references (or, in `new_cyclic`, of the `Weak` that builds it).
const FRESH: u64 = 1;
/// Where the registry key (the object's number; zero: not listed) starts in
/// [`Header::weak`]: the high 32 bits.
const KEY_SHIFT: u32 = 32;

/// A thread-safe allocation: header, then value.
pub(crate) type GcBox<T> = cycle::GcBox<Header, T>;

/// The header of a thread-safe allocation.
#[repr(C)]
pub(crate) struct Header {
    state: State,
    /// In the low bits ([`WEAK_COUNT`]), `Weak` handles plus holds (the implicit one of the
    /// strong references, a buffer entry's, the collector's while it destroys): the
    /// allocation is freed when they reach zero. Above them, where the registry lists the
    /// object (`registry.rs`): its table, written once before the object is shared, and its
    /// key, changed only by a thread that holds that table's lock, by an atomic XOR that
    /// leaves the count alone.
    weak: AtomicU64,
    vtable: &'static VTable<Header>,
    /// The object's node in the running snapshot. Only the thread that holds the collector
    /// lock reads or writes it, and only while the object is `SCANNED`.
    scan: UnsafeCell<usize>,
}

// SAFETY: the counts are atomics and the vtable is immutable; `scan` is read and written only
// by the collecting thread, one collection at a time, ordered by the collector lock.
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}

impl Header {
    /// A header for a fresh allocation with `strong` strong references and the implicit hold.
    pub(crate) fn new(vtable: &'static VTable<Header>, tracked: bool, strong: usize) -> Header {
        Header {
            state: State::new(strong, if tracked { 0 } else { UNTRACKED }),
            weak: AtomicU64::new(FRESH),
            vtable,
            scan: UnsafeCell::new(0),
        }
    }

    /// The state word.
    #[inline]
    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// Adds a `Weak` handle or a hold; aborts on overflow, like `Arc`.
    #[inline]
    pub(crate) fn take_hold(&self) {
        if self.weak.fetch_add(1, Ordering::Relaxed) & WEAK_COUNT > WEAK_COUNT / 2 {
            std::process::abort();
        }
    }

    /// Takes a hold unless the weak count is already zero (the allocation is about to be
    /// freed by the thread that gave back the last unit): for the registry, which reaches
    /// objects it holds no unit of, under the lock of their table.
    pub(crate) fn try_take_hold(&self) -> bool {
        let mut weak = self.weak.load(Ordering::Relaxed);
        loop {
            if weak & WEAK_COUNT == 0 {
                return false;
            }
            if weak & WEAK_COUNT > WEAK_COUNT / 2 {
                std::process::abort();
            }
            match self.weak.compare_exchange_weak(
                weak,
                weak + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(current) => weak = current,
            }
        }
    }

    /// Gives back a hold the caller took while it still owns a strong reference (which
    /// keeps the implicit hold, so this is never the last unit).
    #[inline]
    pub(crate) fn give_back_hold(&self) {
        self.weak.fetch_sub(1, Ordering::Relaxed);
    }

    /// The number of `Weak` handles: the weak count without the holds that the state word
    /// accounts for (the implicit one while strong references exist, a root-buffer
    /// entry's). Like `Arc::weak_count`, a snapshot that other threads may change at once;
    /// a collection or a drop on another thread may also hold a unit for a moment.
    #[inline]
    pub(crate) fn weak_handles(&self, word: usize) -> usize {
        let holds = usize::from(state::strong(word) > 0) + usize::from(word & IN_BUFFER != 0);
        let weak = (self.weak.load(Ordering::Acquire) & WEAK_COUNT) as usize;
        weak.saturating_sub(holds)
    }

    /// The object's registry key (its number; zero: not listed). Only a thread
    /// that holds the lock of the object's table can rely on it: tidying the table may
    /// change it.
    #[inline]
    pub(crate) fn listed_key(&self) -> usize {
        (self.weak.load(Ordering::Relaxed) >> KEY_SHIFT) as usize
    }

    /// The index of the registry table that lists the object; `None` if it is not listed.
    /// (Whether it is listed changes only by the holder of a strong reference or the last
    /// unit, so the caller can rely on that; the key itself, see [`Header::listed_key`].)
    #[inline]
    pub(crate) fn table(&self) -> Option<usize> {
        let weak = self.weak.load(Ordering::Relaxed);
        (weak >> KEY_SHIFT != 0).then_some(((weak & TABLE) >> TABLE_SHIFT) as usize)
    }

    /// Records that the registry table `fresh_listed` names (see [`fresh_listed`]) lists
    /// the object as `number`. `weak_shared`: other threads may change the weak count
    /// meanwhile (`Weak`s of a `new_cyclic` value), so the bits are set by an atomic
    /// read-modify-write; otherwise the whole word is stored, as a fresh allocation has it
    /// plus the table and the key.
    ///
    /// # Safety
    /// The caller holds the table's lock, and the object is not listed yet; unless
    /// `weak_shared`, no other thread can reach the header, and its weak word is as
    /// [`Header::new`] wrote it.
    #[inline]
    pub(crate) unsafe fn set_listed(&self, fresh_listed: u64, number: usize, weak_shared: bool) {
        let key = stored_key(Some(number));
        if weak_shared {
            self.weak
                .fetch_or(fresh_listed & TABLE | key, Ordering::Relaxed);
        } else {
            debug_assert_eq!(self.weak.load(Ordering::Relaxed), FRESH);
            self.weak.store(fresh_listed | key, Ordering::Relaxed);
        }
    }
}

/// The weak word of a fresh allocation listed in registry table `table`, but for its key:
/// computed once per thread, for the allocation path ([`Header::set_listed`]).
pub(crate) const fn fresh_listed(table: usize) -> u64 {
    debug_assert!(table < 1 << (KEY_SHIFT - TABLE_SHIFT));
    FRESH | (table as u64) << TABLE_SHIFT
}

/// A registry number as the weak word stores it: in the high 32 bits (zero: not listed).
/// Tables hand out numbers from 1 to below `u32::MAX`.
#[inline]
fn stored_key(number: Option<usize>) -> u64 {
    number.map_or(0, |number| {
        debug_assert!(number != 0 && number < u32::MAX as usize);
        (number as u64) << KEY_SHIFT
    })
}

impl Numbered for Header {
    /// Changes the key by an atomic XOR, which leaves the count and the table alone. Only
    /// the holder of the table's lock changes the key, so the one it reads is current.
    unsafe fn set_registry_number(&self, number: Option<usize>) {
        let old = self.weak.load(Ordering::Relaxed) & !(WEAK_COUNT | TABLE);
        let change = old ^ stored_key(number);
        self.weak.fetch_xor(change, Ordering::Relaxed);
    }
}

// SAFETY: each method does what the trait says; `release_hold` frees through the vtable the
// header was created with (`VTable::free`), exactly when the last unit of `weak` goes (the
// `Release` decrement and the `Acquire` fence order every use of the allocation before it).
unsafe impl Object for Header {
    const FLAVOUR: Flavour = Flavour::Sync;
    const CONCURRENT: bool = true;
    /// The state word the object entered the scan with, from which it is claimed.
    type Saved = usize;

    fn strong(&self) -> usize {
        state::strong(self.state.load(Ordering::Acquire))
    }

    fn has(&self, flags: usize) -> bool {
        self.state.load(Ordering::Acquire) & flags != 0
    }

    /// The key in the weak word (see [`Header::listed_key`]).
    #[inline]
    fn registry_key(&self) -> usize {
        self.listed_key()
    }

    /// The table and the key, from one load of the weak word.
    #[inline]
    fn registry_place(&self) -> (usize, usize) {
        let weak = self.weak.load(Ordering::Relaxed);
        (
            ((weak & TABLE) >> TABLE_SHIFT) as usize,
            (weak >> KEY_SHIFT) as usize,
        )
    }

    unsafe fn set_flag(&self, flag: usize) {
        self.state.set_flags(flag);
    }

    unsafe fn clear_flag(&self, flag: usize) {
        self.state.clear_flags(flag);
    }

    fn new_header(vtable: &'static VTable<Header>, tracked: bool, strong: usize) -> Header {
        Header::new(vtable, tracked, strong)
    }

    /// Lists a tracked object in the calling thread's registry table (`registry.rs`).
    unsafe fn placed(this: NonNull<Header>) {
        // SAFETY: a fresh allocation (the caller's contract).
        if !unsafe { this.as_ref() }.has(UNTRACKED) {
            // SAFETY: complete, not shared yet, and its weak word as `Header::new` wrote it
            // (the caller's contract).
            unsafe { registry::enter(this, false) };
        }
    }

    fn take_hold(&self) {
        Header::take_hold(self);
    }

    /// By compare-and-swap ([`State::make_root`]), as a buffering drop would: the hold is
    /// taken first, and kept as the entry's unit only if the entry was made.
    unsafe fn make_root(&self) -> bool {
        self.take_hold();
        if self.state.make_root() {
            true
        } else {
            // The object's strong references keep the implicit hold (the caller's
            // contract): this is not the last unit.
            self.give_back_hold();
            false
        }
    }

    unsafe fn release_hold(this: NonNull<Header>) {
        // SAFETY: the caller owns a unit, which keeps the header alive until given back.
        let header = unsafe { this.as_ref() };
        if header.weak.fetch_sub(1, Ordering::Release) & WEAK_COUNT == 1 {
            fence(Ordering::Acquire);
            // SAFETY: the last unit is gone.
            unsafe { free(this) }
        }
    }

    unsafe fn vtable(&self) -> &'static VTable<Header> {
        self.vtable
    }

    fn scan_index(&self) -> Option<usize> {
        // `SCANNED` without `DEAD`: an object of the running collection. (`kill` clears
        // `SCANNED`, so an earlier collection's garbage, which it may still be destroying
        // outside the collector lock, shows neither.)
        let in_this_scan = self.state.load(Ordering::Acquire) & (SCANNED | DEAD) == SCANNED;
        // SAFETY: only the thread holding the collector lock calls this, and only that
        // thread writes `scan`; an object `SCANNED` and not `DEAD` entered the running
        // collection (one at a time), which wrote its index.
        in_this_scan.then(|| self.scan.with(|index| unsafe { *index }))
    }

    /// Takes the entry out and enters a live root in one compare-and-swap
    /// ([`State::take_root`]), so that no `get_mut` can come between.
    unsafe fn enter_root(&self, index: usize) -> Option<(usize, usize)> {
        let word = self.state.take_root()?;
        // SAFETY: the collecting thread is the only one that touches `scan`.
        self.scan.with_mut(|slot| unsafe { *slot = index });
        Some((state::strong(word), word))
    }

    /// Sets `SCANNED` by CAS and records the index; refuses an object with no strong
    /// reference (it is being released), a `DEAD` one, and one withdrawn by `get_mut`.
    unsafe fn enter_scan(&self, index: usize) -> Option<(usize, usize)> {
        let word = self.state.enter_scan(DEAD | WITHDRAWN)?;
        // SAFETY: the collecting thread is the only one that touches `scan`.
        self.scan.with_mut(|slot| unsafe { *slot = index });
        Some((state::strong(word), word))
    }

    unsafe fn scanned_vtable(&self, _: usize) -> &'static VTable<Header> {
        self.vtable
    }

    /// A compare-and-swap from the word the object entered the scan with.
    unsafe fn claim(&self, recorded: usize) -> bool {
        self.state.claim(recorded)
    }

    unsafe fn unclaim(&self) {
        self.state.unclaim();
    }

    unsafe fn kill(&self) {
        self.state.kill();
    }

    unsafe fn keep(&self) {
        self.state.keep();
    }

    /// Clears `SCANNED`; the word before tells whether the last strong reference went
    /// meanwhile (on another thread, which then left the value to the collector).
    unsafe fn revive(&self, _: usize) -> bool {
        let old = self.state.leave_scan();
        state::strong(old) == 0 && old & DEAD == 0
    }

    /// Nothing to do: the claim's `kill` took the object out of the scan.
    unsafe fn leave_scan(&self, _: usize) {}

    /// Sets `DROPPED` and reads the strong count in one atomic step, so that of the
    /// collector (here) and the thread dropping the last strong reference, exactly one sees
    /// both "value dropped" and "no strong reference left", and gives back the implicit hold.
    #[inline]
    unsafe fn value_dropped(this: NonNull<Header>) {
        // SAFETY: the implicit hold keeps the header alive until it is given back.
        let state = &unsafe { this.as_ref() }.state;
        let word = state.load(Ordering::Acquire);
        if word & DEAD == 0 || state::strong(word) == 0 {
            // A release: no strong reference is left, and none can come back (an object
            // with none is never claimed); or garbage whose last strong reference went
            // before its value (no strong reference can come back to a `DEAD` object
            // either: upgrades fail, and nothing holds a handle to clone). Either way the
            // hold is the caller's, and `DROPPED`, which only a later last strong reference
            // would read, is not needed.
            // SAFETY: as said.
            return unsafe { Self::release_hold(this) };
        }
        let old = state.set_flags(DROPPED);
        if state::strong(old) == 0 {
            // SAFETY: no strong reference is left: the hold is the caller's.
            unsafe { Self::release_hold(this) };
        }
    }
}

/// Frees the allocation of `this`, whose last unit is gone.
///
/// # Safety
/// The caller gave back the last unit of the weak count: no handle, buffer entry or
/// collector refers to the allocation any more.
///
/// Its fast path makes no call but the deallocation, a tail call, and the rest is another
/// ([`free_contended`]), so that it keeps nothing across a call.
#[inline]
unsafe fn free(this: NonNull<Header>) {
    // SAFETY: no other thread uses the header, except a registry walk, which the table's lock
    // keeps out until the object has left it.
    if !unsafe { registry::try_leave(this.as_ref()) } {
        // SAFETY: the caller's contract.
        return unsafe { free_contended(this) };
    }
    // SAFETY: out of its table: the caller's contract, and nothing else reaches it.
    unsafe { deallocate(this) }
}

/// [`free`] when another thread holds the lock of the object's registry table.
///
/// # Safety
/// As for [`free`].
#[cold]
#[inline(never)]
unsafe fn free_contended(this: NonNull<Header>) {
    // SAFETY: as in `free`.
    unsafe {
        registry::leave(this.as_ref());
        deallocate(this);
    }
}

/// Gives `this`'s allocation back to the allocator.
///
/// # Safety
/// As for [`free`], and the object has left its registry table: nothing reaches it.
#[inline(always)]
unsafe fn deallocate(this: NonNull<Header>) {
    // SAFETY: the caller's contract.
    let header = unsafe { this.as_ref() };
    let vtable = header.vtable;
    // Under loom, the header is overwritten before it goes, so that a read of a freed header
    // (which loom itself cannot see) fails loudly: its atomics no longer name loom objects.
    #[cfg(loom)]
    // SAFETY: the header is the caller's alone (above), and nothing reads it again.
    unsafe {
        std::ptr::write_bytes(
            this.as_ptr().cast::<u8>(),
            0xA5,
            std::mem::size_of::<Header>(),
        )
    };
    // SAFETY: the caller's contract; the allocation was made with this vtable.
    unsafe { vtable.free(this) }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    use std::sync::OnceLock;

    use crate::cycle::{Context, Examined, Scan, VTableFor, BUFFERED};
    use crate::panics::Panics;
    use crate::trace::{Trace, Tracer};

    /// One strong reference to a thread-safe object, as the handles will hold it.
    struct Edge(NonNull<Header>);

    // SAFETY: the test's objects are only used on the test's thread.
    unsafe impl Send for Edge {}
    // SAFETY: as above.
    unsafe impl Sync for Edge {}

    // SAFETY: reports the one strong reference it owns.
    unsafe impl Trace for Edge {
        fn trace(&self, tracer: &mut Tracer) {
            // SAFETY: the edge owns a strong reference to a live object.
            unsafe { tracer.edge(self.0) }
        }
    }

    impl Drop for Edge {
        /// Gives back the strong reference. In these tests only the collector's destroy
        /// phase drops edges, so the target is always `DEAD`.
        fn drop(&mut self) {
            // SAFETY: the strong reference keeps the header alive.
            let header = unsafe { self.0.as_ref() };
            let old = header.state.decrement();
            assert!(old & DEAD != 0, "only garbage is dropped here");
            if state::strong(old) == 1 && old & DROPPED != 0 {
                // SAFETY: the value is gone and so is the last strong reference.
                unsafe { Header::release_hold(self.0) };
            }
        }
    }

    static DROPS: StdAtomicUsize = StdAtomicUsize::new(0);

    struct Node {
        next: OnceLock<Edge>,
    }

    impl Drop for Node {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }

    // SAFETY: forwards to its one field.
    unsafe impl Trace for Node {
        fn trace(&self, tracer: &mut Tracer) {
            if let Some(edge) = self.next.get() {
                edge.trace(tracer);
            }
        }
    }

    fn node(strong: usize) -> NonNull<Header> {
        let boxed = Box::new(GcBox {
            header: Header::new(VTableFor::<Header, Node>::VTABLE, true, strong),
            value: Node {
                next: OnceLock::new(),
            },
        });
        NonNull::from(Box::leak(boxed)).cast()
    }

    fn link(from: NonNull<Header>, to: NonNull<Header>) {
        // SAFETY: `from` is a live `GcBox<Node>` of this test.
        let value = unsafe { &(*from.cast::<GcBox<Node>>().as_ptr()).value };
        assert!(value.next.set(Edge(to)).is_ok());
    }

    /// Makes `header` a root-buffer entry, as a drop to a non-zero count would.
    fn buffer(header: NonNull<Header>) -> NonNull<Header> {
        // SAFETY: a live header of this test.
        let h = unsafe { header.as_ref() };
        assert!(h.state.set_buffered_if_live());
        h.take_hold();
        header
    }

    struct NoReleases;

    // SAFETY: nothing is released while these tests' snapshots run.
    unsafe impl Context for NoReleases {
        unsafe fn tracing(&self, _: bool) {}
        fn pending_releases(&self) -> usize {
            0
        }
    }

    /// The shared algorithm judges thread-safe headers as it judges single-threaded ones: a
    /// garbage 2-cycle is claimed and destroyed, a self-cycle with a handle from outside
    /// survives, and both leave the scan. (No concurrency here: that is the loom models'
    /// job.)
    #[test]
    fn the_shared_algorithm_judges_thread_safe_headers() {
        let drops_before = DROPS.load(Ordering::Relaxed);
        let (a, b, c) = (node(1), node(1), node(2));
        link(a, b);
        link(b, a);
        link(c, c); // and one handle from outside: strong 2
        let mut scan = Scan::<Header>::new();
        let mut panics = Panics::default();
        // SAFETY: each root is a live buffer entry, listed once; nothing runs concurrently.
        let verdict = unsafe {
            scan.judge(
                vec![buffer(a), buffer(c)],
                Examined::ALL,
                &NoReleases,
                &mut panics,
            )
        };
        assert_eq!((verdict.traced, verdict.garbage), (3, 2));
        assert!(!verdict.gave_up && verdict.lied_about.is_none());
        // SAFETY: `c` is alive (the test's handle).
        let c_header = unsafe { c.as_ref() };
        assert!(
            !c_header.has(SCANNED | DEAD | BUFFERED),
            "the survivor left the scan"
        );
        // Phase 4 claimed the pair, from the word each member entered the scan with.
        for garbage in [a, b] {
            // SAFETY: the pair is alive until destroyed.
            let word = unsafe { garbage.as_ref() }.state().load(Ordering::Relaxed);
            assert_eq!(
                word & (SCANNED | DEAD),
                DEAD,
                "claimed: dead, out of the scan"
            );
            assert_eq!(state::strong(word), 1);
        }
        assert!(!verdict.abandoned);
        assert_eq!(scan.destroy(&mut panics), 2);
        assert!(panics.finish().is_none());
        assert_eq!(DROPS.load(Ordering::Relaxed) - drops_before, 2);

        // The handle from outside goes; the self-cycle is garbage now.
        c_header.state.decrement();
        let mut scan = scan.recycle(3).expect("small arrays are kept");
        let mut panics = Panics::default();
        // SAFETY: as above.
        let verdict =
            unsafe { scan.judge(vec![buffer(c)], Examined::ALL, &NoReleases, &mut panics) };
        assert_eq!((verdict.traced, verdict.garbage), (1, 1));
        assert!(c_header.has(DEAD));
        assert_eq!(scan.destroy(&mut panics), 1);
        assert_eq!(DROPS.load(Ordering::Relaxed) - drops_before, 3);
        // Every header was freed (Miri's leak checker would say otherwise).
    }
}
