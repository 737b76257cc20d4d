//! Shared test support: a node type with a hand-written `Trace` (so these tests do not depend
//! on the derive) and drop counters.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};

use cyclegc::{Gc, Trace, Tracer};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

/// Drops of `Node`s on this thread so far.
pub fn drops() -> usize {
    DROPS.with(Cell::get)
}

/// A graph node: an id and any number of strong edges.
pub struct Node {
    pub id: usize,
    pub edges: RefCell<Vec<Gc<Node>>>,
}

impl Node {
    pub fn new(id: usize) -> Gc<Node> {
        Gc::new(Node {
            id,
            edges: RefCell::new(Vec::new()),
        })
    }

    pub fn link(from: &Gc<Node>, to: &Gc<Node>) {
        from.edges.borrow_mut().push(to.clone());
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

// SAFETY: reports each owned `Gc` once (through the `RefCell`).
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        self.edges.trace(tracer);
    }
}

/// The shapes the tests build out of `Node`s.
pub enum Shape {
    /// `0 -> 1 -> … -> n-1`.
    Chain,
    /// A chain whose last node links back to the first.
    Ring,
    /// A chain with a back edge from every node to its predecessor.
    DoublyLinked,
}

/// Builds `n` nodes in `shape`; returns the first and the last.
pub fn build(shape: Shape, n: usize) -> (Gc<Node>, Gc<Node>) {
    let head = Node::new(0);
    let mut tail = head.clone();
    for i in 1..n {
        let next = Node::new(i);
        Node::link(&tail, &next);
        if let Shape::DoublyLinked = shape {
            Node::link(&next, &tail);
        }
        tail = next;
    }
    if let Shape::Ring = shape {
        Node::link(&tail, &head);
    }
    (head, tail)
}

/// Runs `f` on a thread with a small stack, to prove nothing recurses on data.
pub fn on_small_stack<F: FnOnce() + Send + 'static>(stack: usize, f: F) {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the small-stack thread panicked");
}
