//! Destroying garbage (DESIGN.md §3): members are dead before user code runs, `Drop` impls
//! cannot reach dropped values, panics leave the collector usable, nested `collect()` is a
//! no-op.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};

use cyclegc::{Gc, Trace, Tracer, Weak};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
    static STASH: RefCell<Vec<Gc<Member>>> = const { RefCell::new(Vec::new()) };
    static SEEN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

/// What a member does when it is dropped.
#[derive(Clone, Copy, PartialEq)]
enum OnDrop {
    Nothing,
    /// Dereference the next member (panics if it is dead).
    ReadNext,
    /// Look at the next member through `try_deref` and record what it saw.
    TryReadNext,
    /// Record whether a `Weak` to the next member still upgrades.
    UpgradeNext,
    /// Store a clone of the next member in a thread-local.
    StashNext,
    Panic,
    /// Call `collect()` and record what it returned.
    Collect,
    /// Build a fresh self-cycle.
    MakeCycle,
    /// Stash a clone of the next member, then panic with a payload whose own `Drop` panics.
    StashNextThenPanicWithBomb,
}

thread_local! {
    static BOMBS_DROPPED: Cell<usize> = const { Cell::new(0) };
}

/// A panic payload whose `Drop` panics.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        BOMBS_DROPPED.with(|d| d.set(d.get() + 1));
        panic!("a panic payload panicked when dropped");
    }
}

fn bombs_dropped() -> usize {
    BOMBS_DROPPED.with(Cell::get)
}

struct Member {
    name: String,
    next: RefCell<Option<Gc<Member>>>,
    weak_next: RefCell<Weak<Member>>,
    on_drop: OnDrop,
}

fn member(name: &str, on_drop: OnDrop) -> Gc<Member> {
    Gc::new(Member {
        name: name.into(),
        next: RefCell::new(None),
        weak_next: RefCell::new(Weak::new()),
        on_drop,
    })
}

/// Links the members into a ring: each one's `next` is the following one.
fn close_ring(members: &[Gc<Member>]) {
    for (i, m) in members.iter().enumerate() {
        let next = &members[(i + 1) % members.len()];
        *m.next.borrow_mut() = Some(next.clone());
        *m.weak_next.borrow_mut() = Gc::downgrade(next);
    }
}

fn record(s: String) {
    SEEN.with(|seen| seen.borrow_mut().push(s));
}

fn seen() -> Vec<String> {
    SEEN.with(|seen| std::mem::take(&mut *seen.borrow_mut()))
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
        let next = self.next.borrow();
        match self.on_drop {
            OnDrop::Nothing => {}
            OnDrop::ReadNext => {
                let name = &next.as_ref().unwrap().name; // panics: the next member is dead
                record(name.clone());
            }
            OnDrop::TryReadNext => {
                let seen = Gc::try_deref(next.as_ref().unwrap()).map(|m| m.name.clone());
                record(format!("{seen:?}"));
            }
            OnDrop::UpgradeNext => {
                record(format!("{}", self.weak_next.borrow().upgrade().is_some()));
            }
            OnDrop::StashNext => {
                let handle = next.as_ref().unwrap().clone();
                STASH.with(|s| s.borrow_mut().push(handle));
            }
            OnDrop::Panic => panic!("member {} panics in drop", self.name),
            OnDrop::Collect => record(format!("{}", cyclegc::collect())),
            OnDrop::MakeCycle => {
                let fresh = member("fresh", OnDrop::Nothing);
                close_ring(std::slice::from_ref(&fresh));
            }
            OnDrop::StashNextThenPanicWithBomb => {
                let handle = next.as_ref().unwrap().clone();
                STASH.with(|s| s.borrow_mut().push(handle));
                std::panic::panic_any(Bomb);
            }
        }
    }
}

// SAFETY: reports the one owned `Gc` (the `Weak` is not an edge).
unsafe impl Trace for Member {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }
}

fn ring_of(kinds: &[OnDrop]) -> Vec<Weak<Member>> {
    let members: Vec<_> = kinds
        .iter()
        .enumerate()
        .map(|(i, &k)| member(&format!("m{i}"), k))
        .collect();
    close_ring(&members);
    members.iter().map(Gc::downgrade).collect()
}

#[test]
fn drop_dereferencing_a_dead_member_panics_clearly_and_the_rest_is_dropped() {
    let before = drops();
    let weaks = ring_of(&[OnDrop::ReadNext, OnDrop::Nothing, OnDrop::ReadNext]);
    let err = catch_unwind(cyclegc::collect).unwrap_err();
    let message = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap();
    assert!(
        message.contains("already destroyed") && message.contains("try_deref"),
        "{message}"
    );
    assert_eq!(drops() - before, 3, "every member dropped exactly once");
    assert!(seen().is_empty(), "no dead value was read");
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
    assert_eq!(cyclegc::collect(), 0, "the collector is usable afterwards");
}

#[test]
fn try_deref_sees_dead_members_as_none() {
    ring_of(&[OnDrop::TryReadNext, OnDrop::TryReadNext]);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(seen(), ["None", "None"]);
}

#[test]
fn weak_upgrade_fails_before_any_drop_runs() {
    ring_of(&[
        OnDrop::UpgradeNext,
        OnDrop::UpgradeNext,
        OnDrop::UpgradeNext,
    ]);
    assert_eq!(cyclegc::collect(), 3);
    assert_eq!(seen(), ["false", "false", "false"]);
}

#[test]
fn a_handle_stashed_during_drop_keeps_the_header_but_not_the_value() {
    let before = drops();
    let weaks = ring_of(&[OnDrop::StashNext, OnDrop::Nothing]);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(drops() - before, 2);
    let stashed = STASH.with(|s| s.borrow_mut().pop()).unwrap();
    assert!(Gc::try_deref(&stashed).is_none(), "no resurrection");
    assert!(weaks[1].upgrade().is_none());
    assert_eq!(Gc::strong_count(&stashed), 1);
    let clone = stashed.clone(); // cloning a dead handle is allowed
    assert_eq!(format!("{clone:?}"), "<collected>");
    assert!(catch_unwind(AssertUnwindSafe(|| stashed.name.len())).is_err());
    assert!(Gc::try_unwrap(clone).is_err());
    drop(stashed);
    assert_eq!(drops() - before, 2, "the value is not dropped again");
    assert_eq!(cyclegc::collect(), 0);
    // Miri checks the header was freed by the last handle, not before.
}

#[test]
fn panicking_drop_is_resumed_after_the_whole_set_is_destroyed() {
    let before = drops();
    ring_of(&[
        OnDrop::Panic,
        OnDrop::Nothing,
        OnDrop::Panic,
        OnDrop::Nothing,
    ]);
    let err = catch_unwind(cyclegc::collect).unwrap_err();
    assert_eq!(
        err.downcast_ref::<String>().unwrap(),
        "member m0 panics in drop",
        "the first panic is the one resumed"
    );
    assert_eq!(drops() - before, 4, "no double drop, nobody skipped");
    // Usable afterwards, stats consistent.
    let s = cyclegc::stats();
    ring_of(&[OnDrop::Nothing, OnDrop::Nothing]);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(cyclegc::stats().collected, s.collected + 2);
}

/// A panic payload dropped by a collection may panic itself. The collection must still
/// destroy the whole set and restore every header: a member left with its scan index would
/// be mistaken for a node of a later collection that reaches it through a stashed handle.
#[test]
fn a_panic_payload_that_panics_when_dropped_does_not_cut_the_destruction_short() {
    let before = (drops(), bombs_dropped());
    let weaks = ring_of(&[
        OnDrop::Panic,
        OnDrop::StashNextThenPanicWithBomb,
        OnDrop::Nothing,
        OnDrop::Nothing,
    ]);
    let err = catch_unwind(cyclegc::collect).unwrap_err();
    assert_eq!(
        err.downcast_ref::<String>().unwrap(),
        "member m0 panics in drop",
        "the first panic is the one resumed"
    );
    assert_eq!(drops() - before.0, 4, "every member dropped exactly once");
    assert_eq!(
        bombs_dropped() - before.1,
        1,
        "the second payload was dropped"
    );
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
    // A later collection reaches the stashed (dead) m2 from a live object.
    let stashed = STASH.with(|s| s.borrow_mut().pop()).unwrap();
    assert!(Gc::try_deref(&stashed).is_none());
    let live = member("live", OnDrop::Nothing);
    *live.next.borrow_mut() = Some(stashed);
    drop(live.clone()); // a possible root
    assert_eq!(cyclegc::collect(), 0, "nothing is garbage");
    assert_eq!(live.name, "live", "the live object is intact");
    assert_eq!(drops() - before.0, 4);
    drop(live);
    assert_eq!(drops() - before.0, 5);
    assert_eq!(cyclegc::collect(), 0);
}

/// A node whose (contract-breaking) `trace` looks inside the `Gc` it owns and records what it
/// saw.
struct Peeker {
    name: String,
    next: RefCell<Option<Gc<Peeker>>>,
}

// SAFETY: reports its one owned `Gc`; the peek breaks the contract, but only reads.
unsafe impl Trace for Peeker {
    fn trace(&self, tracer: &mut Tracer) {
        if let Some(next) = &*self.next.borrow() {
            record(next.name.clone());
            record(format!("{:?}", Gc::try_deref(next).map(|p| p.name.len())));
        }
        self.next.trace(tracer);
    }
}

/// While the collector traces, the objects it scans are only tentatively dead: their values
/// are intact and can be read (by a `Trace` impl, or by the panic hook when one panics).
#[test]
fn a_value_being_scanned_can_still_be_read() {
    let a = Gc::new(Peeker {
        name: "peeked".into(),
        next: RefCell::new(None),
    });
    *a.next.borrow_mut() = Some(a.clone());
    drop(a);
    assert_eq!(cyclegc::collect(), 1);
    assert_eq!(seen(), ["peeked", "Some(6)"]);
}

/// A node whose `trace` panics while `explode` is set.
struct Fragile {
    next: RefCell<Option<Gc<Fragile>>>,
    explode: Cell<bool>,
}

impl Drop for Fragile {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

// SAFETY: reports its one owned `Gc`; panicking is allowed by the contract.
unsafe impl Trace for Fragile {
    fn trace(&self, tracer: &mut Tracer) {
        if self.explode.get() {
            panic!("trace exploded");
        }
        self.next.trace(tracer);
    }
}

fn fragile(explode: bool) -> Gc<Fragile> {
    Gc::new(Fragile {
        next: RefCell::new(None),
        explode: Cell::new(explode),
    })
}

#[test]
fn a_panicking_trace_keeps_what_it_did_not_report_alive_and_is_resumed() {
    let before = drops();
    let a = fragile(false);
    let b = fragile(true);
    *b.next.borrow_mut() = Some(a.clone());
    *a.next.borrow_mut() = Some(b.clone());
    let (wa, wb) = (Gc::downgrade(&a), Gc::downgrade(&b));
    drop((a, b));
    let err = catch_unwind(cyclegc::collect).unwrap_err();
    assert_eq!(*err.downcast_ref::<&str>().unwrap(), "trace exploded");
    // b's edge to a was never reported, so a counts as referenced from outside, and b with it.
    assert_eq!(drops(), before, "nothing freed");
    let a = wa.upgrade().unwrap();
    assert_eq!(Gc::strong_count(&a), 2, "counts untouched");
    // The collector is usable; once tracing works, the cycle goes. Both survived the
    // collection, which took them out of the buffer; the next decrement buffers a again.
    a.next.borrow().as_ref().unwrap().explode.set(false);
    drop(a);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(drops() - before, 2);
    assert!(wb.upgrade().is_none());
}

/// A node whose `trace` panics with a payload whose `Drop` panics.
struct Booby {
    me: RefCell<Option<Gc<Booby>>>,
}

// SAFETY: panicking is allowed by the contract.
unsafe impl Trace for Booby {
    fn trace(&self, _: &mut Tracer) {
        std::panic::panic_any(Bomb);
    }
}

#[test]
fn tracing_that_panics_with_panicking_payloads_leaves_the_collector_sound() {
    let before = bombs_dropped();
    let weaks: Vec<_> = (0..2)
        .map(|_| {
            let booby = Gc::new(Booby {
                me: RefCell::new(None),
            });
            *booby.me.borrow_mut() = Some(booby.clone());
            Gc::downgrade(&booby)
        })
        .collect();
    let err = catch_unwind(cyclegc::collect).unwrap_err();
    assert!(err.is::<Bomb>(), "the first payload is resumed");
    assert_eq!(
        bombs_dropped() - before,
        1,
        "the collector dropped the second"
    );
    // The resumed one is ours to dispose of: its drop panics.
    let second = catch_unwind(AssertUnwindSafe(|| drop(err))).unwrap_err();
    assert_eq!(bombs_dropped() - before, 2);
    drop(second);
    // Their self-edges were never reported: both survived, and are examined again by the
    // next collection (and panic again). Break the cycles; the collector is usable.
    assert_eq!(cyclegc::count(), 2);
    for weak in &weaks {
        let booby = weak.upgrade().unwrap();
        drop(booby.me.borrow_mut().take());
    }
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
    assert_eq!(cyclegc::collect(), 0);
}

/// DESIGN.md §2.8: a collection that meets a panicking `Trace` still judges the rest of the
/// buffer, so unrelated garbage is not stranded behind it.
#[test]
fn a_panicking_trace_does_not_keep_unrelated_garbage_from_being_collected() {
    cyclegc::collect();
    let old = cyclegc::threshold();
    cyclegc::set_threshold(2);
    let before = drops();
    let a = fragile(true);
    *a.next.borrow_mut() = Some(a.clone());
    let b = fragile(false);
    *b.next.borrow_mut() = Some(b.clone());
    let (wa, wb) = (Gc::downgrade(&a), Gc::downgrade(&b));
    drop((a, b));
    assert_eq!(cyclegc::count(), 2);
    let start = cyclegc::stats().collections;
    // The threshold is reached: this allocation collects. The panic does not come out of
    // `new` (which may run where unwinding aborts): it is kept.
    drop(fragile(false));
    assert_eq!(cyclegc::stats().collections, start + 1);
    // b was garbage and is gone; a, whose self-edge was never reported, survived and is back
    // in the buffer, to be examined again; the allocated value went by reference counting.
    assert_eq!((wa.strong_count(), wb.strong_count()), (1, 0));
    assert_eq!((cyclegc::count(), drops() - before), (1, 2));
    // Once the trace is fixed, the next `collect()` frees a, then resumes the kept panic.
    wa.upgrade().unwrap().explode.set(false);
    cyclegc::set_threshold(old);
    let err = catch_unwind(cyclegc::collect).unwrap_err();
    assert_eq!(*err.downcast_ref::<&str>().unwrap(), "trace exploded");
    assert!(wa.upgrade().is_none());
    assert_eq!(drops() - before, 3);
    assert_eq!(cyclegc::collect(), 0, "the kept panic was resumed once");
}

#[test]
fn collect_from_drop_is_a_no_op() {
    ring_of(&[OnDrop::Collect, OnDrop::Nothing]);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(seen(), ["0"]);
}

#[test]
fn a_cycle_built_during_drop_is_collected_next_time() {
    let before = drops();
    ring_of(&[OnDrop::MakeCycle, OnDrop::Nothing]);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(drops() - before, 2);
    assert_eq!(cyclegc::collect(), 1, "the fresh cycle");
    assert_eq!(drops() - before, 3);
}

/// A cycle member that can also own the head of an acyclic chain, reported to the collector
/// or not.
struct Hub {
    peer: RefCell<Option<Gc<Hub>>>,
    chain: Option<Gc<Member>>,
    report_chain: bool,
}

// SAFETY: reports each owned `Gc` at most once (leaving the chain out is allowed).
unsafe impl Trace for Hub {
    fn trace(&self, tracer: &mut Tracer) {
        self.peer.trace(tracer);
        if self.report_chain {
            self.chain.trace(tracer);
        }
    }
}

/// A two-hub garbage cycle owning an `N`-long chain; returns what `collect()` freed and the
/// number of `Member`s dropped.
fn cycle_owning_a_chain(n: usize, report_chain: bool) -> (usize, usize) {
    let before = drops();
    let chain = (0..n).fold(None, |next, i| {
        let m = member(&format!("c{i}"), OnDrop::Nothing);
        *m.next.borrow_mut() = next;
        Some(m)
    });
    let a = Gc::new(Hub {
        peer: RefCell::new(None),
        chain,
        report_chain,
    });
    let b = Gc::new(Hub {
        peer: RefCell::new(Some(a.clone())),
        chain: None,
        report_chain,
    });
    *a.peer.borrow_mut() = Some(b);
    drop(a);
    (cyclegc::collect(), drops() - before)
}

#[test]
fn a_long_chain_owned_by_garbage_is_freed_without_recursion() {
    const N: usize = if cfg!(miri) { 100 } else { 1_000_000 };
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            // Reported: the chain is garbage too, destroyed from the collector's flat list.
            assert_eq!(cycle_owning_a_chain(N, true), (N + 2, N));
            // Not reported: the chain looks referenced from outside, survives the scan, and
            // goes by refcounting when its hub is dropped, through the release loop.
            assert_eq!(cycle_owning_a_chain(N, false), (2, N));
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A `Gc` slot shared between nodes, outside the collector's view.
type Stash = std::rc::Rc<RefCell<Option<Gc<Thief>>>>;

/// A node whose `trace` breaks the contract: it reports what is in its `loot` stash, and
/// empties the stash it was given to `steal` from (dropping a `Gc`) while tracing.
struct Thief {
    next: RefCell<Option<Gc<Thief>>>,
    loot: Stash,
    steal: Option<Stash>,
}

impl Drop for Thief {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

// SAFETY: deliberately broken (it drops a `Gc` while tracing); the collector must stay sound.
unsafe impl Trace for Thief {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
        self.loot.borrow().trace(tracer);
        if let Some(stash) = &self.steal {
            drop(stash.borrow_mut().take());
        }
    }
}

fn thief(loot: Option<Gc<Thief>>, steal: Option<Stash>) -> Gc<Thief> {
    Gc::new(Thief {
        next: RefCell::new(None),
        loot: std::rc::Rc::new(RefCell::new(loot)),
        steal,
    })
}

#[test]
fn a_trace_that_drops_the_last_reference_to_a_scanned_object_causes_no_double_drop() {
    let before = drops();
    // a -> b -> a is garbage, and so is a's loot c (c -> a). Tracing a adds b and c; tracing
    // b then drops c's only reference (through the stash), while c is already in the scan.
    let c = thief(None, None);
    let a = thief(Some(c.clone()), None);
    *c.next.borrow_mut() = Some(a.clone());
    drop(c);
    let b = thief(None, Some(a.loot.clone()));
    *b.next.borrow_mut() = Some(a.clone());
    *a.next.borrow_mut() = Some(b);
    drop(a); // the only root
    let freed = cyclegc::collect();
    assert_eq!(
        freed, 2,
        "a and b; c, released while tracing, went through the release loop"
    );
    assert_eq!(drops() - before, 3, "each value dropped exactly once");
    assert_eq!(cyclegc::collect(), 0);
}

/// DESIGN.md §2.8: a lying `Trace` keeps its part of the graph alive, not the whole buffer.
#[test]
fn a_lying_trace_does_not_keep_unrelated_garbage_from_being_collected() {
    let before = drops();
    let unrelated = ring_of(&[OnDrop::Nothing, OnDrop::Nothing]);
    let a = thief(None, None);
    let stash: Stash = std::rc::Rc::new(RefCell::new(Some(thief(None, None))));
    let b = Gc::new(Thief {
        next: RefCell::new(Some(a.clone())),
        loot: stash.clone(),
        steal: Some(stash),
    });
    *a.next.borrow_mut() = Some(b);
    let wa = Gc::downgrade(&a);
    drop(a);
    let aborted = cyclegc::stats().aborted;
    let result = std::panic::catch_unwind(cyclegc::collect);
    assert_eq!(
        result.is_err(),
        cfg!(debug_assertions),
        "debug builds panic"
    );
    if let Err(err) = result {
        let message = err.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("to a `destroy::Thief` than it has"),
            "{message}"
        );
    }
    assert_eq!(cyclegc::stats().aborted, aborted + 1);
    assert!(unrelated.iter().all(|w| w.upgrade().is_none()), "collected");
    assert!(wa.upgrade().is_some(), "the liar's part is kept");
    // The two ring members, and the loot the thief released.
    assert_eq!(drops() - before, 3);
}

#[test]
fn a_trace_that_drops_what_it_reported_keeps_its_part_of_the_graph() {
    let before = drops();
    // b reports its loot c, then drops c's only reference: the edge it reported is gone
    // before the collector counts it, so the counts cannot add up.
    let a = thief(None, None);
    let stash: Stash = std::rc::Rc::new(RefCell::new(Some(thief(None, None))));
    let b = Gc::new(Thief {
        next: RefCell::new(Some(a.clone())),
        loot: stash.clone(),
        steal: Some(stash),
    });
    *a.next.borrow_mut() = Some(b);
    let wa = Gc::downgrade(&a);
    drop(a);
    let result = std::panic::catch_unwind(cyclegc::collect);
    assert_eq!(
        result.is_err(),
        cfg!(debug_assertions),
        "debug builds panic"
    );
    assert_eq!(drops() - before, 1, "only c, released by the thief");
    // The collector is usable: a and b are a plain cycle now.
    let a = wa.upgrade().expect("a is connected to the lie: kept");
    drop(a);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(drops() - before, 3);
}

thread_local! {
    /// Set while the next `Flaky` trace must panic.
    static FLAKY: Cell<bool> = const { Cell::new(false) };
}

/// A self-cycle member whose `trace` panics when `FLAKY` is set.
struct Flaky {
    me: RefCell<Option<Gc<Flaky>>>,
}

// SAFETY: reports its one owned `Gc`; may panic first.
unsafe impl Trace for Flaky {
    fn trace(&self, tracer: &mut Tracer) {
        if FLAKY.with(|f| f.replace(false)) {
            panic!("flaky trace");
        }
        self.me.trace(tracer);
    }
}

/// A one-off `Trace` panic must not leak the cycle for good: the object goes back into the
/// buffer, and the next collection examines it again.
#[test]
fn a_cycle_whose_trace_panicked_once_is_collected_by_the_next_collection() {
    let flaky = Gc::new(Flaky {
        me: RefCell::new(None),
    });
    *flaky.me.borrow_mut() = Some(flaky.clone());
    let weak = Gc::downgrade(&flaky);
    drop(flaky);
    FLAKY.with(|f| f.set(true));
    assert!(catch_unwind(cyclegc::collect).is_err());
    assert_eq!(cyclegc::count(), 1, "back in the buffer");
    assert_eq!(cyclegc::collect(), 1);
    assert!(weak.upgrade().is_none());
}

/// Allocates a tracked value when dropped: an automatic collection may run there.
struct AllocateOnDrop;

impl Drop for AllocateOnDrop {
    fn drop(&mut self) {
        drop(member("record", OnDrop::Nothing));
    }
}

/// No collection runs while the thread is panicking (a `Drop` that runs during unwinding, or
/// the panic hook): a panic there — even one the collection catches — can abort the process.
/// The garbage waits for the next collection.
#[test]
fn no_collection_runs_while_the_thread_is_panicking() {
    cyclegc::collect();
    let old = cyclegc::threshold();
    cyclegc::set_threshold(1);
    let before = drops();
    let collections = cyclegc::stats().collections;
    let weaks = ring_of(&[OnDrop::Panic, OnDrop::Nothing]); // buffered: a collection is due
    let err = catch_unwind(|| {
        let _allocate = AllocateOnDrop;
        panic!("an ordinary panic");
    })
    .unwrap_err();
    cyclegc::set_threshold(old);
    assert_eq!(*err.downcast_ref::<&str>().unwrap(), "an ordinary panic");
    assert_eq!(cyclegc::stats().collections, collections, "none ran");
    assert_eq!(drops() - before, 1, "the record");
    let err = catch_unwind(cyclegc::collect).unwrap_err();
    assert_eq!(
        err.downcast_ref::<String>().unwrap(),
        "member m0 panics in drop"
    );
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
    assert_eq!(drops() - before, 3);
}

/// A garbage cycle that owns the last handle to another object. It does not report that one
/// (allowed), so the collector keeps it and it goes when the cycle's value is dropped: by the
/// release loop, after the destruction, with its own `Drop` code.
struct Owner {
    me: RefCell<Option<Gc<Owner>>>,
    #[allow(dead_code)] // held, never read
    owned: Gc<Member>,
}

// SAFETY: reports `me`; leaving `owned` out is allowed.
unsafe impl Trace for Owner {
    fn trace(&self, tracer: &mut Tracer) {
        self.me.trace(tracer);
    }
}

fn garbage_owning(on_drop: OnDrop) {
    let owner = Gc::new(Owner {
        me: RefCell::new(None),
        owned: member("owned", on_drop),
    });
    *owner.me.borrow_mut() = Some(owner.clone());
    drop(owner);
}

/// What the garbage releases is dropped after the destruction (the release loop was holding
/// it back); a panic there belongs to the collection and must not escape an automatic one.
#[test]
fn a_panic_from_what_the_garbage_released_does_not_escape_an_automatic_collection() {
    cyclegc::collect();
    let old = cyclegc::threshold();
    cyclegc::set_threshold(1);
    let before = drops();
    garbage_owning(OnDrop::Panic);
    drop(member("allocated", OnDrop::Nothing)); // collects: no panic comes out
    cyclegc::set_threshold(old);
    assert_eq!(
        drops() - before,
        2,
        "the owned member and the allocated one"
    );
    let kept = catch_unwind(cyclegc::collect).unwrap_err();
    assert_eq!(
        kept.downcast_ref::<String>().unwrap(),
        "member owned panics in drop"
    );
}

/// ...and a `collect()` in such a `Drop` is still inside the collection: it does nothing
/// (before, it resumed the panic the automatic collection had kept, out of `Gc::new`).
#[test]
fn a_collect_in_a_drop_of_what_the_garbage_released_is_a_no_op() {
    cyclegc::collect();
    let old = cyclegc::threshold();
    cyclegc::set_threshold(1);
    let panicking = ring_of(&[OnDrop::Panic]);
    garbage_owning(OnDrop::Collect);
    drop(member("allocated", OnDrop::Nothing)); // collects: no panic comes out
    cyclegc::set_threshold(old);
    assert_eq!(seen(), ["0"]);
    assert!(panicking[0].upgrade().is_none());
    let kept = catch_unwind(cyclegc::collect).unwrap_err();
    assert_eq!(
        kept.downcast_ref::<String>().unwrap(),
        "member m0 panics in drop"
    );
}

/// A `Trace` panic inside a `Mutex` must not poison the user's (live) mutex.
#[test]
fn a_trace_panic_inside_a_mutex_does_not_poison_it() {
    let locked = Gc::new(std::sync::Mutex::new(Flaky {
        me: RefCell::new(None),
    }));
    drop(locked.clone());
    FLAKY.with(|f| f.set(true));
    assert!(catch_unwind(cyclegc::collect).is_err());
    assert!(!locked.is_poisoned());
}

thread_local! {
    static OUTER: RefCell<Option<Gc<Outer>>> = const { RefCell::new(None) };
    static PROBED: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

/// A deep chain of boxes: its trace hands work back to the tracer.
struct Chain {
    next: Option<Box<Chain>>,
}

// SAFETY: owns no `Gc`.
unsafe impl Trace for Chain {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }
    fn may_contain_gc() -> bool {
        true // so that the boxes are traced through the work list
    }
}

/// Cells nested in a cell: the inner borrows are parked on the tracer's work list, then the
/// last element's trace panics.
struct Outer {
    cell: RefCell<Vec<(RefCell<Chain>, Option<Flaky>)>>,
}

/// Looks at `OUTER`'s cell while the panic unwinds past `Outer::trace`.
struct Probe;

impl Drop for Probe {
    fn drop(&mut self) {
        OUTER.with(|outer| {
            let outer = outer.borrow();
            let borrowed = outer.as_ref().unwrap().cell.try_borrow_mut().is_err();
            PROBED.with(|p| {
                p.borrow_mut()
                    .push(if borrowed { "held" } else { "released" })
            });
        });
    }
}

// SAFETY: owns no `Gc` (the `Flaky` in it has none); may panic; the probe only looks.
unsafe impl Trace for Outer {
    fn trace(&self, tracer: &mut Tracer) {
        let _probe = Probe;
        self.cell.trace(tracer);
    }
}

/// While a `Trace` panic unwinds, a cell borrow (or lock) the tracer holds stays held until
/// the guards parked inside it are released: others may not change the contents, and so free
/// the inner cells, while the tracer still holds borrows of them.
#[test]
fn a_panic_inside_nested_cells_releases_the_outer_borrow_last() {
    let mut chain = Chain { next: None };
    for _ in 0..40 {
        chain = Chain {
            next: Some(Box::new(chain)),
        };
    }
    let outer = Gc::new(Outer {
        cell: RefCell::new(vec![
            (RefCell::new(chain), None),
            (
                RefCell::new(Chain { next: None }),
                Some(Flaky {
                    me: RefCell::new(None),
                }),
            ),
        ]),
    });
    OUTER.with(|o| *o.borrow_mut() = Some(outer.clone()));
    drop(outer.clone());
    FLAKY.with(|f| f.set(true));
    assert!(catch_unwind(cyclegc::collect).is_err());
    // The second attempt does not trace `outer` (its trace panicked): one probe.
    assert_eq!(PROBED.with(|p| p.take()), ["held"]);
    assert!(outer.cell.try_borrow_mut().is_ok(), "released in the end");
    OUTER.with(|o| o.borrow_mut().take());
}

thread_local! {
    static TARGET: RefCell<Weak<Flaky>> = const { RefCell::new(Weak::new()) };
    static PAYLOADS: Cell<u32> = const { Cell::new(0) };
}

/// A second panic payload: its `Drop` is user code, which looks at `TARGET`.
struct Observer;

impl Drop for Observer {
    fn drop(&mut self) {
        let alive = TARGET.with(|t| t.borrow().upgrade().is_some());
        record(format!("payload dropped, target upgradable: {alive}"));
    }
}

/// Panics with `Observer` payloads while `PAYLOADS` is non-zero.
struct Thrower;

// SAFETY: owns no `Gc`; may panic.
unsafe impl Trace for Thrower {
    fn trace(&self, _: &mut Tracer) {
        if PAYLOADS.with(|p| p.replace(p.get().saturating_sub(1))) > 0 {
            std::panic::panic_any(Observer);
        }
    }
    fn may_contain_gc() -> bool {
        true
    }
}

/// Payloads other than the resumed one are dropped once the collection is complete, never in
/// the middle of its tracing (their `Drop` is user code, which could change what is being
/// counted): there, `Weak::upgrade` would still answer `None` for the objects being scanned.
#[test]
fn later_panic_payloads_are_dropped_after_the_collection() {
    let target = Gc::new(Flaky {
        me: RefCell::new(None),
    });
    TARGET.with(|t| *t.borrow_mut() = Gc::downgrade(&target));
    drop(target.clone()); // a root, traced first
    let throwers = [Gc::new(Thrower), Gc::new(Thrower)];
    let _ = throwers.clone(); // both are roots too
    PAYLOADS.with(|p| p.set(2));
    let err = catch_unwind(cyclegc::collect).unwrap_err();
    assert!(err.is::<Observer>());
    assert_eq!(seen(), ["payload dropped, target upgradable: true"]);
    drop(err);
    assert_eq!(seen(), ["payload dropped, target upgradable: true"]);
}
