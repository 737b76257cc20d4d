//! Reference counting with a cycle collector: Python's memory model for Rust.
//!
//! [`Gc<T>`] is an [`Rc<T>`](std::rc::Rc) that does not leak cycles. Values are freed the
//! moment their last strong reference goes, exactly like `Rc`; the garbage that reference
//! counting cannot free — objects that only keep each other alive — is found by a cycle
//! collector modelled on CPython's `gc` module: [`collect`] runs it, and it also runs by
//! itself when enough *possible cycle roots* have accumulated (see [`set_threshold`]).
//!
//! ```
//! use std::cell::RefCell;
//! use cyclegc::{Gc, Trace, Weak};
//!
//! #[derive(Trace)]
//! struct Node {
//!     name: String,
//!     parent: RefCell<Weak<Node>>,          // not an edge: never keeps anything alive
//!     children: RefCell<Vec<Gc<Node>>>,
//!     observers: RefCell<Vec<Gc<Node>>>,    // strong back-references: cycles
//! }
//!
//! fn node(name: &str) -> Gc<Node> {
//!     Gc::new(Node {
//!         name: name.into(),
//!         parent: RefCell::new(Weak::new()),
//!         children: RefCell::new(Vec::new()),
//!         observers: RefCell::new(Vec::new()),
//!     })
//! }
//!
//! let root = node("root");
//! let leaf = node("leaf");
//! *leaf.parent.borrow_mut() = Gc::downgrade(&root);
//! root.children.borrow_mut().push(leaf.clone());
//! leaf.observers.borrow_mut().push(root.clone()); // root -> leaf -> root
//! assert_eq!(leaf.parent.borrow().upgrade().unwrap().name, "root");
//!
//! drop((root, leaf)); // with `Rc`, both would leak here
//! assert_eq!(cyclegc::collect(), 2);
//! ```
//!
//! # How it works
//!
//! * Every allocation carries a strong count, a weak count with five flags, and a pointer to
//!   its type's vtable (three words; `Rc` has two). Clone is `Rc`'s clone; drop and deref add
//!   one flag test.
//! * A drop that leaves the strong count above zero may have orphaned a cycle; the object is
//!   recorded once in a per-thread buffer of possible roots. Types that can never own a `Gc`
//!   ([`Trace::may_contain_gc`] is `false`: `Gc<String>`, `Gc<Vec<u8>>`, most derived leaf
//!   types) are never buffered, like CPython's untracked objects.
//! * A collection is *synchronous trial deletion* (Bacon & Rajan, 2001) computed the way
//!   CPython computes `gc_refs`: trace everything reachable from the buffered roots once,
//!   subtract the references found inside that subgraph from side counters, keep what is
//!   still referenced from outside and what it reaches, and destroy the rest. Real counts are
//!   never modified, so a panic anywhere leaves them true; every phase uses explicit work
//!   lists, so deep structures never overflow the stack. `ARCHITECTURE.md` has the details.
//!
//! # The `Trace` contract
//!
//! The collector learns the object graph from [`Trace`], an `unsafe trait` that reports every
//! `Gc` a value owns. `#[derive(Trace)]` writes it for you; fields that own no `Gc` can be
//! skipped with `#[trace(skip)]`. Leaving an edge out is always safe (what it points to is
//! treated as referenced from outside, so at worst a cycle leaks); reporting an edge that is
//! not there is what the trait's safety contract forbids.
//!
//! # Trait objects and slices
//!
//! `Gc<dyn Trait>` is made from a `Gc` of a concrete type with [`unsize!`] (stable Rust has
//! no implicit unsizing for library pointers): `unsize!(gc => dyn Observer)`. The collector
//! traces and drops the value through its real type, so cycles through trait objects are
//! collected like any other; `Gc<dyn Any>` has [`downcast`](Gc::downcast). A value that is
//! already a `Box<dyn Trait>` converts with `Gc::from(boxed)` when `Trace` is a supertrait
//! of `Trait` (`trait Observer: Trace`), which is how the collector reaches its edges.
//!
//! ```
//! use std::cell::RefCell;
//! use cyclegc::{unsize, Gc, Trace};
//!
//! trait Observer: Trace {
//!     fn notify(&self, event: &str);
//! }
//!
//! #[derive(Trace)]
//! struct Subject {
//!     observers: RefCell<Vec<Gc<dyn Observer>>>,
//! }
//!
//! #[derive(Trace)]
//! struct Logger {
//!     subject: Gc<Subject>, // back to the subject: a cycle through a trait object
//!     #[trace(skip)]
//!     seen: RefCell<Vec<String>>,
//! }
//!
//! impl Observer for Logger {
//!     fn notify(&self, event: &str) {
//!         self.seen.borrow_mut().push(event.to_string());
//!     }
//! }
//!
//! let subject = Gc::new(Subject { observers: RefCell::new(Vec::new()) });
//! let logger = Gc::new(Logger { subject: subject.clone(), seen: RefCell::new(Vec::new()) });
//! subject.observers.borrow_mut().push(unsize!(logger.clone() => dyn Observer));
//! for observer in subject.observers.borrow().iter() {
//!     observer.notify("started");
//! }
//! assert_eq!(logger.seen.borrow().len(), 1);
//! drop((subject, logger));
//! assert_eq!(cyclegc::collect(), 2);
//! ```
//!
//! `Gc<[T]>` and `Gc<str>` are made as with `Rc`: `From` a `Vec`, a slice, an array, a
//! `Box`, a `String` or a `&str`, or collected from an iterator; their elements are traced
//! one by one.
//!
//! ```
//! use cyclegc::Gc;
//! let squares: Gc<[u32]> = (1..=3).map(|n| n * n).collect();
//! let name: Gc<str> = Gc::from("cyclegc");
//! assert_eq!((&*squares, &*name), (&[1, 4, 9][..], "cyclegc"));
//! ```
//!
//! # Closures
//!
//! Rust gives no way to list what a closure captured, so a `Box<dyn Fn()>` cannot be
//! traced, and an event handler that captures its own widget would keep it alive for ever.
//! Either capture [`Weak`]s (upgrading them on each call) in a closure kept in an
//! [`Untraced`], or use [`TracedFn`]: the values the closure works on become a traced part
//! of it, and its function, which must be `Copy` (so it cannot own a `Gc`), receives them on
//! each call. Store them as `Box<dyn Callback<Args>>`, which is `Trace`:
//!
//! ```
//! use std::cell::RefCell;
//! use cyclegc::{Callback, Gc, Trace, TracedFn};
//!
//! #[derive(Trace)]
//! struct Button {
//!     on_click: RefCell<Vec<Box<dyn Callback<()>>>>,
//! }
//!
//! let button = Gc::new(Button { on_click: RefCell::new(Vec::new()) });
//! let handler = TracedFn::new(button.clone(), |_button: &Gc<Button>, (): ()| {});
//! button.on_click.borrow_mut().push(Box::new(handler)); // button -> handler -> button
//! drop(button);
//! assert_eq!(cyclegc::collect(), 1);
//! ```
//!
//! The `Weak`-capture pattern needs no collector at all: the closure holds no strong
//! reference, so there is no cycle to find (but it must cope with the widget being gone).
//!
//! ```
//! use std::cell::{Cell, RefCell};
//! use cyclegc::{Gc, Trace, Untraced};
//!
//! #[derive(Trace)]
//! struct Counter {
//!     #[trace(skip)]
//!     clicks: Cell<u32>,
//!     on_click: RefCell<Vec<Untraced<Box<dyn Fn()>>>>,
//! }
//!
//! let counter = Gc::new(Counter { clicks: Cell::new(0), on_click: RefCell::new(Vec::new()) });
//! let me = Gc::downgrade(&counter);
//! let handler: Box<dyn Fn()> = Box::new(move || {
//!     if let Some(me) = me.upgrade() {
//!         me.clicks.set(me.clicks.get() + 1);
//!     }
//! });
//! counter.on_click.borrow_mut().push(Untraced(handler));
//! for handler in counter.on_click.borrow().iter() {
//!     handler();
//! }
//! assert_eq!(counter.clicks.get(), 1);
//! let weak = Gc::downgrade(&counter);
//! drop(counter); // freed at once: the handler held only a `Weak`
//! assert!(weak.upgrade().is_none());
//! ```
//!
//! # Dropping garbage
//!
//! When a cycle is collected, every member is first marked dead: [`Weak::upgrade`] returns
//! `None` for it from then on. Then the values are dropped, one at a time. A `Drop` impl that
//! dereferences another member of the same cycle panics with a clear message instead of
//! touching a dropped value; [`Gc::try_deref`] is the non-panicking way. A handle cloned or
//! stored during `Drop` keeps the (dead) header allocated but does not resurrect the value.
//! Panics in `Drop` are caught, the rest of the garbage is destroyed, and the first panic is
//! resumed from [`collect`] (a panic caught by an automatic collection is kept for the next
//! `collect()`: it never unwinds out of `Gc::new`).
//!
//! # Coming from `Rc` and `Arc`
//!
//! Every function of `std::rc::Rc` and `std::rc::Weak` has a counterpart of the same name
//! on [`Gc`] and [`Weak`], and every one of `std::sync::Arc`/`Weak` on [`sync::Gc`] and
//! [`sync::Weak`]:
//!
//! | `std` | `cyclegc` |
//! |---|---|
//! | `new`, `new_cyclic`, `pin` | `Gc::new`, `Gc::new_cyclic`, `Gc::pin` |
//! | `clone`, `strong_count`, `weak_count`, `downgrade`, `ptr_eq` | the same names |
//! | `as_ptr`, `into_raw`, `from_raw`, `increment_strong_count`, `decrement_strong_count` | the same names |
//! | `get_mut`, `make_mut`, `try_unwrap`, `into_inner`, `unwrap_or_clone` | the same names |
//! | `Rc<dyn Trait>` by coercion, `downcast` | [`unsize!`]`(gc => dyn Trait)`, `Gc::downcast` |
//! | `Rc<[T]>`, `Rc<str>` `From` a `Vec`, `&[T]`, array, `Box`, `String`, `&str`; `FromIterator`; `From<Box<T>>` (`T` sized or not: `Box<dyn Trait>`) | the same impls |
//! | `Weak::new`, `upgrade`, `strong_count`, `weak_count`, `ptr_eq`, `as_ptr`, `into_raw`, `from_raw` | the same names |
//! | — | `Gc::try_deref` (a value the collector destroyed), [`collect`], [`sync::collect`] |
//!
//! # Python's `gc` module, mapped
//!
//! | Python | cyclegc |
//! |---|---|
//! | `gc.collect()`, `gc.collect(n)` | [`collect`] (returns the number of objects freed), [`collect_generation`] |
//! | `gc.enable()`, `gc.disable()`, `gc.isenabled()` | [`enable`], [`disable`], [`is_enabled`] |
//! | `gc.get_threshold()`, `gc.set_threshold()` | [`thresholds`], [`set_thresholds`] ([`threshold`], [`set_threshold`]: generation 0's) |
//! | `gc.get_count()` | [`counts`] ([`count`]: generation 0's) |
//! | `gc.freeze()`, `gc.unfreeze()`, `gc.get_freeze_count()` | [`freeze`], [`unfreeze`], [`freeze_count`] |
//! | `gc.get_stats()` | [`stats`] → [`Stats`] (`generations[n]`: a [`GenerationStats`] per generation; `Display` prints a table) |
//! | `gc.callbacks.append(f)`, `.remove(f)` | [`add_callback`] → [`CallbackId`], [`remove_callback`]; `f` gets a [`CollectionEvent`] (its [`CallbackPhase`], generation, counts and duration) |
//! | `gc.set_debug(gc.DEBUG_SAVEALL)`, `gc.garbage` | [`set_save_all`], [`save_all`], [`take_garbage`] |
//! | `sys.getrefcount(x)`, `id(x)`, `x is y` | [`Gc::strong_count`], [`Gc::as_ptr`], [`Gc::ptr_eq`] |
//! | `gc.is_tracked(x)` | [`Gc::is_tracked`] |
//! | `gc.get_objects()`, `gc.get_objects(n)`, `gc.get_referents(x)`, `gc.get_referrers(x)` | [`objects`], [`objects_in`], [`referents`], [`referrers`] (this thread's heap) |
//! | an object of any type, as `gc` hands it out | [`AnyGc`] ([`AnyGc::type_name`], [`AnyGc::as_ptr`], [`AnyGc::strong_count`], [`AnyGc::ptr_eq`], [`AnyGc::downcast`]) |
//! | `weakref.ref` | [`Weak`] |
//!
//! Every function of this table works on the calling thread's heap; the thread-safe flavour
//! has each under the same name for the shared heap ([`sync::collect`],
//! [`sync::collect_generation`], [`sync::freeze`], [`sync::stats`], [`sync::add_callback`],
//! [`sync::set_save_all`], [`sync::objects`], [`sync::AnyGc`], …), whose `objects` lists
//! every thread's objects.
//!
//! # Threads
//!
//! `Gc` is `!Send` and `!Sync`; every thread has its own heap and collector, and
//! [`collect`] collects the calling thread's heap. When a thread exits, the garbage cycles it
//! left are collected; objects still referenced from elsewhere (another thread-local's
//! destructor, say) stay valid.
//!
//! This single-threaded flavour is the module [`unsync`]; the crate root re-exports it, so
//! `cyclegc::Gc` and `cyclegc::unsync::Gc` are the same type.
//!
//! To share a graph between threads, use the thread-safe flavour, [`sync`]: `sync::Gc<T>`
//! and `sync::Weak<T>` are `Send + Sync` when `T` is, traced fields are mutated through
//! std's `Mutex`, `RwLock` or `OnceLock`, and one heap serves the process: `sync::collect()`
//! on any thread reclaims the cycles dropped on every thread, also on threads that have
//! exited. A graph shared by worker threads:
//!
//! ```
//! use std::sync::Mutex;
//! use std::thread;
//! use cyclegc::sync::{self, Gc};
//! use cyclegc::Trace;
//!
//! #[derive(Trace)]
//! struct Node {
//!     edges: Mutex<Vec<Gc<Node>>>,
//! }
//!
//! let hub = Gc::new(Node { edges: Mutex::new(Vec::new()) });
//! let workers: Vec<_> = (0..4)
//!     .map(|_| {
//!         let hub = hub.clone();
//!         thread::spawn(move || {
//!             // Each worker adds a node with an edge back to the hub: a cycle.
//!             let node = Gc::new(Node { edges: Mutex::new(vec![hub.clone()]) });
//!             hub.edges.lock().unwrap().push(node);
//!         })
//!     })
//!     .collect();
//! for worker in workers {
//!     worker.join().unwrap();
//! }
//! drop(hub);
//! assert_eq!(sync::collect(), 5); // the hub and its four nodes
//! ```
//!
//! # Features
//!
//! * `derive` (default): `#[derive(Trace)]`, re-exported from `cyclegc-derive`.
//! * `serde`: `Serialize`/`Deserialize` for `Gc` and `Weak`, as serde's `rc` feature does
//!   for `Rc` (sharing is not preserved).
//! * `Trace` for other crates' types, each behind the feature named after the crate:
//!   `hashbrown` (`HashMap`, `HashSet`), `indexmap` (`IndexMap`, `IndexSet`), `smallvec`
//!   (`SmallVec`), `arrayvec` (`ArrayVec`, `ArrayString`), `slotmap` (its maps' values),
//!   `serde_json` (`Value`, untracked), `parking_lot` (`Mutex`, `RwLock`).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(
    missing_docs,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]
// Without 64-bit atomics there is no thread-safe flavour, and some of the machinery the
// flavours share is then used by the single-threaded one alone.
#![cfg_attr(not(target_has_atomic = "64"), allow(dead_code, unused_macros))]

// Lets the derive's `::cyclegc::` paths resolve inside this crate's own tests.
extern crate self as cyclegc;

mod any;
mod callback;
mod cycle;
mod handle;
mod hooks;
mod impls;
mod panics;
mod primitive;
mod release;
#[cfg(feature = "serde")]
mod serde_impls;
#[cfg(target_has_atomic = "64")]
pub mod sync;
mod trace;
mod unsize;
pub mod unsync;
mod untraced;

pub use crate::callback::{Callback, TracedFn};
pub use crate::trace::{Trace, Tracer};
#[doc(inline)]
pub use crate::unsync::{
    add_callback, collect, collect_generation, count, counts, disable, enable, freeze,
    freeze_count, is_enabled, objects, objects_in, referents, referrers, remove_callback, save_all,
    set_save_all, set_threshold, set_thresholds, stats, take_garbage, threshold, thresholds,
    unfreeze, AnyGc, CallbackId, CallbackPhase, CollectionEvent, Gc, GenerationStats, Stats, Weak,
};
pub use crate::untraced::Untraced;

/// Derives [`Trace`] for structs and enums; see the trait docs for an example.
///
/// * Every field is traced, except those marked `#[trace(skip)]` (which need not implement
///   `Trace` at all).
/// * Generic types get a `FieldType: Trace` bound for each field that mentions a type
///   parameter, on the impl only; recursive and mutually recursive types work.
/// * [`Trace::may_contain_gc`] is computed from the field types, so a derived type with no
///   `Gc` inside is untracked. A `#[trace(skip)]` field counts as possibly owning a `Gc`,
///   since the derive cannot look inside it.
/// * No `Drop` impl is generated: write your own if you need one.
#[cfg(feature = "derive")]
pub use cyclegc_derive::Trace;

#[doc(hidden)]
pub mod __private {
    pub use crate::trace::{Acyclic, MAY_CONTAIN_GC_DEPTH_LIMIT};
    pub use crate::unsize::Unsize;
}

/// The README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
