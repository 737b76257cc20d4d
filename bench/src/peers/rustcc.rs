//! rust-cc 0.6.2: `Cc<Node>`, default features minus the derive (automatic collection on).
//! rust-cc needs a `Finalize` impl next to `Trace`.

use std::cell::RefCell;

use rust_cc::{Cc, Context, Finalize, Trace};

use crate::{Edge, Payload, Peer, SLOTS};

/// The node.
pub struct Node {
    val: Payload,
    edges: RefCell<[Option<Cc<Node>>; SLOTS]>,
}

impl Finalize for Node {}

// SAFETY: reports each `Cc` the node owns exactly once (rust-cc's own `RefCell` impl uses
// `try_borrow_mut`, so this does too).
unsafe impl Trace for Node {
    fn trace(&self, ctx: &mut Context<'_>) {
        if let Ok(edges) = self.edges.try_borrow_mut() {
            for edge in edges.iter().flatten() {
                edge.trace(ctx);
            }
        }
    }
}

/// rust-cc with its default configuration.
pub struct RustCc;

impl Peer for RustCc {
    const NAME: &'static str = "rust-cc";
    const CRATE: &'static str = "rust-cc 0.6.2";
    const AUTO: bool = true;
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
        rust_cc::collect_cycles();
    }

    fn node_size() -> usize {
        std::mem::size_of::<Node>()
    }
}
