//! The thread-safe `AnyGc` (written by `crate::any::any_gc!`) and what it needs of the
//! header.

use std::ptr::NonNull;

use crate::any::Handles;
use crate::cycle::{Object, VTable};
use crate::primitive::sync::atomic::Ordering;
use crate::release::Erased;
use crate::sync::collector;
use crate::sync::gc::{drop_last, Gc};
use crate::sync::header::Header;
use crate::sync::state::{self, Release};

impl Handles for Header {
    fn strong_count(&self) -> usize {
        state::strong(self.state().load(Ordering::Acquire))
    }

    fn weak_count(&self) -> usize {
        self.weak_handles(self.state().load(Ordering::Acquire))
    }

    fn clone_strong(&self) {
        self.state().increment();
    }

    unsafe fn drop_strong(this: NonNull<Header>) {
        // SAFETY: the caller owns a strong reference, so the header is alive.
        let header = unsafe { this.as_ref() };
        // As `Drop for Gc`.
        match header
            .state()
            .release(|| header.take_hold(), || header.give_back_hold())
        {
            Release::Kept => {}
            // SAFETY: the object was just made `BUFFERED`, with the hold taken for it.
            Release::Buffered => unsafe { collector::buffer(this) },
            // SAFETY: this was the last strong reference, released with the word `old`.
            Release::Last(old) => unsafe { drop_last(Erased(this), old) },
        }
    }

    fn vtable_of_live(&self) -> &'static VTable<Header> {
        // SAFETY: the thread-safe header never lends its vtable slot (the scan has a word of
        // its own).
        unsafe { self.vtable() }
    }
}

crate::any::any_gc!("cyclegc::sync", Header, Gc);

// SAFETY: an `AnyGc` is a `sync::Gc<T>` with `T: Send + Sync` erased (every `sync::Gc` is
// made with those bounds), and it gives no access to the value but through `downcast`.
unsafe impl Send for AnyGc {}
// SAFETY: as above.
unsafe impl Sync for AnyGc {}
