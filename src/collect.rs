//! The cycle collector: synchronous trial deletion (Bacon & Rajan 2001) over the subgraph
//! reachable from the buffered possible roots, computed CPython-style on side counters.
//!
//! 1. **Snapshot.** Starting from the roots (whose buffer holds are given back at once), every
//!    reachable tracked object becomes a scan node: its header's `slot` holds the node index,
//!    and it is *tentatively* `DEAD`. Each node is traced exactly once, depth first, first
//!    child first (trees and lists are usually allocated in that order, so the later passes
//!    walk memory forwards); its edges are stored as node indices in one flat array.
//! 2. **Subtract.** `refs` starts as the real strong count (never written); every edge takes one
//!    from its target's. What is left counts references from outside the snapshot. A `refs`
//!    that would go below zero proves a `Trace` impl reported more references than exist: the
//!    collection is abandoned and every node revived.
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
//! A garbage header is thus written twice (snapshot, destroy); each phase after the snapshot
//! reads only the side arrays it needs.
//!
//! Every phase runs on explicit work lists, so depth is bounded by type nesting, never by the
//! data: a million-node ring is collected on a 256 KiB stack.

use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;

use crate::header::{Header, VTable, BUFFERED, DEAD, DROPPED, UNTRACKED};
use crate::heap::Heap;
use crate::release;
use crate::trace::Tracer;

/// The snapshot, in a few arrays grouped by the passes that read them: `nodes` (destroy),
/// `refs` (subtract), `visits` and `edges` (scan and claim). Node `i` is the `i`-th object
/// found. Dropping a `Scan` that still has nodes parked (normally, or while a `Trace` panic
/// unwinds) revives them, which must happen before any user `Drop` runs.
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
    /// The snapshot's depth-first work list, then the scan's.
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
    /// An empty root buffer with the capacity of the last one, swapped in for the next.
    spare_roots: Vec<NonNull<Header>>,
    /// Whether `Drop` must revive the nodes (until `destroy` takes over).
    parked: bool,
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

/// The references counted in a snapshot do not add up: a `Trace` impl reported more
/// references to an object than it has. Nothing can be freed.
struct Inconsistent;

impl Scan {
    pub(crate) const fn new() -> Scan {
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
            spare_roots: Vec::new(),
            parked: true,
        }
    }

    /// Empties the arrays of a finished collection that traced `traced` objects and returns
    /// them for the next one, unless they are much larger than it needed.
    fn recycle(mut self, traced: usize) -> Option<Scan> {
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
        self.parked = true;
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

    /// Phase 1: trace every node once, depth first (which follows the order most structures
    /// were allocated in), adding what it reaches and recording the edges.
    fn snapshot(&mut self, mut roots: Vec<NonNull<Header>>) {
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
            let wanted = h.strong() > 0 && !h.has(DEAD) && h.scan_index().is_none();
            if wanted {
                self.add(root);
            }
            h.clear_flag(BUFFERED);
            // SAFETY: gives back the buffer's unit. A root still wanted has strong references
            // (and so the implicit hold): this cannot free it. `slot` holds a scan index only
            // for wanted roots, and then the header is not freed, so the vtable is not read.
            unsafe { Header::release_hold(root) };
        }
        self.spare_roots = roots;
        let mut tracer = Tracer::new();
        let mut stack = mem::take(&mut self.stack);
        stack.extend((0..self.len()).rev());
        while let Some(next) = stack.pop() {
            let ScanNode { header, vtable } = self.nodes[next];
            // SAFETY: the node's value is alive (strong > 0, not DEAD before this scan) and
            // its vtable is the one it was created with. `trace` does not read `slot`.
            unsafe { ((*vtable).trace)(header, &mut tracer) };
            // Start every child's cache miss at once rather than one per loop iteration.
            for &child in tracer.edges() {
                prefetch(child);
            }
            // Children are pushed last first, so that the first is traced next.
            for &child in tracer.edges().iter().rev() {
                // SAFETY: `trace` reported a `Gc` the value owns: its header is alive.
                let c = unsafe { child.as_ref() };
                let index = match c.scan_index() {
                    Some(index) => index,
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
            let incomplete = if tracer.incomplete() { INCOMPLETE } else { 0 };
            self.visits.push(Visit {
                node: next,
                edges_end: self.edges.len() | incomplete,
            });
            tracer.clear();
        }
        self.stack = stack;
    }

    /// Phase 2: subtract every internal reference from its target's `refs`. A separate pass
    /// over the flat edge list, not folded into the snapshot: its iterations are independent,
    /// so the processor overlaps their cache misses (on a 100k-node random graph, folding it
    /// in made the snapshot twice as slow).
    ///
    /// Returns whether every node is garbage (every `refs` reached zero), the common case
    /// for which the scan and claim passes can be skipped.
    fn subtract(&mut self) -> Result<bool, Inconsistent> {
        let mut zeroed = 0;
        for &target in &self.edges {
            let refs = &mut self.refs[target];
            if *refs != MANY_REFS {
                *refs = refs.checked_sub(1).ok_or(Inconsistent)?;
                zeroed += usize::from(*refs == 0);
            }
        }
        Ok(zeroed == self.len())
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
                if visit.incomplete() {
                    self.retry.push(header);
                }
            } else {
                self.garbage.push(visit.node);
            }
        }
    }

    /// Phase 5: drop the garbage's values (every node if `all_garbage`, else the claimed
    /// ones), restoring each vtable first. Returns the number of objects destroyed; the first
    /// panic of a `Drop` is resumed after the last value.
    fn destroy(&mut self, all_garbage: bool) -> usize {
        // Every node is either revived by `claim` or restored below: nothing to undo on drop.
        self.parked = false;
        let count = if all_garbage {
            self.visits.len()
        } else {
            self.garbage.len()
        };
        let member = |k: usize| {
            let index = if all_garbage {
                self.visits[k].node
            } else {
                self.garbage[k]
            };
            self.nodes[index]
        };
        let mut next = 0;
        let mut first_panic = None;
        while next < count {
            // One `catch_unwind` for the whole pass, entered again after a panicking `Drop`,
            // rather than one per object.
            let result = panic::catch_unwind(AssertUnwindSafe(|| {
                while next < count {
                    let k = next;
                    next += 1;
                    // Scattered garbage (a random graph) defeats the hardware prefetcher.
                    if k + PREFETCH_AHEAD < count {
                        prefetch(member(k + PREFETCH_AHEAD).header);
                    }
                    // SAFETY: `member(k)` is claimed garbage, destroyed once: `k` only grows.
                    unsafe { destroy_member(member(k)) };
                }
            }));
            if let Err(payload) = result {
                first_panic.get_or_insert(payload);
            }
        }
        if let Some(payload) = first_panic {
            panic::resume_unwind(payload);
        }
        count
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
    /// Revives every node if the scan is abandoned (an inconsistent count, or a `Trace`
    /// panic unwinding through the snapshot).
    fn drop(&mut self) {
        if !self.parked {
            return;
        }
        for node in &self.nodes {
            // SAFETY: as in `claim`.
            let h = unsafe { node.header.as_ref() };
            h.leave_scan(node.vtable);
            h.clear_flag(DEAD);
        }
    }
}

/// Ends the collection: clears the flag and ends the deferral of releases (dropping what the
/// destruction left pending, unless an outer release will) — also when a panic is unwinding.
struct EndCollection<'a> {
    heap: &'a Heap,
    saved_depth: usize,
}

impl Drop for EndCollection<'_> {
    fn drop(&mut self) {
        self.heap.scanning.set(false);
        self.heap.collecting.set(false);
        // The buffer was emptied (a `Trace` panic skips `set_trigger_after`).
        self.heap.update_room();
        release::end_deferral(self.saved_depth);
    }
}

/// Runs a full collection of `heap`'s buffered roots. Returns the number of objects freed.
pub(crate) fn collect(heap: &Heap) -> usize {
    if heap.collecting.replace(true) {
        return 0;
    }
    // While collecting, releases that reach zero are deferred: no header in the scan can be
    // freed under it, and drops of garbage never recurse.
    let _end = EndCollection {
        heap,
        saved_depth: release::begin_deferral(),
    };
    heap.stats.borrow_mut().collections += 1;

    // Declared after `_end`, so dropped before it on every path: the scan revives (or hands
    // back) its nodes before `end_deferral` drains the pending list, which may hold objects
    // a misbehaving `Trace` released during the snapshot.
    let mut scan = heap.spare_scan.take().unwrap_or_else(Scan::new);
    let roots = mem::replace(
        &mut *heap.roots.borrow_mut(),
        mem::take(&mut scan.spare_roots),
    );
    let pending_before = release::pending_len();
    heap.scanning.set(true);
    scan.snapshot(roots);
    heap.scanning.set(false);
    // Only a `Trace` impl can have released anything during the snapshot.
    let trace_released = release::pending_len() != pending_before;
    let all_garbage = scan.subtract();
    let Ok(all_garbage) = all_garbage else {
        let traced = scan.len();
        drop(scan);
        heap.stats.borrow_mut().aborted += 1;
        heap.set_trigger_after(traced);
        if cfg!(debug_assertions) {
            panic!(
                "cyclegc: a collection was abandoned because a `Trace` impl reported more \
                 references to an object than it has. Nothing was freed. Check hand-written \
                 `Trace` impls: each `Gc` a value owns must be reported exactly once, and `Gc`s \
                 shared with something else (e.g. inside an `Rc`) not at all"
            );
        }
        return 0;
    };
    let traced = scan.len();
    let all_garbage = all_garbage && !trace_released;
    if !all_garbage {
        scan.mark_live();
        scan.claim();
    }

    for &header in &scan.retry {
        // SAFETY: a survivor is alive (it is referenced from outside the garbage).
        if !unsafe { header.as_ref() }.has(BUFFERED) {
            heap.buffer(header);
        }
    }
    let garbage = if all_garbage {
        traced
    } else {
        scan.garbage.len()
    };
    {
        let mut stats = heap.stats.borrow_mut();
        stats.collected += garbage as u64;
        stats.traced += traced as u64;
    }
    heap.set_trigger_after(traced - garbage);
    // From here on user code runs (the values' `Drop` impls); every member is already DEAD.
    let freed = scan.destroy(all_garbage);
    heap.spare_scan.set(scan.recycle(traced));
    freed
}
