//! Allocations moved out of a `Box<U>` of any type, sized or not (`From<Box<U>> for Gc<U>`):
//! the one way to make a `Gc<dyn Trait>` from a value whose concrete type is no longer known.
//!
//! A per-type [`VTable`] is static, and for `U = dyn Trait` it cannot know the concrete
//! type's size, alignment or `Trace` impl. The box's wide pointer does (its metadata), so the
//! allocation keeps it, with the allocation's layout, in an [`Origin`] right before the
//! header:
//!
//! ```text
//! [ padding | Origin { layout, boxed } ][ header | value: U ]
//!  ^ allocation                           ^ the header pointer every handle and the collector use
//! ```
//!
//! The vtable's functions read `boxed` back to reach the value with its metadata (`trace`
//! and `drop_in_place` then dispatch through the trait object's own vtable), and `free`
//! reads `layout`. The prefix is as large as the box's alignment requires, like a slice
//! allocation's (`slice.rs`).

use std::alloc::{self, Layout};
use std::any::TypeId;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};

use crate::cycle::object::{GcBox, Object, VTable};
use crate::cycle::slice::prefixed;
use crate::trace::{Trace, Tracer};

/// What a box-made allocation keeps before its header.
#[repr(C)]
struct Origin<H, U: ?Sized> {
    /// The layout of the whole allocation, prefix included.
    layout: Layout,
    /// The allocation's box, with `U`'s metadata (a wide pointer when `U` is unsized).
    boxed: *mut GcBox<H, U>,
}

/// The vtables of box-made allocations, per header and value type.
pub(crate) struct BoxedVTableFor<H, U: ?Sized>(PhantomData<(H, *const U)>);

impl<H: Object, U: ?Sized + Trace + 'static> BoxedVTableFor<H, U> {
    pub(crate) const VTABLE: &'static VTable<H> = &VTable {
        trace: trace_boxed::<H, U>,
        drop_in_place: drop_boxed::<H, U>,
        // Not used: `free` reads the layout from the `Origin`.
        layout: Layout::new::<()>(),
        free: Some(free_boxed::<H, U>),
        type_name: std::any::type_name::<U>,
        type_id: TypeId::of::<U>,
        value: value_of_boxed::<H, U>,
    };
}

/// # Safety
/// `header` is the header of a live allocation made by [`from_box`] with value type `U`.
unsafe fn value_of_boxed<H, U: ?Sized>(header: NonNull<H>) -> NonNull<()> {
    // SAFETY: by the caller's contract; no reference is created.
    unsafe {
        let boxed = (*origin_of::<H, U>(header)).boxed;
        NonNull::new_unchecked(ptr::addr_of_mut!((*boxed).value).cast())
    }
}

/// The `Origin` right before `header`.
///
/// # Safety
/// `header` is the header of a live allocation made by [`from_box`] with value type `U`.
unsafe fn origin_of<H, U: ?Sized>(header: NonNull<H>) -> *const Origin<H, U> {
    // SAFETY: `from_box` wrote the `Origin` in the bytes right before the header, which it
    // aligned for it.
    unsafe { header.as_ptr().cast::<Origin<H, U>>().sub(1) }
}

/// # Safety
/// As for `object::trace_value`, for an allocation made by [`from_box`] with value type `U`.
unsafe fn trace_boxed<H, U: ?Sized + Trace>(header: NonNull<H>, tracer: &mut Tracer) {
    // SAFETY: the value is alive (the caller's contract); only shared references exist.
    let value: &U = unsafe { &(*(*origin_of::<H, U>(header)).boxed).value };
    // SAFETY: by the caller's contract.
    unsafe { tracer.trace_value(value) };
}

/// # Safety
/// As for `object::drop_in_place`, for an allocation made by [`from_box`] with value type `U`.
unsafe fn drop_boxed<H, U: ?Sized>(header: NonNull<H>) {
    // SAFETY: the value is alive and dropped exactly once, here (the caller's contract).
    unsafe {
        let boxed = (*origin_of::<H, U>(header)).boxed;
        ptr::drop_in_place(ptr::addr_of_mut!((*boxed).value))
    }
}

/// # Safety
/// `header` is the header of an allocation made by [`from_box`] with value type `U` whose
/// last unit of the weak count is gone; nothing uses it afterwards.
unsafe fn free_boxed<H, U: ?Sized>(header: NonNull<H>) {
    // SAFETY: by the caller's contract the `Origin` is there.
    let layout = unsafe { (*origin_of::<H, U>(header)).layout };
    let offset = header_offset::<H, U>(layout);
    // SAFETY: the allocation starts `offset` bytes before the header and was allocated with
    // `layout` (`from_box`).
    unsafe { alloc::dealloc(header.as_ptr().cast::<u8>().sub(offset), layout) }
}

/// Where the header is in a box-made allocation of layout `layout` (the `Origin`'s size,
/// rounded up to the allocation's alignment, as `prefixed` lays it out).
fn header_offset<H, U: ?Sized>(layout: Layout) -> usize {
    size_of::<Origin<H, U>>().next_multiple_of(layout.align())
}

/// Checks that a `*mut T` keeps its address in its first word, as [`with_address`] needs.
///
/// Every layout rustc has given a pointer does (a wide pointer is the pair address,
/// metadata); this checks it at run time, before anything is allocated, and panics rather
/// than build a wrong pointer. (A pointer whose metadata equals its address, such as a
/// one-element slice of zero-sized values at a dangling address, cannot tell the two words
/// apart; only a compiler with the other order could be fooled by it.)
///
/// # Panics
/// If the address is not the first word.
fn check_address_first<T: ?Sized>(wide: *mut T) {
    let first = ptr::addr_of!(wide).cast::<*mut u8>();
    // SAFETY: `wide` is a local pointer, at least one word long and aligned for a pointer, so
    // its first word can be read as a thin pointer.
    let word = unsafe { first.read() };
    assert!(
        word.addr() == wide.cast::<u8>().addr(),
        "cyclegc: this compiler does not put a pointer's address in its first word; \
         `Gc::from(Box<T>)` cannot rebuild the pointer"
    );
}

/// `wide` with its address (and provenance) replaced by `address`'s, its metadata kept:
/// what `<*mut T>::with_metadata_of` does on nightly.
///
/// # Safety
/// [`check_address_first`] passed for a `*mut T`.
unsafe fn with_address<T: ?Sized>(wide: *mut T, address: *mut u8) -> *mut T {
    let mut out = wide;
    let first = ptr::addr_of_mut!(out).cast::<*mut u8>();
    // SAFETY: `out` is a local pointer, at least one word long and aligned for a pointer, and
    // its first word is the address (the caller's contract): rewriting it leaves the
    // metadata as it was.
    unsafe { first.write(address) };
    out
}

/// A new allocation holding the value moved out of `boxed`, with one strong reference. The
/// box's memory is freed without dropping the value.
///
/// The object is tracked whatever `U` is: `Trace::may_contain_gc` cannot be asked of an
/// unsized type (nor of a sized one through this generic path), and tracking is always safe.
///
/// # Panics
/// If the allocation would exceed `isize::MAX` bytes; aborts if memory is exhausted.
pub(crate) fn from_box<H: Object, U: ?Sized + Trace + 'static>(
    boxed: Box<U>,
) -> NonNull<GcBox<H, U>> {
    let value_layout = Layout::for_value::<U>(&*boxed);
    check_address_first(ptr::from_ref::<U>(&*boxed).cast_mut() as *mut GcBox<H, U>);
    // `GcBox<H, U>`, `#[repr(C)]`: the header, then the value at its alignment.
    let inner = Layout::new::<H>()
        .extend(value_layout)
        .expect("capacity overflow")
        .0
        .pad_to_align();
    let (layout, offset) =
        prefixed(Layout::new::<Origin<H, U>>(), inner).expect("capacity overflow");
    debug_assert_eq!(offset, header_offset::<H, U>(layout));
    // SAFETY: the layout has a non-zero size (it holds the `Origin` and the header).
    let start = unsafe { alloc::alloc(layout) };
    if start.is_null() {
        alloc::handle_alloc_error(layout);
    }
    let source: *mut U = Box::into_raw(boxed);
    // SAFETY: `offset` is within the allocation and aligned for the box (`prefixed`); the
    // `Origin` fits in the `offset` bytes before it and is aligned (its size is a multiple of
    // its alignment, which the allocation's is at least). The value is copied (moved) into
    // the box's value field, which has the value's layout; the source box is then freed as a
    // `ManuallyDrop<U>` (same layout, `repr(transparent)`), so the value is not dropped.
    // `check_address_first` passed for the box's pointer type above. Nothing here can panic
    // between taking the box apart and finishing the allocation (`placed` lists the object;
    // for the single-threaded flavour that may panic past four billion objects, when the
    // allocation leaks).
    unsafe {
        let header_ptr = start.add(offset);
        let gcbox = with_address(source as *mut GcBox<H, U>, header_ptr);
        ptr::copy_nonoverlapping(
            source.cast::<u8>(),
            ptr::addr_of_mut!((*gcbox).value).cast::<u8>(),
            value_layout.size(),
        );
        drop(Box::from_raw(source as *mut ManuallyDrop<U>));
        header_ptr.cast::<Origin<H, U>>().sub(1).write(Origin {
            layout,
            boxed: gcbox,
        });
        header_ptr
            .cast::<H>()
            .write(H::new_header(BoxedVTableFor::<H, U>::VTABLE, true, 1));
        H::placed(NonNull::new_unchecked(header_ptr.cast::<H>()));
        NonNull::new_unchecked(gcbox)
    }
}
