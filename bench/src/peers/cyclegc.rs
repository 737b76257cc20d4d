//! cyclegc (this workspace): `Gc<Node>` with its edges in a `RefCell`. Two columns: automatic
//! collection on (the default settings) and off (`cyclegc::disable()`, explicit `collect()`).

use std::cell::RefCell;

use cyclegc::{Gc, Trace, Tracer};

use crate::{Edge, Payload, Peer, SLOTS};

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

fn new(val: u64) -> Gc<Node> {
    Gc::new(Node {
        val: Payload::new(val),
        edges: RefCell::new([None, None, None]),
    })
}

/// cyclegc with default settings: automatic collection on.
pub struct Cyclegc;

/// cyclegc with automatic collection disabled; the workloads call `collect()` explicitly.
pub struct CyclegcManual;

macro_rules! impl_peer {
    ($ty:ty, $name:expr, $auto:expr, $setup:expr) => {
        impl Peer for $ty {
            const NAME: &'static str = $name;
            const CRATE: &'static str = concat!("cyclegc ", env!("CARGO_PKG_VERSION"));
            const AUTO: bool = $auto;
            type P = Gc<Node>;

            fn setup() {
                $setup;
            }

            #[inline]
            fn new(val: u64) -> Gc<Node> {
                new(val)
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
                cyclegc::collect();
            }

            fn node_size() -> usize {
                std::mem::size_of::<Node>()
            }
        }
    };
}

impl_peer!(Cyclegc, "cyclegc", true, cyclegc::enable());
impl_peer!(CyclegcManual, "cyclegc-manual", false, cyclegc::disable());
