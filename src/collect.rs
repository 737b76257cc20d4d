//! The cycle collector: synchronous trial deletion (Bacon & Rajan 2001) over the subgraph
//! reachable from the buffered possible roots, computed CPython-style on side counters.
//!
//! 1. **Snapshot.** Starting from the roots (whose buffer holds are given back at once; entries
//!    withdrawn by `Gc::get_mut` are skipped), every reachable tracked object becomes a scan
//!    node: its header's `slot` holds the node index, and it is *tentatively* `DEAD`. Each
//!    node is traced exactly once, depth first, first child first (trees and lists are
//!    usually allocated in that order, so the later passes walk memory forwards); its edges
//!    are stored as node indices in one flat array. A `trace` that panics keeps the edges it
//!    reported; the snapshot goes on.
//! 2. **Subtract.** `refs` starts as the real strong count (never written); every edge takes one
//!    from its target's. What is left counts references from outside the snapshot. A `refs`
//!    that would go below zero proves a `Trace` impl reported more references than exist:
//!    every node connected to that one is kept alive, the rest judged as usual.
//! 3. **Scan and claim** (skipped when every `refs` is zero and no `Trace` impl released
//!    anything, the usual case when collecting garbage): nodes with `refs > 0`, and everything
//!    reachable from them, are live and revived (vtable back, `DEAD` cleared). A garbage node
//!    whose last strong reference a misbehaving `Trace` dropped is revived too: the release
//!    loop owns it now. The rest stays claimed.
//! 4. **Destroy.** In tracing order: put the vtable back, drop the value (catching panics),
//!    mark it `DROPPED`. The implicit hold is given back by whichever comes last — the value's
//!    drop or its last strong reference — so each header is freed as soon as nothing points to
//!    it, in the same pass.
//!
//! No panic leaves a collection before it is complete: the first panic of a `Trace` or `Drop`
//! impl is kept and resumed at the end, later ones (and panicking payloads) are dropped under
//! `catch_unwind`. Should anything else unwind, dropping the [`Scan`] still leaves no header
//! in a scan state ([`Stage`]).
//!
//! A garbage header is thus written twice (snapshot, destroy); each phase after the snapshot
//! reads only the side arrays it needs.
//!
//! Every phase runs on explicit work lists, so depth is bounded by type nesting, never by the
//! data: a million-node ring is collected on a 256 KiB stack.

use std::collections::HashSet;
use std::mem;
use std::ptr::NonNull;

use crate::header::{Header, VTable, BUFFERED, DEAD, DROPPED, IN_BUFFER, UNTRACKED};
use crate::heap::Heap;
use crate::panics::Panics;
use crate::release;
use crate::trace::Tracer;

/// The snapshot, in a few arrays grouped by the passes that read them: `nodes` (destroy),
/// `refs` (subtract), `visits` and `edges` (scan and claim). Node `i` is the `i`-th object
/// found. Dropping a `Scan` before it is done leaves no header behind in a scan state (see
/// [`Stage`]).
///
/// The heap keeps the arrays of the last collection for the next one ([`Scan::recycle`]):
/// allocating them afresh each time costs a page fault per 4 KiB touched, and freeing them —
/// right after the destroy pass has filled the allocator's bins with freed objects — makes
/// glibc consolidate those bins, touching every freed object once more. Both together were
/// about a fifth of the time of collecting 100k two-node cycles.
pub(crate) struct Scan {
    nodes: Vec<ScanNode>,
    /// CPython's `gc_refs`: strong count minus references from inside the snapshot. In 32
    /// bits, because the subtract pass updates it in random order (a random graph's `refs`
    /// then fits in the L2 cache twice as long); a count that does not fit is [`MANY_REFS`].
    refs: Vec<u32>,
    /// One per traced node, in tracing order: depth first, children in the order their parent
    /// reported them. For structures built depth first (trees, lists) that is allocation
    /// order, so the destroy pass walks memory forwards.
    visits: Vec<Visit>,
    /// Every node's edges as node indices, in tracing order: visit `k`'s edges end at
    /// `visits[k].edges_end()` and start where visit `k - 1`'s end.
    edges: Vec<usize>,
    /// The snapshot's depth-first work list, then the scan's (kept here between uses).
    stack: Vec<usize>,
    /// Per node, its edges in `edges` (scan and claim only, rebuilt from `visits`).
    ranges: Vec<(usize, usize)>,
    /// Per node, whether it is reachable from outside the snapshot (scan and claim only).
    live: Vec<bool>,
    /// Indices of the unreachable objects, claimed (`DEAD`), to destroy — unless every node
    /// is garbage, when `visits` is the list.
    garbage: Vec<usize>,
    /// Survivors that could not be traced completely, to examine again next time.
    retry: Vec<NonNull<Header>>,
    /// Nodes whose `refs` a `Trace` impl took below zero (it reported references that do not
    /// exist).
    tainted: Vec<usize>,
    /// An empty root buffer with the capacity of the last one, swapped in for the next.
    spare_roots: Vec<NonNull<Header>>,
    /// The first `root_count` nodes are the roots.
    root_count: usize,
    /// Objects whose `trace` panicked in an earlier attempt of this collection: not traced
    /// again (see [`Scan::snapshot`]).
    opaque: HashSet<NonNull<Header>>,
    /// The node whose `trace` is running (to finish its visit if the `trace` panics).
    tracing: usize,
    /// Members of the garbage destroyed so far.
    destroyed: usize,
    stage: Stage,
}

/// What dropping a [`Scan`] must undo (DESIGN.md §2.8: every exit restores every header).
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    /// Nodes may hold a scan index and a tentative `DEAD`: revive them all.
    Scanning,
    /// The garbage is claimed and being destroyed (every node if `all_garbage`, else the
    /// `garbage` list): destroy the members not destroyed yet.
    Destroying { all_garbage: bool },
    /// Every header is restored or destroyed: nothing to undo.
    Done,
}

/// An object in the snapshot, with the vtable parked here while its `slot` holds the index.
#[derive(Clone, Copy)]
struct ScanNode {
    header: NonNull<Header>,
    vtable: *const VTable,
}

/// A traced node and where its edges end, with [`INCOMPLETE`] set when part of the value
/// could not be traced (a borrowed `RefCell`): if it survives, it goes back into the root
/// buffer, so the cycle it may be on is examined again.
#[derive(Clone, Copy)]
struct Visit {
    node: usize,
    edges_end: usize,
}

const INCOMPLETE: usize = 1 << (usize::BITS - 1);

impl Visit {
    fn edges_end(self) -> usize {
        self.edges_end & !INCOMPLETE
    }

    fn incomplete(self) -> bool {
        self.edges_end & INCOMPLETE != 0
    }
}

/// A collection that traced `n` objects keeps arrays of up to `RETAIN_SLACK * n` entries (but
/// at least [`RETAIN_FLOOR`]) for the next one; larger ones are freed, so one huge collection
/// does not pin its memory for good.
const RETAIN_SLACK: usize = 8;
const RETAIN_FLOOR: usize = 1 << 12;

/// The `refs` of an object with `u32::MAX` or more strong references. It is never
/// decremented, so the object counts as referenced from outside: live, conservatively.
const MANY_REFS: u32 = u32::MAX;

/// How many objects ahead of the one being destroyed the destroy pass prefetches.
const PREFETCH_AHEAD: usize = 8;

/// Asks the processor to start loading the cache line of `header`: the collector knows which
/// objects it will touch next, the hardware prefetcher does not when they are scattered.
#[inline(always)]
fn prefetch(header: NonNull<Header>) {
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

impl Scan {
    pub(crate) fn new() -> Scan {
        Scan {
            nodes: Vec::new(),
            refs: Vec::new(),
            visits: Vec::new(),
            edges: Vec::new(),
            stack: Vec::new(),
            ranges: Vec::new(),
            live: Vec::new(),
            garbage: Vec::new(),
            retry: Vec::new(),
            tainted: Vec::new(),
            spare_roots: Vec::new(),
            root_count: 0,
            opaque: HashSet::new(),
            tracing: 0,
            destroyed: 0,
            stage: Stage::Scanning,
        }
    }

    /// Empties the arrays of a finished collection that traced `traced` objects and returns
    /// them for the next one, unless they are much larger than it needed.
    fn recycle(mut self, traced: usize) -> Option<Scan> {
        debug_assert!(self.stage == Stage::Done);
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
        self.retry.clear();
        self.tainted.clear();
        self.opaque.clear();
        self.destroyed = 0;
        self.stage = Stage::Scanning;
        Some(self)
    }

    fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Adds a tracked, live object to the snapshot and returns its index.
    fn add(&mut self, header: NonNull<Header>) -> usize {
        let index = self.len();
        // SAFETY: the object is reachable through a strong reference (a root with a non-zero
        // count, or an edge of a node being traced), so its header is alive.
        let h = unsafe { header.as_ref() };
        // The vtable is parked before `slot` gets the index, so that `Drop` can always put
        // back what it finds in `nodes`.
        self.nodes.push(ScanNode {
            header,
            vtable: h.vtable(),
        });
        h.enter_scan(index);
        self.refs
            .push(u32::try_from(h.strong()).unwrap_or(MANY_REFS));
        // Tentatively dead: most scanned objects are garbage, and this way a garbage header
        // is written only here and when it is destroyed. Survivors are revived in `claim`.
        h.set_flag(DEAD);
        index
    }

    /// Adds the wanted roots among the root buffer's entries to the snapshot, giving back the
    /// buffer's holds. A withdrawn entry (`Gc::get_mut`) is skipped: its value may be
    /// borrowed mutably.
    fn add_roots(&mut self, mut roots: Vec<NonNull<Header>>) {
        // Most roots lead to a few objects: start the arrays at a size that spares the first
        // few doublings.
        let guess = 4 * roots.len();
        self.nodes.reserve(guess);
        self.refs.reserve(guess);
        self.visits.reserve(guess);
        self.stack.reserve(guess);
        self.edges.reserve(2 * guess);
        for root in roots.drain(..) {
            // SAFETY: a buffer entry holds a unit of its header's weak count; it is given back
            // only after the last use of `h`.
            let h = unsafe { root.as_ref() };
            let wanted =
                h.has(BUFFERED) && h.strong() > 0 && !h.has(DEAD) && h.scan_index().is_none();
            if wanted {
                self.add(root);
            }
            h.clear_flag(IN_BUFFER);
            // SAFETY: gives back the buffer's unit. A root still wanted has strong references
            // (and so the implicit hold): this cannot free it. `slot` holds a scan index only
            // for wanted roots, and then the header is not freed, so the vtable is not read.
            unsafe { Header::release_hold(root) };
        }
        self.spare_roots = roots;
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
        stack.extend((0..self.len()).rev());
        let mut tracer = Tracer::new();
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
            }
        }
        self.stack = stack;
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
    fn trace_stack<const SKIP_OPAQUE: bool>(
        &mut self,
        stack: &mut Vec<usize>,
        tracer: &mut Tracer,
    ) {
        while let Some(next) = stack.pop() {
            self.tracing = next;
            let ScanNode { header, vtable } = self.nodes[next];
            if SKIP_OPAQUE && self.opaque.contains(&header) {
                self.visit(next, stack, tracer, true);
                continue;
            }
            // SAFETY: the node's value is alive (strong > 0, not DEAD before this scan) and
            // its vtable is the one it was created with. `trace` does not read `slot`.
            unsafe { ((*vtable).trace)(header, tracer) };
            let incomplete = tracer.incomplete();
            self.visit(next, stack, tracer, incomplete);
        }
    }

    /// After an invalid snapshot: revives every node and starts over, taking every node that
    /// still has strong references as a root (the others were released meanwhile and wait in
    /// the pending list). Every node, not only the roots: user code may have decremented any
    /// of them, and a drop does not buffer a tentatively dead object, so each may now be the
    /// only way into an orphaned cycle. Keeps [`opaque`](Scan::opaque).
    fn restart(&mut self) {
        let roots: Vec<NonNull<Header>> = self.nodes.iter().map(|node| node.header).collect();
        self.revive_all();
        self.nodes.clear();
        self.refs.clear();
        self.visits.clear();
        self.edges.clear();
        for root in roots {
            // SAFETY: a node's header stays allocated for the whole collection (releases to
            // zero are deferred to the pending list), and it is revived: `slot` holds its
            // vtable.
            if unsafe { root.as_ref() }.strong() > 0 {
                self.add(root);
            }
        }
        self.root_count = self.len();
    }

    /// Puts back every node's vtable and clears its tentative `DEAD`.
    fn revive_all(&mut self) {
        for node in &self.nodes {
            // SAFETY: as in `claim`.
            let h = unsafe { node.header.as_ref() };
            h.leave_scan(node.vtable);
            h.clear_flag(DEAD);
        }
    }

    /// Gives up on a collection whose snapshots kept failing: revives every node and puts
    /// the roots (after a restart, every node of the last attempt) that still have strong
    /// references back into `heap`'s root buffer.
    fn give_up(&mut self, heap: &Heap) {
        self.revive_all();
        for node in &self.nodes[..self.root_count] {
            // SAFETY: as in `restart`; a root with strong references is tracked and alive.
            unsafe {
                if node.header.as_ref().strong() > 0 {
                    heap.buffer(node.header);
                }
            }
        }
        self.stage = Stage::Done;
    }

    /// Records the edges `tracer` holds as `node`'s, adding the objects they reach that are
    /// not in the snapshot yet (onto `stack`, to be traced), and clears the tracer.
    #[inline(always)]
    fn visit(
        &mut self,
        node: usize,
        stack: &mut Vec<usize>,
        tracer: &mut Tracer,
        incomplete: bool,
    ) {
        // Start every child's cache miss at once rather than one per loop iteration.
        for &child in tracer.edges() {
            prefetch(child);
        }
        // Children are pushed last first, so that the first is traced next.
        for &child in tracer.edges().iter().rev() {
            // SAFETY: `trace` reported a `Gc` the value owns: its header is alive.
            let c = unsafe { child.as_ref() };
            let index = match c.scan_index() {
                Some(index) => {
                    debug_assert!(self.nodes[index].header == child, "a stale scan index");
                    index
                }
                // Untracked objects own no `Gc` and so are never on a cycle; dead ones
                // (not in this scan) are already being destroyed.
                None if c.has(UNTRACKED | DEAD) => continue,
                None => {
                    let index = self.add(child);
                    stack.push(index);
                    index
                }
            };
            self.edges.push(index);
        }
        let incomplete = if incomplete { INCOMPLETE } else { 0 };
        self.visits.push(Visit {
            node,
            edges_end: self.edges.len() | incomplete,
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
            let refs = &mut self.refs[target];
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
                let (a, b) = (find(&mut parent, visit.node), find(&mut parent, target));
                parent[a] = b;
            }
            start = visit.edges_end();
        }
        let mut tainted_component = vec![false; self.len()];
        for &node in &self.tainted {
            let component = find(&mut parent, node);
            tainted_component[component] = true;
        }
        for node in 0..self.len() {
            if tainted_component[find(&mut parent, node)] {
                self.refs[node] = MANY_REFS;
            }
        }
    }

    /// Phase 3: mark everything reachable from an externally referenced node.
    fn mark_live(&mut self) {
        self.ranges.resize(self.len(), (0, 0));
        let mut start = 0;
        for visit in &self.visits {
            self.ranges[visit.node] = (start, visit.edges_end());
            start = visit.edges_end();
        }
        let live = &mut self.live;
        live.extend(self.refs.iter().map(|&refs| refs > 0));
        let stack = &mut self.stack;
        stack.extend((0..live.len()).filter(|&i| live[i]));
        while let Some(index) = stack.pop() {
            let (start, end) = self.ranges[index];
            for &target in &self.edges[start..end] {
                if !live[target] {
                    live[target] = true;
                    stack.push(target);
                }
            }
        }
    }

    /// Phase 4: revive the survivors (restore the vtable, clear the tentative `DEAD`); the
    /// garbage stays claimed, in tracing order.
    fn claim(&mut self) {
        for &visit in &self.visits {
            let ScanNode { header, vtable } = self.nodes[visit.node];
            // SAFETY: nodes' headers stay alive for the whole scan: releases that reach zero
            // are deferred to the pending list while a collection runs.
            let h = unsafe { header.as_ref() };
            // A garbage node whose last strong reference a misbehaving `Trace` dropped is in
            // the pending list, which owns its value: leave it to the release loop.
            if self.live[visit.node] || h.strong() == 0 {
                h.leave_scan(vtable);
                h.clear_flag(DEAD);
                if visit.incomplete() && h.strong() > 0 {
                    self.retry.push(header);
                }
            } else {
                self.garbage.push(visit.node);
            }
        }
    }

    /// Phase 5: drop the garbage's values (every node if `all_garbage`, else the claimed
    /// ones), restoring each vtable first. Returns the number of objects destroyed. A
    /// panicking `Drop` does not stop the pass; the first panic is recorded in `panics`.
    fn destroy(&mut self, all_garbage: bool, panics: &mut Panics) -> usize {
        let count = self.garbage_len(all_garbage);
        self.stage = Stage::Destroying { all_garbage };
        while self.destroyed < count {
            // One `catch_unwind` for the whole pass, entered again after a panicking `Drop`,
            // rather than one per object.
            panics.catch(|| {
                if all_garbage {
                    self.destroy_members::<true>(count);
                } else {
                    self.destroy_members::<false>(count);
                }
            });
        }
        self.stage = Stage::Done;
        count
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

    fn garbage_len(&self, all_garbage: bool) -> usize {
        if all_garbage {
            self.visits.len()
        } else {
            self.garbage.len()
        }
    }

    /// The `k`-th member of the garbage, in tracing order.
    #[inline(always)]
    fn member<const ALL_GARBAGE: bool>(&self, k: usize) -> ScanNode {
        let index = if ALL_GARBAGE {
            self.visits[k].node
        } else {
            self.garbage[k]
        };
        self.nodes[index]
    }
}

/// Drops the value of a claimed garbage object, then marks it `DROPPED` and, if its last
/// strong reference is already gone, gives back the implicit hold — also when the value's
/// `Drop` panics.
///
/// # Safety
/// `node` is a member of the garbage the collector has claimed (`DEAD`, its vtable parked in
/// `node`), not destroyed before: nothing else drops its value, and it holds the implicit
/// hold until `DROPPED` is set, so its header is alive.
unsafe fn destroy_member(node: ScanNode) {
    /// Finishes the member after its drop, also while a panic from the drop unwinds.
    struct Finish(NonNull<Header>);
    impl Drop for Finish {
        fn drop(&mut self) {
            // SAFETY: the header holds the implicit hold until `DROPPED` is set below.
            let h = unsafe { self.0.as_ref() };
            h.set_flag(DROPPED);
            if h.strong() == 0 {
                // The last strong reference went before the value: it left the implicit hold
                // to us.
                // SAFETY: the hold is ours; nothing uses `h` afterwards.
                unsafe { Header::release_hold(self.0) };
            }
        }
    }
    // SAFETY: by the caller's contract.
    let h = unsafe { node.header.as_ref() };
    h.leave_scan(node.vtable);
    let _finish = Finish(node.header);
    // SAFETY: the value is alive and dropped exactly once, here (by the caller's contract).
    unsafe { (h.vtable().drop_value)(node.header) };
}

impl Drop for Scan {
    /// Leaves no header in a scan state, whatever ended the collection early: before the
    /// claim, every node is revived; during the destruction, the rest of the garbage is
    /// destroyed (its panics dropped: one is already on its way).
    fn drop(&mut self) {
        match self.stage {
            Stage::Scanning => self.revive_all(),
            Stage::Destroying { all_garbage } => {
                let mut panics = Panics::default();
                self.destroy(all_garbage, &mut panics);
            }
            Stage::Done => {}
        }
    }
}

/// Ends the collection: clears the flag and ends the deferral of releases (dropping what the
/// destruction left pending, unless an outer release will) — also when a panic is unwinding.
struct EndCollection<'a> {
    heap: &'a Heap,
    /// The release depth to restore; `None` once [`EndCollection::end_deferral`] did.
    saved_depth: Option<usize>,
}

impl EndCollection<'_> {
    /// Ends the deferral of releases, dropping what the destruction left pending (the values
    /// the garbage released) with their panics recorded in `panics`, like the collection's
    /// own: a panic from there must not escape an automatic collection either.
    fn end_deferral(&mut self, panics: &mut Panics) {
        if let Some(saved) = self.saved_depth.take() {
            release::end_deferral_catching(saved, panics);
        }
    }
}

impl Drop for EndCollection<'_> {
    fn drop(&mut self) {
        self.heap.scanning.set(false);
        self.heap.collecting.set(false);
        // The buffer was emptied (a `Trace` panic skips `set_trigger_after`).
        self.heap.update_room();
        // Only if something unwound past `end_deferral`.
        if let Some(saved) = self.saved_depth {
            release::end_deferral(saved);
        }
    }
}

/// How many snapshots a collection tries before it gives up; each one that fails marks the
/// objects whose `trace` panicked, so the next one skips them.
const SNAPSHOT_ATTEMPTS: usize = 3;

/// Who started a collection, which decides what happens to a panic it caught.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Trigger {
    /// `collect()`: the first panic is resumed once the collection is complete.
    Explicit,
    /// `Gc::new`: a panic is never resumed into the allocation (it may sit in a `Drop` during
    /// unwinding, or in a thread-local destructor, where unwinding aborts); it is kept for
    /// the next `collect()`.
    Automatic,
    /// A thread-exit hook: panics are dropped (a thread-local destructor must not unwind),
    /// and survivors that could not be traced are not put back in the buffer: nothing would
    /// change before the next exit hook looked at them again.
    Exit,
}

/// Runs a full collection of `heap`'s buffered roots. Returns the number of objects freed.
///
/// Does nothing (returns 0) inside another collection, and while the thread is panicking:
/// that includes the panic hook, where any panic — even one the collection would catch —
/// aborts the process.
pub(crate) fn collect(heap: &Heap, trigger: Trigger) -> usize {
    if std::thread::panicking() || heap.collecting.replace(true) {
        return 0;
    }
    // While collecting, releases that reach zero are deferred: no header in the scan can be
    // freed under it, and drops of garbage never recurse.
    let mut end = EndCollection {
        heap,
        saved_depth: Some(release::begin_deferral()),
    };
    heap.stats.borrow_mut().collections += 1;
    // The panics of `Trace` and `Drop` impls, dealt with once the collection is complete.
    let mut panics = Panics::default();
    let freed = collect_with(heap, trigger, &mut panics);
    end.end_deferral(&mut panics);
    heap.report(panics.finish(), trigger);
    freed
}

/// The collection proper, inside [`collect`]'s guards.
fn collect_with(heap: &Heap, trigger: Trigger, panics: &mut Panics) -> usize {
    // Dropped before `collect`'s `EndCollection` on every path: the scan revives (or hands
    // back) its nodes before `end_deferral` drains the pending list, which may hold objects
    // a misbehaving `Trace` released during the snapshot.
    let mut scan = heap.take_spare_scan().unwrap_or_else(Scan::new);
    let roots = heap.take_roots(mem::take(&mut scan.spare_roots));
    scan.add_roots(roots);
    let mut attempt = 1;
    let trace_released = loop {
        let pending_before = release::pending_len();
        heap.scanning.set(true);
        let valid = scan.snapshot(panics);
        heap.scanning.set(false);
        if valid {
            // Only a `Trace` impl can have released anything during a valid snapshot.
            break release::pending_len() != pending_before;
        }
        if attempt == SNAPSHOT_ATTEMPTS {
            let traced = scan.len();
            scan.give_up(heap);
            heap.stats.borrow_mut().aborted += 1;
            heap.set_trigger_after(traced);
            heap.keep_spare_scan(scan.recycle(traced));
            return 0;
        }
        scan.restart();
        attempt += 1;
    };
    let all_garbage = scan.subtract() && !trace_released;
    // The type of an object a `Trace` impl over-counted, for the message below.
    let lied_about = scan.tainted.first().map(|&node| {
        // SAFETY: a node's parked vtable is the `&'static VTable` its header was created with.
        (unsafe { &*scan.nodes[node].vtable }.type_name)()
    });
    if lied_about.is_some() {
        scan.keep_tainted();
        heap.stats.borrow_mut().aborted += 1;
    }
    let traced = scan.len();
    if !all_garbage {
        scan.mark_live();
        scan.claim();
    }

    if trigger != Trigger::Exit {
        for &header in &scan.retry {
            // SAFETY: a retried survivor is tracked, alive and has strong references.
            unsafe { heap.buffer(header) };
        }
    }
    let garbage = scan.garbage_len(all_garbage);
    {
        let mut stats = heap.stats.borrow_mut();
        stats.collected += garbage as u64;
        stats.traced += traced as u64;
    }
    heap.set_trigger_after(traced - garbage);
    // From here on user code runs (the values' `Drop` impls); every member is already DEAD.
    let freed = scan.destroy(all_garbage, panics);
    heap.keep_spare_scan(scan.recycle(traced));
    if let Some(type_name) = lied_about.filter(|_| cfg!(debug_assertions)) {
        // Raised and caught here, so that the panic hook reports it like any other.
        panics.catch(|| {
            panic!(
                "cyclegc: a `Trace` impl reported more references to a `{type_name}` than it \
                 has; the collection kept every object connected to it. Check hand-written \
                 `Trace` impls: each `Gc` a value owns must be reported exactly once, and \
                 `Gc`s shared with something else (e.g. inside an `Rc`) not at all"
            )
        });
    }
    freed
}
