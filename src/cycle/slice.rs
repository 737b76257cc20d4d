//! Allocations whose value is a slice (`Gc<[T]>`, and `Gc<str>` as bytes) whose length is
//! known only at run time. A per-type [`VTable`] is static, so it cannot hold the length
//! that tracing, dropping and freeing such a value need. The allocation keeps it instead,
//! in the word right before the header:
//!
//! ```text
//! [ padding | len ][ header | value: [T; len] ]
//!  ^ allocation    ^ the header pointer every handle and the collector use
//! ```
//!
//! The prefix is as large as the box's alignment (at least a word), so the header stays
//! aligned for the box. The slice vtable's functions read the length there; its `free`
//! finds the allocation's start and layout from it.
//!
//! (A `Gc<[T]>` made by `unsize!` from a `Gc<[T; N]>` keeps the array's vtable and layout:
//! its length is in the type.)

use std::alloc::{self, Layout};
use std::any::TypeId;
use std::marker::PhantomData;
use std::mem;
use std::ptr::{self, NonNull};

use crate::cycle::object::{GcBox, Object, VTable};
use crate::trace::{Trace, Tracer};

/// The per-element-type vtables of slice allocations.
pub(crate) struct SliceVTableFor<H, T>(PhantomData<(H, T)>);

impl<H: Object, T: Trace + 'static> SliceVTableFor<H, T> {
    pub(crate) const VTABLE: &'static VTable<H> = &VTable {
        trace: trace_slice::<H, T>,
        drop_in_place: drop_slice::<H, T>,
        // Not used: `free` computes the layout from the length.
        layout: Layout::new::<()>(),
        free: Some(free_slice::<H, T>),
        type_name: std::any::type_name::<[T]>,
        type_id: TypeId::of::<[T]>,
        value: value_of_slice::<H, T>,
    };
}

/// # Safety
/// `header` is the header of a live slice allocation of `T`s.
unsafe fn value_of_slice<H, T>(header: NonNull<H>) -> NonNull<()> {
    // SAFETY: by the caller's contract; no reference is created.
    unsafe { NonNull::new_unchecked(ptr::addr_of_mut!((*box_of::<H, T>(header)).value).cast()) }
}

/// The layout of a slice allocation of `len` elements, and the offset of the header in it;
/// `None` if it would be larger than `isize::MAX`.
fn layout_of<H, T>(len: usize) -> Option<(Layout, usize)> {
    let array = Layout::array::<T>(len).ok()?;
    // `GcBox<H, [T]>`, `#[repr(C)]`: the header, then the elements.
    let boxed = Layout::new::<H>().extend(array).ok()?.0.pad_to_align();
    prefixed(Layout::new::<usize>(), boxed)
}

/// The layout of an allocation holding `prefix` right before a box of layout `boxed`, and
/// the box's offset in it: the prefix is padded in front to the box's alignment, so the box
/// stays aligned and the prefix ends where the box begins. `None` if it would be larger than
/// `isize::MAX`.
pub(crate) fn prefixed(prefix: Layout, boxed: Layout) -> Option<(Layout, usize)> {
    let prefix = prefix.align_to(boxed.align()).ok()?.pad_to_align();
    prefix.extend(boxed).ok()
}

/// The length stored before `header`.
///
/// # Safety
/// `header` is the header of a slice allocation of this module.
unsafe fn len_of<H>(header: NonNull<H>) -> usize {
    // SAFETY: the length is the word right before the header, written by `allocate`.
    unsafe { header.cast::<usize>().as_ptr().sub(1).read() }
}

/// The `GcBox<H, [T]>` (a wide pointer, with its length) behind `header`.
///
/// # Safety
/// As for [`len_of`], with elements of type `T`.
unsafe fn box_of<H, T>(header: NonNull<H>) -> *mut GcBox<H, [T]> {
    // SAFETY: by the caller's contract.
    let len = unsafe { len_of(header) };
    ptr::slice_from_raw_parts_mut(header.as_ptr().cast::<T>(), len) as *mut GcBox<H, [T]>
}

/// # Safety
/// As for `object::trace_value`, for a slice allocation of `T`s.
unsafe fn trace_slice<H, T: Trace>(header: NonNull<H>, tracer: &mut Tracer) {
    // SAFETY: the value is alive (the caller's contract); only shared references exist.
    let value: &[T] = unsafe { &(*box_of::<H, T>(header)).value };
    // SAFETY: by the caller's contract.
    unsafe { tracer.trace_value(value) };
}

/// # Safety
/// As for `object::drop_in_place`, for a slice allocation of `T`s.
unsafe fn drop_slice<H, T>(header: NonNull<H>) {
    // SAFETY: the value is alive and dropped exactly once, here (the caller's contract).
    unsafe { ptr::drop_in_place(ptr::addr_of_mut!((*box_of::<H, T>(header)).value)) }
}

/// # Safety
/// `header` is the header of a slice allocation of `T`s whose last unit of the weak count
/// is gone; nothing uses it afterwards.
unsafe fn free_slice<H, T>(header: NonNull<H>) {
    // SAFETY: by the caller's contract.
    let len = unsafe { len_of(header) };
    let (layout, offset) = layout_of::<H, T>(len).expect("allocated with this layout");
    // SAFETY: the allocation starts `offset` bytes before the header and was allocated with
    // `layout` (`allocate`).
    unsafe { alloc::dealloc(header.as_ptr().cast::<u8>().sub(offset), layout) }
}

/// Allocates a slice allocation of `len` `T`s with `header` written and the elements not,
/// and returns its box.
///
/// # Panics
/// If the allocation would exceed `isize::MAX` bytes (as `Vec` does); aborts if memory is
/// exhausted (as `Box` does).
pub(crate) fn allocate<H: Object, T: Trace + 'static>(
    header: H,
    len: usize,
) -> NonNull<GcBox<H, [T]>> {
    let (layout, offset) = layout_of::<H, T>(len).expect("capacity overflow");
    // SAFETY: the layout has a non-zero size (it holds at least the length and the header).
    let start = unsafe { alloc::alloc(layout) };
    if start.is_null() {
        alloc::handle_alloc_error(layout);
    }
    // SAFETY: `offset` is within the allocation and aligned for `H` (the layout's); the
    // length goes in the word before it, inside the prefix. Both are written once, before
    // anything reads them.
    unsafe {
        let header_ptr = start.add(offset).cast::<H>();
        header_ptr.cast::<usize>().sub(1).write(len);
        header_ptr.write(header);
        NonNull::new_unchecked(
            ptr::slice_from_raw_parts_mut(header_ptr.cast::<T>(), len) as *mut GcBox<H, [T]>
        )
    }
}

/// Moves the elements of `vec` into the value of `boxed`, a fresh allocation of exactly
/// `vec.len()` elements.
///
/// # Safety
/// `boxed` comes from [`allocate`] with `vec.len()` elements not written yet.
pub(crate) unsafe fn move_from_vec<H, T>(boxed: NonNull<GcBox<H, [T]>>, mut vec: Vec<T>) {
    let len = vec.len();
    // SAFETY: the destination holds `len` uninitialised elements; the source's `len` are
    // moved (not dropped: the `Vec` forgets them below).
    unsafe {
        ptr::copy_nonoverlapping(
            vec.as_ptr(),
            ptr::addr_of_mut!((*boxed.as_ptr()).value).cast::<T>(),
            len,
        );
        vec.set_len(0);
    }
}

/// Clones the elements of `from` into the value of `boxed`. If a clone panics, the clones
/// made so far are dropped and the allocation freed before the panic goes on.
///
/// # Safety
/// `boxed` comes from [`allocate`] with `from.len()` elements not written yet, and nothing
/// else uses it until this returns.
pub(crate) unsafe fn clone_from_slice<H, T: Clone>(boxed: NonNull<GcBox<H, [T]>>, from: &[T]) {
    /// Cleans up after a panicking clone.
    struct Partial<H, T> {
        boxed: NonNull<GcBox<H, [T]>>,
        written: usize,
    }
    impl<H, T> Drop for Partial<H, T> {
        fn drop(&mut self) {
            // SAFETY: the first `written` elements were written; the allocation is not
            // handed out yet, so this frees it (with the length `allocate` stored).
            unsafe {
                let first = ptr::addr_of_mut!((*self.boxed.as_ptr()).value).cast::<T>();
                ptr::drop_in_place(ptr::slice_from_raw_parts_mut(first, self.written));
                free_slice::<H, T>(self.boxed.cast::<H>());
            }
        }
    }
    let mut partial = Partial { boxed, written: 0 };
    // SAFETY: `boxed` holds `from.len()` elements; each is written once, in order.
    let first = unsafe { ptr::addr_of_mut!((*boxed.as_ptr()).value).cast::<T>() };
    for item in from {
        // SAFETY: `written < from.len()`.
        unsafe { first.add(partial.written).write(item.clone()) };
        partial.written += 1;
    }
    mem::forget(partial);
}

/// A new slice allocation holding `vec`'s elements, with one strong reference.
pub(crate) fn from_vec<H: Object, T: Trace + 'static>(vec: Vec<T>) -> NonNull<GcBox<H, [T]>> {
    let header = H::new_header(SliceVTableFor::<H, T>::VTABLE, T::may_contain_gc(), 1);
    let boxed = allocate::<H, T>(header, vec.len());
    // SAFETY: a fresh allocation of `vec.len()` elements, not written yet; once they are,
    // the object is complete and can be listed.
    unsafe {
        move_from_vec(boxed, vec);
        H::placed(boxed.cast());
    }
    boxed
}

/// A new slice allocation holding clones of `items`, with one strong reference.
pub(crate) fn from_slice<H: Object, T: Trace + Clone + 'static>(
    items: &[T],
) -> NonNull<GcBox<H, [T]>> {
    let header = H::new_header(SliceVTableFor::<H, T>::VTABLE, T::may_contain_gc(), 1);
    let boxed = allocate::<H, T>(header, items.len());
    // SAFETY: a fresh allocation of `items.len()` elements, not written yet, not shared
    // (not listed either, until every clone is made: a panicking one frees it directly).
    unsafe {
        clone_from_slice(boxed, items);
        H::placed(boxed.cast());
    }
    boxed
}

/// A new allocation holding a copy of `s`, with one strong reference.
pub(crate) fn from_str<H: Object>(s: &str) -> NonNull<GcBox<H, str>> {
    let bytes = from_slice::<H, u8>(s.as_bytes());
    // SAFETY: the bytes are a copy of a `str`, so valid UTF-8; `str` and `[u8]` have the
    // same layout and metadata (the length in bytes).
    unsafe { NonNull::new_unchecked(bytes.as_ptr() as *mut GcBox<H, str>) }
}
