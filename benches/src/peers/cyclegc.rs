//! cyclegc (this workspace): `Gc<Node>` with its edges in a `RefCell`. Two columns: automatic
//! collection on (the default settings) and off (`cyclegc::disable()`, explicit `collect()`).

use std::cell::RefCell;

use cyclegc::{Gc, Trace, Tracer};

use crate::{Payload, SLOTS};

/// The node.
pub struct Node {
    val: Payload,
    edges: RefCell<[Option<Gc<Node>>; SLOTS]>,
}

// SAFETY: reports each `Gc` the node owns (its edge slots) exactly once, and nothing else.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        if let Ok(edges) = self.edges.try_borrow() {
            for edge in edges.iter().flatten() {
                edge.trace(tracer);
            }
        }
    }
}

/// Sets the thresholds from `CYCLEGC_THRESHOLDS` (`t0,t1,t2`), if set, with `set` (either
/// flavour's `set_thresholds`): for choosing the defaults by benchmark (BENCHMARKS.md,
/// "Generations").
///
/// # Panics
/// If the variable is set but is not three comma-separated numbers.
pub fn thresholds_from_env(set: fn([usize; 3])) {
    if let Ok(value) = std::env::var("CYCLEGC_THRESHOLDS") {
        let parsed: Vec<usize> = value
            .split(',')
            .map(|t| t.trim().parse().expect("CYCLEGC_THRESHOLDS: t0,t1,t2"))
            .collect();
        let thresholds: [usize; 3] = parsed.try_into().expect("CYCLEGC_THRESHOLDS: t0,t1,t2");
        set(thresholds);
    }
}

/// cyclegc with default settings: automatic collection on.
pub struct Cyclegc;

/// cyclegc with automatic collection disabled; the workloads call `collect()` explicitly.
pub struct CyclegcManual;

refcell_peer!(
    Cyclegc,
    name: "cyclegc",
    krate: concat!("cyclegc ", env!("CARGO_PKG_VERSION")),
    auto: true,
    ptr: Gc,
    collect: cyclegc::collect(),
    setup: {
        cyclegc::enable();
        crate::peers::cyclegc::thresholds_from_env(cyclegc::set_thresholds);
    },
);

refcell_peer!(
    CyclegcManual,
    name: "cyclegc-manual",
    krate: concat!("cyclegc ", env!("CARGO_PKG_VERSION")),
    auto: false,
    ptr: Gc,
    collect: cyclegc::collect(),
    setup: cyclegc::disable(),
);
