//! A differential harness for `cyclegc`: bytes decode into operations on a graph of
//! `Gc<FNode>`s, a pure model of that graph predicts what the crate must do, and every
//! disagreement aborts the process.
//!
//! Only `cyclegc` and std are used, so the same file drives the libFuzzer target
//! (`fuzz/fuzz_targets/ops.rs`) and the corpus replay test (`tests/fuzz_replay.rs`).
//!
//! # Operations
//!
//! An opcode byte (mod 18) and its parameter bytes (zeros past the end of the input):
//! allocate a node (with a drop [`Behaviour`], optionally an edge to a root and an edge from a
//! root to it), link, unlink, clone a root, drop a root, downgrade, upgrade, drop a weak,
//! `Gc::get_mut` then push/pop/clear the edges or `sort_by`/`dedup_by` them with a
//! `collect()` or a tracked allocation inside chosen comparisons, `Gc::make_mut` then
//! push/pop, `Gc::try_unwrap` then drop the value or put it in a new `Gc`, `collect()`,
//! `set_threshold(0..8)` (small: automatic collections run inside `Gc::new`),
//! `enable`/`disable`, empty the stash or take a handle out of it.
//!
//! # The model
//!
//! For every node ever created it keeps the ordered edge list (mirroring the real
//! `RefCell<Vec<Gc<_>>>`), a [`State`], a `dead` flag (claimed by a collection) and a drop
//! counter. The harness's handles are mirrored too: root slots, the stash that `Drop` impls
//! fill, temporaries held in locals, and weak handles. The model is always updated *before*
//! the real mutation, so a `Drop` that runs in the middle of it sees an up-to-date model (the
//! model may count fewer references than exist for a moment, never more).
//!
//! # The oracle
//!
//! * A value is dropped at most once (drop counter, checked in `Drop`).
//! * Safety. When a node's `Drop` runs and the model still counts references to it, it must
//!   be a collection: the node must be in the model's garbage set (not reachable from any
//!   handle, value held on a stack, or node whose release is under way, through nodes that
//!   are not dead). A full collection claims all of its garbage before running the first
//!   `Drop`, so that whole set is then marked dead. A collection of a younger generation
//!   claims part of it (what it examined), so the model marks the node and every garbage
//!   node with a path to it (which the collection must have claimed too: an unclaimed one
//!   would have kept the node alive), and learns the rest of the claim as it shows: each
//!   further `Drop`, and a `try_deref` from a `Drop` that fails on a garbage node. A node
//!   dropped with no references left is a plain release. Handles to dead nodes (stashed by
//!   `Drop` impls) keep nothing reachable.
//! * Every collection runs inside a call the harness brackets with a [`Frame`] (`collect`,
//!   `Gc::new`, `Gc::make_mut`); when the call ends, every node a collection in it marked
//!   dead must have been dropped, and `collect()` must have returned exactly that number.
//!   From a `Drop` of a collected node, `collect()` must return 0.
//! * Completeness. After an explicit top-level `collect()`, the model's garbage set must be
//!   empty, unless a `Drop` impl built a new garbage cycle during the call.
//! * After every operation: `Gc::strong_count` of every root handle and `Weak::strong_count`
//!   of every weak handle equal the model's counts; `Gc::get_mut`, `Gc::try_unwrap`,
//!   `Weak::upgrade` and `Gc::try_deref` succeed exactly when the model says they should.
//! * At the end of a run every handle is dropped, `collect()` runs until nothing is left,
//!   and every node ever created must have been dropped exactly once.
//! * Panics: the payloads the harness itself raises ([`Planned`], [`Bomb`]) and the crate's
//!   "already destroyed" message are expected; anything else fails the run.
//!
//! # What it does not cover
//!
//! * "The garbage set is everything the model finds unreachable" assumes that a full
//!   collection frees all garbage, not only some: true of this crate, where every orphaned
//!   cycle has a member in a root buffer (the decrement that orphaned it buffered it, or a
//!   younger collection that reached it) and a full collection takes every buffer. The model
//!   does not know the generations, so it checks a younger collection for safety only.
//! * `freeze()` is not called: the model would have to know which objects are listed.
//! * The model does not know the root buffer, so it cannot predict *when* an automatic
//!   collection runs, only check what it frees; `Stats` and `count()` are not checked, nor
//!   the order in which a collection drops its garbage.
//! * `FNode` drops its edges itself, one at a time, and holds the panics of its behaviour and
//!   of those drops until the end (resuming the first): so the crate never sees an edge of a
//!   node dropped by unwinding out of that node's `Drop`. Panics from a `Drop` that runs
//!   while the thread is already panicking are caught inside it (letting one escape would
//!   abort the process by Rust's rules, not by the crate's fault).
//! * No `RefCell` is ever borrowed while the collector runs, so the collector's handling of
//!   busy cells (skip, retry later) is not exercised. `Weak::new`, `Gc::new_cyclic`,
//!   `into_inner`, `unwrap_or_clone` and threads are not exercised either.

use std::any::Any;
use std::cell::RefCell;
use std::io::Write;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use cyclegc::{Gc, Trace, Tracer, Weak};

/// Operations decoded per input; small under Miri, which is slow.
const MAX_OPS: usize = if cfg!(miri) { 48 } else { 400 };
/// Nodes the operations may create per input (`Drop` impls may add a few more).
const MAX_NODES: usize = if cfg!(miri) { 24 } else { 256 };
const MAX_ROOTS: usize = 12;
const MAX_WEAKS: usize = 12;

/// The part of the crate's "dereferenced a destroyed value" panic message the harness
/// recognises as expected.
const DEAD_DEREF: &str =
    "cyclegc: dereferenced a `Gc` whose value the cycle collector has already destroyed";

/// What a node's `Drop` does besides recording itself, chosen when the node is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Nothing,
    /// Stores a clone of the first edge in the thread-local stash.
    Stash,
    /// Dereferences the first edge with `*` (panics if the collector destroyed it).
    Deref,
    /// `Gc::try_deref` on the first edge.
    TryDeref,
    /// Calls `cyclegc::collect()`.
    Collect,
    /// Allocates a node and drops it.
    AllocDrop,
    /// Allocates a node pointing to itself and drops the handle: new garbage.
    AllocCycle,
    /// Panics with a [`Planned`] payload.
    Panic,
    /// Panics with a [`Bomb`] payload.
    Bomb,
}

const BEHAVIOURS: [Behaviour; 9] = [
    Behaviour::Nothing,
    Behaviour::Stash,
    Behaviour::Deref,
    Behaviour::TryDeref,
    Behaviour::Collect,
    Behaviour::AllocDrop,
    Behaviour::AllocCycle,
    Behaviour::Panic,
    Behaviour::Bomb,
];

/// The panic payload of [`Behaviour::Panic`].
struct Planned;

/// The panic payload of [`Behaviour::Bomb`]: dropping it panics again. Whoever catches one
/// must dispose of it without dropping it (the harness forgets it).
struct Bomb;

/// The payload a [`Bomb`] panics with when dropped. Seeing it means some code (the crate)
/// dropped a `Bomb` payload and let the second panic escape.
struct BombExploded;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic::panic_any(BombExploded);
    }
}

/// A graph node. `id` indexes the model.
struct FNode {
    id: usize,
    edges: RefCell<Vec<Gc<FNode>>>,
    on_drop: Behaviour,
}

// SAFETY: reports each owned `Gc` exactly once, through the `RefCell<Vec<_>>` (whose impl
// skips the vector while it is mutably borrowed), and does nothing else.
unsafe impl Trace for FNode {
    fn trace(&self, tracer: &mut Tracer) {
        self.edges.trace(tracer);
    }
}

impl Clone for FNode {
    /// Used by `Gc::make_mut` only: the copy is a new node with its own id.
    fn clone(&self) -> FNode {
        let edges = self.edges.borrow().clone();
        let id = with_model(|m| {
            let copy_edges = m.nodes[self.id].edges.clone();
            let id = m.register(copy_edges);
            if let Some(ctx) = &mut m.make_mut {
                ctx.new = Some(id);
            }
            id
        });
        FNode {
            id,
            edges: RefCell::new(edges),
            on_drop: self.on_drop,
        }
    }
}

impl Drop for FNode {
    /// Records the drop in the model, runs the behaviour, then drops the edges one at a
    /// time, each after the model forgot it: drop glue would drop them after the model could
    /// see it, and a collection run by one child's `Drop` must see the later edges as the
    /// real references they still are. Panics are held until the end (the first one is
    /// resumed), so that no edge is dropped by unwinding behind the model's back.
    fn drop(&mut self) {
        let id = self.id;
        let dead = with_model(|m| m.on_drop(id));
        let mut first_panic = panic::catch_unwind(AssertUnwindSafe(|| self.behave(dead))).err();
        let edges = self.edges.get_mut();
        while !edges.is_empty() {
            with_model(|m| m.nodes[id].edges.pop());
            let edge = edges.pop();
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| drop(edge))) {
                match first_panic {
                    None => first_panic = Some(payload),
                    Some(_) => dispose(payload),
                }
            }
        }
        with_model(|m| m.nodes[id].state = State::Dropped);
        if let Some(payload) = first_panic {
            if std::thread::panicking() {
                // A panic escaping a `Drop` during unwinding aborts: keep this one inside.
                dispose(payload);
            } else {
                panic::resume_unwind(payload);
            }
        }
    }
}

impl FNode {
    /// Runs the drop behaviour; `dead`: this node is being destroyed by a collection.
    fn behave(&mut self, dead: bool) {
        let first_id = with_model(|m| m.nodes[self.id].edges.first().copied());
        let first = self.edges.get_mut().first();
        if first.is_some() != first_id.is_some() {
            fail(format!(
                "node {}: model and real edge lists disagree",
                self.id
            ));
        }
        let target = first.zip(first_id);
        match self.on_drop {
            Behaviour::Nothing => {}
            Behaviour::Stash => {
                if let Some((edge, eid)) = target {
                    with_model(|m| m.stash.push(eid));
                    let edge = edge.clone();
                    STASH.with(|s| s.borrow_mut().push(edge));
                }
            }
            Behaviour::Deref => {
                if let Some((edge, eid)) = target {
                    let expect_dead = observe_try_deref(edge, eid);
                    // Panics with the crate's message if the collector destroyed it.
                    let value: &FNode = edge;
                    if expect_dead {
                        fail(format!("deref of dead node {eid} did not panic"));
                    }
                    if value.id != eid {
                        fail(format!("edge to {eid} reads node {}", value.id));
                    }
                }
            }
            Behaviour::TryDeref => {
                if let Some((edge, eid)) = target {
                    observe_try_deref(edge, eid);
                }
            }
            Behaviour::Collect => {
                let frame = Frame::new();
                let n = cyclegc::collect();
                let marked = frame.end();
                if dead && n != 0 {
                    fail(format!("collect() inside a collection returned {n}"));
                }
                if n != marked {
                    fail(format!(
                        "collect() from a Drop returned {n}, freed {marked}"
                    ));
                }
            }
            Behaviour::AllocDrop => drop_live_temp(alloc_node(Behaviour::Nothing, None)),
            Behaviour::AllocCycle => alloc_cycle(),
            Behaviour::Panic => panic::panic_any(Planned),
            Behaviour::Bomb => panic::panic_any(Bomb),
        }
    }
}

/// `try_deref` from a `Drop`, during a collection: checked as [`check_try_deref`] does, except
/// that on a garbage node a younger collection may have claimed unknown to the model, either
/// answer goes (and `None` teaches the model the claim). Returns whether the node is dead.
fn observe_try_deref(edge: &Gc<FNode>, eid: usize) -> bool {
    let (dead, maybe) = with_model(|m| (m.nodes[eid].dead, m.maybe_claimed(eid)));
    if !dead && maybe {
        let claimed = Gc::try_deref(edge).is_none();
        if claimed {
            with_model(|m| m.claim_part(eid));
        }
        check_try_deref(edge, eid, claimed);
        return claimed;
    }
    check_try_deref(edge, eid, dead);
    dead
}

fn check_try_deref(edge: &Gc<FNode>, eid: usize, expect_dead: bool) {
    match Gc::try_deref(edge) {
        None if !expect_dead => fail(format!("try_deref of live node {eid} returned None")),
        Some(_) if expect_dead => fail(format!("try_deref of dead node {eid} returned Some")),
        Some(v) if v.id != eid => fail(format!("edge to {eid} reads node {}", v.id)),
        _ => {}
    }
}

/// Allocates a node with behaviour `b` (and optionally an edge to `child`), counted in the
/// model as a temporary handle; release it with [`drop_live_temp`].
fn alloc_node(b: Behaviour, child: Option<(usize, &Gc<FNode>)>) -> Gc<FNode> {
    let edge_ids = child.map(|(id, _)| id).into_iter().collect();
    let id = with_model(|m| m.register(edge_ids));
    trace(|| format!("new node {id}: {b:?}, child {:?}", child.map(|c| c.0)));
    let value = FNode {
        id,
        edges: RefCell::new(child.map(|(_, g)| g.clone()).into_iter().collect()),
        on_drop: b,
    };
    let frame = Frame::new();
    let gc = Gc::new(value);
    frame.end();
    with_model(|m| {
        m.nodes[id].state = State::Alive;
        m.temps.push(id);
    });
    gc
}

fn alloc_cycle() {
    let gc = alloc_node(Behaviour::Nothing, None);
    let id = gc.id;
    with_model(|m| {
        m.nodes[id].edges.push(id);
        m.garbage_made += 1;
    });
    gc.edges.borrow_mut().push(gc.clone());
    drop_temp(id, gc);
}

/// Drops a handle to node `id` the model counts as a temporary. (The id is passed in: the
/// handle may be dead, and reading `gc.id` would then panic.)
fn drop_temp(id: usize, gc: Gc<FNode>) {
    with_model(|m| m.remove_temp(id));
    drop(gc);
}

/// Drops a temporary handle to a live node.
fn drop_live_temp(gc: Gc<FNode>) {
    drop_temp(gc.id, gc);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// An `FNode` held by value (built but not yet in a `Gc`, or moved out by `try_unwrap`).
    Value,
    /// In a `Gc` allocation, value not dropped.
    Alive,
    /// Its `Drop::drop` is running (the edges still exist).
    Dropping,
    Dropped,
}

struct NodeModel {
    edges: Vec<usize>,
    state: State,
    /// Claimed by a collection: `Weak::upgrade` fails, deref panics, the value is (being)
    /// dropped by the collector.
    dead: bool,
    drops: u32,
}

struct MakeMutCtx {
    slot: usize,
    old: usize,
    new: Option<usize>,
    applied: bool,
}

#[derive(Default)]
struct Model {
    nodes: Vec<NodeModel>,
    /// Mirrors the harness's root slots.
    roots: Vec<Option<usize>>,
    /// Mirrors [`STASH`], in order.
    stash: Vec<usize>,
    /// Strong handles held in local variables.
    temps: Vec<usize>,
    /// Mirrors the harness's weak handles: (node, still points to the node's allocation).
    weaks: Vec<(usize, bool)>,
    /// One per bracketed call that may collect.
    frames: Vec<FrameState>,
    make_mut: Option<MakeMutCtx>,
    /// Garbage cycles built by `Drop` impls (`AllocCycle`).
    garbage_made: usize,
}

/// What the model knows of a bracketed call that may collect.
struct FrameState {
    /// The nodes its collections marked dead.
    marked: Vec<usize>,
    /// Full collections the thread had run when the call began.
    full_collections: u64,
    /// A collection of a younger generation ran in it: the garbage when it claimed its part
    /// (before any `Drop` ran: later ones may hand out new handles to claimed nodes), the
    /// model learning that part as it shows.
    claimable: Option<Vec<bool>>,
    /// Nodes dropped in it with no references left. Under a younger collection, one may be
    /// a member of its garbage whose referrers were all destroyed before it, or an older
    /// object only the garbage referred to; the model cannot tell which.
    released: usize,
}

impl Model {
    fn register(&mut self, edges: Vec<usize>) -> usize {
        self.nodes.push(NodeModel {
            edges,
            state: State::Value,
            dead: false,
            drops: 0,
        });
        self.nodes.len() - 1
    }

    fn remove_temp(&mut self, id: usize) {
        match self.temps.iter().rposition(|&t| t == id) {
            Some(i) => {
                self.temps.swap_remove(i);
            }
            None => fail(format!("no temporary handle to {id}")),
        }
    }

    /// Who refers to `id`, for failure messages.
    fn referrers(&self, id: usize) -> Vec<String> {
        let mut r = Vec::new();
        for (slot, root) in self.roots.iter().enumerate() {
            if *root == Some(id) {
                r.push(format!("root slot {slot}"));
            }
        }
        r.extend(
            self.stash
                .iter()
                .filter(|&&s| s == id)
                .map(|_| "stash".to_string()),
        );
        r.extend(
            self.temps
                .iter()
                .filter(|&&t| t == id)
                .map(|_| "temp".to_string()),
        );
        for (n, node) in self.nodes.iter().enumerate() {
            if node.edges.contains(&id) {
                r.push(format!(
                    "edge from {n} ({:?}, dead {})",
                    node.state, node.dead
                ));
            }
        }
        r
    }

    /// Strong references per node: handles plus edges of every value not yet dropped.
    fn counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.nodes.len()];
        let handles = self
            .roots
            .iter()
            .flatten()
            .chain(&self.stash)
            .chain(&self.temps);
        for &id in handles {
            c[id] += 1;
        }
        for node in &self.nodes {
            for &e in &node.edges {
                c[e] += 1;
            }
        }
        c
    }

    /// The nodes a collection may free now: in a `Gc`, not dead, and not reachable from a
    /// handle, a value on a stack or a node being released (count 0, not dead), through
    /// nodes that are not dead.
    fn garbage(&self) -> Vec<usize> {
        self.garbage_with(true)
    }

    /// [`Model::garbage`] while a collection of a younger generation destroys what it
    /// claimed: a node with no references left that is not dropped yet may be one of those
    /// (its referrers destroyed first) rather than a release, so it is not a root of
    /// reachability. (This weakens the check for such collections: a node reachable only
    /// from a pending release is accepted as garbage.)
    fn partial_garbage(&self) -> Vec<usize> {
        self.garbage_with(false)
    }

    fn garbage_with(&self, releases_reach: bool) -> Vec<usize> {
        let counts = self.counts();
        let mut reached = vec![false; self.nodes.len()];
        let mut stack = Vec::new();
        let mut reach = |id: usize, stack: &mut Vec<usize>| {
            if !self.nodes[id].dead && !reached[id] {
                reached[id] = true;
                stack.push(id);
            }
        };
        let handles = self
            .roots
            .iter()
            .flatten()
            .chain(&self.stash)
            .chain(&self.temps);
        for &id in handles {
            reach(id, &mut stack);
        }
        for (id, node) in self.nodes.iter().enumerate() {
            let releasing = match node.state {
                State::Alive => releases_reach && counts[id] == 0,
                State::Dropping => counts[id] == 0,
                _ => false,
            };
            if node.state == State::Value || releasing {
                reach(id, &mut stack);
            }
        }
        while let Some(id) = stack.pop() {
            for &e in &self.nodes[id].edges {
                reach(e, &mut stack);
            }
        }
        (0..self.nodes.len())
            .filter(|&id| {
                let n = &self.nodes[id];
                n.state == State::Alive && !n.dead && !reached[id]
            })
            .collect()
    }

    /// The innermost frame's [`FrameState::claimable`], if a younger collection runs in it.
    fn claimable(&self) -> Option<&[bool]> {
        self.frames.last()?.claimable.as_deref()
    }

    /// Whether `id` was garbage when the younger collection running in the innermost frame
    /// claimed its part.
    fn is_claimable(&self, id: usize) -> bool {
        self.claimable()
            .is_some_and(|c| c.get(id).copied().unwrap_or(false))
    }

    /// The younger collection running in the innermost frame claimed `id`: marks it dead with
    /// every node of that collection's garbage that still has a path to it through such
    /// nodes (the collection must have claimed those too: an unclaimed one would have kept
    /// `id` alive), and attributes them to the frame.
    fn claim_part(&mut self, id: usize) {
        let garbage: Vec<usize> = (0..self.nodes.len())
            .filter(|&g| self.is_claimable(g))
            .collect();
        let mut claimed = vec![id];
        self.nodes[id].dead = true;
        let mut next = 0;
        while next < claimed.len() {
            let target = claimed[next];
            next += 1;
            for &g in &garbage {
                if !self.nodes[g].dead && self.nodes[g].edges.contains(&target) {
                    self.nodes[g].dead = true;
                    claimed.push(g);
                }
            }
        }
        let frame = self.frames.last_mut().expect("a frame");
        frame.marked.extend(claimed);
    }

    /// Whether a collection of a younger generation running now may have claimed `id`
    /// without the model knowing yet.
    fn maybe_claimed(&self, id: usize) -> bool {
        !self.nodes[id].dead && self.is_claimable(id)
    }

    /// A node's `Drop` starts. Returns whether it is dead (dropped by a collection).
    fn on_drop(&mut self, id: usize) -> bool {
        self.nodes[id].drops += 1;
        if self.nodes[id].drops > 1 {
            fail(format!("node {id} dropped twice"));
        }
        if let Some(ctx) = &mut self.make_mut {
            // `make_mut` released the old allocation when it stored the new one (only the
            // assignment can drop it: during the allocation the slot keeps it alive).
            if ctx.old == id && !ctx.applied {
                let new = ctx
                    .new
                    .unwrap_or_else(|| fail("make_mut dropped without cloning"));
                ctx.applied = true;
                let slot = ctx.slot;
                self.roots[slot] = Some(new);
                self.nodes[new].state = State::Alive;
            }
        }
        let dead = self.nodes[id].dead;
        trace(|| {
            format!(
                "drop {id}: {:?} dead={dead} edges={:?}",
                self.nodes[id].state, self.nodes[id].edges
            )
        });
        match self.nodes[id].state {
            State::Value => {}
            State::Alive if dead => {}
            State::Alive => {
                let count = self.counts()[id];
                if count == 0 {
                    if let Some(frame) = self.frames.last_mut() {
                        frame.released += 1;
                    }
                } else {
                    // Not a release: a collection's (for a full one, its first).
                    let Some(frame) = self.frames.last() else {
                        fail(format!(
                            "node {id} collected outside any call that may collect"
                        ))
                    };
                    let full = cyclegc::stats().generations[2].collections > frame.full_collections
                        && frame.claimable.is_none();
                    let garbage = if full {
                        self.garbage()
                    } else if self.claimable().is_some() {
                        (0..self.nodes.len())
                            .filter(|&g| self.is_claimable(g))
                            .collect()
                    } else {
                        self.partial_garbage()
                    };
                    if !garbage.contains(&id) {
                        fail(format!(
                            "node {id} dropped while reachable (model count {count}, \
                             referrers {:?})",
                            self.referrers(id)
                        ));
                    }
                    trace(|| {
                        let counts = self.counts();
                        let g: Vec<String> = garbage
                            .iter()
                            .map(|&g| {
                                format!("{g}: count {} edges {:?}", counts[g], self.nodes[g].edges)
                            })
                            .collect();
                        format!("collection claims {g:?}")
                    });
                    let frame = self.frames.last_mut().expect("checked above");
                    if full {
                        frame.marked.extend_from_slice(&garbage);
                        for g in garbage {
                            self.nodes[g].dead = true;
                        }
                    } else {
                        if frame.claimable.is_none() {
                            let mut claimable = vec![false; self.nodes.len()];
                            for g in garbage {
                                claimable[g] = true;
                            }
                            frame.claimable = Some(claimable);
                        }
                        self.claim_part(id);
                    }
                }
            }
            s => fail(format!("node {id} dropped in state {s:?}")),
        }
        self.nodes[id].state = State::Dropping;
        self.nodes[id].dead
    }
}

/// Prints a line to stderr when `CYCLEGC_FUZZ_TRACE` is set (to read a crash's story).
fn trace(msg: impl FnOnce() -> String) {
    if TRACE.with(|t| *t) {
        let line = format!("trace: {}\n", msg());
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

thread_local! {
    static TRACE: bool = std::env::var_os("CYCLEGC_FUZZ_TRACE").is_some();
    static MODEL: RefCell<Model> = RefCell::new(Model::default());
    /// Handles stashed by `Drop` impls (`Behaviour::Stash`); mirrored by `Model::stash`.
    static STASH: RefCell<Vec<Gc<FNode>>> = const { RefCell::new(Vec::new()) };
    /// The collector's settings before the first run, restored after every run.
    static DEFAULTS: ([usize; 3], bool) = (cyclegc::thresholds(), cyclegc::is_enabled());
}

fn with_model<R>(f: impl FnOnce(&mut Model) -> R) -> R {
    MODEL.with(|m| f(&mut m.borrow_mut()))
}

/// Reports an oracle failure and aborts: a panic could be caught (and dropped) by the crate.
/// Written with `io::stderr` rather than `eprintln!`, which the test harness would capture
/// and lose in the abort.
fn fail(msg: impl AsRef<str>) -> ! {
    let line = format!("cyclegc-fuzz: ORACLE FAILURE: {}\n", msg.as_ref());
    let _ = std::io::stderr().write_all(line.as_bytes());
    std::process::abort();
}

/// Brackets a call that may run a collection, attributing to it what collections mark dead.
struct Frame {
    ended: bool,
}

impl Frame {
    fn new() -> Frame {
        let full_collections = cyclegc::stats().generations[2].collections;
        with_model(|m| {
            m.frames.push(FrameState {
                marked: Vec::new(),
                full_collections,
                claimable: None,
                released: 0,
            })
        });
        Frame { ended: false }
    }

    /// Checks that everything marked dead in the call was dropped; returns how many.
    fn end(self) -> usize {
        self.end_counting_releases().0
    }

    /// [`Frame::end`], also returning how many nodes were released in the call.
    fn end_counting_releases(mut self) -> (usize, usize) {
        self.ended = true;
        Frame::pop()
    }

    fn pop() -> (usize, usize) {
        with_model(|m| {
            let FrameState {
                marked, released, ..
            } = m
                .frames
                .pop()
                .unwrap_or_else(|| fail("frame stack underflow"));
            if let Some(&id) = marked
                .iter()
                .find(|&&id| m.nodes[id].state != State::Dropped)
            {
                fail(format!(
                    "collected node {id} was not dropped by the end of the call"
                ));
            }
            (marked.len(), released)
        })
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        if !self.ended {
            Frame::pop();
        }
    }
}

fn payload_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// Disposes of a caught panic payload, failing the run unless the panic was expected.
fn dispose(payload: Box<dyn Any + Send>) {
    let payload = match payload.downcast::<Bomb>() {
        Ok(bomb) => {
            // Moving it out frees the box; forgetting the (empty) value skips its `Drop`.
            mem::forget(*bomb);
            return;
        }
        Err(payload) => payload,
    };
    if payload.is::<Planned>() {
        return;
    }
    if payload.is::<BombExploded>() {
        fail("a `Bomb` panic payload was dropped and its own panic escaped");
    }
    match payload_message(&*payload) {
        Some(msg) if msg.contains(DEAD_DEREF) => {}
        Some(msg) => fail(format!("unexpected panic: {msg}")),
        None => fail("unexpected panic with a payload of unknown type"),
    }
}

fn expected_panic(payload: &(dyn Any + Send)) -> bool {
    payload.is::<Planned>()
        || payload.is::<Bomb>()
        || payload_message(payload).is_some_and(|m| m.contains(DEAD_DEREF))
}

/// Installs (once per process) a panic hook that stays quiet for expected panics and does
/// not abort: libFuzzer's hook aborts on every panic, but most panics here are expected.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        panic::set_hook(Box::new(|info| {
            if !expected_panic(info.payload()) {
                let msg = payload_message(info.payload()).unwrap_or("<non-string payload>");
                let location = info.location().map(|l| l.to_string()).unwrap_or_default();
                let line = format!("cyclegc-fuzz: panic at {location}: {msg}\n");
                let _ = std::io::stderr().write_all(line.as_bytes());
                trace(|| std::backtrace::Backtrace::force_capture().to_string());
            }
        }));
    });
}

/// Runs `f`, disposing of an expected panic; `None` if it panicked.
fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(payload) => {
            dispose(payload);
            None
        }
    }
}

/// The decoder: reads bytes, then zeros once the input is exhausted.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// The harness's own handles.
#[derive(Default)]
struct Handles {
    roots: Vec<Option<Gc<FNode>>>,
    weaks: Vec<(usize, Weak<FNode>)>,
    created: usize,
}

impl Handles {
    /// The slot of the `k`-th non-empty root (modulo their number).
    fn pick(&self, b: u8) -> Option<usize> {
        let live: Vec<usize> = (0..self.roots.len())
            .filter(|&i| self.roots[i].is_some())
            .collect();
        (!live.is_empty()).then(|| live[usize::from(b) % live.len()])
    }

    fn root(&self, slot: usize) -> &Gc<FNode> {
        self.roots[slot].as_ref().expect("picked slots hold a root")
    }

    fn root_id(&self, slot: usize) -> usize {
        with_model(|m| m.roots[slot]).expect("picked slots hold a root")
    }

    /// A slot for a new root: the first free one, a new one, or (all full) slot `b`.
    fn free_slot(&mut self, b: u8) -> usize {
        if let Some(i) = self.roots.iter().position(Option::is_none) {
            return i;
        }
        if self.roots.len() < MAX_ROOTS {
            self.roots.push(None);
            with_model(|m| m.roots.push(None));
            return self.roots.len() - 1;
        }
        usize::from(b) % self.roots.len()
    }

    /// Stores `gc` (node `id`, counted as a temporary) in a root slot; a handle it replaces
    /// is dropped afterwards.
    fn store(&mut self, b: u8, id: usize, gc: Gc<FNode>) {
        let slot = self.free_slot(b);
        with_model(|m| {
            m.remove_temp(id);
            m.roots[slot] = Some(id);
        });
        let old = self.roots[slot].replace(gc);
        drop(old);
    }

    fn drop_root(&mut self, slot: usize) {
        with_model(|m| m.roots[slot] = None);
        let old = self.roots[slot].take();
        drop(old);
    }

    /// Clones root `slot` as a temporary.
    fn clone_temp(&self, slot: usize) -> (usize, Gc<FNode>) {
        let id = self.root_id(slot);
        with_model(|m| m.temps.push(id));
        (id, self.root(slot).clone())
    }
}

/// Whether `Gc::get_mut` on the only handle `id` must succeed: one strong reference and no
/// weak handle to this allocation.
fn predict_unique(id: usize) -> bool {
    with_model(|m| m.counts()[id] == 1 && !m.weaks.iter().any(|&(w, valid)| valid && w == id))
}

/// `collect()` from inside a `sort_by`/`dedup_by` closure, its panics kept inside.
fn inner_collect() {
    let frame = Frame::new();
    let result = guarded(cyclegc::collect);
    let marked = frame.end();
    if let Some(n) = result {
        if n != marked {
            fail(format!("collect() returned {n}, freed {marked}"));
        }
    }
}

/// A tracked allocation from inside a closure (may run an automatic collection).
fn inner_alloc(cycle: bool) {
    guarded(|| {
        if cycle {
            alloc_cycle();
        } else {
            drop_live_temp(alloc_node(Behaviour::Nothing, None));
        }
    });
}

fn op_new(h: &mut Handles, inp: &mut Input) {
    let (b, to, from, slot_b) = (inp.byte(), inp.byte(), inp.byte(), inp.byte());
    if h.created >= MAX_NODES {
        return;
    }
    h.created += 1;
    // Mostly plain nodes; 1/2 of the inputs choose among all behaviours.
    let behaviour = if b & 1 == 0 {
        Behaviour::Nothing
    } else {
        BEHAVIOURS[usize::from(b >> 1) % BEHAVIOURS.len()]
    };
    let child = if to & 1 == 1 { h.pick(to >> 1) } else { None };
    let child = child.map(|slot| (h.root_id(slot), h.root(slot)));
    let Some(gc) = guarded(|| alloc_node(behaviour, child)) else {
        return;
    };
    let id = gc.id;
    if from & 1 == 1 {
        if let Some(parent) = h.pick(from >> 1) {
            with_model(|m| {
                let p = m.roots[parent].expect("picked");
                m.nodes[p].edges.push(id);
            });
            h.root(parent).edges.borrow_mut().push(gc.clone());
        }
    }
    guarded(|| h.store(slot_b, id, gc));
}

fn op_link(h: &mut Handles, inp: &mut Input) {
    let (a, b) = (inp.byte(), inp.byte());
    let (Some(a), Some(b)) = (h.pick(a), h.pick(b)) else {
        return;
    };
    let (aid, bid) = (h.root_id(a), h.root_id(b));
    with_model(|m| m.nodes[aid].edges.push(bid));
    h.root(a).edges.borrow_mut().push(h.root(b).clone());
}

fn op_unlink(h: &mut Handles, inp: &mut Input) {
    let (a, i) = (inp.byte(), inp.byte());
    let Some(a) = h.pick(a) else { return };
    let aid = h.root_id(a);
    let len = with_model(|m| m.nodes[aid].edges.len());
    if len == 0 {
        return;
    }
    let i = usize::from(i) % len;
    with_model(|m| m.nodes[aid].edges.remove(i));
    // Dropped outside the borrow: the release may run arbitrary `Drop`s.
    let edge = h.root(a).edges.borrow_mut().remove(i);
    guarded(|| drop(edge));
}

fn op_clone(h: &mut Handles, inp: &mut Input) {
    let (a, s) = (inp.byte(), inp.byte());
    let Some(a) = h.pick(a) else { return };
    let (id, gc) = h.clone_temp(a);
    guarded(|| h.store(s, id, gc));
}

fn op_drop_root(h: &mut Handles, inp: &mut Input) {
    let a = inp.byte();
    let Some(a) = h.pick(a) else { return };
    guarded(|| h.drop_root(a));
}

fn op_downgrade(h: &mut Handles, inp: &mut Input) {
    let a = inp.byte();
    let Some(a) = h.pick(a) else { return };
    if h.weaks.len() >= MAX_WEAKS {
        return;
    }
    let id = h.root_id(a);
    with_model(|m| m.weaks.push((id, true)));
    h.weaks.push((id, Gc::downgrade(h.root(a))));
}

fn op_upgrade(h: &mut Handles, inp: &mut Input) {
    let (w, s) = (inp.byte(), inp.byte());
    if h.weaks.is_empty() {
        return;
    }
    let w = usize::from(w) % h.weaks.len();
    let (id, valid) = with_model(|m| m.weaks[w]);
    let expect = with_model(|m| valid && m.nodes[id].state == State::Alive && !m.nodes[id].dead);
    let up = h.weaks[w].1.upgrade();
    with_model(|m| {
        if up.is_some() {
            m.temps.push(id);
        }
    });
    match up {
        Some(gc) if expect => {
            check_try_deref(&gc, id, false);
            guarded(|| h.store(s, id, gc));
        }
        Some(_) => fail(format!(
            "upgrade of a weak to dead/dropped node {id} succeeded"
        )),
        None if expect => fail(format!("upgrade of a weak to live node {id} failed")),
        None => {}
    }
}

fn op_drop_weak(h: &mut Handles, inp: &mut Input) {
    let w = inp.byte();
    if h.weaks.is_empty() {
        return;
    }
    let w = usize::from(w) % h.weaks.len();
    with_model(|m| m.weaks.remove(w));
    drop(h.weaks.remove(w));
}

fn op_get_mut(h: &mut Handles, inp: &mut Input) {
    let (a, sub, b) = (inp.byte(), inp.byte(), inp.byte());
    let Some(a) = h.pick(a) else { return };
    let sub = sub % 7;
    // Which of the first 8 comparisons of a sort/dedup collect or allocate: a collection
    // in an early one takes the node out of the root buffer, so later ones must be reachable
    // alone (the vector is only inconsistent in the middle of the pass).
    let mask = if (2..=5).contains(&sub) {
        inp.byte()
    } else {
        0
    };
    let aid = h.root_id(a);
    // For a push, clone the new edge before taking `&mut` to the node.
    let mut pushed = if sub == 0 {
        h.pick(b).map(|b| h.clone_temp(b))
    } else {
        None
    };
    let unique = predict_unique(aid);
    let slot = h.roots[a].as_mut().expect("picked");
    let Some(node) = Gc::get_mut(slot) else {
        if unique {
            fail(format!("get_mut of unique node {aid} failed"));
        }
        if let Some((id, t)) = pushed.take() {
            guarded(|| drop_temp(id, t));
        }
        return;
    };
    if !unique {
        fail(format!("get_mut of shared node {aid} succeeded"));
    }
    let edges = node.edges.get_mut();
    match sub {
        0 => {
            if let Some((bid, t)) = pushed.take() {
                with_model(|m| {
                    m.remove_temp(bid);
                    m.nodes[aid].edges.push(bid);
                });
                edges.push(t);
            }
        }
        1 => {
            with_model(|m| m.nodes[aid].edges.pop());
            let popped = edges.pop();
            guarded(|| drop(popped));
        }
        2 | 3 => {
            // Sort by id, with a collection (or a tracked allocation) in every comparison.
            // The model sorts first: a stable sort by id gives one order.
            with_model(|m| m.nodes[aid].edges.sort());
            let cycle = b & 1 == 1;
            let mut calls = 0;
            edges.sort_by(|x, y| {
                calls += 1;
                if calls <= 8 && mask & (1 << (calls - 1)) != 0 {
                    if sub == 2 {
                        inner_collect();
                    } else {
                        inner_alloc(cycle);
                    }
                }
                let id = |g: &Gc<FNode>| match Gc::try_deref(g) {
                    Some(n) => n.id,
                    None => fail("a child of a live node is dead"),
                };
                id(x).cmp(&id(y))
            });
        }
        4 | 5 => {
            // Drop consecutive duplicates, collecting (or allocating) in every comparison.
            // The duplicates dropped are never last references (their twin stays).
            with_model(|m| m.nodes[aid].edges.dedup());
            let mut calls = 0;
            edges.dedup_by(|x, y| {
                calls += 1;
                if calls <= 8 && mask & (1 << (calls - 1)) != 0 {
                    if sub == 4 {
                        inner_collect();
                    } else {
                        inner_alloc(b & 1 == 1);
                    }
                }
                Gc::ptr_eq(x, y)
            });
        }
        _ => {
            // Released one at a time, each leaving the model as it goes: a `Drop` among them
            // may collect, and the edges not released yet still hold their targets then.
            let old = mem::take(edges);
            for edge in old {
                with_model(|m| m.nodes[aid].edges.remove(0));
                guarded(|| drop(edge));
            }
        }
    }
}

fn op_make_mut(h: &mut Handles, inp: &mut Input) {
    let (a, sub, b) = (inp.byte(), inp.byte(), inp.byte());
    let Some(a) = h.pick(a) else { return };
    let aid = h.root_id(a);
    let mut pushed = if sub & 1 == 0 {
        h.pick(b).map(|b| h.clone_temp(b))
    } else {
        None
    };
    let unique = predict_unique(aid);
    // Only `Weak`s share it: the value moves to a new allocation (same node, same id) and the
    // `Weak`s are disassociated, as for `try_unwrap`.
    let moves = !unique && with_model(|m| m.counts()[aid] == 1);
    with_model(|m| {
        if moves {
            for w in m.weaks.iter_mut().filter(|w| w.0 == aid) {
                w.1 = false;
            }
        }
        m.make_mut = Some(MakeMutCtx {
            slot: a,
            old: aid,
            new: None,
            applied: unique || moves,
        })
    });
    let frame = Frame::new();
    let slot = h.roots[a].as_mut().expect("picked");
    guarded(|| {
        let node = Gc::make_mut(slot);
        let id = with_model(|m| {
            let ctx = m.make_mut.as_mut().expect("set above");
            if !ctx.applied {
                // The old allocation survived the assignment (other strong references).
                let new = ctx
                    .new
                    .unwrap_or_else(|| fail("make_mut of a shared node did not clone"));
                ctx.applied = true;
                let slot = ctx.slot;
                m.roots[slot] = Some(new);
                m.nodes[new].state = State::Alive;
            }
            m.roots[a].expect("set")
        });
        if node.id != id {
            fail(format!(
                "make_mut returned node {}, model expects {id}",
                node.id
            ));
        }
        if (unique || moves) != (id == aid) {
            fail(format!(
                "make_mut on node {aid} (unique: {unique}, only weaks: {moves}) gave node {id}"
            ));
        }
        if moves && with_model(|m| m.make_mut.as_ref().is_some_and(|ctx| ctx.new.is_some())) {
            fail(format!(
                "make_mut cloned node {aid}, which only weaks share"
            ));
        }
        let edges = node.edges.get_mut();
        if let Some((bid, t)) = pushed.take() {
            with_model(|m| {
                m.remove_temp(bid);
                m.nodes[id].edges.push(bid);
            });
            edges.push(t);
        } else if sub & 2 == 0 {
            with_model(|m| m.nodes[id].edges.pop());
            drop(edges.pop());
        }
    });
    frame.end();
    with_model(|m| m.make_mut = None);
    if let Some((id, t)) = pushed.take() {
        guarded(|| drop_temp(id, t));
    }
}

fn op_try_unwrap(h: &mut Handles, inp: &mut Input) {
    let (a, sub) = (inp.byte(), inp.byte());
    let Some(a) = h.pick(a) else { return };
    let id = h.root_id(a);
    let ok = with_model(|m| m.counts()[id] == 1);
    if ok {
        with_model(|m| {
            m.roots[a] = None;
            m.nodes[id].state = State::Value;
            for w in m.weaks.iter_mut().filter(|w| w.0 == id) {
                w.1 = false;
            }
        });
    }
    let gc = h.roots[a].take().expect("picked");
    match Gc::try_unwrap(gc) {
        Ok(value) if ok => {
            if value.id != id {
                fail(format!("try_unwrap of node {id} gave node {}", value.id));
            }
            if sub & 1 == 0 {
                guarded(|| drop(value));
            } else {
                // Into a new allocation: the value is a root of the model meanwhile.
                let frame = Frame::new();
                let gc = guarded(|| Gc::new(value));
                frame.end();
                if let Some(gc) = gc {
                    with_model(|m| {
                        m.nodes[id].state = State::Alive;
                        m.roots[a] = Some(id);
                    });
                    h.roots[a] = Some(gc);
                }
            }
        }
        Ok(_) => fail(format!("try_unwrap of shared node {id} succeeded")),
        Err(gc) if !ok => h.roots[a] = Some(gc),
        Err(_) => fail(format!("try_unwrap of unique node {id} failed")),
    }
}

/// An explicit `collect()` from the top level, with the completeness check.
fn op_collect() {
    let garbage_made = with_model(|m| m.garbage_made);
    let frame = Frame::new();
    let result = guarded(cyclegc::collect);
    let marked = frame.end();
    if let Some(n) = result {
        if n != marked {
            fail(format!("collect() returned {n}, freed {marked}"));
        }
    }
    with_model(|m| {
        if m.garbage_made == garbage_made {
            let left = m.garbage();
            if !left.is_empty() {
                fail(format!("collect() left garbage behind: {left:?}"));
            }
        }
    });
}

/// `collect_generation(generation)` from the top level (no completeness check: it examines
/// part of the heap).
fn op_collect_generation(generation: usize) {
    let frame = Frame::new();
    let result = guarded(|| cyclegc::collect_generation(generation));
    let (marked, released) = frame.end_counting_releases();
    // A member of the garbage dropped after every referrer of it looks like a release.
    if let Some(n) = result {
        if n < marked || n > marked + released {
            fail(format!(
                "collect_generation({generation}) returned {n}, freed {marked} as garbage \
                 and released {released}"
            ));
        }
    }
}

fn op_clear_stash() {
    let stash = STASH.with(|s| mem::take(&mut *s.borrow_mut()));
    // One at a time, so that a panicking `Drop` does not leave the rest to drop glue; and
    // each leaves the model just before it goes, not all at once: a `Drop` that runs
    // meanwhile may collect, and the handles still waiting here keep their objects alive.
    // Both lists are in the same order; entries stashed meanwhile are appended behind.
    for gc in stash {
        with_model(|m| m.stash.remove(0));
        guarded(|| drop(gc));
    }
}

fn op_take_stash(h: &mut Handles, inp: &mut Input) {
    let (i, s) = (inp.byte(), inp.byte());
    let len = with_model(|m| m.stash.len());
    if len == 0 {
        return;
    }
    let i = usize::from(i) % len;
    let (id, dead) = with_model(|m| {
        let id = m.stash.remove(i);
        m.temps.push(id);
        (id, m.nodes[id].dead)
    });
    let gc = STASH.with(|st| st.borrow_mut().remove(i));
    check_try_deref(&gc, id, dead);
    if dead {
        guarded(|| drop_temp(id, gc));
    } else {
        guarded(|| h.store(s, id, gc));
    }
}

/// Compares the handles' counts with the model.
fn check_counts(h: &Handles) {
    let (counts, nodes) = with_model(|m| {
        let states: Vec<(State, bool)> = m.nodes.iter().map(|n| (n.state, n.dead)).collect();
        (m.counts(), states)
    });
    for (slot, gc) in h.roots.iter().enumerate() {
        if let Some(gc) = gc {
            let id = h.root_id(slot);
            check_try_deref(gc, id, false);
            let real = Gc::strong_count(gc);
            if real != counts[id] {
                fail(format!(
                    "node {id}: strong_count {real}, model {}",
                    counts[id]
                ));
            }
        }
    }
    for (k, (id, weak)) in h.weaks.iter().enumerate() {
        let valid = with_model(|m| m.weaks[k].1);
        let (state, dead) = nodes[*id];
        let expect = if valid && state == State::Alive && !dead {
            counts[*id]
        } else {
            0
        };
        if weak.strong_count() != expect {
            fail(format!(
                "weak to node {id}: strong_count {}, model {expect}",
                weak.strong_count()
            ));
        }
    }
}

/// Replays one input. Aborts the process on any oracle failure.
pub fn run(data: &[u8]) {
    install_panic_hook();
    let (default_threshold, default_enabled) = DEFAULTS.with(|d| *d);
    with_model(|m| *m = Model::default());
    let mut h = Handles::default();
    let mut inp = Input { data, pos: 0 };
    let mut ops = 0;
    while !inp.done() && ops < MAX_OPS {
        ops += 1;
        let op = inp.byte() % 18;
        trace(|| {
            let m = MODEL.with(|m| {
                let m = m.borrow();
                format!(
                    "roots {:?} stash {:?} temps {:?}",
                    m.roots, m.stash, m.temps
                )
            });
            format!("op {op} at byte {}; {m}", inp.pos - 1)
        });
        // Every operation catches the panics it expects where they happen, so that the model
        // stays in step; one escaping here is a harness bug.
        let result = panic::catch_unwind(AssertUnwindSafe(|| match op {
            0 | 1 => op_new(&mut h, &mut inp),
            2 | 3 => op_link(&mut h, &mut inp),
            4 => op_unlink(&mut h, &mut inp),
            5 => op_clone(&mut h, &mut inp),
            6 | 7 => op_drop_root(&mut h, &mut inp),
            8 => op_downgrade(&mut h, &mut inp),
            9 => op_upgrade(&mut h, &mut inp),
            10 => op_drop_weak(&mut h, &mut inp),
            11 => op_get_mut(&mut h, &mut inp),
            12 => op_make_mut(&mut h, &mut inp),
            13 => op_try_unwrap(&mut h, &mut inp),
            14 => op_collect(),
            15 => {
                // Generation 0's threshold small (automatic collections run inside
                // `Gc::new`), the older ones 0 to 3 (0: every automatic collection reaches
                // that generation).
                let b = usize::from(inp.byte());
                cyclegc::set_thresholds([b % 8, (b >> 3) % 4, (b >> 5) % 4]);
            }
            16 => {
                let b = inp.byte();
                if b & 1 == 0 {
                    cyclegc::disable();
                } else {
                    cyclegc::enable();
                }
                if b & 2 != 0 {
                    op_collect_generation(usize::from(b >> 2) % 3);
                }
            }
            _ => {
                if inp.byte() & 1 == 0 {
                    op_clear_stash();
                } else {
                    op_take_stash(&mut h, &mut inp);
                }
            }
        }));
        if result.is_err() {
            fail(format!("a panic escaped operation {op}"));
        }
        check_counts(&h);
    }
    finish(h);
    cyclegc::set_thresholds(default_threshold);
    if default_enabled {
        cyclegc::enable();
    } else {
        cyclegc::disable();
    }
}

/// Drops every handle, collects until nothing is left and checks that every node was
/// dropped exactly once.
fn finish(mut h: Handles) {
    // One at a time, each with its own catch: a panicking `Drop` must not stop the teardown.
    for slot in 0..h.roots.len() {
        if h.roots[slot].is_some() {
            guarded(|| h.drop_root(slot));
        }
    }
    with_model(|m| m.weaks.clear());
    h.weaks.clear();
    // `Drop`s may stash new handles and build new cycles: a few rounds.
    for _ in 0..16 {
        op_clear_stash();
        op_collect();
        let idle = with_model(|m| m.stash.is_empty() && m.garbage().is_empty());
        if idle {
            break;
        }
    }
    with_model(|m| {
        if !m.temps.is_empty() || !m.frames.is_empty() || m.make_mut.is_some() {
            fail("the harness left temporaries or frames behind");
        }
        for (id, node) in m.nodes.iter().enumerate() {
            if node.drops != 1 || node.state != State::Dropped {
                fail(format!(
                    "node {id} leaked: dropped {} times, state {:?}",
                    node.drops, node.state
                ));
            }
        }
        *m = Model::default();
    });
}
