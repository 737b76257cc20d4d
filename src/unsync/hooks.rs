//! [`Hooks`]: what a thread's collector does beside collecting — the callbacks around each
//! collection (Python's `gc.callbacks`) and the saved garbage (`gc.DEBUG_SAVEALL`,
//! `gc.garbage`).
//!
//! Callbacks are user code: they run with no borrow of this state held (the list is cloned
//! first), and one that panics is removed, its panic recorded with the collection's own.

use std::cell::{Cell, RefCell};
use std::mem::ManuallyDrop;
use std::rc::Rc;

use crate::hooks::{CallbackId, CollectionEvent};
use crate::panics::{drop_payload, Panics};
use crate::unsync::any::AnyGc;
use std::panic::{self, AssertUnwindSafe};

/// A registered callback.
type Callback = Rc<RefCell<dyn FnMut(&CollectionEvent)>>;

/// The callbacks and saved garbage of one thread. No destructor, like the collector that
/// holds it: [`Hooks::release`] gives everything back at the thread's last exit hook.
pub(crate) struct Hooks {
    callbacks: RefCell<ManuallyDrop<Vec<(CallbackId, Callback)>>>,
    save_all: Cell<bool>,
    /// What collections found unreachable while `save_all` was on, each kept alive by its
    /// handle.
    garbage: RefCell<ManuallyDrop<Vec<AnyGc>>>,
}

impl Hooks {
    pub(crate) const fn new() -> Hooks {
        Hooks {
            callbacks: RefCell::new(ManuallyDrop::new(Vec::new())),
            save_all: Cell::new(false),
            garbage: RefCell::new(ManuallyDrop::new(Vec::new())),
        }
    }

    pub(crate) fn add(&self, callback: impl FnMut(&CollectionEvent) + 'static) -> CallbackId {
        let id = CallbackId::unique();
        let callback: Callback = Rc::new(RefCell::new(callback));
        self.callbacks.borrow_mut().push((id, callback));
        id
    }

    pub(crate) fn remove(&self, id: CallbackId) -> bool {
        let removed = {
            let mut callbacks = self.callbacks.borrow_mut();
            let at = callbacks.iter().position(|(listed, _)| *listed == id);
            at.map(|at| callbacks.remove(at))
        };
        // Dropped with no borrow held: the closure's captures are user values.
        removed.is_some()
    }

    /// Whether any callback is registered (so that a collection with none reads no clock).
    pub(crate) fn any(&self) -> bool {
        !self.callbacks.borrow().is_empty()
    }

    /// Calls every callback with `event`, in the order they were added. One that panics is
    /// removed, and its panic recorded in `panics`; the others still run. A callback added
    /// or removed by another callback takes effect from the next event.
    pub(crate) fn call(&self, event: &CollectionEvent, panics: &mut Panics) {
        let callbacks: Vec<(CallbackId, Callback)> = self.callbacks.borrow().to_vec();
        for (id, callback) in callbacks {
            // A callback is never called while it runs: a collection inside one does nothing.
            let completed = match callback.try_borrow_mut() {
                Ok(mut running) => panics.catch(|| running(event)),
                Err(_) => true,
            };
            if !completed {
                self.remove(id);
            }
            // Perhaps the last reference, if the callback was removed meanwhile (for its
            // panic, by itself): what it captured is dropped here, and a panic of that `Drop`
            // is kept like a callback's, rather than unwinding out of the collection.
            panics.catch(move || drop(callback));
        }
    }

    pub(crate) fn set_save_all(&self, save_all: bool) {
        self.save_all.set(save_all);
    }

    pub(crate) fn save_all(&self) -> bool {
        self.save_all.get()
    }

    /// Keeps objects a collection found unreachable.
    pub(crate) fn keep(&self, saved: Vec<AnyGc>) {
        self.garbage.borrow_mut().extend(saved);
    }

    /// Hands over the kept garbage.
    pub(crate) fn take_garbage(&self) -> Vec<AnyGc> {
        std::mem::take(&mut **self.garbage.borrow_mut())
    }

    /// The thread is exiting: drops the callbacks (and whatever they captured) and the
    /// saved garbage, so that the exit collections can reclaim both. A panic from a `Drop`
    /// this runs is dropped: a thread-local destructor must not unwind.
    pub(crate) fn release(&self) {
        let callbacks = std::mem::take(&mut **self.callbacks.borrow_mut());
        let garbage = self.take_garbage();
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| drop((callbacks, garbage)))) {
            drop_payload(payload);
        }
    }
}
