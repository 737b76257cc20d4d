//! cyclegc's thread-safe flavour (this workspace): `cyclegc::sync::Gc<Node>` with its edges in
//! a `Mutex`. Two columns: automatic collection on (the default settings) and off
//! (`cyclegc::sync::disable()`, explicit `collect()` only).

use std::sync::Mutex;

use cyclegc::sync::Gc;
use cyclegc::{Trace, Tracer};

use crate::{Payload, SLOTS};

/// The node.
pub struct Node {
    val: Payload,
    edges: Mutex<[Option<Gc<Node>>; SLOTS]>,
}

// SAFETY: reports the `Gc`s the node owns (its edge slots) through the `Mutex`'s own `Trace`,
// which holds the lock with the tracer (or reports the node busy), and nothing else.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        self.edges.trace(tracer);
    }
}

/// `cyclegc::sync` with default settings: automatic collection on.
pub struct CyclegcSync;

/// `cyclegc::sync` with automatic collection disabled; the workloads call `collect()`
/// explicitly.
pub struct CyclegcSyncManual;

mutex_peer!(
    CyclegcSync,
    name: "cyclegc-sync",
    krate: concat!("cyclegc ", env!("CARGO_PKG_VERSION"), " (sync)"),
    auto: true,
    ptr: Gc,
    new: Gc::new,
    node: |p| p,
    collect: cyclegc::sync::collect(),
    setup: {
        cyclegc::sync::enable();
        crate::peers::cyclegc::thresholds_from_env(cyclegc::sync::set_thresholds);
    },
);

mutex_peer!(
    CyclegcSyncManual,
    name: "cyclegc-sync-manual",
    krate: concat!("cyclegc ", env!("CARGO_PKG_VERSION"), " (sync, automatic collection off)"),
    auto: false,
    ptr: Gc,
    new: Gc::new,
    node: |p| p,
    collect: cyclegc::sync::collect(),
    setup: cyclegc::sync::disable(),
);
