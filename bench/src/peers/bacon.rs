//! bacon_rajan_cc 0.4.0: `Cc<Node>`. It has no derive (hand-written `Trace`) and never collects
//! on its own: the workloads' explicit `collect_cycles()` calls are its only collections.

use std::cell::RefCell;

use bacon_rajan_cc::{Cc, Trace, Tracer};

use crate::{Edge, Payload, Peer, SLOTS};

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

impl Peer for Bacon {
    const NAME: &'static str = "bacon_rajan_cc";
    const CRATE: &'static str = "bacon_rajan_cc 0.4.0";
    const AUTO: bool = false;
    type P = Cc<Node>;

    #[inline]
    fn new(val: u64) -> Cc<Node> {
        Cc::new(Node {
            val: Payload::new(val),
            edges: RefCell::new([None, None, None]),
        })
    }

    #[inline]
    fn val(p: &Cc<Node>) -> u64 {
        p.val.0
    }

    #[inline]
    fn set_edge(p: &Cc<Node>, slot: usize, to: Cc<Node>, _kind: Edge) {
        let old = p.edges.borrow_mut()[slot].replace(to);
        drop(old);
    }

    #[inline]
    fn clear_edge(p: &Cc<Node>, slot: usize) {
        let old = p.edges.borrow_mut()[slot].take();
        drop(old);
    }

    #[inline]
    fn edge(p: &Cc<Node>, slot: usize) -> Option<Cc<Node>> {
        p.edges.borrow()[slot].clone()
    }

    fn collect() {
        bacon_rajan_cc::collect_cycles();
    }

    fn node_size() -> usize {
        std::mem::size_of::<Node>()
    }
}
