//! The floor: `std::rc::Rc<Node>`, back edges stored as `rc::Weak`. It reclaims no cycles;
//! the workloads keep every node owned (an owner `Vec`) where its back edges would otherwise
//! leave nodes without an owner.
//!
//! An edge slot is one word, like the collectors' (a tagged pointer: low bit set = weak), so
//! the node has exactly the size of theirs and memory figures compare headers, not enums.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::rc::{Rc, Weak};

use crate::{Edge, Payload, Peer, SLOTS};

/// The node.
pub struct Node {
    val: Payload,
    edges: RefCell<[Option<RcEdge>; SLOTS]>,
}

/// An owned `Rc<Node>` or `Weak<Node>` in one word: the pointer from `into_raw`, with the low
/// bit set for a weak one (`Node` is word-aligned, so the bit is free).
pub struct RcEdge {
    tagged: NonNull<u8>,
    _owns: PhantomData<Rc<Node>>,
}

const WEAK_TAG: usize = 1;

impl RcEdge {
    fn strong(rc: Rc<Node>) -> RcEdge {
        let ptr = Rc::into_raw(rc) as *mut u8;
        RcEdge {
            // SAFETY: `Rc::into_raw` never returns null.
            tagged: unsafe { NonNull::new_unchecked(ptr) },
            _owns: PhantomData,
        }
    }

    fn weak(weak: Weak<Node>) -> RcEdge {
        let ptr = Weak::into_raw(weak) as *mut u8;
        RcEdge {
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
    fn upgrade(&self) -> Option<Rc<Node>> {
        if self.is_weak() {
            // SAFETY: the pointer came from `Weak::into_raw` and this edge still owns it; the
            // `ManuallyDrop` keeps that ownership here.
            let weak = ManuallyDrop::new(unsafe { Weak::from_raw(self.raw()) });
            weak.upgrade()
        } else {
            // SAFETY: the pointer came from `Rc::into_raw` and this edge still owns that
            // strong reference, so the count stays above zero while we add one.
            unsafe {
                Rc::increment_strong_count(self.raw());
                Some(Rc::from_raw(self.raw()))
            }
        }
    }
}

impl Drop for RcEdge {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `into_raw` of the kind the tag says, and is given
        // back exactly once.
        unsafe {
            if self.is_weak() {
                drop(Weak::from_raw(self.raw()));
            } else {
                drop(Rc::from_raw(self.raw()));
            }
        }
    }
}

/// `std::rc::Rc`, the floor.
pub struct RcFloor;

impl Peer for RcFloor {
    const NAME: &'static str = "rc";
    const CRATE: &'static str = "std::rc::Rc";
    const COLLECTS: bool = false;
    const AUTO: bool = false;
    type P = Rc<Node>;

    #[inline]
    fn new(val: u64) -> Rc<Node> {
        Rc::new(Node {
            val: Payload::new(val),
            edges: RefCell::new([None, None, None]),
        })
    }

    #[inline]
    fn val(p: &Rc<Node>) -> u64 {
        p.val.0
    }

    #[inline]
    fn set_edge(p: &Rc<Node>, slot: usize, to: Rc<Node>, kind: Edge) {
        let edge = match kind {
            Edge::Strong => RcEdge::strong(to),
            Edge::Back => RcEdge::weak(Rc::downgrade(&to)),
        };
        let old = p.edges.borrow_mut()[slot].replace(edge);
        drop(old);
    }

    #[inline]
    fn link(p: &Rc<Node>, slot: usize, to: &Rc<Node>, kind: Edge) {
        let edge = match kind {
            Edge::Strong => RcEdge::strong(to.clone()),
            Edge::Back => RcEdge::weak(Rc::downgrade(to)),
        };
        let old = p.edges.borrow_mut()[slot].replace(edge);
        drop(old);
    }

    #[inline]
    fn clear_edge(p: &Rc<Node>, slot: usize) {
        let old = p.edges.borrow_mut()[slot].take();
        drop(old);
    }

    #[inline]
    fn edge(p: &Rc<Node>, slot: usize) -> Option<Rc<Node>> {
        p.edges.borrow()[slot].as_ref().and_then(RcEdge::upgrade)
    }

    fn collect() {}

    fn node_size() -> usize {
        std::mem::size_of::<Node>()
    }
}
