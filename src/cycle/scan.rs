//! The cycle collector's algorithm: synchronous trial deletion (Bacon & Rajan 2001) over the
//! subgraph reachable from the possible roots, computed CPython-style on side counters. It
//! knows headers only through [`Object`], and the flavour that runs it only through
//! [`Context`]: no thread-locals, no policy. [`Scan::judge`] takes the roots and returns a
//! [`Verdict`]; [`Scan::destroy`] then destroys the garbage. The phases, numbered as in
//! ARCHITECTURE.md:
//!
//! 1. **Snapshot.** Starting from the roots (each entering the scan as its buffer entry is
//!    taken, whose hold is then given back; entries withdrawn by `Gc::get_mut` are skipped),
//!    every reachable tracked object becomes a scan node, if its header lets it enter the
//!    scan ([`Object::enter_scan`]; the single-threaded header stores the node index in its
//!    slot and marks the object *tentatively* `DEAD`; the thread-safe one sets `SCANNED`).
//!    Each object's locks are released once it is traced.
//!    Each node is traced exactly once, depth first, first child first (trees and lists are
//!    usually allocated in that order, so the later phases walk memory forwards); its edges
//!    are stored as node indices in one flat array. A snapshot in which a `trace` panicked
//!    is void: it is taken again without the objects whose `trace` panicked.
//! 2. **Subtract.** `refs` starts as the real strong count (never written); every edge takes
//!    one from its target's. What is left counts references from outside the snapshot. A
//!    `refs` that would go below zero proves a `Trace` impl reported more references than
//!    exist: every node connected to that one is kept alive, the rest judged as usual.
//! 3. **Scan** (phases 3 and 4 are skipped when every `refs` is zero and no `Trace` impl
//!    released anything, the usual case when collecting garbage): nodes with `refs > 0`,
//!    and everything reachable from them, are live.
//! 4. **Claim.** The garbage is claimed ([`Object::claim`]: a no-op for the single-threaded
//!    header, whose tentative `DEAD` is the claim; for the thread-safe one, each member whose
//!    trace took a lock is first traced again by a *holding* tracer, whose guards stay held
//!    until the claim is decided, and its edges compared with the snapshot's; then a
//!    compare-and-swap from the recorded word. Any difference abandons the claim of the whole
//!    set; a collection that saves its garbage completes the claim by *keeping* each member
//!    instead, [`Object::keep`]). Then the held guards are released, and the live nodes are
//!    revived
//!    ([`Object::revive`]), and so is a garbage node whose last strong reference a
//!    misbehaving `Trace` dropped: the release loop owns it now. A value handed over to the
//!    collector while its object was in the scan (its last strong reference went on another
//!    thread) goes to the release loop too.
//! 5. **Destroy.** In tracing order: put the vtable back, drop the value (catching panics)
//!    through the one drop path ([`drop_value`]). The implicit hold is given back by whichever
//!    comes last — the value's drop or its last strong reference — so each header is freed as
//!    soon as nothing points to it, in the same pass.
//!
//! No panic leaves the algorithm: the panics of `Trace` and `Drop` impls are recorded in the
//! caller's [`Panics`]. Should anything else unwind, dropping the [`Scan`] still leaves no
//! header in a scan state ([`Stage`]).
//!
//! A garbage header is thus written twice (snapshot, destroy); each phase after the snapshot
//! reads only the side arrays it needs. Their indices are 32 bits; a snapshot that outgrows
//! them hands the collection to a scan with 64-bit ones ([`Scan::widen`], [`index`]).
//!
//! Every phase runs on explicit work lists, so depth is bounded by type nesting, never by the
//! data: a million-node ring is collected on a 256 KiB stack.

use std::collections::HashSet;
use std::mem;
use std::ptr::NonNull;

use crate::cycle::object::{drop_value, Object, BUFFERED, DEAD, UNTRACKED};
use crate::cycle::registry::MAX_TABLES;
use crate::panics::Panics;
use crate::release;
use crate::trace::Tracer;

mod index;
#[cfg(test)]
mod tests;

use index::Index;

/// What the algorithm needs of the flavour that runs it.
///
/// # Safety
///
/// Implementations must answer truthfully: between `tracing(true)` and `tracing(false)`, the
/// flavour's handles must treat a `DEAD` object that is not `DROPPED` as tentatively dead
/// (readable, and released into the pending list when its last strong reference goes), and
/// `pending_releases` must count every such release. The verdict relies on both: a
/// tentatively dead object released during the snapshot is revived, never destroyed.
pub(crate) unsafe trait Context {
    /// The snapshot (phase 1) begins (`true`) or ends: in between, the `DEAD` flags it sets
    /// are tentative, which the flavour's handles must know.
    ///
    /// # Safety
    /// Only the algorithm calls it: `true` right before a snapshot, `false` right after.
    /// Outside a snapshot, a `DEAD` object is claimed for good, and treating it as tentative
    /// would let its release drop a value the collector drops too.
    unsafe fn tracing(&self, tracing: bool);

    /// How many released values wait for their drop. A `Trace` impl that drops the last
    /// reference to an object (a contract violation) makes it grow during the snapshot.
    fn pending_releases(&self) -> usize;
}

/// The snapshot's span, in which the `DEAD` flags it sets are tentative: tells the context
/// when it begins and — also if anything unwinds out of the snapshot — when it ends.
struct Tracing<'a, C: Context>(&'a C);

impl<'a, C: Context> Tracing<'a, C> {
    /// # Safety
    /// A snapshot follows, and the guard is dropped right after it.
    unsafe fn begin(context: &'a C) -> Self {
        // SAFETY: by the caller's contract.
        unsafe { context.tracing(true) };
        Tracing(context)
    }
}

impl<C: Context> Drop for Tracing<'_, C> {
    fn drop(&mut self) {
        // SAFETY: the snapshot `begin` announced is over.
        unsafe { self.0.tracing(false) };
    }
}

/// Which objects a collection examines (ARCHITECTURE.md, "Generations"), by their
/// [`Object::registry_place`]: those of the collected generations. An edge to any other
/// object is not followed (the object counts as referenced from outside, as CPython counts
/// references from older generations), and that object becomes a root of its own
/// generation ([`Object::make_root`], [`Scan::take_older`]), so that a cycle through it is
/// found when its generation is collected.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Examined {
    /// Listed objects of table `t` are examined if their number (their key) is at least
    /// `firsts[t]`.
    pub(crate) firsts: [usize; MAX_TABLES],
    /// Whether objects that are not listed (key 0) are examined.
    pub(crate) unlisted: bool,
}

impl Examined {
    /// Every object, frozen ones too (the value before a collection sets its own, and tests).
    pub(crate) const ALL: Examined = Examined {
        firsts: [0; MAX_TABLES],
        unlisted: true,
    };

    /// Examines, in each table, the numbers from `firsts` on (and unlisted objects if
    /// `unlisted`).
    pub(crate) fn from(firsts: impl IntoIterator<Item = usize>, unlisted: bool) -> Examined {
        let mut table_firsts = [0; MAX_TABLES];
        for (table_first, first) in table_firsts.iter_mut().zip(firsts) {
            *table_first = first;
        }
        Examined {
            firsts: table_firsts,
            unlisted,
        }
    }

    #[inline(always)]
    fn admits(&self, (table, key): (usize, usize)) -> bool {
        if key == 0 {
            self.unlisted
        } else {
            // A table index is below `MAX_TABLES` (`Object::registry_place`); masked so that
            // the check costs nothing.
            key >= self.firsts[table % MAX_TABLES]
        }
    }
}

/// What [`Scan::judge`] found.
#[derive(Debug)]
pub(crate) struct Verdict {
    /// Objects traced: the nodes of the last snapshot.
    pub(crate) traced: usize,
    /// Objects claimed as garbage, for [`Scan::destroy`] (or kept: [`Scan::keep_garbage`]).
    pub(crate) garbage: usize,
    /// The type of an object a `Trace` impl reported more references to than it has.
    pub(crate) lied_about: Option<&'static str>,
    /// Every snapshot was void (`Trace` impls kept panicking): nothing was judged, and
    /// the survivors are the roots.
    pub(crate) gave_up: bool,
    /// A member of the garbage changed (on another thread) before it was claimed: the claim
    /// was abandoned, and the set goes back to the root buffer as survivors.
    pub(crate) abandoned: bool,
}

/// The snapshot, in a few arrays grouped by the passes that read them: `nodes` (destroy),
/// `refs` (subtract), `visits` and `edges` (scan and claim). Node `i` is the `i`-th object
/// found. Dropping a `Scan` before it is done leaves no header behind in a scan state (see
/// [`Stage`]).
///
/// A flavour's collector keeps the arrays of the last collection for the next one
/// ([`Scan::recycle`]): allocating them afresh each time costs a page fault per 4 KiB
/// touched, and freeing them — right after the destroy pass has filled the allocator's bins
/// with freed objects — makes glibc consolidate those bins, touching every freed object once
/// more (BENCHMARKS.md has the measurement).
pub(crate) struct Scan<H: Object, I: Index = u32> {
    nodes: Vec<ScanNode<H>>,
    /// CPython's `gc_refs`: strong count minus references from inside the snapshot. In 32
    /// bits, because the subtract pass updates it in random order (a random graph's `refs`
    /// then fits in the L2 cache twice as long); a count that does not fit is [`MANY_REFS`].
    refs: Vec<u32>,
    /// One per traced node, in tracing order: depth first, children in the order their parent
    /// reported them. For structures built depth first (trees, lists) that is allocation
    /// order, so the destroy pass walks memory forwards.
    visits: Vec<Visit<I>>,
    /// Every node's edges as node indices, in tracing order: visit `k`'s edges end at
    /// `visits[k].edges_end()` and start where visit `k - 1`'s end.
    edges: Vec<I>,
    /// Every node is garbage: phases 3 and 4 were skipped, and `visits` lists the garbage.
    all_garbage: bool,
    /// The snapshot's depth-first work list, then the scan's (kept here between uses).
    stack: Vec<I>,
    /// Per node, its edges in `edges`, rebuilt from `visits` when the scan needs them (see
    /// [`Scan::mark_live`]).
    ranges: Vec<(I, I)>,
    /// Per node, [`LIVE`] if it is reachable from outside the snapshot (scan and claim only),
    /// and [`SEEN`] once the scan's forward pass has passed its visit.
    live: Vec<u8>,
    /// Indices of the unreachable objects, claimed (`DEAD`), to destroy (or kept alive:
    /// [`Scan::keep_garbage`]) — unless every node is garbage, when `visits` is the list.
    garbage: Vec<I>,
    /// Survivors that could not be traced completely, to examine again next time (or, after
    /// the collection gave up, the roots).
    survivors: Vec<NonNull<H>>,
    /// Nodes whose `refs` a `Trace` impl took below zero (it reported references that do not
    /// exist).
    tainted: Vec<I>,
    /// Objects the snapshot reached but did not examine (older generations) that had no
    /// root-buffer entry: each has one now (`BUFFERED` and a hold), for the caller to file in
    /// its generation's buffer (see [`Scan::take_older`]). Each is listed once: the flag
    /// keeps it from being listed again.
    older: Vec<NonNull<H>>,
    /// Which objects the snapshot enters.
    examined: Examined,
    /// The most nodes, and the most edges, this snapshot takes ([`Index::MAX`], or a
    /// test's lower limit).
    limit: usize,
    /// The snapshot outgrew its indices: it is given up, and a wider scan takes over.
    overflowed: bool,
    /// The root-buffer entries `add_roots` had no index left for (`IN_BUFFER`, a hold each),
    /// for the wider scan.
    left_roots: Vec<NonNull<H>>,
    /// The scan with wider indices that took over this collection, if this one outgrew its
    /// own: the verdict and everything after it are its ([`Scan::widen`]).
    wide: Option<Box<Scan<H, u64>>>,
    /// An empty root buffer with the capacity of the last one, swapped in for the next.
    spare_roots: Vec<NonNull<H>>,
    /// The first `root_count` nodes are the roots.
    root_count: usize,
    /// Objects whose `trace` panicked in an earlier attempt of this collection: not traced
    /// again (see [`Scan::snapshot`]).
    opaque: HashSet<NonNull<H>>,
    /// The node whose `trace` is running (to finish its visit if the `trace` panics).
    tracing: usize,
    /// Members of the garbage destroyed so far.
    destroyed: usize,
    /// The snapshot's tracer (kept for its capacity); the thread-safe claim's validation
    /// makes it hold, and it keeps those guards until the claim is decided.
    tracer: Tracer,
    /// The claim of the garbage was abandoned (see [`Verdict::abandoned`]).
    abandoned: bool,
    /// A thread-safe claim completes by keeping the garbage ([`Scan::keep_garbage`]).
    keeping: bool,
    /// The garbage a thread-safe claim kept, each out of the scan with a strong reference
    /// the caller owns ([`Scan::take_kept`]).
    kept: Vec<NonNull<H>>,
    stage: Stage,
}

/// What dropping a [`Scan`] must undo (DESIGN.md §2.8: every exit restores every header).
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    /// Nodes may hold a scan index and a tentative `DEAD`: revive them all.
    Scanning,
    /// The garbage is claimed (and may be being destroyed), every other node out of the
    /// scan: destroy the members not destroyed yet.
    Destroying,
    /// Every header is restored or destroyed: nothing to undo.
    Done,
}

/// An object in the snapshot, with what its header could not keep while in the scan (the
/// single-threaded header's vtable: its slot holds the node's index until the vtable is put
/// back).
struct ScanNode<H: Object> {
    header: NonNull<H>,
    saved: H::Saved,
}

// Not derived: the derive would require `H: Copy`.
impl<H: Object> Clone for ScanNode<H> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<H: Object> Copy for ScanNode<H> {}

impl<H: Object> ScanNode<H> {
    /// The node's header.
    ///
    /// # Safety
    /// The node is in the scan: its header is alive (releases to zero are deferred while a
    /// single-threaded collection runs; a thread-safe object's `SCANNED` keeps its value and
    /// header until it leaves the scan).
    unsafe fn header<'a>(self) -> &'a H {
        // SAFETY: by the caller's contract.
        unsafe { self.header.as_ref() }
    }
}

/// A traced node and where its edges end, with [`Index::INCOMPLETE`] set when part of the
/// value could not be traced (a borrowed `RefCell`): if it survives, it goes back into the
/// root buffer, so the cycle it may be on is examined again; and [`Index::GUARDED`] set when
/// its trace took a lock or cell borrow (so its edges may have changed since: a thread-safe
/// claim validates them).
#[derive(Clone, Copy)]
struct Visit<I: Index> {
    node: I,
    edges_end: I,
}

/// In [`Scan::live`]: the node is reachable from outside the snapshot.
const LIVE: u8 = 1;
/// In [`Scan::live`]: the scan's forward pass has passed the node's visit.
const SEEN: u8 = 2;

#[cfg(test)]
thread_local! {
    /// A lower limit for the 32-bit snapshots on this thread (tests only), so that tests can
    /// make a snapshot outgrow its indices.
    static TEST_LIMIT: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
    /// How many scans on this thread outgrew their indices (tests only).
    static WIDENED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The limit of a snapshot with indices `I` on this thread: [`Index::MAX`], or a test's
/// lower one for the narrow indices.
fn limit<I: Index>() -> usize {
    #[cfg(test)]
    if std::mem::size_of::<I>() < std::mem::size_of::<u64>() {
        return I::MAX.min(TEST_LIMIT.get());
    }
    I::MAX
}

impl<I: Index> Visit<I> {
    fn node(self) -> usize {
        self.node.get()
    }

    fn edges_end(self) -> usize {
        self.edges_end.end()
    }

    fn incomplete(self) -> bool {
        self.edges_end.has(I::INCOMPLETE)
    }

    fn guarded(self) -> bool {
        self.edges_end.has(I::GUARDED)
    }
}

/// A collection that traced `n` objects keeps its arrays for the next one if they hold at most
/// `RETAIN_SLACK * max(n, RETAIN_FLOOR)` nodes (and twice that many edges); larger ones are
/// freed, so one huge collection does not pin its memory for good.
const RETAIN_SLACK: usize = 8;
/// See [`RETAIN_SLACK`].
const RETAIN_FLOOR: usize = 1 << 12;

/// The `refs` of an object with `u32::MAX` or more strong references. It is never
/// decremented, so the object counts as referenced from outside: live, conservatively.
const MANY_REFS: u32 = u32::MAX;

/// How many snapshots a collection tries before it gives up; each one that fails marks the
/// objects whose `trace` panicked, so the next one skips them.
const SNAPSHOT_ATTEMPTS: usize = 3;

/// How many objects ahead of the one being destroyed the destroy pass prefetches.
const PREFETCH_AHEAD: usize = 8;

/// Asks the processor to start loading the cache line of `header`: the collector knows which
/// objects it will touch next, the hardware prefetcher does not when they are scattered.
#[inline(always)]
fn prefetch<H>(header: NonNull<H>) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: a prefetch is only a hint: it never faults and changes no memory, whatever the
    // address (`_mm_prefetch` is a safe function on newer toolchains).
    #[allow(unused_unsafe)]
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(header.as_ptr().cast());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = header;
}

impl<H: Object, I: Index> Scan<H, I> {
    pub(crate) fn new() -> Scan<H, I> {
        Scan {
            nodes: Vec::new(),
            refs: Vec::new(),
            visits: Vec::new(),
            edges: Vec::new(),
            all_garbage: false,
            stack: Vec::new(),
            ranges: Vec::new(),
            live: Vec::new(),
            garbage: Vec::new(),
            survivors: Vec::new(),
            tainted: Vec::new(),
            older: Vec::new(),
            examined: Examined::ALL,
            limit: I::MAX,
            overflowed: false,
            left_roots: Vec::new(),
            wide: None,
            spare_roots: Vec::new(),
            root_count: 0,
            opaque: HashSet::new(),
            tracing: 0,
            destroyed: 0,
            tracer: Tracer::new(H::FLAVOUR),
            abandoned: false,
            keeping: false,
            kept: Vec::new(),
            stage: Stage::Scanning,
        }
    }

    /// Empties the arrays of a finished collection that traced `traced` objects and returns
    /// them for the next one, unless they are much larger than it needed.
    pub(crate) fn recycle(mut self, traced: usize) -> Option<Scan<H, I>> {
        debug_assert!(self.stage == Stage::Done);
        // A wider scan's arrays are not kept: it served one collection of a huge heap.
        self.wide = None;
        let keep = RETAIN_SLACK * traced.max(RETAIN_FLOOR);
        if self.nodes.capacity() > keep || self.edges.capacity() > 2 * keep {
            return None;
        }
        self.nodes.clear();
        self.refs.clear();
        self.visits.clear();
        self.edges.clear();
        self.stack.clear();
        self.ranges.clear();
        self.live.clear();
        self.garbage.clear();
        self.survivors.clear();
        self.tainted.clear();
        debug_assert!(self.older.is_empty(), "`take_older` was not called");
        self.opaque.clear();
        self.overflowed = false;
        debug_assert!(self.left_roots.is_empty());
        self.all_garbage = false;
        self.abandoned = false;
        self.keeping = false;
        debug_assert!(self.kept.is_empty(), "`take_kept` was not called");
        self.destroyed = 0;
        self.stage = Stage::Scanning;
        Some(self)
    }

    fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Phases 1 to 4 over `roots`, the entries of a root buffer (whose holds this gives
    /// back), examining the objects `examined` admits (every root is examined): takes
    /// snapshots until one is valid (giving up after [`SNAPSHOT_ATTEMPTS`]),
    /// subtracts, and unless every node is garbage, scans and claims. When it returns, the
    /// garbage is claimed and every other header restored; [`Scan::take_survivors`] lists
    /// the objects to put back in the root buffer. The panics of `Trace` impls are recorded
    /// in `panics`.
    ///
    /// # Safety
    /// Every root is a live header of this flavour with an entry in the root buffer
    /// (`IN_BUFFER`, holding one unit of its weak count), each listed once; the caller hands
    /// the entries over (this clears `IN_BUFFER` and gives the units back). No other scan of
    /// this flavour runs (on any thread), and `context` is the flavour's, in a collection
    /// that defers this thread's releases (so no header is freed while the scan holds it:
    /// other threads' last releases of a thread-safe object in the scan hand its value to
    /// the collector).
    pub(crate) unsafe fn judge(
        &mut self,
        roots: Vec<NonNull<H>>,
        examined: Examined,
        context: &impl Context,
        panics: &mut Panics,
    ) -> Verdict {
        self.examined = examined;
        self.limit = limit::<I>();
        self.add_roots(roots);
        self.judge_added(context, panics)
    }

    /// [`Scan::judge`] once the roots are in the scan.
    fn judge_added(&mut self, context: &impl Context, panics: &mut Panics) -> Verdict {
        if self.overflowed {
            return self.widen(context, panics);
        }
        let mut attempt = 1;
        let trace_released = loop {
            let pending_before = context.pending_releases();
            let valid = {
                // SAFETY: the guard lives exactly as long as the snapshot.
                let _tracing = unsafe { Tracing::begin(context) };
                self.snapshot(panics)
            };
            if self.overflowed {
                return self.widen(context, panics);
            }
            if valid {
                // Only a `Trace` impl can have released anything during a valid snapshot.
                break context.pending_releases() != pending_before;
            }
            if attempt == SNAPSHOT_ATTEMPTS {
                self.give_up();
                return Verdict {
                    traced: self.len(),
                    garbage: 0,
                    lied_about: None,
                    gave_up: true,
                    abandoned: false,
                };
            }
            self.restart();
            attempt += 1;
        };
        self.all_garbage = self.subtract() && !trace_released;
        let lied_about = self.tainted.first().map(|&node| {
            let ScanNode { header, saved } = self.nodes[node.get()];
            // SAFETY: the node is in the scan, and `saved` is what entering it returned.
            let vtable = unsafe { header.as_ref().scanned_vtable(saved) };
            (vtable.type_name)()
        });
        if lied_about.is_some() {
            self.keep_tainted();
        }
        if !self.all_garbage {
            self.mark_live();
        }
        self.claim(panics);
        Verdict {
            traced: self.len(),
            garbage: self.garbage_len(),
            lied_about,
            gave_up: false,
            abandoned: self.abandoned,
        }
    }

    /// Hands the collection to a scan with wider indices, once this one's snapshot outgrew
    /// its own: revives every node, and has the wider scan take each that still has strong
    /// references as a root, with the root-buffer entries this one had no index for. (As
    /// after a void snapshot, every node and not only the roots: any may be the way into an
    /// orphaned cycle, and a drop does not buffer a tentatively dead object.) Returns its
    /// verdict; the rest of the collection is the wider scan's too.
    #[cold]
    #[inline(never)]
    fn widen(&mut self, context: &impl Context, panics: &mut Panics) -> Verdict {
        #[cfg(test)]
        WIDENED.set(WIDENED.get() + 1);
        let held = self.revive_all(true);
        self.stage = Stage::Done;
        // This scan's arrays are as large as its indices allow: let them go before the wider
        // scan fills its own.
        self.nodes = Vec::new();
        self.refs = Vec::new();
        self.visits = Vec::new();
        self.edges = Vec::new();
        self.stack = Vec::new();
        self.ranges = Vec::new();
        self.live = Vec::new();
        let mut wide = Box::new(Scan::<H, u64>::new());
        wide.examined = self.examined;
        wide.limit = limit::<u64>();
        wide.keeping = self.keeping;
        wide.opaque = mem::take(&mut self.opaque);
        // SAFETY: `revive_all` took a hold on each, out of the scan now; they were nodes, so
        // tracked.
        unsafe { wide.add_held(held) };
        wide.add_roots(mem::take(&mut self.left_roots));
        let verdict = wide.judge_added(context, panics);
        self.wide = Some(wide);
        verdict
    }

    /// The survivors of the last verdict to put back in the root buffer: those that could
    /// not be traced completely, the members of a garbage set whose claim was abandoned, or,
    /// if the collection gave up, its roots. Each is tracked, out of the scan, and carries a
    /// hold (a unit of its weak count) that the caller owns: the root-buffer entry's if the
    /// object is buffered again, otherwise to give back.
    pub(crate) fn take_survivors(&mut self) -> Vec<NonNull<H>> {
        match &mut self.wide {
            Some(wide) => wide.take_survivors(),
            None => mem::take(&mut self.survivors),
        }
    }

    /// The objects of older generations the snapshot reached without examining them, each a
    /// root-buffer entry (`BUFFERED`, holding a unit of its weak count) for the caller to file
    /// in its generation's buffer. Each is tracked, out of the scan, and listed once; its
    /// strong count may have reached zero since (a `Trace` impl or the panic hook dropping
    /// the last reference), which the caller must check.
    pub(crate) fn take_older(&mut self) -> Vec<NonNull<H>> {
        let mut older = mem::take(&mut self.older);
        // Those this snapshot made before it outgrew its indices are entries too.
        if let Some(wide) = &mut self.wide {
            older.append(&mut wide.take_older());
        }
        older
    }

    /// An empty root buffer to swap in for the one the next collection takes.
    pub(crate) fn take_spare_roots(&mut self) -> Vec<NonNull<H>> {
        mem::take(&mut self.spare_roots)
    }

    /// Adds a tracked, live object that is not in the snapshot yet, and returns its index,
    /// or `None` if its header refuses ([`Object::enter_scan`]).
    ///
    /// # Safety
    /// The object is reachable through a strong reference (a root with a non-zero count, or
    /// an edge of a node being traced), so its header is alive; it is tracked, not `DEAD`,
    /// and not in a scan.
    #[inline]
    unsafe fn add(&mut self, header: NonNull<H>) -> Option<usize> {
        let index = self.len();
        // SAFETY: by the caller's contract.
        let h = unsafe { header.as_ref() };
        // SAFETY: alive and tracked (the caller's contract). What it returns is kept in
        // `nodes` at once (nothing unwinds in between); every way out of the scan hands it
        // back (`claim`, `revive_all`, `destroy_member`, and `Drop for Scan` for the others).
        let (strong, saved) = unsafe { h.enter_scan(index) }?;
        self.push_node(header, strong, saved);
        Some(index)
    }

    #[inline(always)]
    fn push_node(&mut self, header: NonNull<H>, strong: usize, saved: H::Saved) {
        self.nodes.push(ScanNode { header, saved });
        self.refs.push(u32::try_from(strong).unwrap_or(MANY_REFS));
    }

    /// Adds the wanted roots among the root buffer's entries to the snapshot, giving back the
    /// buffer's holds. A withdrawn entry (`Gc::get_mut`) is skipped: its value may be
    /// borrowed mutably.
    fn add_roots(&mut self, mut roots: Vec<NonNull<H>>) {
        // Most roots lead to a few objects: start the arrays at a size that spares the first
        // few doublings.
        let guess = 4 * roots.len();
        self.nodes.reserve(guess);
        self.refs.reserve(guess);
        self.visits.reserve(guess);
        self.stack.reserve(guess);
        self.edges.reserve(2 * guess);
        let mut entries = roots.drain(..);
        for root in entries.by_ref() {
            if self.len() == self.limit {
                // No index left: the entries wait for a wider scan.
                self.overflowed = true;
                self.left_roots.push(root);
                self.left_roots.extend(entries.by_ref());
                break;
            }
            // SAFETY: a buffer entry holds a unit of its header's weak count; it is given back
            // only after the last use of `h`.
            let h = unsafe { root.as_ref() };
            // SAFETY: the caller handed the entry over; what entering returns is kept in
            // `nodes` at once.
            if let Some((strong, saved)) = unsafe { h.enter_root(self.len()) } {
                self.push_node(root, strong, saved);
            }
            // SAFETY: gives back the entry's unit. If the root entered the scan, that unit is
            // not the last: its strong references (or, once they are gone, the value handed
            // to the collector) keep the implicit hold.
            unsafe { H::release_hold(root) };
        }
        drop(entries);
        self.spare_roots = roots;
        self.root_count = self.len();
    }

    /// Adds each of `held` that still has strong references to the snapshot as a root, and
    /// gives back the holds.
    ///
    /// # Safety
    /// Each of `held` is a tracked header out of every scan, with a hold the caller hands
    /// over.
    unsafe fn add_held(&mut self, held: Vec<NonNull<H>>) {
        for header in held {
            // SAFETY: the hold keeps the header, until it is given back below.
            let h = unsafe { header.as_ref() };
            if h.strong() > 0 {
                // SAFETY: alive (the hold), and tracked. One that is `DEAD`, or already in
                // this scan, or (thread-safe) whose count went to zero since, is refused by
                // its header.
                let _ = unsafe { self.add(header) };
            }
            // SAFETY: the caller's hold. If the object entered the scan, its strong
            // references (or its value handed to the collector) keep the implicit hold:
            // this is not the last unit.
            unsafe { H::release_hold(header) };
        }
        self.root_count = self.len();
    }

    /// Phase 1: trace every node once, depth first (which follows the order most structures
    /// were allocated in), adding what it reaches and recording the edges.
    ///
    /// Returns whether the snapshot is valid: it is not if a `trace` panicked. Then the panic
    /// hook ran in the middle of it, and that is user code, free to clone, move and drop
    /// handles among the objects already counted; no verdict can be drawn from counts read
    /// before. The pass still goes on to the end (edges the panicking `trace` reported are
    /// dropped unread: the hook may have freed what they point to), so that every node whose
    /// `trace` panics is found and marked [`opaque`](Scan::opaque) for the next attempt.
    fn snapshot(&mut self, panics: &mut Panics) -> bool {
        let panics_before = panics.count();
        let mut stack = mem::take(&mut self.stack);
        stack.extend((0..self.len()).rev().map(I::new));
        let mut tracer = mem::replace(&mut self.tracer, Tracer::new(H::FLAVOUR));
        // A thread-safe object's guards stay held until its edges are visited: once a guard
        // goes, another thread may take a handle out of the lock and drop it, freeing a
        // child that is not in the scan yet (race 10 in ARCHITECTURE.md).
        tracer.set_holding(H::CONCURRENT);
        while !stack.is_empty() {
            let completed = if self.opaque.is_empty() {
                panics.catch(|| self.trace_stack::<false>(&mut stack, &mut tracer))
            } else {
                panics.catch(|| self.trace_stack::<true>(&mut stack, &mut tracer))
            };
            if !completed {
                tracer.abandon_work();
                tracer.clear();
                self.opaque.insert(self.nodes[self.tracing].header);
                self.visit(self.tracing, &mut stack, &mut tracer, true);
                tracer.release_held();
            }
        }
        tracer.set_holding(false);
        self.stack = stack;
        self.tracer = tracer;
        panics.count() == panics_before
    }

    /// Traces the nodes on the stack until it is empty (or a `trace` panics). Nodes that are
    /// [`opaque`](Scan::opaque) (checked only if `SKIP_OPAQUE`) are not traced: they get no
    /// edges, so what they point to counts as referenced from outside, and are marked
    /// incomplete, to be examined again by the next collection.
    ///
    /// Not inlined into the `catch_unwind` closure: as a function of its own, its `&mut self`
    /// tells the compiler that the `trace` calls cannot touch the scan, so the arrays stay
    /// in registers across them.
    #[inline(never)]
    fn trace_stack<const SKIP_OPAQUE: bool>(&mut self, stack: &mut Vec<I>, tracer: &mut Tracer) {
        while let Some(next) = stack.pop() {
            let next = next.get();
            self.tracing = next;
            let node = self.nodes[next];
            let header = node.header;
            if SKIP_OPAQUE && self.opaque.contains(&header) {
                self.visit(next, stack, tracer, true);
                continue;
            }
            // SAFETY: the node is in the scan, with what entering it returned.
            let vtable = unsafe { node.header().scanned_vtable(node.saved) };
            // SAFETY: the node's value is alive: it was live when added; releases on this
            // thread are deferred while a collection runs (a node whose last reference the
            // panic hook dropped waits in the pending list, value intact), and a thread-safe
            // object's last release on another thread hands the value to the collector while
            // it is `SCANNED`, which also keeps it from being moved or borrowed mutably. Its
            // vtable is the one it was
            // created with. `trace` does not read the slot, and only `Trace` impls run on
            // this thread meanwhile.
            unsafe { (vtable.trace)(header, tracer) };
            let incomplete = tracer.incomplete();
            self.visit(next, stack, tracer, incomplete);
            if H::CONCURRENT {
                // Every child is in the scan now, or refused: the guards can go.
                tracer.release_held();
            }
        }
    }

    /// After an invalid snapshot: revives every node and starts over, taking every node that
    /// still has strong references as a root (the others were released meanwhile). Every
    /// node, not only the roots: user code may have decremented any of them, and a drop does
    /// not buffer a tentatively dead object, so each may now be the only way into an
    /// orphaned cycle. Keeps [`opaque`](Scan::opaque).
    fn restart(&mut self) {
        let kept = self.revive_all(true);
        self.nodes.clear();
        self.refs.clear();
        self.visits.clear();
        self.edges.clear();
        // SAFETY: `revive_all` took a hold on each, out of the scan now; they were nodes, so
        // tracked.
        unsafe { self.add_held(kept) };
    }

    /// Takes every node out of the scan without claiming anything: releases the held
    /// guards, then revives each node, handing any value given to the collector meanwhile to
    /// the release loop. If `keep`, returns the headers of the others, each with a hold the
    /// caller gives back (after a revive, another thread's last drop may free a thread-safe
    /// header at any time).
    fn revive_all(&mut self, keep: bool) -> Vec<NonNull<H>> {
        self.tracer.release_held();
        let mut kept = Vec::new();
        for k in 0..self.nodes.len() {
            let node = self.nodes[k];
            // SAFETY: in the scan (until the revive below).
            let h = unsafe { node.header() };
            if keep {
                h.take_hold();
            }
            // SAFETY: in the scan, not claimed, with what entering it returned; the guards
            // are released.
            if unsafe { h.revive(node.saved) } {
                // SAFETY: the value was handed over: its drop and implicit hold are ours.
                unsafe { release::defer(node.header) };
            }
            if keep {
                kept.push(node.header);
            }
        }
        kept
    }

    /// Gives up on a collection whose snapshots kept failing: revives every node, and lists
    /// as survivors the roots (after a restart, every node of the last attempt) that still
    /// have strong references, for the root buffer.
    fn give_up(&mut self) {
        let root_count = self.root_count;
        let kept = self.revive_all(true);
        for (k, header) in kept.into_iter().enumerate() {
            // SAFETY: `revive_all` took a hold on it.
            if k < root_count && unsafe { header.as_ref() }.strong() > 0 {
                // The hold goes with the survivor (see `Scan::survivors`).
                self.survivors.push(header);
            } else {
                // SAFETY: the hold `revive_all` took; the header is out of the scan.
                unsafe { H::release_hold(header) };
            }
        }
        self.stage = Stage::Done;
    }

    /// Records the edges `tracer` holds as `node`'s, adding the objects they reach that are
    /// not in the snapshot yet (onto `stack`, to be traced), and clears the tracer. If they
    /// could take the snapshot past its limit, records nothing and ends the snapshot: a
    /// wider scan takes over ([`Scan::widen`]).
    #[inline(always)]
    fn visit(&mut self, node: usize, stack: &mut Vec<I>, tracer: &mut Tracer, incomplete: bool) {
        let reported = tracer.edges::<H>().len();
        if self.len().max(self.edges.len()) + reported > self.limit {
            self.overflowed = true;
            stack.clear();
            tracer.clear();
            return;
        }
        // Only a thread-safe claim reads it (its validation).
        let guarded = H::CONCURRENT && tracer.took_guard();
        // Start every child's cache miss at once rather than one per loop iteration.
        for &child in tracer.edges::<H>() {
            prefetch(child);
        }
        // Children are pushed last first, so that the first is traced next.
        for &child in tracer.edges::<H>().iter().rev() {
            // SAFETY: `trace` reported a `Gc` the value owns: its header is alive.
            let c = unsafe { child.as_ref() };
            let index_of = match c.scan_index() {
                Some(index) => {
                    debug_assert!(self.nodes[index].header == child, "a stale scan index");
                    index
                }
                // Untracked objects own no `Gc` and so are never on a cycle; dead ones
                // (not in this scan) are already being destroyed.
                None if c.has(UNTRACKED | DEAD) => continue,
                // Of an older generation: not examined (see `Examined`), but made a root of
                // it: a withdrawn entry becomes a root again, and an object with no entry
                // gets one, for the caller to file.
                None if !self.examined.admits(c.registry_place()) => {
                    // SAFETY: tracked, alive (the edge's strong reference, which the held
                    // guards keep), not in this scan, and this collection alone buffers.
                    if unsafe { c.make_root() } {
                        self.older.push(child);
                    }
                    continue;
                }
                None => {
                    // SAFETY: tracked, live (an owned `Gc` is a strong reference), not
                    // `DEAD`, and not in this scan (no scan index).
                    let Some(added) = (unsafe { self.add(child) }) else {
                        // Refused: the edge is left out; the child counts as referenced
                        // from outside.
                        continue;
                    };
                    stack.push(I::new(added));
                    added
                }
            };
            self.edges.push(I::new(index_of));
        }
        self.visits.push(Visit {
            node: I::new(node),
            edges_end: I::end_with(self.edges.len(), incomplete, guarded),
        });
        tracer.clear();
    }

    /// Phase 2: subtract every internal reference from its target's `refs`. A separate pass
    /// over the flat edge list, not folded into the snapshot: its iterations are independent,
    /// so the processor overlaps their cache misses (folding it in made the snapshot of a
    /// random graph much slower).
    ///
    /// A `refs` that would go below zero proves that a `Trace` impl reported references that
    /// do not exist; its node is recorded in `tainted` (see [`Scan::keep_tainted`]).
    ///
    /// Returns whether every node is garbage (every `refs` reached zero and nothing is
    /// tainted), the common case for which the scan and claim passes can be skipped.
    fn subtract(&mut self) -> bool {
        let mut zeroed = 0;
        for &target in &self.edges {
            let refs = &mut self.refs[target.get()];
            match *refs {
                MANY_REFS => {}
                0 => self.tainted.push(target),
                n => {
                    *refs = n - 1;
                    zeroed += usize::from(n == 1);
                }
            }
        }
        zeroed == self.len() && self.tainted.is_empty()
    }

    /// A `Trace` impl reported more references to the `tainted` nodes than they have, so no
    /// count in their part of the graph can be trusted: a lie can also lower a count without
    /// taking it below zero. Keeps alive every node connected to a tainted one (following
    /// edges either way); the rest of the snapshot never saw the lying edges, and is judged
    /// as usual. Only runs after a lie, so it may allocate.
    fn keep_tainted(&mut self) {
        fn find(parent: &mut [usize], mut node: usize) -> usize {
            while parent[node] != node {
                parent[node] = parent[parent[node]];
                node = parent[node];
            }
            node
        }
        let mut parent: Vec<usize> = (0..self.len()).collect();
        let mut start = 0;
        for visit in &self.visits {
            for &target in &self.edges[start..visit.edges_end()] {
                let (a, b) = (
                    find(&mut parent, visit.node()),
                    find(&mut parent, target.get()),
                );
                parent[a] = b;
            }
            start = visit.edges_end();
        }
        let mut tainted_component = vec![false; self.len()];
        for &node in &self.tainted {
            let component = find(&mut parent, node.get());
            tainted_component[component] = true;
        }
        for node in 0..self.len() {
            if tainted_component[find(&mut parent, node)] {
                self.refs[node] = MANY_REFS;
            }
        }
    }

    /// Phase 3: mark everything reachable from an externally referenced node.
    ///
    /// First one pass over the visits in tracing order, which reads the edges in the order
    /// they are stored: a node's children are mostly traced after it (depth first), so
    /// marking the targets of each live node as its visit comes marks most of what is
    /// reachable. A node marked after its own visit has passed (an edge back to an ancestor,
    /// or across) is propagated from afterwards, through the per-node edge ranges.
    fn mark_live(&mut self) {
        let mut live = mem::take(&mut self.live);
        live.extend(self.refs.iter().map(|&refs| u8::from(refs > 0)));
        let mut late = mem::take(&mut self.stack);
        let edges = &self.edges[..];
        let mut start = 0;
        for visit in &self.visits {
            let end = visit.edges_end();
            let node = &mut live[visit.node()];
            *node |= SEEN;
            if *node & LIVE != 0 {
                for &target in &edges[start..end] {
                    let state = &mut live[target.get()];
                    if *state & LIVE == 0 {
                        *state |= LIVE;
                        if *state & SEEN != 0 {
                            late.push(target);
                        }
                    }
                }
            }
            start = end;
        }
        if !late.is_empty() {
            self.ranges.resize(self.len(), (I::new(0), I::new(0)));
            let mut start = 0;
            for visit in &self.visits {
                self.ranges[visit.node()] = (I::new(start), I::new(visit.edges_end()));
                start = visit.edges_end();
            }
            while let Some(node) = late.pop() {
                let (start, end) = self.ranges[node.get()];
                for &target in &edges[start.get()..end.get()] {
                    let state = &mut live[target.get()];
                    if *state & LIVE == 0 {
                        *state |= LIVE;
                        late.push(target);
                    }
                }
            }
        }
        self.live = live;
        self.stack = late;
    }

    /// Whether node `index` is reachable from outside the snapshot (after phase 3).
    #[inline(always)]
    fn is_live(&self, index: usize) -> bool {
        self.live[index] & LIVE != 0
    }

    /// Makes the next [`Scan::judge`] of a [`Object::CONCURRENT`] flavour keep its garbage
    /// (`sync::set_save_all`) instead of claiming it for destruction: each member's claim is
    /// completed by [`Object::keep`], which gives the collector a strong reference before
    /// anything else can reach the object again, and [`Scan::take_kept`] hands them over.
    /// (The single-threaded flavour saves after the verdict instead: [`Scan::save`].)
    pub(crate) fn keep_garbage(&mut self) {
        debug_assert!(H::CONCURRENT);
        self.keeping = true;
    }

    /// The garbage kept by a judgement after [`Scan::keep_garbage`], in tracing order: each
    /// alive, out of the scan, with one strong reference the caller owns.
    pub(crate) fn take_kept(&mut self) -> Vec<NonNull<H>> {
        match &mut self.wide {
            Some(wide) => wide.take_kept(),
            None => mem::take(&mut self.kept),
        }
    }

    /// Phase 4: validate and claim the garbage, release the held guards, revive the rest.
    /// Once it returns, the garbage (if the claim held) is claimed for good, every other node
    /// is out of the scan, and dropping the `Scan` destroys the garbage — or, if it is kept
    /// ([`Scan::keep_garbage`]), it is out of the scan too, in [`Scan::kept`].
    fn claim(&mut self, panics: &mut Panics) {
        if !H::CONCURRENT {
            // Nothing can have changed since the snapshot, and its tentative `DEAD` is the
            // claim: sort and revive in one pass.
            if !self.all_garbage {
                self.sort_out::<true>();
            }
            self.stage = Stage::Destroying;
            return;
        }
        if !self.all_garbage {
            self.sort_out::<false>();
        }
        let claimed = self.validate(panics) && self.claim_garbage();
        self.tracer.release_held();
        self.tracer.set_holding(false);
        let kept = claimed && self.keeping;
        if !(claimed && self.all_garbage) || kept {
            for k in 0..self.visits.len() {
                let visit = self.visits[k];
                let garbage = self.all_garbage || !self.is_live(visit.node());
                if garbage && claimed {
                    if kept {
                        let node = self.nodes[visit.node()];
                        // SAFETY: in the scan, its claim completed by `keep` (it is alive,
                        // with the collector's strong reference), with what entering it
                        // returned; the guards are released.
                        let handed_over = unsafe { node.header().revive(node.saved) };
                        debug_assert!(!handed_over, "a kept object has a strong reference");
                        self.kept.push(node.header);
                    }
                    continue;
                }
                // An abandoned claim sends its set back to the root buffer, for the next
                // collection to judge again.
                self.revive_node(visit.node(), visit.incomplete() || garbage);
            }
        }
        if !claimed {
            self.abandoned = true;
            self.garbage.clear();
            self.all_garbage = false;
        }
        // Kept garbage is out of the scan: nothing to destroy. (Should anything unwind before
        // `take_kept`, its strong references leak, and so do the objects.)
        self.stage = if kept { Stage::Done } else { Stage::Destroying };
    }

    /// The thread-safe claim's first step: traces every member of the garbage whose trace
    /// took a lock again, now with a holding tracer, and checks that its edges into the
    /// snapshot are the ones the snapshot recorded. The guards stay held until the claim is
    /// decided, so that from here on the edges the verdict counted cannot move; before, a
    /// mutator may have moved one (out of a `Mutex` onto its stack, say), and a count alone
    /// cannot tell. Returns `false` (abandon the claim) on any difference, a busy lock, or a
    /// panicking `trace`.
    fn validate(&mut self, panics: &mut Panics) -> bool {
        self.tracer.set_holding(true);
        let mut tracer = mem::replace(&mut self.tracer, Tracer::new(H::FLAVOUR));
        let mut valid = true;
        let completed = panics.catch(|| valid = self.validate_with(&mut tracer));
        if !completed {
            tracer.abandon_work();
            tracer.clear();
        }
        self.tracer = tracer;
        completed && valid
    }

    fn validate_with(&self, tracer: &mut Tracer) -> bool {
        let mut start = 0;
        for visit in &self.visits {
            let recorded = &self.edges[start..visit.edges_end()];
            start = visit.edges_end();
            let garbage = self.all_garbage || !self.is_live(visit.node());
            if !garbage || !visit.guarded() {
                continue;
            }
            let node = self.nodes[visit.node()];
            // SAFETY: in the scan, with what entering it returned.
            let vtable = unsafe { node.header().scanned_vtable(node.saved) };
            // SAFETY: the value is alive and stays in place (the object is `SCANNED`, which
            // keeps it from being dropped, moved or borrowed mutably) until the guards this
            // holding tracer keeps are released; only `Trace` impls run meanwhile.
            unsafe { (vtable.trace)(node.header, tracer) };
            let unchanged = !tracer.incomplete() && {
                // The snapshot recorded each node's edges last first (`visit`).
                let mut now = tracer.edges::<H>().iter().rev().filter_map(|&child| {
                    // SAFETY: `trace` reported a `Gc` the value owns: its header is alive.
                    unsafe { child.as_ref() }.scan_index()
                });
                recorded
                    .iter()
                    .all(|&recorded| now.next() == Some(recorded.get()))
                    && now.next().is_none()
            };
            tracer.clear();
            if !unchanged {
                return false;
            }
        }
        true
    }

    /// Lists the garbage: the nodes not found live, in tracing order. A garbage node whose
    /// last strong reference a misbehaving `Trace` dropped (or, in the thread-safe flavour,
    /// another thread dropped, handing the value to the collector) is revived instead, and
    /// the release loop drops it. With `REVIVE`, the other nodes are revived in the same
    /// pass; without, [`Scan::claim`] revives them once the claim is decided.
    fn sort_out<const REVIVE: bool>(&mut self) {
        for k in 0..self.visits.len() {
            let visit = self.visits[k];
            // SAFETY: in the scan.
            let h = unsafe { self.nodes[visit.node()].header() };
            if self.is_live(visit.node()) || h.strong() == 0 {
                if REVIVE {
                    self.revive_node(visit.node(), visit.incomplete());
                } else {
                    // For `Scan::claim`, which revives the live nodes after the claim.
                    self.live[visit.node()] |= LIVE;
                }
            } else {
                self.garbage.push(visit.node);
            }
        }
    }

    /// Claims every member of the garbage ([`Object::claim`]), or none: if one member
    /// changed since the snapshot, the claims already made are abandoned.
    fn claim_garbage(&mut self) -> bool {
        if self.all_garbage {
            self.claim_members::<true>()
        } else {
            self.claim_members::<false>()
        }
    }

    fn claim_members<const ALL_GARBAGE: bool>(&self) -> bool {
        let count = self.garbage_len();
        for k in 0..count {
            let node = self.member::<ALL_GARBAGE>(k);
            // SAFETY: in the scan, judged garbage, with what entering it returned.
            if !unsafe { node.header().claim(node.saved) } {
                for j in 0..k {
                    // SAFETY: its claim was started just above, and not ended.
                    unsafe { self.member::<ALL_GARBAGE>(j).header().unclaim() };
                }
                return false;
            }
        }
        for k in 0..count {
            // SAFETY: in the scan (until the kill or the revive of a kept object).
            let header = unsafe { self.member::<ALL_GARBAGE>(k).header() };
            // SAFETY: every member's claim is started; this ends each once.
            unsafe {
                if self.keeping {
                    header.keep();
                } else {
                    header.kill();
                }
            }
        }
        true
    }

    /// Takes node `index` out of the scan as a survivor. If the value was handed to the
    /// collector meanwhile, the release loop drops it. If `rebuffer`, an object that still
    /// has strong references goes to [`Scan::survivors`], with a hold taken while the scan
    /// still kept its header.
    #[inline(always)]
    fn revive_node(&mut self, index: usize, rebuffer: bool) {
        let node = self.nodes[index];
        // SAFETY: in the scan (until the revive below).
        let h = unsafe { node.header() };
        if rebuffer {
            h.take_hold();
        }
        // SAFETY: in the scan, not claimed, with what entering it returned; a thread-safe
        // snapshot's guards are released (`claim`).
        let handed_over = unsafe { h.revive(node.saved) };
        if handed_over {
            // SAFETY: the value was handed over: its drop and implicit hold are ours.
            unsafe { release::defer(node.header) };
        }
        if rebuffer {
            // The hold keeps the header for these reads.
            if !handed_over && h.strong() > 0 {
                self.survivors.push(node.header);
            } else {
                // SAFETY: the hold taken above; out of the scan. Not the last unit while the
                // value waits for its drop (the implicit hold).
                unsafe { H::release_hold(node.header) };
            }
        }
    }

    /// Phase 5: destroys the garbage of the verdict, in tracing order, through the one drop
    /// path; returns how many objects that was. A panicking `Drop` does not stop the pass:
    /// its panic is recorded in `panics`.
    pub(crate) fn destroy(&mut self, panics: &mut Panics) -> usize {
        if let Some(wide) = &mut self.wide {
            return wide.destroy(panics);
        }
        if self.stage == Stage::Done {
            // The collection gave up (there is no garbage), or kept its garbage.
            return 0;
        }
        let count = self.garbage_len();
        debug_assert!(
            self.stage == Stage::Destroying,
            "destroyed before it was judged"
        );
        while self.destroyed < count {
            // One `catch_unwind` for the whole pass, entered again after a panicking `Drop`,
            // rather than one per object.
            panics.catch(|| {
                if self.all_garbage {
                    self.destroy_members::<true>(count);
                } else {
                    self.destroy_members::<false>(count);
                }
            });
        }
        self.stage = Stage::Done;
        count
    }

    /// Phase 5 with `DEBUG_SAVEALL` (single-threaded flavour): instead of destroying the
    /// garbage of the verdict, takes every member out of the scan alive and intact, and
    /// returns their headers, in tracing order. Each keeps its strong references (from the
    /// other members), so the caller can take a handle to it.
    pub(crate) fn save(&mut self) -> Vec<NonNull<H>> {
        assert!(
            !H::CONCURRENT,
            "only a claim that is a tentative `DEAD` can be undone"
        );
        if let Some(wide) = &mut self.wide {
            return wide.save();
        }
        if self.stage == Stage::Done {
            return Vec::new();
        }
        let count = self.garbage_len();
        let mut saved = Vec::with_capacity(count);
        for k in 0..count {
            let node = if self.all_garbage {
                self.member::<true>(k)
            } else {
                self.member::<false>(k)
            };
            // SAFETY: in the scan, claimed by its tentative `DEAD` alone (no user code has
            // run since the verdict, so nothing saw the claim), with what entering it
            // returned: reviving it undoes the claim. A single-threaded value is never
            // handed over.
            let handed_over = unsafe { node.header().revive(node.saved) };
            debug_assert!(!handed_over);
            saved.push(node.header);
        }
        self.destroyed = count;
        self.stage = Stage::Done;
        saved
    }

    /// Destroys the members from `destroyed` up to `count` (or a panicking `Drop`). Not
    /// inlined, for the reason given at [`Scan::trace_stack`].
    #[inline(never)]
    fn destroy_members<const ALL_GARBAGE: bool>(&mut self, count: usize) {
        while self.destroyed < count {
            let k = self.destroyed;
            self.destroyed += 1;
            // Scattered garbage (a random graph) defeats the hardware prefetcher.
            if k + PREFETCH_AHEAD < count {
                prefetch(self.member::<ALL_GARBAGE>(k + PREFETCH_AHEAD).header);
            }
            // SAFETY: member `k` is claimed garbage, destroyed once: `destroyed` only grows.
            unsafe { destroy_member(self.member::<ALL_GARBAGE>(k)) };
        }
    }

    fn garbage_len(&self) -> usize {
        if self.all_garbage {
            self.visits.len()
        } else {
            self.garbage.len()
        }
    }

    /// The `k`-th member of the garbage, in tracing order.
    #[inline(always)]
    fn member<const ALL_GARBAGE: bool>(&self, k: usize) -> ScanNode<H> {
        let index = if ALL_GARBAGE {
            self.visits[k].node
        } else {
            self.garbage[k]
        };
        self.nodes[index.get()]
    }
}

/// Destroys a claimed garbage object: puts its vtable back and drops its value through the
/// one drop path, which gives back the implicit hold if the last strong reference is already
/// gone, and otherwise marks the object `DROPPED` for the last one to give it back.
///
/// # Safety
/// `node` is a member of the garbage the collector has claimed (`DEAD`, its vtable kept in
/// `node`), not destroyed before: nothing else drops its value, and the implicit hold keeps
/// its header alive until the value is dropped.
unsafe fn destroy_member<H: Object>(node: ScanNode<H>) {
    // SAFETY: by the caller's contract.
    let h = unsafe { node.header.as_ref() };
    // SAFETY: in the scan, with what entering it returned.
    let vtable = unsafe { h.scanned_vtable(node.saved) };
    // SAFETY: claimed, with what entering it returned.
    unsafe { h.leave_scan(node.saved) };
    let drop_in_place = vtable.drop_in_place;
    // SAFETY: the object is claimed (`DEAD`) and out of the scan; its value is alive and
    // dropped exactly once, here (by the caller's contract).
    unsafe { drop_value(node.header, || drop_in_place(node.header)) };
}

impl<H: Object, I: Index> Drop for Scan<H, I> {
    /// Leaves no header in a scan state, whatever ended the collection early: before the
    /// claim, every node is revived; during the destruction, the rest of the garbage is
    /// destroyed (its panics dropped: one is already on its way).
    fn drop(&mut self) {
        for header in mem::take(&mut self.older) {
            // SAFETY: the entry made when it was listed, flag and hold, given back together;
            // it is not in the scan.
            unsafe {
                header.as_ref().clear_flag(BUFFERED);
                H::release_hold(header);
            }
        }
        match self.stage {
            Stage::Scanning => {
                self.revive_all(false);
            }
            Stage::Destroying => {
                let mut panics = Panics::default();
                self.destroy(&mut panics);
            }
            Stage::Done => {}
        }
    }
}
