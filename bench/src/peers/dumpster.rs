//! dumpster 2.1.0, `unsync::Gc<Node>`, default collect condition (automatic collection on).
//! `TraceWith<V>` is hand-written (the derive is not used).

use std::cell::RefCell;

use dumpster::unsync::Gc;
use dumpster::{TraceWith, Visitor};

use crate::{Edge, Payload, Peer, SLOTS};

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

impl Peer for Dumpster {
    const NAME: &'static str = "dumpster";
    const CRATE: &'static str = "dumpster 2.1.0 (unsync)";
    const AUTO: bool = true;
    type P = Gc<Node>;

    #[inline]
    fn new(val: u64) -> Gc<Node> {
        Gc::new(Node {
            val: Payload::new(val),
            edges: RefCell::new([None, None, None]),
        })
    }

    #[inline]
    fn val(p: &Gc<Node>) -> u64 {
        p.val.0
    }

    #[inline]
    fn set_edge(p: &Gc<Node>, slot: usize, to: Gc<Node>, _kind: Edge) {
        let old = p.edges.borrow_mut()[slot].replace(to);
        drop(old);
    }

    #[inline]
    fn clear_edge(p: &Gc<Node>, slot: usize) {
        let old = p.edges.borrow_mut()[slot].take();
        drop(old);
    }

    #[inline]
    fn edge(p: &Gc<Node>, slot: usize) -> Option<Gc<Node>> {
        p.edges.borrow()[slot].clone()
    }

    fn collect() {
        dumpster::unsync::collect();
    }

    fn node_size() -> usize {
        std::mem::size_of::<Node>()
    }
}
