//! DESIGN.md §2.9: tracing is bounded in stack whatever the data. A value that nests a
//! million containers deep (`Option<Box<Cell>>` lists, `Vec` chains, a `RefCell` or a
//! `Mutex` at every level) is traced on a 256 KiB stack; borrows and locks taken while
//! tracing are all released afterwards, also when a `Trace` panics deep inside.
#![cfg(feature = "derive")]

use std::cell::{Cell, RefCell};
use std::sync::Mutex;

use cyclegc::{Gc, Trace, Tracer};

const N: usize = if cfg!(miri) { 300 } else { 1_000_000 };

thread_local! {
    static CELLS_DROPPED: Cell<usize> = const { Cell::new(0) };
}

fn cells_dropped() -> usize {
    CELLS_DROPPED.with(Cell::get)
}

fn count_cell_drop() {
    CELLS_DROPPED.with(|d| d.set(d.get() + 1));
}

/// Runs `f` on a thread with a 256 KiB stack.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

/// The object a list hangs from; every cell of the list points back at it, so the hub and
/// its list are one garbage cycle once the last outside handle goes.
struct Hub<L> {
    list: RefCell<Option<L>>,
}

// SAFETY: reports what the list owns.
unsafe impl<L: Trace> Trace for Hub<L> {
    fn trace(&self, tracer: &mut Tracer) {
        self.list.trace(tracer);
    }
}

/// Builds a hub, hangs `N` cells built by `cell(next, hub)` from it, drops the hub and
/// collects: exactly the hub goes, and with it every cell.
fn collect_hub_with_list<L: Trace + 'static>(cell: impl Fn(Option<L>, Gc<Hub<L>>) -> L) {
    let hub = Gc::new(Hub {
        list: RefCell::new(None),
    });
    let mut list = None;
    for _ in 0..N {
        list = Some(cell(list, hub.clone()));
    }
    *hub.list.borrow_mut() = list;
    let before = cells_dropped();
    drop(hub);
    assert_eq!(cyclegc::collect(), 1);
    assert_eq!(cells_dropped() - before, N);
}

/// A singly linked list of boxes (with an iterative `Drop`: dropping is not what is tested).
#[derive(Trace)]
struct BoxCell {
    next: Option<Box<BoxCell>>,
    hub: Gc<Hub<Box<BoxCell>>>,
}

impl Drop for BoxCell {
    fn drop(&mut self) {
        count_cell_drop();
        let mut next = self.next.take();
        while let Some(mut cell) = next {
            next = cell.next.take();
        }
    }
}

#[test]
fn a_million_nested_boxes_are_traced_on_a_small_stack() {
    on_small_stack(|| {
        collect_hub_with_list(|next, hub| Box::new(BoxCell { next, hub }));
    });
}

/// The same list with a `RefCell` at every level: the borrows must stay held while what is
/// inside them is traced, and all be released afterwards.
#[derive(Trace)]
struct RefCellCell {
    next: RefCell<Option<Box<RefCellCell>>>,
    hub: Gc<Hub<Box<RefCellCell>>>,
}

impl Drop for RefCellCell {
    fn drop(&mut self) {
        count_cell_drop();
        let mut next = self.next.get_mut().take();
        while let Some(mut cell) = next {
            next = cell.next.get_mut().take();
        }
    }
}

#[test]
fn a_million_nested_ref_cells_are_traced_on_a_small_stack() {
    on_small_stack(|| {
        collect_hub_with_list(|next, hub| {
            Box::new(RefCellCell {
                next: RefCell::new(next),
                hub,
            })
        });
    });
}

/// With a `Mutex` at every level.
#[derive(Trace)]
struct MutexCell {
    next: Mutex<Option<Box<MutexCell>>>,
    hub: Gc<Hub<Box<MutexCell>>>,
}

impl Drop for MutexCell {
    fn drop(&mut self) {
        count_cell_drop();
        let mut next = self.next.get_mut().unwrap().take();
        while let Some(mut cell) = next {
            next = cell.next.get_mut().unwrap().take();
        }
    }
}

#[test]
fn a_million_nested_mutexes_are_traced_on_a_small_stack() {
    on_small_stack(|| {
        collect_hub_with_list(|next, hub| {
            Box::new(MutexCell {
                next: Mutex::new(next),
                hub,
            })
        });
    });
}

/// A chain of one-element `Vec`s.
#[derive(Trace)]
struct VecCell {
    next: Vec<VecCell>,
    hub: Gc<Hub<VecCell>>,
}

impl Drop for VecCell {
    fn drop(&mut self) {
        count_cell_drop();
        let mut next = std::mem::take(&mut self.next);
        while let Some(mut cell) = next.pop() {
            next = std::mem::take(&mut cell.next);
        }
    }
}

#[test]
fn a_million_nested_vecs_are_traced_on_a_small_stack() {
    on_small_stack(|| {
        collect_hub_with_list(|next, hub| VecCell {
            next: next.into_iter().collect(),
            hub,
        });
    });
}

/// A list whose deepest cell's `trace` panics: the collection goes on without it, the panic
/// comes out of `collect`, and every `RefCell` borrowed on the way down is released.
struct Fuse {
    next: RefCell<Option<Box<Fuse>>>,
    hub: Option<Gc<Hub<Box<Fuse>>>>,
    explode: bool,
}

// SAFETY: reports its owned `Gc`s; panicking is allowed.
unsafe impl Trace for Fuse {
    fn trace(&self, tracer: &mut Tracer) {
        if self.explode {
            panic!("the deepest cell's trace panics");
        }
        self.next.trace(tracer);
        self.hub.trace(tracer);
    }
}

impl Drop for Fuse {
    fn drop(&mut self) {
        let mut next = self.next.get_mut().take();
        while let Some(mut cell) = next {
            next = cell.next.get_mut().take();
        }
    }
}

#[test]
fn a_trace_panicking_deep_inside_nested_cells_releases_every_borrow() {
    const DEPTH: usize = if cfg!(miri) { 100 } else { 10_000 };
    let hub = Gc::new(Hub {
        list: RefCell::new(None),
    });
    let mut list = Some(Box::new(Fuse {
        next: RefCell::new(None),
        hub: None,
        explode: true,
    }));
    for _ in 0..DEPTH {
        list = Some(Box::new(Fuse {
            next: RefCell::new(list),
            hub: Some(hub.clone()),
            explode: false,
        }));
    }
    *hub.list.borrow_mut() = list;
    let weak = Gc::downgrade(&hub);
    drop(hub);
    let err = std::panic::catch_unwind(cyclegc::collect).unwrap_err();
    assert_eq!(
        *err.downcast_ref::<&str>().unwrap(),
        "the deepest cell's trace panics"
    );
    // The edges past the panic were never reported, so the hub counts as referenced.
    let hub = weak.upgrade().expect("kept alive");
    // Every cell can be borrowed mutably again: no borrow outlived the collection.
    let mut cell = hub.list.borrow_mut().take();
    let mut depth = 0;
    while let Some(c) = cell {
        cell = c
            .next
            .try_borrow_mut()
            .expect("the borrow was released")
            .take();
        depth += 1;
    }
    assert_eq!(depth, DEPTH + 1);
}
