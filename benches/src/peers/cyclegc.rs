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
    setup: cyclegc::enable(),
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
