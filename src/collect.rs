//! The cycle collector: synchronous trial deletion (Bacon & Rajan 2001) over the subgraph
//! reachable from the buffered possible roots, computed CPython-style on side counters.
//!
//! 1. **Snapshot.** Starting from the roots, every reachable tracked object becomes a scan
//!    node (its header's `slot` then holds the node index). Each node is traced exactly once;
//!    its edges are stored as node indices. `refs` starts as the real strong count, which is
//!    never written.
//! 2. **Subtract.** Every edge inside the snapshot takes one from its target's `refs`. What
//!    is left counts references from outside the snapshot. A target whose `refs` would go
//!    below zero proves a `Trace` impl reported more references than exist: the collection is
//!    abandoned.
//! 3. **Scan.** Nodes with `refs > 0`, and everything reachable from them, are live.
//! 4. **Validate.** A garbage node whose strong count changed while we traced (a `Trace` impl
//!    that cloned or dropped a handle) means the snapshot is stale: abandon.
//! 5. **Destroy.** Restore every `slot`, mark every garbage object `DEAD` (so `Weak::upgrade`
//!    fails and dereferencing panics) and take a hold on it, drop each value (catching
//!    panics), then give back the holds: headers go when nothing points to them.
//!
//! Every phase runs on explicit work lists, so depth is bounded by type nesting, never by the
//! data: a million-node ring is collected on a 256 KiB stack.

use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;

use crate::header::{Header, VTable, BUFFERED, DEAD, UNTRACKED};
use crate::heap::Heap;
use crate::trace::Tracer;

/// One object in the snapshot.
struct Node {
    header: NonNull<Header>,
    /// The vtable, parked here while `slot` holds the node index.
    vtable: *const VTable,
    /// The strong count when the node was added, to validate the verdict.
    strong: usize,
    /// CPython's `gc_refs`: strong count minus references from inside the snapshot.
    refs: usize,
    /// Where this node's edges start in `Scan::edges` (they end where the next node's start).
    edges_start: usize,
    live: bool,
    /// Part of the value could not be traced (a borrowed `RefCell`): if it survives, it goes
    /// back into the root buffer, so the cycle it may be on is examined again.
    incomplete: bool,
}

/// The snapshot. Dropping it (normally or while a `Trace` panic unwinds) puts every vtable
/// back, which must happen before any user `Drop` runs.
struct Scan {
    nodes: Vec<Node>,
    edges: Vec<usize>,
}

/// What a successful scan decided.
struct Verdict {
    /// Unreachable objects, to destroy.
    garbage: Vec<NonNull<Header>>,
    /// Survivors that could not be traced completely, to examine again next time.
    retry: Vec<NonNull<Header>>,
}

/// Why a collection found nothing to free although it ran.
enum Abandon {
    /// References did not add up, or changed under us: the graph cannot be trusted.
    Inconsistent,
}

impl Scan {
    fn new() -> Scan {
        Scan {
            nodes: Vec::new(),
            edges: Vec::new(),
        }
    }

    /// Adds a tracked, live object to the snapshot and returns its index.
    fn add(&mut self, header: NonNull<Header>) -> usize {
        let index = self.nodes.len();
        // SAFETY: the object is reachable through a strong reference (a buffered root with a
        // non-zero count, or an edge of a node being traced), so its header is alive.
        let h = unsafe { header.as_ref() };
        let strong = h.strong();
        self.nodes.reserve(1);
        let vtable = h.enter_scan(index);
        self.nodes.push(Node {
            header,
            vtable,
            strong,
            refs: strong,
            edges_start: 0,
            live: false,
            incomplete: false,
        });
        index
    }

    fn edges_of(&self, index: usize) -> std::ops::Range<usize> {
        let end = match self.nodes.get(index + 1) {
            Some(next) => next.edges_start,
            None => self.edges.len(),
        };
        self.nodes[index].edges_start..end
    }

    /// Phase 1: trace every node once, breadth first, adding what it reaches.
    fn snapshot(&mut self, roots: &[NonNull<Header>]) {
        for &root in roots {
            // SAFETY: a buffer entry holds a unit of its header's weak count.
            let h = unsafe { root.as_ref() };
            // A root whose value is gone (strong 0) or already claimed is only released.
            if h.strong() > 0 && !h.has(DEAD) && h.scan_index().is_none() {
                self.add(root);
            }
        }
        let mut tracer = Tracer::new();
        let mut next = 0;
        while next < self.nodes.len() {
            let node = &self.nodes[next];
            let (header, vtable) = (node.header, node.vtable);
            // SAFETY: the node's value is alive (strong > 0, not DEAD) and `vtable` is the
            // vtable it was created with. `trace` does not read `slot`.
            unsafe { ((*vtable).trace)(header, &mut tracer) };
            self.nodes[next].edges_start = self.edges.len();
            self.nodes[next].incomplete = tracer.incomplete();
            for &child in tracer.edges() {
                // SAFETY: `trace` reported a `Gc` the value owns: its header is alive.
                let c = unsafe { child.as_ref() };
                if c.has(UNTRACKED | DEAD) {
                    // Untracked objects own no `Gc` and so are never on a cycle; dead ones
                    // are already being destroyed.
                    continue;
                }
                let index = match c.scan_index() {
                    Some(index) => index,
                    None => self.add(child),
                };
                self.edges.push(index);
            }
            tracer.clear();
            next += 1;
        }
    }

    /// Phase 2: subtract internal references.
    fn subtract(&mut self) -> Result<(), Abandon> {
        for &target in &self.edges {
            let refs = &mut self.nodes[target].refs;
            *refs = refs.checked_sub(1).ok_or(Abandon::Inconsistent)?;
        }
        Ok(())
    }

    /// Phase 3: mark everything reachable from an externally referenced node.
    fn mark_live(&mut self) {
        let mut stack: Vec<usize> = Vec::new();
        for (index, node) in self.nodes.iter_mut().enumerate() {
            if node.refs > 0 {
                node.live = true;
                stack.push(index);
            }
        }
        while let Some(index) = stack.pop() {
            for e in self.edges_of(index) {
                let target = self.edges[e];
                if !self.nodes[target].live {
                    self.nodes[target].live = true;
                    stack.push(target);
                }
            }
        }
    }

    /// Phase 4: the garbage, if the snapshot still holds, and the survivors that could not
    /// be traced completely.
    fn verdict(&self) -> Result<Verdict, Abandon> {
        let mut garbage = Vec::new();
        let retry = self
            .nodes
            .iter()
            .filter(|node| node.live && node.incomplete)
            .map(|node| node.header)
            .collect();
        for node in self.nodes.iter().filter(|node| !node.live) {
            // SAFETY: every node's header is alive: it has strong references (from the garbage
            // itself), and nothing has run that could drop them except `Trace` impls, which
            // this check is about.
            let h = unsafe { node.header.as_ref() };
            if h.strong() != node.strong || h.has(DEAD) {
                return Err(Abandon::Inconsistent);
            }
            garbage.push(node.header);
        }
        Ok(Verdict { garbage, retry })
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        for node in &self.nodes {
            // SAFETY: nodes' headers stay alive for the whole scan: releases that reach zero
            // are deferred to the pending list while a collection runs.
            unsafe { node.header.as_ref() }.leave_scan(node.vtable);
        }
    }
}

/// The roots taken from the buffer. Dropping this gives back the buffer's holds — after the
/// scan has restored the vtables (it is declared first, so it is dropped last).
struct Roots(Vec<NonNull<Header>>);

impl Drop for Roots {
    fn drop(&mut self) {
        for &root in &self.0 {
            // SAFETY: each entry owns one unit of its header's weak count; `slot` holds the
            // vtable again (the scan, if any, is over).
            unsafe {
                root.as_ref().clear_flag(BUFFERED);
                Header::release_hold(root);
            }
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
        self.heap.collecting.set(false);
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

    let roots = Roots(mem::take(&mut *heap.roots.borrow_mut()));
    let mut scan = Scan::new();
    scan.snapshot(&roots.0);
    let verdict = scan.subtract().and_then(|()| {
        scan.mark_live();
        scan.verdict()
    });
    let traced = scan.nodes.len();
    drop(scan);

    let Verdict { garbage, retry } = match verdict {
        Ok(verdict) => verdict,
        Err(Abandon::Inconsistent) => {
            drop(roots);
            heap.stats.borrow_mut().aborted += 1;
            heap.set_trigger_after(traced);
            if cfg!(debug_assertions) {
                panic!(
                    "cyclegc: a collection was abandoned because a `Trace` impl reported more \
                     references to an object than it has, or changed the object graph while \
                     being traced. Nothing was freed. Check hand-written `Trace` impls: each \
                     `Gc` a value owns must be reported exactly once, and `Gc`s shared with \
                     something else (e.g. inside an `Rc`) not at all"
                );
            }
            return 0;
        }
    };

    // From here on user code runs (the values' `Drop` impls): claim everything first.
    for &member in &garbage {
        // SAFETY: garbage headers are alive (they hold strong references to each other).
        let h = unsafe { member.as_ref() };
        h.set_flag(DEAD);
        h.take_hold();
    }
    drop(roots);
    for header in retry {
        // SAFETY: a survivor is alive (it is referenced from outside the garbage).
        if !unsafe { header.as_ref() }.has(BUFFERED) {
            heap.buffer(header);
        }
    }
    {
        let mut stats = heap.stats.borrow_mut();
        stats.collected += garbage.len() as u64;
        stats.traced += traced as u64;
    }
    heap.set_trigger_after(traced - garbage.len());

    let mut first_panic = None;
    for &member in &garbage {
        // SAFETY: the member is DEAD, so nothing else drops its value; its header is held.
        let result = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
            (member.as_ref().vtable().drop_value)(member)
        }));
        if let Err(payload) = result {
            first_panic.get_or_insert(payload);
        }
    }
    for &member in &garbage {
        // SAFETY: gives back the hold taken above.
        unsafe { Header::release_hold(member) };
    }
    if let Some(payload) = first_panic {
        panic::resume_unwind(payload);
    }
    garbage.len()
}
