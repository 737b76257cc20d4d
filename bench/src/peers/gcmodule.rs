//! gcmodule 0.3.3: `Cc<Node>` (the thread-local flavour). Its derive overflows the stack on
//! recursive types (`is_type_tracked` recurses), so `Trace` is hand-written with
//! `is_type_tracked() -> true`. It never collects on its own.

use std::cell::RefCell;

use gcmodule::{Cc, Trace, Tracer};

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

    fn is_type_tracked() -> bool {
        true
    }
}

/// gcmodule (manual collection only).
pub struct Gcmodule;

impl Peer for Gcmodule {
    const NAME: &'static str = "gcmodule";
    const CRATE: &'static str = "gcmodule 0.3.3";
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
        gcmodule::collect_thread_cycles();
    }

    fn node_size() -> usize {
        std::mem::size_of::<Node>()
    }
}
