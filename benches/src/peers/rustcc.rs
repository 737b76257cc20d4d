//! rust-cc 0.6.2: `Cc<Node>`, default features minus the derive (automatic collection on).
//! rust-cc needs a `Finalize` impl next to `Trace`.

use std::cell::RefCell;

use rust_cc::{Cc, Context, Finalize, Trace};

use crate::{Payload, SLOTS};

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

refcell_peer!(
    RustCc,
    name: "rust-cc",
    krate: "rust-cc 0.6.2",
    auto: true,
    ptr: Cc,
    collect: rust_cc::collect_cycles(),
);
