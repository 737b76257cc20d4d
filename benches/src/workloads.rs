//! The workloads, generic over [`Peer`]. Each returns a [`Sample`]: its phases, which of them
//! are timed (the headline), and the number of operations (or nodes) to divide by.
//!
//! Builds are written so that they make as few *possible cycle roots* as the structure allows
//! (edges are moved in, not cloned and dropped), so that a reclaim workload measures the
//! reclaim, not leftovers of the build. Every workload ends with the structure dropped and a
//! collection, so a node still alive afterwards is a leak.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use crate::{flush_live, phase, thread_builder, Edge, Peer, SyncPeer, XorShift};

/// Pointers cloned and dropped by [`clone_drop`].
pub const CLONE_OPS: u64 = 10_000_000;
/// Pointers read by [`deref`] (1024 pointers, read round-robin).
pub const DEREF_PTRS: usize = 1024;
/// Rounds over the [`DEREF_PTRS`] pointers in [`deref`]: about 10M reads.
pub const DEREF_ROUNDS: u64 = 10_000_000 / DEREF_PTRS as u64;
/// Nodes allocated by [`alloc_drop`].
pub const ALLOC_NODES: u64 = 1_000_000;
/// Two-node cycles built by [`cycles`].
pub const CYCLES: u64 = 100_000;
/// Length of the chain, ring and live ring.
pub const DEEP_NODES: u64 = 1_000_000;
/// Depth of the complete binary tree: 2^20 - 1 = 1,048,575 nodes.
pub const TREE_DEPTH: u32 = 20;
/// Nodes of the random graph (each with 3 random back edges).
pub const GRAPH_NODES: u64 = 100_000;
/// Random operations of the churn workload.
pub const CHURN_OPS: u64 = 1_000_000;
/// Root slots of the churn workload.
pub const CHURN_ROOTS: usize = 50;
/// Nodes of the live graph of [`mutator`] (each with 3 random back edges, like [`graph`]).
pub const MUTATOR_GRAPH_NODES: u64 = 100_000;
/// Operations of the mutator of [`mutator`], in each of its two phases.
pub const MUTATOR_OPS: u64 = 2_000_000;
/// The seed of every random workload.
pub const SEED: u64 = 0x5eed_c1c1_e6c0_ffee;

/// One phase of a workload run.
#[derive(Debug, Clone)]
pub struct Phase {
    /// `build`, `drop`, `collect`, ...
    pub name: &'static str,
    /// Wall time of the phase.
    pub time: Duration,
    /// Whether the phase is part of the headline figure.
    pub timed: bool,
}

/// The result of one workload run.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Every phase, in order.
    pub phases: Vec<Phase>,
    /// What the headline is divided by (operations or nodes).
    pub ops: u64,
    /// Live nodes freed by a collection that must free nothing (`live_ring`): a bug if not 0.
    pub wrongly_freed: i64,
    /// Other counts the workload reports (`name`, value), e.g. the collections another thread
    /// ran meanwhile.
    pub counts: Vec<(&'static str, u64)>,
}

impl Sample {
    /// The headline: the sum of the timed phases.
    pub fn timed(&self) -> Duration {
        self.phases.iter().filter(|p| p.timed).map(|p| p.time).sum()
    }

    /// The headline in nanoseconds per operation (or node).
    pub fn ns_per_op(&self) -> f64 {
        self.timed().as_nanos() as f64 / self.ops as f64
    }
}

/// Records the phases of one run.
struct Rec(Sample);

impl Rec {
    fn new(ops: u64) -> Rec {
        Rec(Sample {
            ops,
            ..Sample::default()
        })
    }

    /// Runs `f` as phase `name`, part of the headline.
    fn timed<R>(&mut self, name: &'static str, f: impl FnOnce() -> R) -> R {
        phase(name);
        let start = Instant::now();
        let r = timed_phase(f);
        self.push(name, start, true);
        r
    }

    /// Runs `f` as phase `name`, not part of the headline.
    fn untimed<R>(&mut self, name: &'static str, f: impl FnOnce() -> R) -> R {
        phase(name);
        let start = Instant::now();
        let r = untimed_phase(f);
        self.push(name, start, false);
        r
    }

    fn push(&mut self, name: &'static str, start: Instant, timed: bool) {
        let time = start.elapsed();
        self.0.phases.push(Phase { name, time, timed });
    }

    fn finish(self) -> Sample {
        self.0
    }
}

/// Runs a phase that counts in the headline. Never inlined, so that a profiler can restrict
/// itself to the timed code: `valgrind --tool=callgrind --collect-atstart=no
/// --toggle-collect='cyclegc_bench::workloads::timed_phase*' peerbench run ...`. Each closure
/// goes through only one of `timed_phase` and `untimed_phase`, so that rustc's merging of
/// identical functions cannot make one the alias of the other.
#[inline(never)]
pub fn timed_phase<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Runs a phase that is not timed (builds, clean-up). Never inlined, like [`timed_phase`].
/// (The `black_box` keeps its body different from `timed_phase`'s.)
#[inline(never)]
pub fn untimed_phase<R>(f: impl FnOnce() -> R) -> R {
    black_box(0u8);
    f()
}

/// A workload: its id, what it does, what its figure is per, and whether it is deep (recurses
/// a million levels in some implementations).
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// The id on the command line.
    pub name: &'static str,
    /// What is built and what is timed.
    pub what: &'static str,
    /// What the headline is per.
    pub unit: &'static str,
    /// A 1M-deep structure: the peers' recursion may overflow the stack.
    pub deep: bool,
}

/// Every workload, in table order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "clone",
        what: "clone + drop of a live pointer, 10M times",
        unit: "op",
        deep: false,
    },
    Workload {
        name: "deref",
        what: "read the payload through one of 1024 pointers, 10M times",
        unit: "read",
        deep: false,
    },
    Workload {
        name: "alloc",
        what: "allocate 1M acyclic nodes into a Vec, drop them, collect (all timed)",
        unit: "node",
        deep: false,
    },
    Workload {
        name: "cycles",
        what: "100k two-node cycles (A->B strong, B->A back); timed: drop + collect",
        unit: "node",
        deep: false,
    },
    Workload {
        name: "chain",
        what: "1M-node acyclic chain (strong next); timed: drop head + collect",
        unit: "node",
        deep: true,
    },
    Workload {
        name: "ring",
        what: "1M-node doubly-linked ring (next strong, prev and closing edge back); timed: drop + collect",
        unit: "node",
        deep: true,
    },
    Workload {
        name: "live_ring",
        what: "the same ring kept alive, every node made a possible root; timed: collect only (frees nothing)",
        unit: "live node",
        deep: true,
    },
    Workload {
        name: "tree",
        what: "complete binary tree, 2^20-1 nodes, parent back edges; timed: drop root + collect",
        unit: "node",
        deep: false,
    },
    Workload {
        name: "graph",
        what: "100k nodes x 3 random back edges (xorshift, fixed seed), owner Vec; timed: drop all + collect",
        unit: "node",
        deep: false,
    },
    Workload {
        name: "churn",
        what: "50 root slots, 1M random new/link/unlink/drop ops (fixed seed), then drop all + collect (all timed)",
        unit: "op",
        deep: false,
    },
    Workload {
        name: "build_list",
        what: "build a 1M-node singly linked list as user code does (the old tail's handle dropped each step: a possible root); timed: the build",
        unit: "node",
        deep: true,
    },
    Workload {
        name: "build_dlist",
        what: "build a 1M-node doubly linked list (next strong, prev back) the same way; timed: the build",
        unit: "node",
        deep: true,
    },
    Workload {
        name: "build_cycles",
        what: "build 100k two-node cycles held by a Vec, each B's handle dropped (a possible root); timed: the build",
        unit: "node",
        deep: false,
    },
];

/// Every workload of the thread-safe columns ([`SyncPeer`]s), in table order. The first ones
/// are the single-threaded workloads of the same shapes, run on the thread-safe columns (their
/// edges behind a `Mutex`, their counts atomic), so that each is compared with `Arc`; the
/// others share nodes between two threads.
pub const SYNC_WORKLOADS: &[Workload] = &[
    Workload {
        name: "sync_clone",
        what: "`clone` on the thread-safe columns: clone + drop of a live pointer, 10M times, one thread",
        unit: "op",
        deep: false,
    },
    Workload {
        name: "sync_clone2t",
        what: "two threads each clone + drop the same live pointer 10M times at once; timed: until both are done",
        unit: "op per thread",
        deep: false,
    },
    Workload {
        name: "sync_deref",
        what: "`deref` on the thread-safe columns: read the payload through one of 1024 pointers, 10M times",
        unit: "read",
        deep: false,
    },
    Workload {
        name: "sync_alloc",
        what: "`alloc` on the thread-safe columns: allocate 1M acyclic nodes, drop them, collect (all timed)",
        unit: "node",
        deep: false,
    },
    Workload {
        name: "sync_alloc2t",
        what: "two threads each allocate 1M acyclic nodes into a `Vec` and drop them, at once; timed: until both are done, then collect",
        unit: "node per thread",
        deep: false,
    },
    Workload {
        name: "sync_cycles",
        what: "`cycles` on the thread-safe columns: 100k two-node cycles; timed: drop + collect",
        unit: "node",
        deep: false,
    },
    Workload {
        name: "sync_ring",
        what: "`ring` on the thread-safe columns: 1M-node doubly-linked ring; timed: drop + collect",
        unit: "node",
        deep: true,
    },
    Workload {
        name: "sync_tree",
        what: "`tree` on the thread-safe columns: 2^20-1 nodes, parent back edges; timed: drop root + collect",
        unit: "node",
        deep: false,
    },
    Workload {
        name: "sync_mutator",
        what: "2M random read/relink/alloc ops on a 100k live graph, alone and then while another thread loops (touch every node + collect); timed: the latter",
        unit: "op",
        deep: false,
    },
    Workload {
        name: "sync_mutator_collect",
        what: "as `sync_mutator`, but the other thread only loops `collect()` (the roots are the mutator's own relinks); timed: the mutator beside it",
        unit: "op",
        deep: false,
    },
];

/// Looks a workload up by id, single-threaded or thread-safe.
pub fn workload(name: &str) -> Option<&'static Workload> {
    WORKLOADS
        .iter()
        .chain(SYNC_WORKLOADS)
        .find(|w| w.name == name)
}

/// Whether `name` is a workload of the thread-safe columns ([`run_sync`]).
pub fn is_sync(name: &str) -> bool {
    SYNC_WORKLOADS.iter().any(|w| w.name == name)
}

/// Runs workload `name` once for column `F`; `None` for an unknown name.
pub fn run<F: Peer>(name: &str) -> Option<Sample> {
    Some(match name {
        "clone" => clone_drop::<F>(CLONE_OPS),
        "deref" => deref::<F>(DEREF_ROUNDS),
        "alloc" => alloc_drop::<F>(ALLOC_NODES),
        "cycles" => cycles::<F>(CYCLES),
        "chain" => chain::<F>(DEEP_NODES),
        "ring" => ring::<F>(DEEP_NODES),
        "live_ring" => live_ring::<F>(DEEP_NODES),
        "tree" => tree::<F>(TREE_DEPTH),
        "graph" => graph::<F>(GRAPH_NODES),
        "churn" => churn::<F>(CHURN_OPS),
        "build_list" => build_list::<F>(DEEP_NODES, false),
        "build_dlist" => build_list::<F>(DEEP_NODES, true),
        "build_cycles" => build_cycles::<F>(CYCLES),
        _ => return None,
    })
}

/// Runs thread-safe workload `name` once for column `F`; `None` for an unknown name. The
/// single-threaded shapes are the very functions [`run`] calls.
pub fn run_sync<F: SyncPeer>(name: &str) -> Option<Sample> {
    Some(match name {
        "sync_clone" => clone_drop::<F>(CLONE_OPS),
        "sync_clone2t" => clone_drop_2t::<F>(CLONE_OPS),
        "sync_deref" => deref::<F>(DEREF_ROUNDS),
        "sync_alloc" => alloc_drop::<F>(ALLOC_NODES),
        "sync_alloc2t" => alloc_drop_2t::<F>(ALLOC_NODES),
        "sync_cycles" => cycles::<F>(CYCLES),
        "sync_ring" => ring::<F>(DEEP_NODES),
        "sync_tree" => tree::<F>(TREE_DEPTH),
        "sync_mutator" => mutator::<F>(MUTATOR_GRAPH_NODES, MUTATOR_OPS, true),
        "sync_mutator_collect" => mutator::<F>(MUTATOR_GRAPH_NODES, MUTATOR_OPS, false),
        _ => return None,
    })
}

/// Clone and drop a pointer to a live node `n` times. Timed: the loop.
pub fn clone_drop<F: Peer>(n: u64) -> Sample {
    let mut rec = Rec::new(n);
    let p = rec.untimed("build", || F::new(1));
    rec.timed("clone_drop", || {
        for _ in 0..n {
            let q = black_box(p.clone());
            drop(q);
        }
    });
    rec.untimed("drop", move || drop(p));
    rec.untimed("collect", F::collect);
    rec.finish()
}

/// Two threads (this one and one spawned) each clone and drop a pointer to the same live node
/// `n` times, at the same time: every clone and drop updates the one count both threads
/// share, so this measures what contention costs each column. Timed: from the start (both
/// threads waiting at a barrier) until both are done; per op of one thread.
pub fn clone_drop_2t<F: SyncPeer>(n: u64) -> Sample {
    let mut rec = Rec::new(n);
    let p = rec.untimed("build", || F::new(1));
    let start = Barrier::new(2);
    let work = || {
        start.wait();
        for _ in 0..n {
            let q = black_box(p.clone());
            drop(q);
        }
    };
    rec.timed("clone_drop_2t", || on_two_threads("clone2t", work));
    rec.untimed("drop", move || drop(p));
    rec.untimed("collect", F::collect);
    rec.finish()
}

/// Two threads (this one and one spawned) each allocate `n` acyclic nodes into a `Vec` and
/// drop them, at once (each thread lists its objects in a registry table of its own, so this
/// shows what they share). Timed: from a barrier until both are done; then the collection.
pub fn alloc_drop_2t<F: SyncPeer>(n: u64) -> Sample {
    let mut rec = Rec::new(n);
    let start = Barrier::new(2);
    let work = || {
        let mut nodes = Vec::with_capacity(n as usize);
        start.wait();
        for i in 0..n {
            nodes.push(F::new(i));
        }
        drop(black_box(nodes));
    };
    rec.timed("alloc_drop_2t", || on_two_threads("alloc2t", work));
    rec.timed("collect", F::collect);
    rec.finish()
}

/// Runs `work` on this thread and on one spawned (named `name`) at once, and returns when
/// both are done; the spawned thread hands its live-node balance over before it exits.
fn on_two_threads(name: &str, work: impl Fn() + Sync) {
    thread::scope(|s| {
        let other = thread_builder(name)
            .spawn_scoped(s, || {
                work();
                flush_live();
            })
            .expect("cannot spawn the second thread");
        work();
        other.join().expect("the other thread panicked");
    });
}

/// Read the payload through each of [`DEREF_PTRS`] pointers, `rounds` times. Timed: the reads.
pub fn deref<F: Peer>(rounds: u64) -> Sample {
    let mut rec = Rec::new(rounds * DEREF_PTRS as u64);
    let ptrs: Vec<F::P> = rec.untimed("build", || {
        (0..DEREF_PTRS as u64).map(|i| F::new(i)).collect()
    });
    rec.timed("deref", || {
        let mut sum = 0u64;
        for _ in 0..rounds {
            for p in black_box(&ptrs[..]) {
                sum = sum.wrapping_add(F::val(p));
            }
        }
        black_box(sum);
    });
    rec.untimed("drop", move || drop(ptrs));
    rec.untimed("collect", F::collect);
    rec.finish()
}

/// Allocate `n` nodes into a `Vec`, drop it, collect. Timed: all three.
pub fn alloc_drop<F: Peer>(n: u64) -> Sample {
    let mut rec = Rec::new(n);
    let mut nodes = Vec::with_capacity(n as usize);
    rec.timed("build", || {
        for i in 0..n {
            nodes.push(F::new(i));
        }
    });
    rec.timed("drop", move || drop(nodes));
    rec.timed("collect", F::collect);
    rec.finish()
}

/// `n` two-node cycles: A owns B (strong), B points back to A (back edge); the `Vec` owns every
/// A. Timed: dropping the `Vec` and the collection (per node: 2n nodes).
pub fn cycles<F: Peer>(n: u64) -> Sample {
    let mut rec = Rec::new(2 * n);
    let mut owners = Vec::with_capacity(n as usize);
    rec.untimed("build", || {
        for i in 0..n {
            let a = F::new(2 * i);
            let b = F::new(2 * i + 1);
            F::link(&b, 0, &a, Edge::Back);
            F::set_edge(&a, 0, b, Edge::Strong);
            owners.push(a);
        }
    });
    rec.timed("drop", move || drop(owners));
    rec.timed("collect", F::collect);
    rec.finish()
}

/// Builds an `n`-node chain tail-first by moving each pointer into its predecessor (no
/// decrements, so no possible roots). Returns the head.
fn build_chain<F: Peer>(n: u64) -> F::P {
    let mut head = F::new(n - 1);
    for i in (0..n - 1).rev() {
        let node = F::new(i);
        F::set_edge(&node, 0, head, Edge::Strong);
        head = node;
    }
    head
}

/// An `n`-node acyclic chain held by its head. Timed: dropping the head, and the collection.
pub fn chain<F: Peer>(n: u64) -> Sample {
    let mut rec = Rec::new(n);
    let head = rec.untimed("build", || build_chain::<F>(n));
    rec.timed("drop", move || drop(head));
    rec.timed("collect", F::collect);
    rec.finish()
}

/// Builds an `n`-node doubly-linked ring: `next` (slot 0) strong, `prev` (slot 1) back, and the
/// closing `tail.next = head` a back edge (so that the `Rc` floor does not leak it). Built
/// tail-first by moves; only clones are stored, nothing is decremented. Returns the head.
fn build_ring<F: Peer>(n: u64) -> F::P {
    let tail = F::new(n - 1);
    let mut head = tail.clone();
    for i in (0..n - 1).rev() {
        let node = F::new(i);
        F::link(&head, 1, &node, Edge::Back);
        F::set_edge(&node, 0, head, Edge::Strong);
        head = node;
    }
    F::link(&tail, 0, &head, Edge::Back);
    F::set_edge(&head, 1, tail, Edge::Back);
    head
}

/// An `n`-node ring held by its head. Timed: dropping the head, and the collection.
pub fn ring<F: Peer>(n: u64) -> Sample {
    let mut rec = Rec::new(n);
    let head = rec.untimed("build", || build_ring::<F>(n));
    rec.timed("drop", move || drop(head));
    rec.timed("collect", F::collect);
    rec.finish()
}

/// The ring of [`ring`], kept alive. Every node is then made a possible root (a clone and a
/// drop of a pointer to it, walking `next`), and a collection runs: it must free nothing.
/// Timed: that collection only (per live node). Then the ring is dropped and collected.
pub fn live_ring<F: Peer>(n: u64) -> Sample {
    let mut rec = Rec::new(n);
    let head = rec.untimed("build", || build_ring::<F>(n));
    rec.untimed("touch", || {
        let mut cur = head.clone();
        for _ in 0..n {
            let next = F::edge(&cur, 0).expect("the ring is closed");
            cur = next;
        }
    });
    let before = crate::live();
    rec.timed("collect_live", F::collect);
    rec.0.wrongly_freed = before - crate::live();
    rec.untimed("drop", move || drop(head));
    rec.untimed("collect", F::collect);
    rec.finish()
}

fn build_tree<F: Peer>(depth: u32, parent: Option<&F::P>, next_val: &mut u64) -> F::P {
    let node = F::new(*next_val);
    *next_val += 1;
    if let Some(parent) = parent {
        F::link(&node, 2, parent, Edge::Back);
    }
    if depth > 1 {
        let left = build_tree::<F>(depth - 1, Some(&node), next_val);
        F::set_edge(&node, 0, left, Edge::Strong);
        let right = build_tree::<F>(depth - 1, Some(&node), next_val);
        F::set_edge(&node, 1, right, Edge::Strong);
    }
    node
}

/// A complete binary tree of the given depth (2^depth - 1 nodes), children strong (slots 0,
/// 1), parent a back edge (slot 2), held by its root. Timed: dropping the root, and the
/// collection.
pub fn tree<F: Peer>(depth: u32) -> Sample {
    let n = (1u64 << depth) - 1;
    let mut rec = Rec::new(n);
    let root = rec.untimed("build", || build_tree::<F>(depth, None, &mut 0));
    rec.timed("drop", move || drop(root));
    rec.timed("collect", F::collect);
    rec.finish()
}

/// Builds `n` nodes, each with 3 back edges to random nodes (fixed-seed xorshift), all owned
/// by the returned `Vec`.
fn build_graph<F: Peer>(n: u64) -> Vec<F::P> {
    let nodes: Vec<F::P> = (0..n).map(|i| F::new(i)).collect();
    let mut rng = XorShift::new(SEED);
    for node in &nodes {
        for slot in 0..crate::SLOTS {
            let to = &nodes[rng.below(nodes.len())];
            F::link(node, slot, to, Edge::Back);
        }
    }
    nodes
}

/// `n` nodes, each with 3 back edges to random nodes (fixed-seed xorshift), all owned by a
/// `Vec`. Timed: dropping the `Vec`, and the collection.
pub fn graph<F: Peer>(n: u64) -> Sample {
    let mut rec = Rec::new(n);
    let owners: Vec<F::P> = rec.untimed("build", || build_graph::<F>(n));
    rec.timed("drop", move || drop(owners));
    rec.timed("collect", F::collect);
    rec.finish()
}

/// dumpster's "multiref churn" shape on the common node: [`CHURN_ROOTS`] root slots, then
/// `ops` operations drawn uniformly from: allocate a node into a random slot (dropping what was
/// there), link a random slot's node to another's (a back edge, in a random edge slot), clear
/// a random edge slot, empty a random root slot. Then drop everything and collect. Timed: all.
pub fn churn<F: Peer>(ops: u64) -> Sample {
    let mut rec = Rec::new(ops);
    let mut roots: Vec<Option<F::P>> = rec.untimed("build", || {
        (0..CHURN_ROOTS as u64).map(|i| Some(F::new(i))).collect()
    });
    let mut rng = XorShift::new(SEED);
    rec.timed("ops", || {
        for i in 0..ops {
            let r = rng.next_u64();
            let a = ((r >> 8) & 0xffff) as usize % CHURN_ROOTS;
            let b = ((r >> 24) & 0xffff) as usize % CHURN_ROOTS;
            let slot = ((r >> 40) & 0xff) as usize % crate::SLOTS;
            match r & 3 {
                0 => roots[a] = Some(F::new(i)),
                1 => {
                    if let (Some(x), Some(y)) = (&roots[a], &roots[b]) {
                        F::link(x, slot, y, Edge::Back);
                    }
                }
                2 => {
                    if let Some(x) = &roots[a] {
                        F::clear_edge(x, slot);
                    }
                }
                _ => roots[a] = None,
            }
        }
    });
    rec.timed("drop", move || drop(roots));
    rec.timed("collect", F::collect);
    rec.finish()
}

/// The mutator of [`mutator`]: `ops` operations on the live graph `nodes`, drawn uniformly
/// (fixed seed) from: read the payload behind a random node's random edge (lock, clone the
/// edge, unlock, read, drop the clone); relink a random edge slot to a random node (a back
/// edge; the old one is dropped); read a random node's payload; allocate a node with a back
/// edge to a random node, read it and drop it. The graph keeps its nodes (its `Vec` owns them
/// all), so none of this makes garbage cycles.
fn mutate<F: Peer>(nodes: &[F::P], ops: u64) {
    let mut rng = XorShift::new(SEED ^ 0x006d_7574_6174_6f72);
    let mut sum = 0u64;
    for i in 0..ops {
        let r = rng.next_u64();
        let a = &nodes[rng.below(nodes.len())];
        let slot = ((r >> 40) & 0xff) as usize % crate::SLOTS;
        match r & 3 {
            0 => {
                if let Some(to) = F::edge(a, slot) {
                    sum = sum.wrapping_add(F::val(&to));
                }
            }
            1 => F::link(a, slot, &nodes[rng.below(nodes.len())], Edge::Back),
            2 => sum = sum.wrapping_add(F::val(a)),
            _ => {
                let x = F::new(i);
                F::link(&x, 0, a, Edge::Back);
                sum = sum.wrapping_add(F::val(&x));
            }
        }
    }
    black_box(sum);
}

/// A mutator's throughput while another thread collects: a live graph of `n` nodes (the
/// [`graph`] shape, owned by a `Vec`), and [`mutate`]'s `ops` random operations on it, first
/// alone (phase `mutate_alone`), then while a second thread loops: make every node of the
/// graph a possible root (clone, drop), then `collect()` (phase `mutate_with_collector`, the
/// headline). The touch is there because a collector that examines only possible roots would
/// otherwise have nothing to trace after its first collection; for `Arc` only the touch is
/// left. A collector that holds the locks of what it traced, or blocks drops while it runs,
/// stalls the mutator; the figure of interest is `mutate_alone` over
/// `mutate_with_collector` (the mutator's throughput with the collector running, as a
/// fraction of its throughput alone), which `peerbench` prints. The loops the collector
/// thread completed are reported as count `collector_loops`. The collections must free no
/// node of the graph (checked).
///
/// Without `touch` (workload `sync_mutator_collect`), the second thread only loops
/// `collect()`: the possible roots are the ones the mutator's relinks make, and what is
/// measured is what collections alone cost the mutator (for `Arc`, nothing but a second
/// busy core).
pub fn mutator<F: SyncPeer>(n: u64, ops: u64, touch: bool) -> Sample {
    let mut rec = Rec::new(ops);
    let nodes: Vec<F::P> = rec.untimed("build", || build_graph::<F>(n));
    rec.untimed("mutate_alone", || mutate::<F>(&nodes, ops));
    let before = crate::live();
    let stop = AtomicBool::new(false);
    let started = AtomicBool::new(false);
    let loops = thread::scope(|s| {
        let collector = thread_builder("collector").spawn_scoped(s, || {
            let mut loops = 0u64;
            started.store(true, Ordering::SeqCst);
            while !stop.load(Ordering::SeqCst) {
                if touch {
                    for p in &nodes {
                        drop(black_box(p.clone()));
                    }
                }
                F::collect();
                loops += 1;
            }
            flush_live();
            loops
        });
        let collector = collector.expect("cannot spawn the collector thread");
        while !started.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        rec.timed("mutate_with_collector", || mutate::<F>(&nodes, ops));
        stop.store(true, Ordering::SeqCst);
        collector.join().expect("the collector thread panicked")
    });
    rec.0.wrongly_freed = (before - crate::live()).max(0);
    rec.0.counts.push(("collector_loops", loops));
    rec.untimed("drop", move || drop(nodes));
    rec.untimed("collect", F::collect);
    rec.finish()
}

/// An `n`-node linked list built the way user code builds one: each new node is linked from
/// the tail (`next`, strong; with `doubly`, `prev` back to the tail too), and the old tail's
/// handle is dropped — a decrement that leaves a reference, so every node becomes a possible
/// root while the list grows. Timed: the build only, so that what automatic collection costs
/// while a structure that stays alive is built shows on its own (the `-manual` column builds
/// the same with it off). Then the list is dropped and collected (untimed).
pub fn build_list<F: Peer>(n: u64, doubly: bool) -> Sample {
    let mut rec = Rec::new(n);
    let head = rec.timed("build", || {
        let head = F::new(0);
        let mut tail = head.clone();
        for i in 1..n {
            let node = F::new(i);
            if doubly {
                F::link(&node, 1, &tail, Edge::Back);
            }
            F::link(&tail, 0, &node, Edge::Strong);
            tail = node;
        }
        head
    });
    rec.untimed("drop", move || drop(head));
    rec.untimed("collect", F::collect);
    rec.finish()
}

/// `n` two-node cycles built the way user code builds them: A owns B (strong), B points back
/// to A, a `Vec` owns every A, and B's own handle is dropped (a possible root). Timed: the
/// build only (see [`build_list`]). Then the `Vec` is dropped and collected (untimed).
pub fn build_cycles<F: Peer>(n: u64) -> Sample {
    let mut rec = Rec::new(2 * n);
    let owners = rec.timed("build", || {
        let mut owners = Vec::with_capacity(n as usize);
        for i in 0..n {
            let a = F::new(2 * i);
            let b = F::new(2 * i + 1);
            F::link(&a, 0, &b, Edge::Strong);
            F::link(&b, 0, &a, Edge::Back);
            owners.push(a);
        }
        owners
    });
    rec.untimed("drop", move || drop(owners));
    rec.untimed("collect", F::collect);
    rec.finish()
}
