//! [`Weak<T>`]: a non-owning pointer that is not an edge for the collector.

use std::fmt;
use std::ptr::{self, NonNull};

use crate::cycle::{Object, DEAD};
use crate::trace::{Trace, Tracer};
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

    /// The header, or `None` for a `Weak::new()`.
    fn header(&self) -> Option<&Header> {
        if self.ptr.cast::<()>().as_ptr().addr() == usize::MAX {
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
