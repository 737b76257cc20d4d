//! The single-threaded flavour: [`Gc`], [`Weak`], and each thread's collector with the
//! Python-style functions that control it ([`collect`], [`enable`], [`set_threshold`] …).
//!
//! Everything here is also re-exported at the crate root, so `cyclegc::Gc` and
//! `cyclegc::unsync::Gc` are the same type. `Gc` is `!Send` and `!Sync`: each thread has its
//! own heap and collector, and [`collect`] collects the calling thread's.
//!
//! ```
//! use std::cell::RefCell;
//! use cyclegc::unsync::{collect, Gc};
//! use cyclegc::Trace;
//!
//! #[derive(Trace)]
//! struct Node(RefCell<Option<Gc<Node>>>);
//!
//! let a = Gc::new(Node(RefCell::new(None)));
//! *a.0.borrow_mut() = Some(a.clone()); // a cycle
//! drop(a);
//! assert_eq!(collect(), 1);
//! ```

mod any;
mod collector;
mod gc;
mod header;
mod heap;
mod local;
mod registry;
mod weak;

pub use crate::cycle::Stats;
pub use any::AnyGc;
pub use gc::Gc;
pub use heap::{objects, referents, referrers};
pub use local::{collect, count, disable, enable, is_enabled, set_threshold, stats, threshold};
pub use weak::Weak;
