//! dumpster 2.1.0, `unsync::Gc<Node>`, default collect condition (automatic collection on).
//! `TraceWith<V>` is hand-written (the derive is not used).

use std::cell::RefCell;

use dumpster::unsync::Gc;
use dumpster::{TraceWith, Visitor};

use crate::{Payload, SLOTS};

/// The node.
pub struct Node {
    val: Payload,
    edges: RefCell<[Option<Gc<Node>>; SLOTS]>,
}

// SAFETY: visits each `Gc` the node owns exactly once; a mutably borrowed cell is reported as
// inaccessible (`Err`), as dumpster's own `RefCell` impl does.
unsafe impl<V: Visitor> TraceWith<V> for Node {
    fn accept(&self, visitor: &mut V) -> Result<(), ()> {
        let edges = self.edges.try_borrow().map_err(|_| ())?;
        for edge in edges.iter().flatten() {
            edge.accept(visitor)?;
        }
        Ok(())
    }
}

/// dumpster, unsync flavour, default settings.
pub struct Dumpster;

refcell_peer!(
    Dumpster,
    name: "dumpster",
    krate: "dumpster 2.1.0 (unsync)",
    auto: true,
    ptr: Gc,
    collect: dumpster::unsync::collect(),
);
