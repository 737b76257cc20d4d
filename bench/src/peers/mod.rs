//! One module per column. Each defines its own node type (the same shape everywhere: a
//! [`Payload`](crate::Payload) and `SLOTS` edge slots in a `RefCell`, or `GcCell` for `gc`)
//! and implements [`Peer`](crate::Peer) for it. `Trace` is written by hand everywhere: the
//! cyclegc derive is not used, gcmodule's derive overflows on recursive types, bacon_rajan_cc
//! has none.

pub mod bacon;
pub mod cyclegc;
pub mod dumpster;
pub mod gc;
pub mod gcmodule;
pub mod rc;
pub mod rustcc;

pub use self::bacon::Bacon;
pub use self::cyclegc::{Cyclegc, CyclegcManual};
pub use self::dumpster::Dumpster;
pub use self::gc::GcCrate;
pub use self::gcmodule::Gcmodule;
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
        } else {
            $default
        }
    }};
}

/// Every column's `NAME`, in table order.
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
