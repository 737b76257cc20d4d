//! dumpster 2.1.0, `sync::Gc<Node>` with its edges in a `Mutex`, default collect condition
//! (automatic collection on). `TraceWith<V>` is hand-written (the derive is not used).

use std::sync::Mutex;

use dumpster::sync::Gc;
use dumpster::{TraceWith, Visitor};

use crate::{Payload, SLOTS};

/// The node.
pub struct Node {
    val: Payload,
    edges: Mutex<[Option<Gc<Node>>; SLOTS]>,
}

// SAFETY: visits each `Gc` the node owns exactly once; a locked `Mutex` is reported as
// inaccessible (`Err`), as dumpster's own `Mutex` impl does.
unsafe impl<V: Visitor> TraceWith<V> for Node {
    fn accept(&self, visitor: &mut V) -> Result<(), ()> {
        let edges = self.edges.try_lock().map_err(|_| ())?;
        for edge in edges.iter().flatten() {
            edge.accept(visitor)?;
        }
        Ok(())
    }
}

/// dumpster, sync flavour, default settings.
pub struct DumpsterSync;

mutex_peer!(
    DumpsterSync,
    name: "dumpster-sync",
    krate: "dumpster 2.1.0 (sync)",
    auto: true,
    ptr: Gc,
    new: Gc::new,
    node: |p| p,
    collect: dumpster::sync::collect(),
);
