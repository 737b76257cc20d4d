//! bacon_rajan_cc 0.4.0: `Cc<Node>`. It has no derive (hand-written `Trace`) and never collects
//! on its own: the workloads' explicit `collect_cycles()` calls are its only collections.

use std::cell::RefCell;

use bacon_rajan_cc::{Cc, Trace, Tracer};

use crate::{Payload, SLOTS};

/// The node.
pub struct Node {
    val: Payload,
    edges: RefCell<[Option<Cc<Node>>; SLOTS]>,
}

impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        if let Ok(edges) = self.edges.try_borrow() {
            for edge in edges.iter().flatten() {
                edge.trace(tracer);
            }
        }
    }
}

/// bacon_rajan_cc (manual collection only).
pub struct Bacon;

refcell_peer!(
    Bacon,
    name: "bacon_rajan_cc",
    krate: "bacon_rajan_cc 0.4.0",
    auto: false,
    ptr: Cc,
    collect: bacon_rajan_cc::collect_cycles(),
);
