//! gcmodule 0.3.3: `Cc<Node>` (the thread-local flavour). Its derive overflows the stack on
//! recursive types (`is_type_tracked` recurses), so `Trace` is hand-written with
//! `is_type_tracked() -> true`. It never collects on its own.

use std::cell::RefCell;

use gcmodule::{Cc, Trace, Tracer};

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

    fn is_type_tracked() -> bool {
        true
    }
}

/// gcmodule (manual collection only).
pub struct Gcmodule;

refcell_peer!(
    Gcmodule,
    name: "gcmodule",
    krate: "gcmodule 0.3.3",
    auto: false,
    ptr: Cc,
    collect: gcmodule::collect_thread_cycles(),
);
