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
pub(crate) mod header;
mod heap;
mod hooks;
mod local;
mod registry;
mod weak;

pub use crate::cycle::{GenerationStats, Stats};
pub use crate::hooks::{CallbackId, CallbackPhase, CollectionEvent};
pub use any::AnyGc;
pub use gc::Gc;
pub use heap::{objects, objects_in, referents, referrers};
pub use local::{
    add_callback, collect, collect_generation, count, counts, disable, enable, freeze,
    freeze_count, is_enabled, remove_callback, save_all, set_save_all, set_threshold,
    set_thresholds, stats, take_garbage, threshold, thresholds, unfreeze,
};
pub use weak::Weak;
