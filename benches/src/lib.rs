//! Benchmarks for `cyclegc`: one node shape, one [`Peer`] trait, one set of [`workloads`].
//!
//! Every column (std `Rc`, cyclegc with and without automatic collection, and the peer crates)
//! implements [`Peer`] for the same node: a [`Payload`] (a `u64` that counts live nodes in a
//! thread-local, so every run is also a leak check) and three edge slots in a `RefCell`
//! (`GcCell` for the `gc` crate). The workloads are generic over [`Peer`], so the criterion
//! benches in `benches/` and the `peerbench` binary (`src/bin/peerbench.rs`) run the very same
//! code. `BENCHMARKS.md` at the workspace root has the results and how to reproduce them.
//!
//! The thread-safe columns ([`SyncPeer`]: std `Arc`, `cyclegc::sync`, `dumpster::sync`,
//! gcmodule's `ThreadedCc`) use the same node with its edge slots in a `Mutex`, and run the
//! `sync_*` workloads, some of which share nodes between threads.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

pub mod crit;
pub mod generations;
pub mod peers;
pub mod workloads;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

/// Live-node balances handed over by threads that have finished ([`flush_live`]).
static FLUSHED: AtomicI64 = AtomicI64::new(0);

/// The number of [`Payload`]s alive: nodes allocated and not yet dropped on this thread, plus
/// the balances of the threads that called [`flush_live`]. A node may be allocated on one
/// thread and dropped on another; only the sum over all threads means anything then.
pub fn live() -> i64 {
    LIVE.with(Cell::get) + FLUSHED.load(Ordering::SeqCst)
}

/// Hands this thread's live-node balance over to [`live`]. Every thread a workload spawns
/// calls it last, as a node it allocated or dropped would otherwise be miscounted.
pub fn flush_live() {
    let balance = LIVE.with(|l| l.replace(0));
    FLUSHED.fetch_add(balance, Ordering::SeqCst);
}

/// A node's payload. Creating one counts a live node on this thread, dropping it uncounts it.
#[derive(Debug)]
pub struct Payload(pub u64);

impl Payload {
    /// A new payload, counted as live.
    #[inline]
    pub fn new(val: u64) -> Payload {
        LIVE.with(|l| l.set(l.get() + 1));
        Payload(val)
    }
}

impl Drop for Payload {
    #[inline]
    fn drop(&mut self) {
        // `try_with`: a collector may drop nodes during thread-local teardown.
        let _ = LIVE.try_with(|l| l.set(l.get() - 1));
    }
}

/// The number of edge slots in every node.
pub const SLOTS: usize = 3;

/// What kind of edge a workload stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// An owning edge (a tree's child, a list's `next`).
    Strong,
    /// An edge that may close a cycle (a parent pointer, a list's `prev`, a random graph edge).
    /// Collectors store it as a normal strong pointer; the `Rc` floor stores a `rc::Weak`, and
    /// the workload keeps every node owned some other way where needed.
    Back,
}

/// One column of the benchmark: a smart pointer to the common node shape.
pub trait Peer: 'static {
    /// The column's id on the command line (`peerbench run <NAME> ...`).
    const NAME: &'static str;
    /// The crate and version, for the tables.
    const CRATE: &'static str;
    /// `false` for the `Rc` floor, which reclaims no cycles (its back edges are weak).
    const COLLECTS: bool = true;
    /// Whether the column collects on its own (without explicit `collect` calls).
    const AUTO: bool;
    /// The pointer to a node.
    type P: Clone;
    /// Called once on the thread that runs the workloads, before the first one (configures
    /// the collector: automatic collection on or off).
    fn setup() {}
    /// Allocates a node holding `val`, with empty edge slots.
    fn new(val: u64) -> Self::P;
    /// Reads the payload through the pointer.
    fn val(p: &Self::P) -> u64;
    /// Stores `to` in edge slot `slot` of `p` (dropping what was there), moving the pointer.
    fn set_edge(p: &Self::P, slot: usize, to: Self::P, kind: Edge);
    /// Stores a new pointer to `to` in edge slot `slot` of `p`: a clone (a `Weak` for the
    /// `Rc` floor's back edges, made without a temporary strong clone).
    #[inline]
    fn link(p: &Self::P, slot: usize, to: &Self::P, kind: Edge) {
        Self::set_edge(p, slot, to.clone(), kind);
    }
    /// Empties edge slot `slot` of `p`.
    fn clear_edge(p: &Self::P, slot: usize);
    /// The target of edge slot `slot`, if it holds one (and, for weak edges, it is alive).
    fn edge(p: &Self::P, slot: usize) -> Option<Self::P>;
    /// Runs a full collection (a no-op for `Rc`).
    fn collect();
    /// The size of the node value (without the pointer's header), in bytes.
    fn node_size() -> usize;
}

/// The stack of the threads a workload spawns, in bytes (0: the default, 8 MiB).
static THREAD_STACK: AtomicUsize = AtomicUsize::new(0);

/// Sets the stack of the threads the workloads spawn: `peerbench run` gives them the stack of
/// the cell's own thread, so that a peer's deep recursion on a second thread overflows (or,
/// on the big stack, completes) as it would on the first.
pub fn set_thread_stack(bytes: usize) {
    THREAD_STACK.store(bytes, Ordering::Relaxed);
}

/// A builder for a thread a workload spawns, with the stack of [`set_thread_stack`].
pub fn thread_builder(name: &str) -> std::thread::Builder {
    let stack = match THREAD_STACK.load(Ordering::Relaxed) {
        0 => 8 << 20,
        n => n,
    };
    std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(stack)
}

/// A thread-safe column: its pointer can be sent to and shared with other threads, and its
/// node keeps its edge slots in a `std::sync::Mutex`. It runs the single-threaded workloads
/// as any [`Peer`] does, and the `sync_*` ones ([`workloads::run_sync`]).
pub trait SyncPeer: Peer<P: Send + Sync> {}

/// Phase breadcrumbs for `peerbench`: when on, every [`phase`] is written to stderr so that
/// the parent can tell in which phase a child process died.
static BREADCRUMBS: AtomicBool = AtomicBool::new(false);

/// Turns the stderr phase breadcrumbs on (the `peerbench run` child does).
pub fn enable_breadcrumbs() {
    BREADCRUMBS.store(true, Ordering::Relaxed);
}

/// Marks the start of a workload phase (`build`, `drop`, `collect`, ...).
#[inline]
pub fn phase(name: &str) {
    if BREADCRUMBS.load(Ordering::Relaxed) {
        eprintln!("@phase {name}");
    }
}

/// A fixed-seed xorshift64* generator: the same "random" graphs and churn for every column.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator with the given (non-zero) seed.
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed | 1)
    }

    /// The next 64-bit value.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (n > 0), by multiply-shift.
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
}

/// A `/proc/self/status` field in KiB (`VmHWM`, `VmRSS`), if available.
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}
