//! [`Weak<T>`]: a non-owning pointer that is not an edge for the collector.

use std::fmt;
use std::ptr::{self, NonNull};

use crate::cycle::{Object, DEAD};
use crate::trace::{Trace, Tracer};
use crate::unsize::Unsize;
use crate::unsync::gc::Gc;
use crate::unsync::header::{GcBox, Header};

/// A weak pointer to a [`Gc`] allocation: it does not keep the value alive and is not an edge
/// for the cycle collector, so it never keeps a cycle alive either. Python's `weakref.ref`.
///
/// [`upgrade`](Weak::upgrade) returns `None` once the value is gone — dropped by its last
/// strong reference, or claimed by the cycle collector (from the moment the collector decides
/// a cycle is garbage, before any `Drop` of it runs).
///
/// # Examples
///
/// ```
/// use cyclegc::Gc;
///
/// let strong = Gc::new(String::from("data"));
/// let weak = Gc::downgrade(&strong);
/// assert_eq!(weak.upgrade().as_deref().map(String::as_str), Some("data"));
/// drop(strong);
/// assert!(weak.upgrade().is_none());
/// ```
pub struct Weak<T: ?Sized> {
    // `usize::MAX` (no provenance) for `Weak::new()`: never dereferenced.
    ptr: NonNull<GcBox<T>>,
}

impl<T> Weak<T> {
    /// A `Weak` that points to nothing: `upgrade` always returns `None`. It allocates nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Weak;
    ///
    /// let empty: Weak<i64> = Weak::new();
    /// assert!(empty.upgrade().is_none());
    /// ```
    #[must_use]
    pub const fn new() -> Weak<T> {
        Weak {
            // SAFETY: `usize::MAX` is not null.
            ptr: unsafe { NonNull::new_unchecked(ptr::without_provenance_mut(usize::MAX)) },
        }
    }
}

impl<T: ?Sized> Weak<T> {
    pub(crate) fn from_box(ptr: NonNull<GcBox<T>>) -> Weak<T> {
        Weak { ptr }
    }

    /// Whether this is a `Weak::new()`, which points to nothing.
    fn is_dangling(&self) -> bool {
        self.ptr.cast::<()>().as_ptr().addr() == usize::MAX
    }

    /// The header, or `None` for a `Weak::new()`.
    fn header(&self) -> Option<&Header> {
        if self.is_dangling() {
            None
        } else {
            // SAFETY: a non-dangling `Weak` holds one unit of the weak count, which keeps the
            // header allocated.
            Some(unsafe { &(*self.ptr.as_ptr()).header })
        }
    }

    /// A strong pointer to the value, or `None` if it has been dropped or collected.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let five = Gc::new(5);
    /// let weak_five = Gc::downgrade(&five);
    /// assert_eq!(weak_five.upgrade().map(|g| *g), Some(5));
    /// drop(five);
    /// assert!(weak_five.upgrade().is_none());
    /// ```
    #[must_use = "this returns a new `Gc`, without modifying the original weak pointer"]
    pub fn upgrade(&self) -> Option<Gc<T>> {
        let header = self.header()?;
        if header.strong() == 0 || header.has(DEAD) {
            return None;
        }
        header.inc_strong();
        Some(Gc::from_box(self.ptr))
    }

    /// The number of strong pointers to the value: 0 once it is dropped or collected.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let five = Gc::new(5);
    /// let weak_five = Gc::downgrade(&five);
    /// assert_eq!(weak_five.strong_count(), 1);
    /// ```
    pub fn strong_count(&self) -> usize {
        match self.header() {
            Some(header) if !header.has(DEAD) => header.strong(),
            _ => 0,
        }
    }

    /// The number of `Weak` pointers to the allocation, or 0 if no strong pointer remains
    /// (as for `std::rc::Weak`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let five = Gc::new(5);
    /// let weak_five = Gc::downgrade(&five);
    /// let _also_weak = weak_five.clone();
    /// assert_eq!(weak_five.weak_count(), 2);
    /// ```
    pub fn weak_count(&self) -> usize {
        match self.header() {
            Some(header) if header.strong() > 0 && !header.has(DEAD) => header.weak_handles(),
            _ => 0,
        }
    }

    /// A pointer to the value, as [`std::rc::Weak::as_ptr`]. It may be read only while a
    /// strong reference exists and the value has not been destroyed; for a [`Weak::new`] it
    /// dangles.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let strong = Gc::new("hello".to_owned());
    /// let weak = Gc::downgrade(&strong);
    /// assert_eq!(weak.as_ptr(), Gc::as_ptr(&strong));
    /// // SAFETY: `strong` keeps the value alive.
    /// assert_eq!(unsafe { &*weak.as_ptr() }, "hello");
    /// ```
    #[must_use]
    pub fn as_ptr(&self) -> *const T {
        if self.is_dangling() {
            // The sentinel itself: it is never a value's address (a value sits at a
            // multiple of the header's alignment; the sentinel is odd), so `from_raw`
            // recognizes it.
            self.ptr.as_ptr() as *const T
        } else {
            // SAFETY: the `Weak`'s unit keeps the allocation; no reference is created.
            unsafe { ptr::addr_of!((*self.ptr.as_ptr()).value) }
        }
    }

    /// Consumes the `Weak` and returns the pointer to the value, keeping its weak reference
    /// until [`Weak::from_raw`] takes it back, as [`std::rc::Weak::into_raw`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::{Gc, Weak};
    ///
    /// let strong = Gc::new(5);
    /// let raw = Gc::downgrade(&strong).into_raw();
    /// // SAFETY: `raw` comes from `Weak::into_raw` of a `Weak<i32>` and is taken back once.
    /// let weak = unsafe { Weak::from_raw(raw) };
    /// assert_eq!(weak.upgrade().as_deref(), Some(&5));
    /// ```
    #[must_use = "losing the pointer leaks the allocation"]
    pub fn into_raw(self) -> *const T {
        let ptr = self.as_ptr();
        std::mem::forget(self);
        ptr
    }

    /// Takes back the weak reference a [`Weak::into_raw`] gave out.
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`Weak::into_raw`] for this same `T` (with the size and
    /// alignment rules of `std::rc::Weak::from_raw`), and each weak reference it gave out
    /// may be taken back once.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Weak;
    ///
    /// let raw = Weak::<u8>::new().into_raw();
    /// // SAFETY: `raw` comes from `Weak::into_raw` of a `Weak<u8>` and is taken back once.
    /// let weak = unsafe { Weak::from_raw(raw) };
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub unsafe fn from_raw(ptr: *const T) -> Weak<T> {
        if ptr.addr() == usize::MAX {
            // A `Weak::new()`: the sentinel, as `as_ptr` returned it.
            let sentinel = ptr as *mut GcBox<T>;
            return Weak {
                // SAFETY: `usize::MAX` is not null.
                ptr: unsafe { NonNull::new_unchecked(sentinel) },
            };
        }
        // SAFETY: by the caller's contract, `ptr` points to the value of a `GcBox<T>` whose
        // allocation this weak reference keeps.
        Weak::from_box(unsafe { GcBox::from_value(ptr) })
    }

    /// Whether two `Weak`s point to the same allocation (two `Weak::new()`s are equal).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let five = Gc::new(5);
    /// let a = Gc::downgrade(&five);
    /// let b = Gc::downgrade(&five);
    /// assert!(a.ptr_eq(&b));
    /// assert!(!a.ptr_eq(&cyclegc::Weak::new()));
    /// ```
    #[inline]
    pub fn ptr_eq(&self, other: &Self) -> bool {
        ptr::addr_eq(self.ptr.as_ptr(), other.ptr.as_ptr())
    }
}

impl<T: ?Sized> Unsize for Weak<T> {
    type Value = T;
    type Output<U: ?Sized> = Weak<U>;

    unsafe fn __unsize<U: ?Sized>(self, coerce: impl FnOnce(*const T) -> *const U) -> Weak<U> {
        let value = self.into_raw();
        let coerced = coerce(value);
        debug_assert!(
            ptr::addr_eq(value, coerced),
            "an unsizing coercion keeps the address"
        );
        // SAFETY: by the caller's contract `coerced` points to the same value (or is the
        // same sentinel), now with `U`'s metadata; `into_raw` handed its weak reference over.
        unsafe { Weak::from_raw(coerced) }
    }
}

impl<T: ?Sized> Clone for Weak<T> {
    /// Another weak pointer to the same allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = cyclegc::Gc::new(1);
    /// let w = cyclegc::Gc::downgrade(&g);
    /// assert!(w.clone().ptr_eq(&w));
    /// ```
    fn clone(&self) -> Self {
        if let Some(header) = self.header() {
            header.take_hold();
        }
        Weak { ptr: self.ptr }
    }
}

impl<T: ?Sized> Drop for Weak<T> {
    /// Gives back this weak pointer's unit; frees the allocation if it was the last thing
    /// referring to it.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = cyclegc::Gc::new(1);
    /// let w = cyclegc::Gc::downgrade(&g);
    /// drop(g);
    /// drop(w); // frees the header
    /// ```
    fn drop(&mut self) {
        if self.header().is_some() {
            // SAFETY: this `Weak` owns one unit of the weak count, given back exactly once.
            unsafe { Header::release_hold(self.ptr.cast()) }
        }
    }
}

impl<T> Default for Weak<T> {
    /// Same as [`Weak::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let w: cyclegc::Weak<u8> = Default::default();
    /// assert!(w.upgrade().is_none());
    /// ```
    fn default() -> Self {
        Weak::new()
    }
}

impl<T: ?Sized> fmt::Debug for Weak<T> {
    /// Prints `(Weak)`, like `std::rc::Weak`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(format!("{:?}", cyclegc::Weak::<u8>::new()), "(Weak)");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(Weak)")
    }
}

// SAFETY: a `Weak` is not an edge: it reports nothing, and a type holding only `Weak`s can
// never be part of a strong cycle.
unsafe impl<T: ?Sized> Trace for Weak<T> {
    fn trace(&self, _: &mut Tracer) {}

    fn may_contain_gc() -> bool {
        false
    }
}
