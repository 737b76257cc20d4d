//! Randomized model-based test of reference counting plus cycle collection.
//!
//! The heap under test is a graph of `Gc<MNode>`s, a set of root handles held by the test
//! (`Vec<Option<Gc<MNode>>>`) and one `Weak` per node ever created. A pure model mirrors it:
//! for each node its ordered edge list, its reference count (root handles + edges from live
//! nodes), and whether it is alive. Every node's `Drop` records its id, so after each operation
//! the set of nodes the crate dropped is compared with the set the model predicts:
//!
//! * plain reference counting: a node goes exactly when its model count reaches zero,
//!   cascading through its edges (garbage cycles stay);
//! * `collect()` (explicit, or automatic inside `Gc::new`): exactly the live nodes not
//!   reachable from the roots go, and `collect()` returns exactly their number;
//! * a collection of a younger generation (explicit or automatic), or any collection while
//!   objects are frozen: only nodes not reachable go, and never one that a node left alive
//!   points to; a full collection after `unfreeze()` is exact again (it must find what the
//!   partial ones left);
//! * `Weak::upgrade` returns `None` exactly for dropped nodes, and `strong_count` always
//!   equals the model count.
//!
//! Nodes are only reached through handles the test really holds: a root, a walk along edges
//! from a root, or upgrading a `Weak` (which may resurrect a not-yet-collected garbage node,
//! as in Python).

use std::cell::RefCell;
use std::collections::VecDeque;

use cyclegc::{Gc, Trace, Tracer, Weak};

const OPS: usize = if cfg!(miri) { 150 } else { 20_000 };
const SEEDS: u64 = if cfg!(miri) { 1 } else { 16 };
/// How often (in operations) every node's strong count is compared with the model.
const FULL_CHECK_EVERY: usize = if cfg!(miri) { 16 } else { 64 };

thread_local! {
    /// Ids of the `MNode`s dropped on this thread, in drop order, until drained.
    static DROPPED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

fn take_dropped() -> Vec<usize> {
    DROPPED.with(|d| std::mem::take(&mut *d.borrow_mut()))
}

/// What [`take_dropped`] would return, left in place.
fn peek_dropped() -> Vec<usize> {
    DROPPED.with(|d| d.borrow().clone())
}

struct MNode {
    id: usize,
    edges: RefCell<Vec<Gc<MNode>>>,
}

impl Drop for MNode {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.id));
    }
}

// SAFETY: reports each owned `Gc` exactly once (through the `RefCell<Vec<_>>`).
unsafe impl Trace for MNode {
    fn trace(&self, tracer: &mut Tracer) {
        self.edges.trace(tracer);
    }
}

/// xorshift64* (Vigna): small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Spread small seeds over the state space; the state must never be zero.
        Rng((seed.wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n`; `n > 0`.
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        ((self.next_u64() >> 16) % n as u64) as usize
    }

    fn percent(&mut self, p: u32) -> bool {
        self.below(100) < p as usize
    }
}

/// The pure model of the heap.
#[derive(Default)]
struct Model {
    alive: Vec<bool>,
    /// Root handles + edges from live nodes. Always ≥ 1 for a live node between operations.
    rc: Vec<usize>,
    /// Ordered like the real `edges` vectors (including duplicates).
    edges: Vec<Vec<usize>>,
    /// Mirrors the test's root slots.
    roots: Vec<Option<usize>>,
}

impl Model {
    fn add_node(&mut self, edges: Vec<usize>) -> usize {
        let id = self.alive.len();
        self.alive.push(true);
        self.rc.push(1); // the root handle it is born as
        self.edges.push(edges);
        id
    }

    /// Gives back one reference to `id`, dropping whatever reaches zero (transitively).
    fn release(&mut self, id: usize, dropped: &mut Vec<usize>) {
        let mut work = vec![id];
        while let Some(n) = work.pop() {
            assert!(self.alive[n], "model: released a dead node {n}");
            self.rc[n] -= 1;
            if self.rc[n] == 0 {
                self.alive[n] = false;
                dropped.push(n);
                work.extend(std::mem::take(&mut self.edges[n]));
            }
        }
    }

    /// Which nodes are reachable from the roots (and from `extra`, temporaries held by the
    /// test during an automatic collection).
    fn reachable(&self, extra: &[usize]) -> Vec<bool> {
        let mut seen = vec![false; self.alive.len()];
        let mut queue: VecDeque<usize> = VecDeque::new();
        for &r in self.roots.iter().flatten().chain(extra) {
            assert!(self.alive[r], "model: a root or temporary is dead");
            if !seen[r] {
                seen[r] = true;
                queue.push_back(r);
            }
        }
        while let Some(n) = queue.pop_front() {
            for &t in &self.edges[n] {
                assert!(self.alive[t], "model: a live node points to a dead one");
                if !seen[t] {
                    seen[t] = true;
                    queue.push_back(t);
                }
            }
        }
        seen
    }

    /// A full collection: every live node not reachable is dropped. Returns them.
    fn collect(&mut self, extra: &[usize]) -> Vec<usize> {
        let reach = self.reachable(extra);
        let garbage: Vec<usize> = (0..self.alive.len())
            .filter(|&n| self.alive[n] && !reach[n])
            .collect();
        self.free(&garbage);
        garbage
    }

    /// A partial collection (a younger generation, or with frozen objects) dropped `freed`:
    /// checks that each was garbage, and that no node it left alive points to one, then
    /// applies it.
    fn collect_part(&mut self, extra: &[usize], freed: &[usize]) {
        let reach = self.reachable(extra);
        let mut is_freed = vec![false; self.alive.len()];
        for &g in freed {
            assert!(self.alive[g], "model: node {g} freed twice");
            assert!(!reach[g], "a partial collection freed reachable node {g}");
            is_freed[g] = true;
        }
        for n in (0..self.alive.len()).filter(|&n| self.alive[n] && !is_freed[n]) {
            for &t in &self.edges[n] {
                assert!(
                    !is_freed[t],
                    "node {n}, left alive, points to freed node {t}"
                );
            }
        }
        self.free(freed);
    }

    /// Drops the garbage set `garbage`.
    fn free(&mut self, garbage: &[usize]) {
        for &g in garbage {
            self.alive[g] = false;
        }
        for &g in garbage {
            for t in std::mem::take(&mut self.edges[g]) {
                if self.alive[t] {
                    // A reachable node loses an edge from the garbage; it stays referenced.
                    self.rc[t] -= 1;
                    assert!(
                        self.rc[t] > 0,
                        "model: reachable node {t} lost its last ref"
                    );
                }
            }
            self.rc[g] = 0;
        }
    }

    fn live_roots(&self) -> usize {
        self.roots.iter().filter(|r| r.is_some()).count()
    }
}

/// Operation weights of one test profile.
#[derive(Clone, Copy)]
struct Profile {
    name: &'static str,
    new_root: u32,
    new_with_edges: u32,
    add_edge: u32,
    remove_edge: u32,
    drop_root: u32,
    clone_root: u32,
    upgrade_weak: u32,
    collect: u32,
    /// `collect_generation` of a random generation.
    collect_generation: u32,
    /// `freeze()` or `unfreeze()`, half and half.
    freeze: u32,
    set_threshold: u32,
    /// Percentage of `reach` calls that upgrade a random `Weak` instead of walking from a root.
    reach_by_weak: u32,
    /// Above this many live roots, new roots are replaced by root drops.
    max_roots: usize,
    /// The thresholds `set_threshold` picks from.
    thresholds: &'static [usize],
    /// Threshold set at the start of a run.
    initial_threshold: usize,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    NewRoot,
    NewWithEdges,
    AddEdge,
    RemoveEdge,
    DropRoot,
    CloneRoot,
    UpgradeWeak,
    Collect,
    CollectGeneration,
    Freeze,
    SetThreshold,
}

impl Profile {
    fn pick(&self, rng: &mut Rng) -> Op {
        let table = [
            (self.new_root, Op::NewRoot),
            (self.new_with_edges, Op::NewWithEdges),
            (self.add_edge, Op::AddEdge),
            (self.remove_edge, Op::RemoveEdge),
            (self.drop_root, Op::DropRoot),
            (self.clone_root, Op::CloneRoot),
            (self.upgrade_weak, Op::UpgradeWeak),
            (self.collect, Op::Collect),
            (self.collect_generation, Op::CollectGeneration),
            (self.freeze, Op::Freeze),
            (self.set_threshold, Op::SetThreshold),
        ];
        let total: u32 = table.iter().map(|&(w, _)| w).sum();
        let mut x = rng.below(total as usize) as u32;
        for (w, op) in table {
            if x < w {
                return op;
            }
            x -= w;
        }
        unreachable!()
    }
}

/// One randomized run: the real heap, the model, and the bookkeeping to compare them.
struct Run {
    profile: Profile,
    seed: u64,
    step: usize,
    op: Op,
    rng: Rng,
    model: Model,
    roots: Vec<Option<Gc<MNode>>>,
    /// One `Weak` per node ever created, indexed by id.
    weaks: Vec<Weak<MNode>>,
    /// Nodes the crate has dropped (each exactly once).
    dropped: Vec<bool>,
    explicit_collections: usize,
    automatic_collections: usize,
    collected_total: usize,
    /// `freeze()` was called since the last `unfreeze()`.
    frozen: bool,
}

impl Run {
    fn new(profile: Profile, seed: u64) -> Run {
        assert!(
            take_dropped().is_empty(),
            "a previous run left drops behind"
        );
        cyclegc::enable();
        cyclegc::set_threshold(profile.initial_threshold);
        Run {
            profile,
            seed,
            step: 0,
            op: Op::NewRoot,
            rng: Rng::new(seed),
            model: Model::default(),
            roots: Vec::new(),
            weaks: Vec::new(),
            dropped: Vec::new(),
            explicit_collections: 0,
            automatic_collections: 0,
            frozen: false,
            collected_total: 0,
        }
    }

    fn ctx(&self) -> String {
        format!(
            "profile {} seed {} step {} op {:?}",
            self.profile.name, self.seed, self.step, self.op
        )
    }

    /// Compares the nodes the crate dropped since the last check with the model's prediction.
    fn settle(&mut self, mut expected: Vec<usize>) {
        let mut real = take_dropped();
        real.sort_unstable();
        expected.sort_unstable();
        assert_eq!(
            real,
            expected,
            "{}: the nodes dropped differ from the model's prediction (left: crate, right: model)",
            self.ctx()
        );
        for id in real {
            assert!(!self.dropped[id], "{}: node {id} dropped twice", self.ctx());
            self.dropped[id] = true;
        }
    }

    fn check_count(&self, g: &Gc<MNode>, temporaries: usize) {
        let id = g.id;
        assert!(
            self.model.alive[id],
            "{}: holding a dead node {id}",
            self.ctx()
        );
        assert_eq!(
            Gc::strong_count(g),
            self.model.rc[id] + temporaries,
            "{}: strong count of node {id}",
            self.ctx()
        );
    }

    /// Every node: `Weak::strong_count` matches the model, dead nodes cannot be upgraded.
    fn full_check(&self) {
        for (id, weak) in self.weaks.iter().enumerate() {
            let expected = if self.model.alive[id] {
                self.model.rc[id]
            } else {
                0
            };
            assert_eq!(
                weak.strong_count(),
                expected,
                "{}: strong count of node {id}",
                self.ctx()
            );
            assert_eq!(self.dropped[id], !self.model.alive[id], "{}", self.ctx());
            if !self.model.alive[id] {
                assert!(
                    weak.upgrade().is_none(),
                    "{}: dead node {id} upgraded",
                    self.ctx()
                );
            }
        }
    }

    /// A random root slot that holds a handle.
    fn random_root(&mut self) -> Option<usize> {
        let len = self.roots.len();
        if len == 0 {
            return None;
        }
        let start = self.rng.below(len);
        (0..len)
            .map(|k| (start + k) % len)
            .find(|&i| self.roots[i].is_some())
    }

    fn put_root(&mut self, g: Gc<MNode>) {
        let id = g.id;
        match self.roots.iter().position(Option::is_none) {
            Some(i) => {
                self.roots[i] = Some(g);
                self.model.roots[i] = Some(id);
            }
            None => {
                self.roots.push(Some(g));
                self.model.roots.push(Some(id));
            }
        }
    }

    /// A handle to some live node, reached the way a program could: upgrading a `Weak` (any
    /// live node, garbage included) or walking edges from a root. The caller holds it as a
    /// temporary: the model's counts do not include it.
    fn reach(&mut self) -> Option<Gc<MNode>> {
        if !self.weaks.is_empty() && self.rng.percent(self.profile.reach_by_weak) {
            let id = self.rng.below(self.weaks.len());
            let got = self.weaks[id].upgrade();
            assert_eq!(
                got.is_some(),
                self.model.alive[id],
                "{}: upgrade of {id}",
                self.ctx()
            );
            if let Some(g) = got {
                assert_eq!(g.id, id);
                return Some(g);
            }
        }
        let slot = self.random_root()?;
        let mut cur = self.roots[slot].clone().expect("a live slot");
        assert_eq!(Some(cur.id), self.model.roots[slot], "{}", self.ctx());
        for _ in 0..self.rng.below(5) {
            let n = self.model.edges[cur.id].len();
            if n == 0 {
                break;
            }
            let i = self.rng.below(n);
            let next = cur.edges.borrow()[i].clone();
            assert_eq!(
                next.id,
                self.model.edges[cur.id][i],
                "{}: edge order",
                self.ctx()
            );
            cur = next;
        }
        Some(cur)
    }

    /// Allocates a root node whose edges are `targets` (temporaries the test holds). An
    /// automatic collection may run inside `Gc::new`: detected through `stats()`.
    fn new_node(&mut self, targets: Vec<Gc<MNode>>) {
        let target_ids: Vec<usize> = targets.iter().map(|t| t.id).collect();
        for &t in &target_ids {
            // The handles move into the new node: they become its edges.
            self.model.rc[t] += 1;
        }
        for t in &targets {
            self.check_count(t, 0);
        }
        let id = self.model.alive.len();
        let before = cyclegc::stats();
        let g = Gc::new(MNode {
            id,
            edges: RefCell::new(targets),
        });
        let after = cyclegc::stats();
        let mut expected = Vec::new();
        if after.collections != before.collections {
            assert_eq!(after.collections, before.collections + 1, "{}", self.ctx());
            assert_eq!(after.aborted, before.aborted, "{}", self.ctx());
            self.automatic_collections += 1;
            let full = after.generations[2].collections != before.generations[2].collections;
            let collected = (after.collected - before.collected) as usize;
            if full && !self.frozen {
                expected = self.model.collect(&target_ids);
                assert_eq!(
                    collected,
                    expected.len(),
                    "{}: objects freed by the automatic collection",
                    self.ctx()
                );
            } else {
                expected = peek_dropped();
                self.model.collect_part(&target_ids, &expected);
                // An older object that only the garbage referenced goes by reference counting,
                // uncounted.
                assert!(collected <= expected.len(), "{}", self.ctx());
            }
            self.collected_total += expected.len();
        }
        assert_eq!(self.model.add_node(target_ids), id);
        self.dropped.push(false);
        self.weaks.push(Gc::downgrade(&g));
        self.check_count(&g, 0);
        self.put_root(g);
        self.settle(expected);
    }

    fn step(&mut self) {
        let mut op = self.profile.pick(&mut self.rng);
        let live_roots = self.model.live_roots();
        if matches!(op, Op::NewRoot | Op::NewWithEdges | Op::CloneRoot)
            && live_roots >= self.profile.max_roots
        {
            op = Op::DropRoot;
        }
        if matches!(
            op,
            Op::DropRoot | Op::CloneRoot | Op::AddEdge | Op::RemoveEdge
        ) && live_roots == 0
        {
            op = Op::NewRoot;
        }
        self.op = op;
        match op {
            Op::NewRoot => self.new_node(Vec::new()),
            Op::NewWithEdges => {
                let k = self.rng.below(4);
                let targets: Vec<Gc<MNode>> = (0..k).filter_map(|_| self.reach()).collect();
                self.new_node(targets);
            }
            Op::AddEdge => {
                let (Some(a), Some(b)) = (self.reach(), self.reach()) else {
                    return self.settle(Vec::new());
                };
                let temporaries_b = if Gc::ptr_eq(&a, &b) { 2 } else { 1 };
                self.check_count(&b, temporaries_b);
                a.edges.borrow_mut().push(b.clone());
                self.model.edges[a.id].push(b.id);
                self.model.rc[b.id] += 1;
                self.check_count(&b, temporaries_b);
                drop((a, b));
                self.settle(Vec::new());
            }
            Op::RemoveEdge => {
                let Some(a) = self.reach() else {
                    return self.settle(Vec::new());
                };
                let n = self.model.edges[a.id].len();
                let mut expected = Vec::new();
                if n > 0 {
                    let i = self.rng.below(n);
                    let removed = a.edges.borrow_mut().swap_remove(i);
                    let target = self.model.edges[a.id].swap_remove(i);
                    assert_eq!(removed.id, target, "{}", self.ctx());
                    drop(removed);
                    self.model.release(target, &mut expected);
                }
                // Removing a self-loop may have released the last modelled reference to `a`:
                // the temporary handle keeps it until the `drop` below.
                if self.model.alive[a.id] {
                    self.check_count(&a, 1);
                }
                drop(a);
                self.settle(expected);
            }
            Op::DropRoot => {
                let slot = self.random_root().expect("a live root");
                let g = self.roots[slot].take().expect("live");
                let id = self.model.roots[slot].take().expect("live");
                assert_eq!(g.id, id, "{}", self.ctx());
                drop(g);
                let mut expected = Vec::new();
                self.model.release(id, &mut expected);
                self.settle(expected);
            }
            Op::CloneRoot => {
                let slot = self.random_root().expect("a live root");
                let g = self.roots[slot].clone().expect("live");
                self.model.rc[g.id] += 1;
                self.check_count(&g, 0);
                self.put_root(g);
                self.settle(Vec::new());
            }
            Op::UpgradeWeak => {
                if self.weaks.is_empty() {
                    return self.settle(Vec::new());
                }
                let id = self.rng.below(self.weaks.len());
                let got = self.weaks[id].upgrade();
                assert_eq!(
                    got.is_some(),
                    self.model.alive[id],
                    "{}: upgrade of node {id}",
                    self.ctx()
                );
                if let Some(g) = got {
                    assert_eq!(g.id, id);
                    self.check_count(&g, 1);
                    if self.model.live_roots() < self.profile.max_roots && self.rng.percent(50) {
                        // Keep it: a garbage node upgraded here is resurrected.
                        self.model.rc[id] += 1;
                        self.put_root(g);
                    }
                }
                self.settle(Vec::new());
            }
            Op::Collect | Op::CollectGeneration if self.frozen => {
                let generation = match op {
                    Op::Collect => 2,
                    _ => self.rng.below(3),
                };
                self.collect_part(generation);
            }
            Op::CollectGeneration if self.rng.below(3) != 2 => {
                let generation = self.rng.below(2);
                self.collect_part(generation);
            }
            Op::Collect | Op::CollectGeneration => {
                let before = cyclegc::stats();
                let expected = self.model.collect(&[]);
                let freed = match op {
                    Op::Collect => cyclegc::collect(),
                    _ => cyclegc::collect_generation(2),
                };
                assert_eq!(
                    freed,
                    expected.len(),
                    "{}: collect() must return the number of unreachable nodes",
                    self.ctx()
                );
                let after = cyclegc::stats();
                assert_eq!(after.collections, before.collections + 1, "{}", self.ctx());
                assert_eq!((after.collected - before.collected) as usize, freed);
                assert_eq!(after.aborted, before.aborted, "{}", self.ctx());
                self.explicit_collections += 1;
                self.collected_total += freed;
                self.settle(expected);
                // Nothing unreachable is left.
                let reach = self.model.reachable(&[]);
                assert!(
                    (0..reach.len()).all(|n| reach[n] == self.model.alive[n]),
                    "{}",
                    self.ctx()
                );
                self.full_check();
            }
            Op::Freeze => {
                if self.rng.percent(50) {
                    cyclegc::freeze();
                    self.frozen = true;
                } else {
                    cyclegc::unfreeze();
                    self.frozen = false;
                    assert_eq!(cyclegc::freeze_count(), 0, "{}", self.ctx());
                }
                self.settle(Vec::new());
            }
            Op::SetThreshold => {
                let t = self.profile.thresholds[self.rng.below(self.profile.thresholds.len())];
                if self.rng.percent(50) {
                    cyclegc::set_threshold(t);
                } else {
                    let older = [self.rng.below(4), self.rng.below(4)];
                    cyclegc::set_thresholds([t, older[0], older[1]]);
                    assert_eq!(cyclegc::thresholds(), [t, older[0], older[1]]);
                }
                assert_eq!(cyclegc::threshold(), t);
                if self.rng.percent(10) {
                    cyclegc::disable();
                } else {
                    cyclegc::enable();
                }
                self.settle(Vec::new());
            }
        }
    }

    /// `collect_generation(generation)`, checked as a partial collection.
    fn collect_part(&mut self, generation: usize) {
        let before = cyclegc::stats();
        let freed = cyclegc::collect_generation(generation);
        let dropped = peek_dropped();
        // An older object that only the garbage referenced goes by reference counting,
        // uncounted.
        assert!(freed <= dropped.len(), "{}: the count returned", self.ctx());
        self.model.collect_part(&[], &dropped);
        let after = cyclegc::stats();
        let figures = |stats: &cyclegc::Stats| stats.generations[generation];
        assert_eq!(
            figures(&after).collections,
            figures(&before).collections + 1,
            "{}",
            self.ctx()
        );
        assert_eq!(
            (figures(&after).collected - figures(&before).collected) as usize,
            freed,
            "{}",
            self.ctx()
        );
        self.explicit_collections += 1;
        self.collected_total += freed;
        self.settle(dropped);
    }

    fn run(mut self) {
        for step in 0..OPS {
            self.step = step;
            self.step();
            if step % FULL_CHECK_EVERY == 0 {
                self.full_check();
            }
        }
        self.full_check();
        self.finish();
    }

    /// Drops every root, collects, and checks that everything is gone.
    fn finish(mut self) {
        self.step = OPS;
        self.op = Op::DropRoot;
        for slot in 0..self.roots.len() {
            if let Some(g) = self.roots[slot].take() {
                let id = self.model.roots[slot].take().expect("model root");
                assert_eq!(g.id, id);
                drop(g);
                let mut expected = Vec::new();
                self.model.release(id, &mut expected);
                self.settle(expected);
            }
        }
        self.op = Op::Collect;
        // Frozen objects are examined again (and the roots buffered for them meanwhile).
        cyclegc::unfreeze();
        let expected = self.model.collect(&[]);
        let freed = cyclegc::collect();
        assert_eq!(freed, expected.len(), "{}: final collection", self.ctx());
        self.collected_total += freed;
        self.settle(expected);
        assert!(self.model.alive.iter().all(|&a| !a), "{}", self.ctx());
        assert!(
            self.dropped.iter().all(|&d| d),
            "{}: a node was never dropped",
            self.ctx()
        );
        assert_eq!(cyclegc::collect(), 0, "{}", self.ctx());
        for (id, weak) in self.weaks.iter().enumerate() {
            assert!(weak.upgrade().is_none(), "{}: node {id}", self.ctx());
            assert_eq!(weak.strong_count(), 0);
            assert_eq!(weak.weak_count(), 0);
        }
        assert_eq!(cyclegc::count(), 0, "{}: buffer not empty", self.ctx());
        // Sanity: the run exercised what it was meant to.
        let nodes = self.weaks.len();
        if !cfg!(miri) {
            assert!(nodes > 100, "{}: only {nodes} nodes", self.ctx());
        }
        eprintln!(
            "{} seed {}: {} nodes, {} explicit + {} automatic collections freed {}",
            self.profile.name,
            self.seed,
            nodes,
            self.explicit_collections,
            self.automatic_collections,
            self.collected_total
        );
        drop(self.weaks);
        cyclegc::enable();
        cyclegc::set_thresholds(if cfg!(miri) {
            [16, 2, 2]
        } else {
            [700, 10, 10]
        });
    }
}

fn run_profile(profile: Profile, seed_base: u64) {
    for seed in 0..SEEDS {
        Run::new(profile, seed_base + seed).run();
    }
}

const BALANCED: Profile = Profile {
    name: "balanced",
    new_root: 14,
    new_with_edges: 6,
    add_edge: 22,
    remove_edge: 10,
    drop_root: 18,
    clone_root: 5,
    upgrade_weak: 8,
    collect: 2,
    collect_generation: 0,
    freeze: 0,
    set_threshold: 0,
    reach_by_weak: 25,
    max_roots: 40,
    thresholds: &[],
    initial_threshold: 0,
};

/// Explicit collections only; automatic collection off.
#[test]
fn model_explicit_collections() {
    run_profile(BALANCED, 0);
}

/// Automatic collection with small, changing thresholds; few explicit collections.
#[test]
fn model_automatic_collections() {
    run_profile(
        Profile {
            name: "automatic",
            collect: 1,
            collect_generation: 2,
            freeze: 1,
            new_root: 16,
            new_with_edges: 10,
            set_threshold: 2,
            thresholds: &[0, 1, 2, 3, 5, 8, 16, 64],
            initial_threshold: 4,
            ..BALANCED
        },
        1_000,
    );
}

/// Dense graphs: many edges, few removed, many nodes alive at once.
#[test]
fn model_dense_cycles() {
    run_profile(
        Profile {
            name: "dense",
            add_edge: 40,
            collect_generation: 2,
            remove_edge: 4,
            drop_root: 12,
            collect: 1,
            set_threshold: 1,
            thresholds: &[0, 4, 32, 256],
            initial_threshold: 32,
            max_roots: 80,
            ..BALANCED
        },
        2_000,
    );
}

/// Many weak upgrades: garbage is often resurrected before it is collected.
#[test]
fn model_weak_resurrection() {
    run_profile(
        Profile {
            name: "weak",
            upgrade_weak: 30,
            reach_by_weak: 70,
            collect: 3,
            set_threshold: 1,
            thresholds: &[0, 2, 8],
            initial_threshold: 8,
            ..BALANCED
        },
        3_000,
    );
}

/// Few roots, small graphs: cycles are cut off and collected all the time.
#[test]
fn model_small_heaps() {
    run_profile(
        Profile {
            name: "small",
            max_roots: 4,
            collect_generation: 2,
            freeze: 1,
            remove_edge: 14,
            collect: 4,
            set_threshold: 1,
            thresholds: &[0, 1, 2],
            initial_threshold: 1,
            ..BALANCED
        },
        4_000,
    );
}
