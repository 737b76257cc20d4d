//! gcmodule 0.3.3 with its `sync` feature: `ThreadedCc<Node>`, made by one process-wide
//! `ThreadedObjectSpace`, with the edges in a `Mutex`. The value is reached through
//! `ThreadedCc::borrow`, which holds a read lock of the space's collector lock (a collection
//! takes it for writing; so does every drop, for reading). `Trace` is hand-written, as for
//! the thread-local `Cc` (`gcmodule.rs`). It never collects on its own.

use std::sync::{LazyLock, Mutex};

use gcmodule::{ThreadedCc, ThreadedObjectSpace, Trace, Tracer};

use crate::{Payload, SLOTS};

/// The one object space of every `ThreadedCc` of the benchmark.
static SPACE: LazyLock<ThreadedObjectSpace> = LazyLock::new(ThreadedObjectSpace::default);

/// The node.
pub struct Node {
    val: Payload,
    edges: Mutex<[Option<ThreadedCc<Node>>; SLOTS]>,
}

impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        // A locked `Mutex` is skipped, as gcmodule's own `Mutex` impl does.
        if let Ok(edges) = self.edges.try_lock() {
            for edge in edges.iter().flatten() {
                edge.trace(tracer);
            }
        }
    }

    fn is_type_tracked() -> bool {
        true
    }
}

/// gcmodule's `ThreadedCc` (manual collection only).
pub struct GcmoduleSync;

mutex_peer!(
    GcmoduleSync,
    name: "gcmodule-sync",
    krate: "gcmodule 0.3.3 (sync: ThreadedCc)",
    auto: false,
    ptr: ThreadedCc,
    new: |node| SPACE.create(node),
    node: |p| p.borrow(),
    collect: SPACE.collect_cycles(),
);
