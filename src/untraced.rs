//! [`Untraced<T>`]: any `'static` value in a `Gc` or a traced field, with no `Trace` impl.

use std::ops::{Deref, DerefMut};

use crate::trace::{Trace, Tracer};

/// Lets a value of any type live in a [`Gc`](crate::Gc) or in a traced field, whether or not
/// it implements [`Trace`]: a file, a socket, a foreign crate's type the orphan rule keeps
/// you from implementing `Trace` for, a `Box<dyn Fn()>`.
///
/// The collector sees nothing inside it. **A `Gc` inside an `Untraced` is hidden**: what it
/// points to counts as referenced from outside, so a cycle through it is never collected (a
/// leak, never unsoundness) — as with `#[trace(skip)]`, which does the same for one field.
/// Capture `Weak`s in closures, not `Gc`s, to avoid that — or, for a closure that must keep
/// what it captures alive, use [`TracedFn`](crate::TracedFn), whose captures are traced.
///
/// A type without a destructor cannot release a `Gc` when it is dropped, so `Gc<Untraced<T>>`
/// of such a type is untracked (never buffered as a possible root, like `Gc<String>`);
/// otherwise it is tracked, so that its drop goes through the collector's bounded release
/// loop.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{Gc, Trace, Untraced};
///
/// struct Foreign(u32); // stands for another crate's type, which has no `Trace` impl
///
/// #[derive(Trace)]
/// struct Widget {
///     handle: Untraced<Foreign>,
///     on_click: RefCell<Vec<Untraced<Box<dyn Fn() -> u32>>>>,
/// }
///
/// let widget = Gc::new(Widget {
///     handle: Untraced(Foreign(7)),
///     on_click: RefCell::new(vec![Untraced(Box::new(|| 42))]),
/// });
/// assert_eq!(widget.handle.0 .0, 7);
/// assert_eq!((widget.on_click.borrow()[0])(), 42);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Untraced<T>(pub T);

impl<T> Untraced<T> {
    /// Returns the wrapped value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cyclegc::Untraced(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Untraced<T> {
    type Target = T;

    /// # Examples
    ///
    /// ```
    /// let text = cyclegc::Untraced(String::from("abc"));
    /// assert_eq!(text.len(), 3);
    /// ```
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Untraced<T> {
    /// # Examples
    ///
    /// ```
    /// let mut text = cyclegc::Untraced(String::from("abc"));
    /// text.push('d');
    /// assert_eq!(*text, "abcd");
    /// ```
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Untraced<T> {
    /// # Examples
    ///
    /// ```
    /// let wrapped: cyclegc::Untraced<u8> = 5.into();
    /// assert_eq!(wrapped.0, 5);
    /// ```
    fn from(value: T) -> Self {
        Untraced(value)
    }
}

// SAFETY: reports nothing, which is always allowed (what it owns counts as referenced from
// outside). `may_contain_gc` is `false` only for a type without a destructor: its drop can
// release no `Gc` (it could hold one only in a `ManuallyDrop` or `MaybeUninit`, never
// dropped), so it never cascades, and with nothing reported, being untracked hides nothing
// more.
unsafe impl<T> Trace for Untraced<T> {
    fn trace(&self, _: &mut Tracer) {}

    fn may_contain_gc() -> bool {
        std::mem::needs_drop::<T>()
    }
}
