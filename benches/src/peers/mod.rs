//! One module per column. Each defines its own node type (the same shape everywhere: a
//! [`Payload`](crate::Payload) and `SLOTS` edge slots in a `RefCell`, or `GcCell` for `gc`)
//! and implements [`Peer`](crate::Peer) for it. `Trace` is written by hand everywhere: the
//! cyclegc derive is not used, gcmodule's derive overflows on recursive types, bacon_rajan_cc
//! has none.
//!
//! The thread-safe columns (`arc`, `cyclegc_sync` (two), `dumpster_sync`, `gcmodule_sync`) keep
//! the same node with its edge slots in a `std::sync::Mutex`, and also implement
//! [`SyncPeer`](crate::SyncPeer).

/// The `Peer` impl shared by every column whose node is `{ val: Payload, edges:
/// RefCell<[Option<$ptr>; SLOTS]> }` (all but `rc` and `gc`): only the names, the pointer
/// type's constructor and the collect call differ.
macro_rules! refcell_peer {
    (
        $peer:ty, name: $name:expr, krate: $krate:expr, auto: $auto:expr,
        ptr: $ptr:ident, collect: $collect:expr $(, setup: $setup:expr)? $(,)?
    ) => {
        impl $crate::Peer for $peer {
            const NAME: &'static str = $name;
            const CRATE: &'static str = $krate;
            const AUTO: bool = $auto;
            type P = $ptr<Node>;

            $(fn setup() {
                $setup;
            })?

            #[inline]
            fn new(val: u64) -> $ptr<Node> {
                $ptr::new(Node {
                    val: $crate::Payload::new(val),
                    edges: ::std::cell::RefCell::new([None, None, None]),
                })
            }

            #[inline]
            fn val(p: &$ptr<Node>) -> u64 {
                p.val.0
            }

            #[inline]
            fn set_edge(p: &$ptr<Node>, slot: usize, to: $ptr<Node>, _kind: $crate::Edge) {
                let old = p.edges.borrow_mut()[slot].replace(to);
                drop(old);
            }

            #[inline]
            fn clear_edge(p: &$ptr<Node>, slot: usize) {
                let old = p.edges.borrow_mut()[slot].take();
                drop(old);
            }

            #[inline]
            fn edge(p: &$ptr<Node>, slot: usize) -> Option<$ptr<Node>> {
                p.edges.borrow()[slot].clone()
            }

            fn collect() {
                $collect;
            }

            fn node_size() -> usize {
                ::std::mem::size_of::<Node>()
            }
        }
    };
}

/// The `Peer` and `SyncPeer` impls shared by the thread-safe columns whose node is `{ val:
/// Payload, edges: Mutex<[Option<$ptr>; SLOTS]> }`: [`refcell_peer!`] with a `Mutex` for the
/// `RefCell`. `new` makes a pointer from a node, and `node: |p| ...` gets from a pointer `p` to
/// something that derefs to the node (`&**p`, or gcmodule's `p.borrow()`).
macro_rules! mutex_peer {
    (
        $peer:ty, name: $name:expr, krate: $krate:expr, auto: $auto:expr,
        ptr: $ptr:ident, new: $new:expr, node: |$p:ident| $node:expr,
        collect: $collect:expr $(, setup: $setup:expr)? $(,)?
    ) => {
        impl $crate::SyncPeer for $peer {}

        impl $crate::Peer for $peer {
            const NAME: &'static str = $name;
            const CRATE: &'static str = $krate;
            const AUTO: bool = $auto;
            type P = $ptr<Node>;

            $(fn setup() {
                $setup;
            })?

            #[inline]
            fn new(val: u64) -> $ptr<Node> {
                ($new)(Node {
                    val: $crate::Payload::new(val),
                    edges: ::std::sync::Mutex::new([None, None, None]),
                })
            }

            #[inline]
            fn val($p: &$ptr<Node>) -> u64 {
                $node.val.0
            }

            #[inline]
            fn set_edge($p: &$ptr<Node>, slot: usize, to: $ptr<Node>, _kind: $crate::Edge) {
                let old = $node.edges.lock().unwrap()[slot].replace(to);
                drop(old);
            }

            #[inline]
            fn clear_edge($p: &$ptr<Node>, slot: usize) {
                let old = $node.edges.lock().unwrap()[slot].take();
                drop(old);
            }

            #[inline]
            fn edge($p: &$ptr<Node>, slot: usize) -> Option<$ptr<Node>> {
                $node.edges.lock().unwrap()[slot].clone()
            }

            fn collect() {
                $collect;
            }

            fn node_size() -> usize {
                ::std::mem::size_of::<Node>()
            }
        }
    };
}

pub mod arc;
pub mod bacon;
pub mod cyclegc;
pub mod cyclegc_sync;
pub mod dumpster;
pub mod dumpster_sync;
pub mod gc;
pub mod gcmodule;
pub mod gcmodule_sync;
pub mod rc;
pub mod rustcc;

pub use self::arc::ArcFloor;
pub use self::bacon::Bacon;
pub use self::cyclegc::{Cyclegc, CyclegcManual};
pub use self::cyclegc_sync::{CyclegcSync, CyclegcSyncManual};
pub use self::dumpster::Dumpster;
pub use self::dumpster_sync::DumpsterSync;
pub use self::gc::GcCrate;
pub use self::gcmodule::Gcmodule;
pub use self::gcmodule_sync::GcmoduleSync;
pub use self::rc::RcFloor;
pub use self::rustcc::RustCc;

/// Calls `$mac!(PeerType)` for one column chosen by its `NAME` at run time; `$default` if no
/// column has that name. Column order here is the order of the tables.
#[macro_export]
macro_rules! for_peer {
    ($name:expr, $mac:ident, $default:expr) => {{
        use $crate::peers::*;
        use $crate::Peer as _;
        let name: &str = $name;
        if name == RcFloor::NAME {
            $mac!(RcFloor)
        } else if name == Cyclegc::NAME {
            $mac!(Cyclegc)
        } else if name == CyclegcManual::NAME {
            $mac!(CyclegcManual)
        } else if name == RustCc::NAME {
            $mac!(RustCc)
        } else if name == Bacon::NAME {
            $mac!(Bacon)
        } else if name == Gcmodule::NAME {
            $mac!(Gcmodule)
        } else if name == Dumpster::NAME {
            $mac!(Dumpster)
        } else if name == GcCrate::NAME {
            $mac!(GcCrate)
        } else if name == ArcFloor::NAME {
            $mac!(ArcFloor)
        } else if name == CyclegcSync::NAME {
            $mac!(CyclegcSync)
        } else if name == CyclegcSyncManual::NAME {
            $mac!(CyclegcSyncManual)
        } else if name == DumpsterSync::NAME {
            $mac!(DumpsterSync)
        } else if name == GcmoduleSync::NAME {
            $mac!(GcmoduleSync)
        } else {
            $default
        }
    }};
}

/// [`for_peer!`] for the thread-safe columns only, whose types are [`SyncPeer`](crate::SyncPeer)s:
/// `$mac!(PeerType)` for the one named, `$default` if it is not a thread-safe column.
#[macro_export]
macro_rules! for_sync_peer {
    ($name:expr, $mac:ident, $default:expr) => {{
        use $crate::peers::*;
        use $crate::Peer as _;
        let name: &str = $name;
        if name == ArcFloor::NAME {
            $mac!(ArcFloor)
        } else if name == CyclegcSync::NAME {
            $mac!(CyclegcSync)
        } else if name == CyclegcSyncManual::NAME {
            $mac!(CyclegcSyncManual)
        } else if name == DumpsterSync::NAME {
            $mac!(DumpsterSync)
        } else if name == GcmoduleSync::NAME {
            $mac!(GcmoduleSync)
        } else {
            $default
        }
    }};
}

/// Every single-threaded column's `NAME`, in table order.
pub const ALL: &[&str] = &[
    "rc",
    "cyclegc",
    "cyclegc-manual",
    "rust-cc",
    "bacon_rajan_cc",
    "gcmodule",
    "dumpster",
    "gc",
];

/// Every thread-safe column's `NAME`, in table order (`peerbench table --sync`).
pub const SYNC: &[&str] = &[
    "arc",
    "cyclegc-sync",
    "cyclegc-sync-manual",
    "dumpster-sync",
    "gcmodule-sync",
];
