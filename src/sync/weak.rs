//! [`Weak<T>`]: the thread-safe non-owning reference.

use std::fmt;
use std::ptr::{self, NonNull};

use crate::cycle::{Object, DEAD};
use crate::primitive::sync::atomic::Ordering;
use crate::sync::gc::Gc;
use crate::sync::header::{GcBox, Header};
use crate::sync::state;
use crate::trace::{Trace, Tracer};
use crate::unsize::Unsize;

/// A non-owning reference to a [`Gc`]'s value, as `std::sync::Weak`: it keeps the
/// allocation but not the value, and [`Weak::upgrade`] gives a `Gc` while the value is
/// alive. Back edges (a child's parent pointer, an observer's subject) made of `Weak`s need
/// no collection at all.
///
/// `Weak<T>` is `Send + Sync` exactly when `T: Send + Sync`. It reports no edge to the
/// collector, so it never keeps a cycle alive; once the collector has claimed a cycle,
/// upgrading a `Weak` to any of its members returns `None`.
///
/// # Examples
///
/// ```
/// use cyclegc::sync::Gc;
/// let strong = Gc::new(5);
/// let weak = Gc::downgrade(&strong);
/// assert_eq!(weak.upgrade().as_deref(), Some(&5));
/// drop(strong);
/// assert!(weak.upgrade().is_none());
/// ```
pub struct Weak<T: ?Sized> {
    /// The allocation, or `usize::MAX` for [`Weak::new`]'s dangling `Weak`.
    ptr: NonNull<GcBox<T>>,
}

// SAFETY: as `std::sync::Weak`: a `Weak` upgrades to a `Gc` on any thread.
unsafe impl<T: ?Sized + Send + Sync> Send for Weak<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for Weak<T> {}

impl<T> Weak<T> {
    /// A `Weak` that points to nothing: [`Weak::upgrade`] always returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// let weak = cyclegc::sync::Weak::<i32>::new();
    /// assert!(weak.upgrade().is_none());
    /// ```
    #[must_use]
    pub const fn new() -> Weak<T> {
        Weak {
            // SAFETY: `usize::MAX` is not null. It is never dereferenced: every access checks
            // `is_dangling` first.
            ptr: unsafe { NonNull::new_unchecked(ptr::without_provenance_mut(usize::MAX)) },
        }
    }
}

impl<T: ?Sized> Weak<T> {
    pub(crate) fn from_box(ptr: NonNull<GcBox<T>>) -> Weak<T> {
        Weak { ptr }
    }

    fn is_dangling(&self) -> bool {
        self.ptr.cast::<()>().as_ptr().addr() == usize::MAX
    }

    fn header(&self) -> Option<&Header> {
        if self.is_dangling() {
            None
        } else {
            // SAFETY: a `Weak` holds a unit of the weak count, which keeps the header.
            Some(unsafe { &(*self.ptr.as_ptr()).header })
        }
    }

    /// A `Gc` to the value, or `None` if it has been dropped or its cycle collected. An
    /// upgrade racing with a collection either happens before the collection claims the
    /// object (which then survives) or returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(1);
    /// let w = Gc::downgrade(&a);
    /// assert!(w.upgrade().is_some());
    /// drop(a);
    /// assert!(w.upgrade().is_none());
    /// ```
    #[must_use = "this returns a new `Gc`, without modifying the original weak pointer"]
    pub fn upgrade(&self) -> Option<Gc<T>> {
        self.header()?
            .state()
            .try_increment()
            .then(|| Gc::from_box(self.ptr))
    }

    /// The number of `Gc`s to the value (0 once it is dropped or collected).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(1);
    /// let w = Gc::downgrade(&a);
    /// assert_eq!(w.strong_count(), 1);
    /// ```
    pub fn strong_count(&self) -> usize {
        let Some(header) = self.header() else {
            return 0;
        };
        let word = header.state().load(Ordering::Acquire);
        if word & DEAD != 0 {
            0
        } else {
            state::strong(word)
        }
    }

    /// The number of `Weak`s to the value, or 0 once it is dropped or collected (as
    /// `std::sync::Weak::weak_count`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(1);
    /// let w = Gc::downgrade(&a);
    /// let _w2 = w.clone();
    /// assert_eq!(w.weak_count(), 2);
    /// ```
    pub fn weak_count(&self) -> usize {
        let Some(header) = self.header() else {
            return 0;
        };
        let word = header.state().load(Ordering::Acquire);
        if state::strong(word) == 0 || word & DEAD != 0 {
            0
        } else {
            header.weak_handles(word)
        }
    }

    /// A raw pointer to the value (dangling for [`Weak::new`], and not to be read once the
    /// value is gone).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(1);
    /// assert_eq!(Gc::downgrade(&a).as_ptr(), Gc::as_ptr(&a));
    /// ```
    #[must_use]
    pub fn as_ptr(&self) -> *const T {
        if self.is_dangling() {
            self.ptr.as_ptr() as *const T
        } else {
            // SAFETY: the allocation is alive (this `Weak`'s unit); no reference is created.
            unsafe { ptr::addr_of!((*self.ptr.as_ptr()).value) }
        }
    }

    /// Consumes the `Weak`, keeping its unit; [`Weak::from_raw`] takes it back.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::{Gc, Weak};
    /// let a = Gc::new(1);
    /// let raw = Gc::downgrade(&a).into_raw();
    /// // SAFETY: from `into_raw`, taken back once.
    /// let w = unsafe { Weak::from_raw(raw) };
    /// assert!(w.upgrade().is_some());
    /// ```
    #[must_use = "losing the pointer leaks the allocation"]
    pub fn into_raw(self) -> *const T {
        let ptr = self.as_ptr();
        std::mem::forget(self);
        ptr
    }

    /// Takes back a `Weak` that [`Weak::into_raw`] gave out.
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`Weak::into_raw`] of a `sync::Weak<U>` where `U` has the same
    /// size and alignment as `T` (or is `T` unsized to it), and be taken back once per
    /// `into_raw`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Weak;
    /// let raw = Weak::<i32>::new().into_raw();
    /// // SAFETY: from `into_raw`, taken back once.
    /// assert!(unsafe { Weak::from_raw(raw) }.upgrade().is_none());
    /// ```
    pub unsafe fn from_raw(ptr: *const T) -> Weak<T> {
        if ptr.addr() == usize::MAX {
            let sentinel = ptr as *mut GcBox<T>;
            return Weak {
                // SAFETY: not null (the address is `usize::MAX`); never dereferenced.
                ptr: unsafe { NonNull::new_unchecked(sentinel) },
            };
        }
        // SAFETY: by the caller's contract, `ptr` is the value of a `GcBox<T>` whose
        // allocation this `Weak`'s unit keeps.
        Weak::from_box(unsafe { GcBox::from_value(ptr) })
    }

    /// Whether two `Weak`s point to the same allocation (two [`Weak::new`]s are equal).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(1);
    /// assert!(Gc::downgrade(&a).ptr_eq(&Gc::downgrade(&a)));
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
        // SAFETY: by the caller's contract `coerced` points to the same value, with `U`'s
        // metadata; `into_raw` handed its unit over.
        unsafe { Weak::from_raw(coerced) }
    }
}

impl<T: ?Sized> Clone for Weak<T> {
    /// Another `Weak` to the same allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(1);
    /// let w = Gc::downgrade(&a);
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
    fn drop(&mut self) {
        if self.header().is_some() {
            // SAFETY: this `Weak`'s unit, given back once. While a collection holds the
            // object, the implicit hold is still there (its strong references, or its value
            // handed to the collector), so this is not the last unit then.
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
    /// let w: cyclegc::sync::Weak<i32> = Default::default();
    /// assert!(w.upgrade().is_none());
    /// ```
    fn default() -> Self {
        Weak::new()
    }
}

impl<T: ?Sized> fmt::Debug for Weak<T> {
    /// Prints `(Weak)`, as std's `Weak`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(format!("{:?}", cyclegc::sync::Weak::<i32>::new()), "(Weak)");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(Weak)")
    }
}

// SAFETY: a `Weak` owns no strong reference, so it reports no edge.
unsafe impl<T: ?Sized> Trace for Weak<T> {
    fn trace(&self, _: &mut Tracer) {}

    fn may_contain_gc() -> bool {
        false
    }
}
