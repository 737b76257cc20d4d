//! The state word of a thread-safe header: the strong count and the flags in one atomic, so
//! that one atomic operation both changes the count and tells the thread what the object is
//! going through (ARCHITECTURE.md, "A thread-safe collection").
//!
//! ```text
//! CLAIMING | GUARD | strong (from bit 6) | SCANNED | WITHDRAWN | DROPPED | DEAD | UNTRACKED | BUFFERED
//! ```
//!
//! `CLAIMING` is the top bit and `GUARD` (always 0 until the count overflows into it) the
//! next, so that clone's one comparison of the old word with `GUARD` catches both the claim
//! and an overflow, as `Arc`'s clone compares with its maximum.

use crate::cycle::{BUFFERED, DEAD, IN_BUFFER, UNTRACKED, WITHDRAWN};
use crate::primitive::hint::spin_loop;
use crate::primitive::sync::atomic::{fence, AtomicUsize, Ordering};

/// The collector holds the object in its snapshot: a release of the last strong reference
/// hands the value to the collector instead of dropping it, and `get_mut` waits.
pub(crate) const SCANNED: usize = 32;
const COUNT_SHIFT: u32 = 6;
/// One strong reference, in the state word.
pub(crate) const ONE: usize = 1 << COUNT_SHIFT;
/// The collector is claiming the object: clones and upgrades wait until it has decided.
const CLAIMING: usize = 1 << (usize::BITS - 1);
/// Set only when the count overflows into it.
const GUARD: usize = 1 << (usize::BITS - 2);
const LOW_FLAGS: usize = ONE - 1;

/// The strong count in a state word.
#[inline]
pub(crate) fn strong(word: usize) -> usize {
    (word & !(CLAIMING | GUARD)) >> COUNT_SHIFT
}

/// What a drop of a tracked object did ([`State::decrement_tracked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decrement {
    /// Other strong references remain, and this drop set `BUFFERED`: the hold it took is
    /// now the root-buffer entry's, which the caller records.
    Buffered,
    /// Other strong references remain, and the object's entry, withdrawn by `get_mut`, is a
    /// root again (`WITHDRAWN` turned into `BUFFERED`): the entry and its hold exist already.
    Rearmed,
    /// A plain decrement; the word before it.
    Plain(usize),
}

/// What a drop of a strong reference did ([`State::release`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// Other strong references remain.
    Kept,
    /// Other strong references remain, and this drop buffered the object: the hold it took
    /// is now the root-buffer entry's, which the caller records.
    Buffered,
    /// That was the last strong reference; the word before the drop says what happens to
    /// the value (an `Acquire` fence ordered every other use of it before this).
    Last(usize),
}

/// Whether a `Gc` is the only strong reference ([`State::lock_unique`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unique {
    /// It is, and the word is locked (`CLAIMING`) until [`State::unlock`]: no upgrade, no
    /// collection can start using the object meanwhile.
    Locked(usize),
    /// Other strong references exist, or the object is dead.
    Shared,
}

/// Whether a root-buffer entry's word is a live root: buffered (not withdrawn), with strong
/// references, neither dead nor in the running scan already.
#[inline]
fn is_live_root(word: usize) -> bool {
    word & BUFFERED != 0 && strong(word) > 0 && word & (DEAD | SCANNED) == 0
}

/// What [`State::try_increment_now`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// It added a strong reference, the caller's now.
    Taken,
    /// The object has no strong reference left, or is dead: nothing to take.
    Gone,
    /// The word is locked (a claim being decided, `get_mut` checking it is unique): the
    /// caller may wait for it, but not while it holds a lock.
    Busy,
}

/// A header's state word.
pub(crate) struct State(AtomicUsize);

impl State {
    /// A state with `strong` strong references and the low flags `flags`.
    #[inline]
    pub(crate) fn new(strong: usize, flags: usize) -> State {
        debug_assert!(flags <= LOW_FLAGS);
        State(AtomicUsize::new(strong << COUNT_SHIFT | flags))
    }

    /// The current word.
    #[inline]
    pub(crate) fn load(&self, order: Ordering) -> usize {
        self.0.load(order)
    }

    /// Adds a strong reference for a clone of a handle the caller holds. Waits while the
    /// object is being claimed (the clone must not complete before the collector has
    /// decided: ARCHITECTURE.md, "Why the verdict is right"); aborts on overflow.
    #[inline]
    pub(crate) fn increment(&self) {
        // Relaxed, as in `Arc`: the caller's handle already keeps the object alive.
        let old = self.0.fetch_add(ONE, Ordering::Relaxed);
        if old >= GUARD {
            self.increment_slow(old);
        }
    }

    #[cold]
    #[inline(never)]
    fn increment_slow(&self, old: usize) {
        if old & GUARD != 0 {
            std::process::abort();
        }
        while self.0.load(Ordering::Acquire) & CLAIMING != 0 {
            spin_loop();
        }
    }

    /// Drops a strong reference: the plain decrement for objects whose flags cannot change
    /// what a drop must do (untracked or dead ones), and otherwise a compare-and-swap, so
    /// that the word the drop decides on is exactly the word it changes: a drop that found
    /// the object buffered cannot decrement after a collection took the entry (the count
    /// then drops without a possible root, and a cycle could leak), and a drop that found
    /// one strong reference cannot miss an upgrade. A drop that leaves other strong
    /// references to a tracked, live, unbuffered object buffers it
    /// ([`State::decrement_tracked`]).
    #[inline]
    pub(crate) fn release(&self, take_hold: impl Fn(), give_back: impl Fn()) -> Release {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            if word & (UNTRACKED | DEAD) != 0 {
                let old = self.decrement();
                return if strong(old) == 1 {
                    Release::Last(old)
                } else {
                    Release::Kept
                };
            }
            // The flag first: the compiler then branches on it rather than computing both
            // tests for every drop (BENCHMARKS.md, "The listing's last instructions").
            if word & BUFFERED == 0 && strong(word) > 1 {
                return match self.decrement_tracked(take_hold, give_back) {
                    Decrement::Buffered => Release::Buffered,
                    Decrement::Rearmed => Release::Kept,
                    Decrement::Plain(old) if strong(old) == 1 => Release::Last(old),
                    Decrement::Plain(_) => Release::Kept,
                };
            }
            match self.0.compare_exchange_weak(
                word,
                word - ONE,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) if strong(word) == 1 => {
                    fence(Ordering::Acquire);
                    return Release::Last(word);
                }
                Ok(_) => return Release::Kept,
                Err(current) => word = current,
            }
        }
    }

    /// Removes a strong reference; returns the word before, from which the caller decides
    /// what else to do (the last reference, a possible root, a hand-off to the collector).
    /// If it was the last strong reference, an `Acquire` fence orders every other thread's
    /// use of the object (their `Release` decrements, the collector's drop of a `DEAD`
    /// object's value) before whatever the caller does next, as in `Arc`'s drop.
    #[inline]
    pub(crate) fn decrement(&self) -> usize {
        let old = self.0.fetch_sub(ONE, Ordering::Release);
        if strong(old) == 1 {
            fence(Ordering::Acquire);
        }
        old
    }

    /// Removes a strong reference of a tracked object. If other strong references remain
    /// and the object is neither buffered nor dead, the object may now be the only way into
    /// a garbage cycle: this drop sets `BUFFERED` in the same atomic step as its decrement.
    /// After a plain decrement the thread owns nothing and may not touch the header (a
    /// racing last drop can free it), so the buffer's weak hold is taken first, with
    /// `take_hold`, while the caller's strong reference still keeps the header; if another
    /// thread buffers the object first, the hold is given back with `give_back`, still
    /// before the decrement.
    #[inline]
    pub(crate) fn decrement_tracked(
        &self,
        take_hold: impl Fn(),
        give_back: impl Fn(),
    ) -> Decrement {
        let mut word = self.0.load(Ordering::Relaxed);
        let mut holding = false;
        loop {
            let wants_buffer = strong(word) > 1 && word & (BUFFERED | UNTRACKED | DEAD) == 0;
            if wants_buffer && word & WITHDRAWN != 0 {
                // One entry per object, ever: make the withdrawn one a root again.
                if holding {
                    give_back();
                    holding = false;
                }
                match self.0.compare_exchange_weak(
                    word,
                    (word - ONE) & !WITHDRAWN | BUFFERED,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Decrement::Rearmed,
                    Err(current) => {
                        word = current;
                        continue;
                    }
                }
            }
            if !wants_buffer {
                if holding {
                    give_back();
                    holding = false;
                }
                if word & (UNTRACKED | DEAD) != 0 {
                    return Decrement::Plain(self.decrement());
                }
                // Buffered already, or the last reference: decrement from exactly this word
                // (see `State::release`).
                match self.0.compare_exchange_weak(
                    word,
                    word - ONE,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        if strong(word) == 1 {
                            fence(Ordering::Acquire);
                        }
                        return Decrement::Plain(word);
                    }
                    Err(current) => {
                        word = current;
                        continue;
                    }
                }
            }
            if !holding {
                take_hold();
                holding = true;
            }
            match self.0.compare_exchange_weak(
                word,
                (word - ONE) | BUFFERED,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Decrement::Buffered,
                Err(current) => word = current,
            }
        }
    }

    /// Adds a strong reference for `Weak::upgrade`, unless the object has none left or is
    /// dead; waits while it is being claimed.
    #[inline]
    pub(crate) fn try_increment(&self) -> bool {
        loop {
            match self.try_increment_now() {
                Attempt::Taken => return true,
                Attempt::Gone => return false,
                Attempt::Busy => spin_loop(),
            }
        }
    }

    /// Adds a strong reference for the heap's view (`sync::objects`), without waiting: the
    /// caller holds a registry lock, which whoever holds the word locked may need.
    #[inline]
    pub(crate) fn try_increment_now(&self) -> Attempt {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            if strong(word) == 0 || word & DEAD != 0 {
                return Attempt::Gone;
            }
            if word & CLAIMING != 0 {
                return Attempt::Busy;
            }
            if word & GUARD != 0 {
                std::process::abort();
            }
            match self.0.compare_exchange_weak(
                word,
                word + ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Attempt::Taken,
                Err(current) => word = current,
            }
        }
    }

    /// The collector adds the object to its snapshot: sets `SCANNED` and returns the word it
    /// replaced (with `SCANNED`), unless the object has no strong reference, or is dead,
    /// withdrawn by `get_mut`, or already scanned.
    #[inline]
    pub(crate) fn enter_scan(&self, refuse: usize) -> Option<usize> {
        let mut word = self.0.load(Ordering::Acquire);
        loop {
            if strong(word) == 0 || word & (refuse | SCANNED | CLAIMING) != 0 {
                return None;
            }
            match self.0.compare_exchange_weak(
                word,
                word | SCANNED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(word | SCANNED),
                Err(current) => word = current,
            }
        }
    }

    /// The collector takes a root-buffer entry out of the buffer: clears `IN_BUFFER` and,
    /// if the entry was a live root (`BUFFERED`, strong references, neither `DEAD` nor
    /// already `SCANNED`), sets `SCANNED` in the same step, as [`State::enter_scan`] does,
    /// and returns the word it wrote. Waits while the word is locked by `get_mut`.
    #[inline]
    pub(crate) fn take_root(&self) -> Option<usize> {
        // Locked only by `get_mut`'s short lock: this collector claims nothing before every
        // root is taken.
        let old = self.change_unlocked(|word| {
            Some(if is_live_root(word) {
                word & !IN_BUFFER | SCANNED
            } else {
                word & !IN_BUFFER
            })
        })?;
        is_live_root(old).then_some(old & !IN_BUFFER | SCANNED)
    }

    /// Changes the word by compare-and-swap to what `change` makes of it (`None`: leave it),
    /// waiting while the word is locked (`CLAIMING`: `get_mut`'s short lock, or a claim the
    /// caller knows not to be running). Returns the word it replaced, or `None` if `change`
    /// declined.
    #[inline]
    fn change_unlocked(&self, change: impl Fn(usize) -> Option<usize>) -> Option<usize> {
        let mut word = self.0.load(Ordering::Acquire);
        loop {
            if word & CLAIMING != 0 {
                spin_loop();
                word = self.0.load(Ordering::Acquire);
                continue;
            }
            let new = change(word)?;
            match self
                .0
                .compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(word),
                Err(current) => word = current,
            }
        }
    }

    /// The collector tidies a root buffer: gives up the entry of an object with no strong
    /// reference left, or dead (clears `IN_BUFFER` and returns `true`: the caller gives back
    /// the entry's unit); keeps that of a live one (`false`). Waits while the word is locked
    /// by `get_mut` (the caller holds the collector lock, so no claim is being decided).
    pub(crate) fn drop_entry_if_gone(&self) -> bool {
        self.change_unlocked(|word| {
            (strong(word) == 0 || word & DEAD != 0).then_some(word & !IN_BUFFER)
        })
        .is_some()
    }

    /// The collector leaves the object: clears `SCANNED`; returns the word before.
    #[inline]
    pub(crate) fn leave_scan(&self) -> usize {
        self.0.fetch_and(!SCANNED, Ordering::AcqRel)
    }

    /// The value of a `new_cyclic` object is written: its first strong reference appears
    /// (`Release`, for the `Acquire` of an upgrade that sees it).
    #[inline]
    pub(crate) fn publish(&self) {
        self.0.fetch_add(ONE, Ordering::Release);
    }

    /// Waits while the collector holds the object (`SCANNED`) or it is locked (`CLAIMING`),
    /// then, if `word` (the latest one read) still has exactly one strong reference and the
    /// object is not dead, replaces it with `f(word)`; returns the word replaced, or `None`
    /// if there are other strong references (or none), or the object is dead — or if it is
    /// `SCANNED` and this thread is collecting (a panic hook run by a panicking `Trace`, a
    /// `Drop` of garbage): the collection holding it may be this thread's own, which waiting
    /// would never see end.
    fn when_unique(&self, f: impl Fn(usize) -> usize) -> Option<usize> {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            if strong(word) != 1 || word & DEAD != 0 {
                return None;
            }
            if word & SCANNED != 0 && crate::release::phase().collecting() {
                return None;
            }
            if word & (SCANNED | CLAIMING) != 0 {
                // A collection holds the object (and may be reading the value), or a claim
                // is being decided: both let go within one collection, which waits on no
                // lock a mutator holds (it only tries them).
                crate::primitive::thread::yield_now();
                word = self.0.load(Ordering::Relaxed);
                continue;
            }
            match self
                .0
                .compare_exchange_weak(word, f(word), Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Some(word),
                Err(current) => word = current,
            }
        }
    }

    /// `try_unwrap`: removes the only strong reference, unless there are others; waits while
    /// a collection holds the object (it may be reading the value). On success the caller
    /// owns the value and the implicit hold; the word before is returned.
    #[inline]
    pub(crate) fn take_unique(&self) -> Option<usize> {
        self.when_unique(|word| word - ONE)
    }

    /// `get_mut`: locks the word if this is the only strong reference, so that the caller
    /// can check the weak count without an upgrade or a collection starting meanwhile.
    #[inline]
    pub(crate) fn lock_unique(&self) -> Unique {
        match self.when_unique(|word| word | CLAIMING) {
            Some(word) => Unique::Locked(word),
            None => Unique::Shared,
        }
    }

    /// Ends [`State::lock_unique`]'s lock, with the word `word` (the locked one, possibly
    /// with its entry withdrawn). Nothing else writes a locked word: its only strong
    /// reference is the caller's, upgrades and the collector wait or back off.
    #[inline]
    pub(crate) fn unlock(&self, word: usize) {
        debug_assert!(word & CLAIMING == 0);
        self.0.store(word, Ordering::Release);
    }

    /// Starts claiming the object, if its word is still exactly `recorded` (the word
    /// [`State::enter_scan`] returned).
    #[inline]
    pub(crate) fn claim(&self, recorded: usize) -> bool {
        self.0
            .compare_exchange(
                recorded,
                recorded | CLAIMING,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Abandons a claim: the waiting clones and upgrades go on.
    #[inline]
    pub(crate) fn unclaim(&self) {
        self.0.fetch_and(!CLAIMING, Ordering::Release);
    }

    /// Completes a claim: the object is `DEAD`, and out of the scan (`SCANNED` cleared):
    /// from here on `DEAD` decides everything `SCANNED` decided, and a later collection,
    /// which may run while this one destroys its garbage, must not read this one's scan
    /// index. Waiting clones and upgrades see `DEAD`.
    #[inline]
    pub(crate) fn kill(&self) {
        // The claim succeeded from a word with `SCANNED` (a word `enter_scan` returned) and
        // set `CLAIMING`; `DEAD` is clear, and only this collector changes these three
        // bits: one exclusive or flips all of them.
        let old = self
            .0
            .fetch_xor(CLAIMING | SCANNED | DEAD, Ordering::Release);
        debug_assert_eq!(old & (CLAIMING | SCANNED | DEAD), CLAIMING | SCANNED);
    }

    /// Completes a claim by keeping the object for the collector (saving garbage): one more
    /// strong reference, the collector's, and `CLAIMING` cleared, in one step, so that no
    /// other thread can reach the object before the collector holds it. It stays `SCANNED`
    /// until it leaves the scan. Waiting clones and upgrades see it alive.
    #[inline]
    pub(crate) fn keep(&self) {
        // `CLAIMING` (the top bit) is set, and only this collector clears it: adding
        // `ONE - CLAIMING` clears it and adds a strong reference. Another thread may add to
        // the word meanwhile (a clone through a member kept already, which then waits), so
        // this must be one read-modify-write, never a store.
        let old = self
            .0
            .fetch_add(ONE.wrapping_sub(CLAIMING), Ordering::Release);
        debug_assert_eq!(old & (CLAIMING | SCANNED | DEAD), CLAIMING | SCANNED);
    }

    /// Sets the low flags `flags`; returns the word before.
    #[inline]
    pub(crate) fn set_flags(&self, flags: usize) -> usize {
        debug_assert!(flags <= LOW_FLAGS);
        self.0.fetch_or(flags, Ordering::AcqRel)
    }

    /// Clears the low flags `flags`; returns the word before.
    #[inline]
    pub(crate) fn clear_flags(&self, flags: usize) -> usize {
        debug_assert!(flags <= LOW_FLAGS);
        self.0.fetch_and(!flags, Ordering::AcqRel)
    }

    /// Makes the object a root for the collection of its generation (`Object::make_root`):
    /// turns a withdrawn entry back into a root, or sets `BUFFERED` if it has no entry (the
    /// caller's hold becoming the entry's). Nothing for an object with no strong reference
    /// left, a dead one, or one already buffered. Returns whether it set `BUFFERED` on an
    /// object with no entry (the caller's hold is then the new entry's unit; a withdrawn
    /// entry keeps its own). Waits while `get_mut` has the word locked.
    pub(crate) fn make_root(&self) -> bool {
        let old = self.change_unlocked(|word| {
            if strong(word) == 0 || word & (UNTRACKED | DEAD | BUFFERED) != 0 {
                None
            } else if word & WITHDRAWN != 0 {
                Some(word & !WITHDRAWN | BUFFERED)
            } else {
                Some(word | BUFFERED)
            }
        });
        old.is_some_and(|old| old & WITHDRAWN == 0)
    }

    /// Sets `BUFFERED` if the object is tracked, has strong references, is not dead and has
    /// no entry; returns whether it did (and so the caller's hold is the new entry's).
    /// Waits while `get_mut` has the word locked (its `unlock` writes the word back whole).
    #[inline]
    pub(crate) fn set_buffered_if_live(&self) -> bool {
        self.change_unlocked(|word| {
            let needs_entry = strong(word) > 0 && word & (UNTRACKED | DEAD | IN_BUFFER) == 0;
            needs_entry.then_some(word | BUFFERED)
        })
        .is_some()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// `get_mut` withdrew the object's entry; a drop that would buffer it turns the entry
    /// back into a root instead of adding a second one (and takes no hold for it).
    #[test]
    fn a_drop_rearms_a_withdrawn_entry_instead_of_adding_one() {
        let state = State::new(2, WITHDRAWN);
        let holds = Cell::new(0i32);
        let outcome =
            state.decrement_tracked(|| holds.set(holds.get() + 1), || holds.set(holds.get() - 1));
        assert_eq!(outcome, Decrement::Rearmed);
        assert_eq!(holds.get(), 0, "no hold for a new entry");
        let word = state.load(Ordering::Relaxed);
        assert_eq!((strong(word), word & (BUFFERED | WITHDRAWN)), (1, BUFFERED));
    }

    /// The collector re-buffers a survivor while `get_mut` has its word locked: it waits
    /// for the unlock, which writes the word back whole, instead of setting `BUFFERED` in a
    /// word the unlock would overwrite (found by review).
    #[test]
    fn a_rebuffer_waits_for_get_muts_unlock() {
        let state = std::sync::Arc::new(State::new(1, 0));
        let Unique::Locked(word) = state.lock_unique() else {
            panic!("one strong reference")
        };
        let collector = {
            let state = state.clone();
            std::thread::spawn(move || state.set_buffered_if_live())
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!collector.is_finished(), "waits while locked");
        state.unlock(word);
        assert!(collector.join().unwrap());
        assert_ne!(
            state.load(Ordering::Relaxed) & BUFFERED,
            0,
            "not overwritten"
        );
    }

    /// A buffering drop takes the entry's hold, decrements and sets `BUFFERED`; a second
    /// drop finds it buffered and only decrements.
    #[test]
    fn the_first_drop_buffers_and_the_next_only_decrements() {
        let state = State::new(3, 0);
        let holds = Cell::new(0i32);
        let drop_once = || {
            state.decrement_tracked(|| holds.set(holds.get() + 1), || holds.set(holds.get() - 1))
        };
        assert_eq!(drop_once(), Decrement::Buffered);
        assert_eq!(holds.get(), 1);
        assert!(matches!(drop_once(), Decrement::Plain(old) if strong(old) == 2));
        assert_eq!(holds.get(), 1);
        assert_eq!(strong(state.load(Ordering::Relaxed)), 1);
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::cycle::DROPPED;
    use crate::primitive::cell::UnsafeCell;
    use crate::primitive::sync::atomic::{fence, AtomicBool, AtomicUsize};
    use crate::primitive::sync::{Arc, Mutex};
    use crate::primitive::thread;

    /// The claim a collector makes of a two-object set it judged garbage, as in phase 4:
    /// every member moved to `CLAIMING` from the word it recorded, or none.
    fn claim_all(members: &[(&State, usize)]) -> bool {
        for (k, &(state, recorded)) in members.iter().enumerate() {
            if !state.claim(recorded) {
                for &(done, _) in &members[..k] {
                    done.unclaim();
                }
                return false;
            }
        }
        for &(state, _) in members {
            state.kill();
        }
        true
    }

    /// Race 5, the do-si-do. `a -> b` and `b -> a` through immutable fields; the mutator
    /// holds a handle to `a`. It clones `b` out of `a`, drops its `a`, clones `a` back out
    /// of `b` and drops its `b`: it always ends holding `a`, so the pair is never garbage.
    /// The collector reads `b`'s count, then `a`'s, and claims them if both match their one
    /// internal edge. Fails if a clone of a claiming object does not wait (the clone of `a`
    /// completes between the claims of `a` and `b`).
    #[test]
    fn do_si_do_never_kills_what_a_mutator_holds() {
        loom::model(|| {
            // a: the edge from b and the mutator's handle; b: the edge from a.
            let a = Arc::new(State::new(2, 0));
            let b = Arc::new(State::new(1, 0));
            let killed = Arc::new(AtomicBool::new(false));
            let mutator = {
                let (a, b) = (a.clone(), b.clone());
                thread::spawn(move || {
                    b.increment(); // clone a.next: the mutator holds b
                    a.decrement(); // drop its a
                    a.increment(); // clone b.next: the mutator holds a
                    b.decrement(); // drop its b
                })
            };
            let collector = {
                let (a, b, killed) = (a.clone(), b.clone(), killed.clone());
                thread::spawn(move || {
                    let Some(rb) = b.enter_scan(DEAD) else { return };
                    let Some(ra) = a.enter_scan(DEAD) else {
                        b.leave_scan();
                        return;
                    };
                    if strong(ra) == 1 && strong(rb) == 1 && claim_all(&[(&a, ra), (&b, rb)]) {
                        killed.store(true, Ordering::Relaxed);
                    }
                })
            };
            mutator.join().unwrap();
            collector.join().unwrap();
            assert!(
                !killed.load(Ordering::Relaxed),
                "the collector killed a pair the mutator holds"
            );
            assert_eq!(strong(a.load(Ordering::Relaxed)), 2);
            assert_eq!(strong(b.load(Ordering::Relaxed)), 1);
        });
    }

    /// Race 6: the last handle is dropped on one thread while the collector traces the
    /// value. Whoever takes the count to zero while the object is `SCANNED` hands the value
    /// to the collector, which drops it once it has let go; otherwise the dropper drops it.
    /// The value is a loom cell, so loom also checks that the orderings make the collector's
    /// read happen before the drop's write. Fails if the dropper ignores `SCANNED`, or if the
    /// orderings are weakened.
    #[test]
    fn a_value_is_never_dropped_under_the_tracer() {
        loom::model(|| {
            let state = Arc::new(State::new(1, 0));
            let value = Arc::new(UnsafeCell::new(7u64));
            let drops = Arc::new(AtomicUsize::new(0));
            let drop_value = |value: &UnsafeCell<u64>, drops: &AtomicUsize| {
                // SAFETY: loom checks that no other access races with this one.
                value.with_mut(|p| unsafe { *p = 0 });
                drops.fetch_add(1, Ordering::Relaxed);
            };
            let mutator = {
                let (state, value, drops) = (state.clone(), value.clone(), drops.clone());
                thread::spawn(move || {
                    let old = state.decrement();
                    if strong(old) == 1 && old & SCANNED == 0 {
                        drop_value(&value, &drops);
                    }
                })
            };
            if state.enter_scan(DEAD).is_some() {
                // Tracing reads the value.
                // SAFETY: as above.
                value.with(|p| assert_eq!(unsafe { *p }, 7, "traced a dropped value"));
                let old = state.leave_scan();
                if strong(old) == 0 {
                    // Handed over while scanned.
                    fence(Ordering::Acquire);
                    drop_value(&value, &drops);
                }
            }
            mutator.join().unwrap();
            assert_eq!(drops.load(Ordering::Relaxed), 1, "dropped once");
        });
    }

    /// The hand-off of a destroyed object's implicit hold: the collector drops the value of
    /// a `DEAD` object that a `Drop` kept a strong reference to, then `value_dropped`'s
    /// `fetch_or(DROPPED)`; another thread drops that reference; a third drops the last
    /// `Weak`. Whoever gives back the last unit frees the allocation, after every other
    /// thread's use of it. Fails without the `Acquire` fence of the last decrement (the
    /// free then races with the collector's drop of the value).
    #[test]
    fn the_last_unit_is_given_back_after_every_use() {
        fn release_hold(weak: &AtomicUsize, value: &UnsafeCell<u64>) {
            if weak.fetch_sub(1, Ordering::Release) == 1 {
                fence(Ordering::Acquire);
                // The free, as a write to the allocation.
                // SAFETY: loom checks that no other access races with this one.
                value.with_mut(|p| unsafe { *p = 99 });
            }
        }
        loom::model(|| {
            // One strong reference (kept by a `Drop`), the implicit hold and one `Weak`.
            let state = Arc::new(State::new(1, DEAD));
            let weak = Arc::new(AtomicUsize::new(2));
            let value = Arc::new(UnsafeCell::new(0u64));
            let dropper = {
                let (state, weak, value) = (state.clone(), weak.clone(), value.clone());
                thread::spawn(move || {
                    let old = state.decrement();
                    if strong(old) == 1 && old & DROPPED != 0 {
                        release_hold(&weak, &value);
                    }
                })
            };
            let weak_dropper = {
                let (weak, value) = (weak.clone(), value.clone());
                thread::spawn(move || release_hold(&weak, &value))
            };
            // The collector's destroy: the value's drop writes to it, then `value_dropped`.
            // SAFETY: as above.
            value.with_mut(|p| unsafe { *p = 1 });
            let old = state.set_flags(DROPPED);
            if strong(old) == 0 {
                release_hold(&weak, &value);
            }
            dropper.join().unwrap();
            weak_dropper.join().unwrap();
            assert_eq!(weak.load(Ordering::Relaxed), 0, "every unit given back");
        });
    }

    /// Race 3: two threads drop the two strong references of one object (one to non-zero,
    /// which buffers it, one to zero, which drops the value) while the collector drains the
    /// root buffer. The header is freed exactly once, after every thread is done with it,
    /// and the value is dropped exactly once. Fails if the buffering drop sets `BUFFERED`
    /// after a plain decrement (it then touches a header the last drop may have freed).
    #[test]
    fn a_buffering_drop_never_touches_a_freed_header() {
        struct Object {
            state: State,
            /// The implicit hold (1) plus the buffer entry's hold.
            weak: AtomicUsize,
            freed: AtomicBool,
            drops: AtomicUsize,
        }
        impl Object {
            fn touch(&self) {
                assert!(
                    !self.freed.load(Ordering::Relaxed),
                    "touched a freed header"
                );
            }
            fn take_hold(&self) {
                self.touch();
                self.weak.fetch_add(1, Ordering::Relaxed);
            }
            fn release_hold(&self) {
                self.touch();
                if self.weak.fetch_sub(1, Ordering::AcqRel) == 1 {
                    self.freed.store(true, Ordering::Relaxed);
                }
            }
            /// A drop of one strong reference, as `sync::Gc`'s will do it.
            fn drop_strong(&self, buffer: &Mutex<Vec<()>>) {
                self.touch();
                match self
                    .state
                    .decrement_tracked(|| self.take_hold(), || self.release_hold())
                {
                    Decrement::Buffered => buffer.lock().unwrap().push(()),
                    Decrement::Plain(old) if strong(old) == 1 => {
                        self.drops.fetch_add(1, Ordering::Relaxed);
                        self.release_hold(); // the implicit hold
                    }
                    Decrement::Rearmed | Decrement::Plain(_) => {}
                }
            }
            /// The collector takes the entry out of the buffer.
            fn drain(&self, buffer: &Mutex<Vec<()>>) {
                let taken = buffer.lock().unwrap().pop();
                if taken.is_some() {
                    self.state.clear_flags(BUFFERED);
                    self.release_hold(); // the entry's hold
                }
            }
        }
        loom::model(|| {
            let object = Arc::new(Object {
                state: State::new(2, 0),
                weak: AtomicUsize::new(1),
                freed: AtomicBool::new(false),
                drops: AtomicUsize::new(0),
            });
            let buffer = Arc::new(Mutex::new(Vec::new()));
            let droppers: Vec<_> = (0..2)
                .map(|_| {
                    let (object, buffer) = (object.clone(), buffer.clone());
                    thread::spawn(move || object.drop_strong(&buffer))
                })
                .collect();
            object.drain(&buffer);
            for dropper in droppers {
                dropper.join().unwrap();
            }
            object.drain(&buffer);
            assert_eq!(object.drops.load(Ordering::Relaxed), 1, "dropped once");
            assert!(object.freed.load(Ordering::Relaxed), "freed in the end");
        });
    }

    /// Race 1: `Weak::upgrade` vs the claim of an orphaned 2-cycle. The upgrade either fails
    /// (the pair is dead) or succeeds before the claim is decided, in which case the claim
    /// fails and the pair is not killed.
    #[test]
    fn an_upgrade_and_a_claim_never_both_succeed() {
        loom::model(|| {
            let a = Arc::new(State::new(1, 0));
            let b = Arc::new(State::new(1, 0));
            let upgraded = {
                let a = a.clone();
                thread::spawn(move || a.try_increment())
            };
            let ra = a.enter_scan(DEAD);
            let rb = b.enter_scan(DEAD);
            let killed = match (ra, rb) {
                (Some(ra), Some(rb)) => {
                    strong(ra) == 1 && strong(rb) == 1 && claim_all(&[(&a, ra), (&b, rb)])
                }
                _ => false,
            };
            let upgraded = upgraded.join().unwrap();
            assert!(!(killed && upgraded), "an upgraded object was killed");
            assert_eq!(killed, a.load(Ordering::Relaxed) & DEAD != 0);
        });
    }
}
