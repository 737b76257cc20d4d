//! The single-threaded `AnyGc` (written by `crate::any::any_gc!`) and what it needs of the
//! header.

use std::ptr::NonNull;

use crate::any::Handles;
use crate::cycle::{Object, VTable, BUFFERED, DEAD, UNTRACKED};
use crate::release::Erased;
use crate::unsync::gc::{drop_slow, Gc};
use crate::unsync::header::Header;

impl Handles for Header {
    fn strong_count(&self) -> usize {
        self.strong()
    }

    fn weak_count(&self) -> usize {
        self.weak_handles()
    }

    fn clone_strong(&self) {
        self.inc_strong();
    }

    unsafe fn drop_strong(this: NonNull<Header>) {
        // SAFETY: the caller owns a strong reference, so the header is alive; it gives the
        // reference up here, as `Drop for Gc` does (same test, same slow path).
        unsafe {
            let header = this.as_ref();
            let strong = header.dec_strong();
            if strong == 0 || header.flags() & (BUFFERED | UNTRACKED | DEAD) == 0 {
                drop_slow(Erased(this));
            }
        }
    }

    fn vtable_of_live(&self) -> &'static VTable<Header> {
        if self.scan_index().is_some() {
            panic!(
                "cyclegc: an `AnyGc` was inspected (its type, address or downcast) while a \
                 collection holds its object: from a `Trace` impl, or from the `Drop` of a \
                 garbage object reaching another member of its cycle"
            );
        }
        // SAFETY: not in a scan, so the slot holds the vtable.
        unsafe { self.vtable() }
    }
}

crate::any::any_gc!("cyclegc", Header, Gc);
