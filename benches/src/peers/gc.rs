//! gc 0.5.1 (mark-and-sweep): `Gc<Node>` with its edges in a `GcCell`, default settings
//! (it collects on its own once its allocation threshold is reached). `Trace` is written with
//! the crate's `custom_trace!` macro instead of `gc_derive`.

use gc::{custom_trace, Finalize, Gc, GcCell, Trace};

use crate::{Edge, Payload, Peer, SLOTS};

/// The node.
pub struct Node {
    val: Payload,
    edges: GcCell<[Option<Gc<Node>>; SLOTS]>,
}

impl Finalize for Node {}

// SAFETY: marks (roots, unroots) exactly the `Gc`s the node owns: those in its edge cell.
unsafe impl Trace for Node {
    custom_trace!(this, mark(&this.edges));
}

/// The `gc` crate, default settings.
pub struct GcCrate;

impl Peer for GcCrate {
    const NAME: &'static str = "gc";
    const CRATE: &'static str = "gc 0.5.1";
    const AUTO: bool = true;
    type P = Gc<Node>;

    #[inline]
    fn new(val: u64) -> Gc<Node> {
        Gc::new(Node {
            val: Payload::new(val),
            edges: GcCell::new([None, None, None]),
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
        gc::force_collect();
    }

    fn node_size() -> usize {
        std::mem::size_of::<Node>()
    }
}
