//! The thread-safe floor: `std::sync::Arc<Node>` with the edge slots in a `Mutex`, back
//! edges stored as `sync::Weak`: the `rc` floor (`rc.rs`) with `Arc` for `Rc`. It reclaims no
//! cycles; the workloads keep every node owned (an owner `Vec`) where its back edges would
//! otherwise leave nodes without an owner, so its "reclaim" is the same objects dropped with
//! the cycles broken by hand.
//!
//! An edge slot is one word, like the collectors' (a tagged pointer: low bit set = weak), so
//! the node has exactly the size of theirs and memory figures compare headers, not enums.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, Weak};

use crate::{Edge, Payload, Peer, SyncPeer, SLOTS};

/// The node.
pub struct Node {
    val: Payload,
    edges: Mutex<[Option<ArcEdge>; SLOTS]>,
}

/// An owned `Arc<Node>` or `Weak<Node>` in one word: the pointer from `into_raw`, with the
/// low bit set for a weak one (`Node` is word-aligned, so the bit is free).
pub struct ArcEdge {
    tagged: NonNull<u8>,
    _owns: PhantomData<Arc<Node>>,
}

// SAFETY: an `ArcEdge` owns one `Arc<Node>` or one `Weak<Node>`, both `Send + Sync` because
// `Node` is; it hands out only new `Arc`s (`upgrade`), never access through the raw pointer.
unsafe impl Send for ArcEdge {}
// SAFETY: as for `Send`: `&ArcEdge` only clones or upgrades the owned reference.
unsafe impl Sync for ArcEdge {}

const WEAK_TAG: usize = 1;

impl ArcEdge {
    fn strong(arc: Arc<Node>) -> ArcEdge {
        let ptr = Arc::into_raw(arc) as *mut u8;
        ArcEdge {
            // SAFETY: `Arc::into_raw` never returns null.
            tagged: unsafe { NonNull::new_unchecked(ptr) },
            _owns: PhantomData,
        }
    }

    fn weak(weak: Weak<Node>) -> ArcEdge {
        let ptr = Weak::into_raw(weak) as *mut u8;
        ArcEdge {
            tagged: NonNull::new(ptr.map_addr(|a| a | WEAK_TAG)).expect("non-null"),
            _owns: PhantomData,
        }
    }

    fn is_weak(&self) -> bool {
        self.tagged.as_ptr().addr() & WEAK_TAG != 0
    }

    fn raw(&self) -> *const Node {
        self.tagged.as_ptr().map_addr(|a| a & !WEAK_TAG) as *const Node
    }

    /// A strong pointer to the target, if it is alive.
    fn upgrade(&self) -> Option<Arc<Node>> {
        if self.is_weak() {
            // SAFETY: the pointer came from `Weak::into_raw` and this edge still owns it; the
            // `ManuallyDrop` keeps that ownership here.
            let weak = ManuallyDrop::new(unsafe { Weak::from_raw(self.raw()) });
            weak.upgrade()
        } else {
            // SAFETY: the pointer came from `Arc::into_raw` and this edge still owns that
            // strong reference, so the count stays above zero while we add one.
            unsafe {
                Arc::increment_strong_count(self.raw());
                Some(Arc::from_raw(self.raw()))
            }
        }
    }
}

impl Drop for ArcEdge {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `into_raw` of the kind the tag says, and is given
        // back exactly once.
        unsafe {
            if self.is_weak() {
                drop(Weak::from_raw(self.raw()));
            } else {
                drop(Arc::from_raw(self.raw()));
            }
        }
    }
}

/// `std::sync::Arc`, the thread-safe floor.
pub struct ArcFloor;

impl SyncPeer for ArcFloor {}

impl Peer for ArcFloor {
    const NAME: &'static str = "arc";
    const CRATE: &'static str = "std::sync::Arc (edges in a Mutex, back edges sync::Weak)";
    const COLLECTS: bool = false;
    const AUTO: bool = false;
    type P = Arc<Node>;

    #[inline]
    fn new(val: u64) -> Arc<Node> {
        Arc::new(Node {
            val: Payload::new(val),
            edges: Mutex::new([None, None, None]),
        })
    }

    #[inline]
    fn val(p: &Arc<Node>) -> u64 {
        p.val.0
    }

    #[inline]
    fn set_edge(p: &Arc<Node>, slot: usize, to: Arc<Node>, kind: Edge) {
        let edge = match kind {
            Edge::Strong => ArcEdge::strong(to),
            Edge::Back => ArcEdge::weak(Arc::downgrade(&to)),
        };
        let old = p.edges.lock().unwrap()[slot].replace(edge);
        drop(old);
    }

    #[inline]
    fn link(p: &Arc<Node>, slot: usize, to: &Arc<Node>, kind: Edge) {
        let edge = match kind {
            Edge::Strong => ArcEdge::strong(to.clone()),
            Edge::Back => ArcEdge::weak(Arc::downgrade(to)),
        };
        let old = p.edges.lock().unwrap()[slot].replace(edge);
        drop(old);
    }

    #[inline]
    fn clear_edge(p: &Arc<Node>, slot: usize) {
        let old = p.edges.lock().unwrap()[slot].take();
        drop(old);
    }

    #[inline]
    fn edge(p: &Arc<Node>, slot: usize) -> Option<Arc<Node>> {
        p.edges.lock().unwrap()[slot]
            .as_ref()
            .and_then(ArcEdge::upgrade)
    }

    fn collect() {}

    fn node_size() -> usize {
        std::mem::size_of::<Node>()
    }
}
