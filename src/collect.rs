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
use crate::trace::Tracer;

/// The snapshot, one array per field (the passes after the snapshot each read only one or two
/// fields, so this keeps their sweeps over memory short). Index `i` in every array is scan node
/// `i`. Dropping it (normally, or while a `Trace` panic unwinds) revives every node not yet
/// restored, which must happen before any user `Drop` runs.
///
/// The heap keeps the arrays of the last collection for the next one ([`Scan::recycle`]):
/// allocating them afresh each time costs a page fault per 4 KiB touched, and freeing them —
/// right after the destroy pass has filled the allocator's bins with freed objects — makes
/// glibc consolidate those bins, touching every freed object once more. Both together were
/// about a fifth of the time of collecting 100k two-node cycles.
pub(crate) struct Scan {
    headers: Vec<NonNull<Header>>,
    /// The vtables, parked here while each `slot` holds the node index.
    vtables: Vec<*const VTable>,
    /// CPython's `gc_refs`: strong count minus references from inside the snapshot.
    refs: Vec<usize>,
    /// Each node's edges in `edges`.
    edge_ranges: Vec<(usize, usize)>,
    /// Part of the value could not be traced (a borrowed `RefCell`): if it survives, it goes
    /// back into the root buffer, so the cycle it may be on is examined again.
    incomplete: Vec<bool>,
    edges: Vec<usize>,
    /// Node indices in the order they were traced: depth first, children in the order their
    /// parent reported them. For structures built depth first (trees, lists) that is
    /// allocation order, so the destroy pass walks memory forwards.
    order: Vec<usize>,
    /// The snapshot's depth-first work list, then the scan's.
    stack: Vec<usize>,
    /// Per node: reachable from outside the snapshot (scan and claim only).
    live: Vec<bool>,
    /// Indices of the unreachable objects, claimed (`DEAD`), to destroy.
    garbage: Vec<usize>,
    /// Survivors that could not be traced completely, to examine again next time.
    retry: Vec<NonNull<Header>>,
    /// An empty root buffer with the capacity of the last one, swapped in for the next.
    spare_roots: Vec<NonNull<Header>>,
    /// Whether `Drop` must revive the nodes (until `destroy` takes over).
    parked: bool,
}

/// A collection that traced `n` objects keeps arrays of up to `RETAIN_SLACK * n` entries (but
/// at least [`RETAIN_FLOOR`]) for the next one; larger ones are freed, so one huge collection
/// does not pin its memory for good.
const RETAIN_SLACK: usize = 8;
const RETAIN_FLOOR: usize = 1 << 12;

/// The references counted in a snapshot do not add up: a `Trace` impl reported more
/// references to an object than it has. Nothing can be freed.
struct Inconsistent;

impl Scan {
    pub(crate) const fn new() -> Scan {
        Scan {
            headers: Vec::new(),
            vtables: Vec::new(),
            refs: Vec::new(),
            edge_ranges: Vec::new(),
            incomplete: Vec::new(),
            edges: Vec::new(),
            order: Vec::new(),
            stack: Vec::new(),
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
        if self.headers.capacity() > keep || self.edges.capacity() > 2 * keep {
            return None;
        }
        self.headers.clear();
        self.vtables.clear();
        self.refs.clear();
        self.edge_ranges.clear();
        self.incomplete.clear();
        self.edges.clear();
        self.order.clear();
        self.stack.clear();
        self.live.clear();
        self.garbage.clear();
        self.retry.clear();
        self.parked = true;
        Some(self)
    }

    fn len(&self) -> usize {
        self.headers.len()
    }

    /// Adds a tracked, live object to the snapshot and returns its index.
    fn add(&mut self, header: NonNull<Header>) -> usize {
        let index = self.len();
        // SAFETY: the object is reachable through a strong reference (a root with a non-zero
        // count, or an edge of a node being traced), so its header is alive.
        let h = unsafe { header.as_ref() };
        // Header and vtable are recorded before `slot` gets the index, so that `Drop` can
        // always put back what was parked (`Drop` zips the two).
        self.vtables.push(h.vtable());
        self.headers.push(header);
        h.enter_scan(index);
        self.refs.push(h.strong());
        self.edge_ranges.push((0, 0));
        self.incomplete.push(false);
        // Tentatively dead: most scanned objects are garbage, and this way a garbage header
        // is written only here and when it is destroyed. Survivors are revived in `claim`.
        h.set_flag(DEAD);
        index
    }

    /// Phase 1: trace every node once, depth first (which follows the order most structures
    /// were allocated in), adding what it reaches and recording the edges.
    fn snapshot(&mut self, mut roots: Vec<NonNull<Header>>) {
        // Most roots lead to a few objects: start the arrays at a size that spares the first
        // few doublings (each a copy, and a free that makes glibc consolidate its bins).
        let guess = 4 * roots.len();
        self.headers.reserve(guess);
        self.vtables.reserve(guess);
        self.refs.reserve(guess);
        self.edge_ranges.reserve(guess);
        self.incomplete.reserve(guess);
        self.order.reserve(guess);
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
            self.order.push(next);
            // SAFETY: the node's value is alive (strong > 0, not DEAD before this scan) and
            // its vtable is the one it was created with. `trace` does not read `slot`.
            unsafe { ((*self.vtables[next]).trace)(self.headers[next], &mut tracer) };
            self.incomplete[next] = tracer.incomplete();
            let edges_start = self.edges.len();
            let first_new = stack.len();
            for &child in tracer.edges() {
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
            self.edge_ranges[next] = (edges_start, self.edges.len());
            // Pop the first child first.
            stack[first_new..].reverse();
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
            *refs = refs.checked_sub(1).ok_or(Inconsistent)?;
            zeroed += usize::from(*refs == 0);
        }
        Ok(zeroed == self.len())
    }

    /// Phase 3: mark everything reachable from an externally referenced node.
    fn mark_live(&mut self) {
        let live = &mut self.live;
        live.extend(self.refs.iter().map(|&refs| refs > 0));
        let stack = &mut self.stack;
        stack.extend((0..live.len()).filter(|&i| live[i]));
        while let Some(index) = stack.pop() {
            let (start, end) = self.edge_ranges[index];
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
        for &index in &self.order {
            // SAFETY: nodes' headers stay alive for the whole scan: releases that reach zero
            // are deferred to the pending list while a collection runs.
            let h = unsafe { self.headers[index].as_ref() };
            // A garbage node whose last strong reference a misbehaving `Trace` dropped is in
            // the pending list, which owns its value: leave it to the release loop.
            if self.live[index] || h.strong() == 0 {
                h.leave_scan(self.vtables[index]);
                h.clear_flag(DEAD);
                if self.incomplete[index] {
                    self.retry.push(self.headers[index]);
                }
            } else {
                self.garbage.push(index);
            }
        }
    }

    /// Phase 5: drop the garbage's values, restoring each vtable first. Returns the number of
    /// objects destroyed; the first panic of a `Drop` is resumed after the last value.
    fn destroy(&mut self) -> usize {
        // Every node is either revived by `claim` or restored below: nothing to undo on drop.
        self.parked = false;
        let mut first_panic = None;
        for &index in &self.garbage {
            let member = self.headers[index];
            // SAFETY: the member is DEAD, so nothing else drops its value, and it holds the
            // implicit hold until `DROPPED` is set: its header is alive.
            let h = unsafe { member.as_ref() };
            h.leave_scan(self.vtables[index]);
            // SAFETY: as above; the value is alive and dropped exactly once, here.
            let result = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
                (h.vtable().drop_value)(member)
            }));
            if let Err(payload) = result {
                first_panic.get_or_insert(payload);
            }
            h.set_flag(DROPPED);
            if h.strong() == 0 {
                // The last strong reference went before the value: it left the implicit hold
                // to us.
                // SAFETY: the hold is ours; nothing uses `h` afterwards.
                unsafe { Header::release_hold(member) };
            }
        }
        if let Some(payload) = first_panic {
            panic::resume_unwind(payload);
        }
        self.garbage.len()
    }
}

impl Drop for Scan {
    /// Revives every node if the scan is abandoned (an inconsistent count, or a `Trace`
    /// panic unwinding through the snapshot).
    fn drop(&mut self) {
        if !self.parked {
            return;
        }
        for (header, &vtable) in self.headers.iter().zip(&self.vtables) {
            // SAFETY: as in `claim`.
            let h = unsafe { header.as_ref() };
            h.leave_scan(vtable);
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
        self.heap.end_deferral(self.saved_depth);
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
        saved_depth: heap.begin_deferral(),
    };
    heap.stats.borrow_mut().collections += 1;

    let mut scan = heap.spare_scan.take().unwrap_or_else(Scan::new);
    let roots = mem::replace(
        &mut *heap.roots.borrow_mut(),
        mem::take(&mut scan.spare_roots),
    );
    let pending_before = heap.pending_len();
    heap.scanning.set(true);
    scan.snapshot(roots);
    heap.scanning.set(false);
    // Only a `Trace` impl can have released anything during the snapshot.
    let trace_released = heap.pending_len() != pending_before;
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
    if all_garbage && !trace_released {
        // Nothing to revive: every node stays claimed, in tracing order.
        mem::swap(&mut scan.garbage, &mut scan.order);
    } else {
        scan.mark_live();
        scan.claim();
    }

    for &header in &scan.retry {
        // SAFETY: a survivor is alive (it is referenced from outside the garbage).
        if !unsafe { header.as_ref() }.has(BUFFERED) {
            heap.buffer(header);
        }
    }
    let garbage = scan.garbage.len();
    {
        let mut stats = heap.stats.borrow_mut();
        stats.collected += garbage as u64;
        stats.traced += traced as u64;
    }
    heap.set_trigger_after(traced - garbage);
    // From here on user code runs (the values' `Drop` impls); every member is already DEAD.
    let freed = scan.destroy();
    heap.spare_scan.set(scan.recycle(traced));
    freed
}
