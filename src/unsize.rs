//! [`unsize!`](macro@crate::unsize): `Gc<T>` to `Gc<dyn Trait>` (or `Gc<[T]>` from `Gc<[T; N]>`) on
//! stable Rust, where `CoerceUnsized` is not available.
//!
//! The macro hands the handle's value pointer to a closure whose only statement is an
//! implicit coercion to `*const Target`: the compiler accepts it only if it is an unsizing
//! coercion (or the identity), never a cast to an unrelated type. The handle is rebuilt
//! around the coerced pointer, which keeps the allocation and gains the target's metadata
//! (a trait object's vtable, a slice's length).

/// A handle whose pointee can be unsized by [`unsize!`](macro@crate::unsize). Implementation
/// detail of the macro.
#[doc(hidden)]
pub trait Unsize {
    /// The pointee.
    type Value: ?Sized;
    /// The same handle, pointing to a `U`.
    type Output<U: ?Sized>;

    /// Rebuilds the handle around `coerce(pointer to the value)`.
    ///
    /// # Safety
    /// `coerce` must be an unsizing coercion (or the identity): it returns its argument
    /// with the target's metadata, pointing to the same value.
    unsafe fn __unsize<U: ?Sized>(
        self,
        coerce: impl FnOnce(*const Self::Value) -> *const U,
    ) -> Self::Output<U>;
}

/// Turns a `Gc<T>` or `Weak<T>` into a `Gc<dyn Trait>` / `Weak<dyn Trait>` (any unsizing
/// coercion: a trait `T` implements, or `[T]` from `[T; N]`), as the compiler does for `Rc`
/// with `let rc: Rc<dyn Trait> = rc;`. Stable Rust does not let a library pointer do that
/// implicitly, so this macro does it; the compiler checks the coercion, so the macro is safe
/// to use.
///
/// The result points to the same allocation: counts, identity ([`Gc::ptr_eq`]) and the
/// collector's view are unchanged. A cycle through `Gc<dyn Trait>` handles is collected like
/// any other (the collector traces the value through the vtable of its real type).
///
/// [`Gc::ptr_eq`]: crate::Gc::ptr_eq
///
/// # Examples
///
/// An observer list of trait objects, with a back-reference that makes a cycle:
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{unsize, Gc, Trace};
///
/// trait Observer: Trace {
///     fn notify(&self) -> String;
/// }
///
/// #[derive(Trace)]
/// struct Subject {
///     observers: RefCell<Vec<Gc<dyn Observer>>>,
/// }
///
/// #[derive(Trace)]
/// struct Logger {
///     subject: Gc<Subject>, // back-reference: a cycle
/// }
///
/// impl Observer for Logger {
///     fn notify(&self) -> String {
///         format!("{} observers", self.subject.observers.borrow().len())
///     }
/// }
///
/// let subject = Gc::new(Subject { observers: RefCell::new(Vec::new()) });
/// let logger: Gc<dyn Observer> = unsize!(Gc::new(Logger { subject: subject.clone() }) => dyn Observer);
/// subject.observers.borrow_mut().push(logger);
/// assert_eq!(subject.observers.borrow()[0].notify(), "1 observers");
///
/// drop(subject);
/// assert_eq!(cyclegc::collect(), 2);
/// ```
///
/// `Weak`s unsize too, and slices from arrays:
///
/// ```
/// use cyclegc::{unsize, Gc, Weak};
///
/// let array = Gc::new([1, 2, 3]);
/// let weak: Weak<[i32]> = unsize!(Gc::downgrade(&array) => [i32]);
/// let slice: Gc<[i32]> = unsize!(array => [i32]);
/// assert_eq!(slice.len(), 3);
/// assert!(Gc::ptr_eq(&weak.upgrade().unwrap(), &slice));
/// ```
///
/// A conversion that is not an unsizing coercion does not compile:
///
/// ```compile_fail,E0308
/// use cyclegc::{unsize, Gc};
///
/// let bytes = Gc::new([0u8; 4]);
/// let number: Gc<u32> = unsize!(bytes => u32); // a transmute, not a coercion
/// ```
///
/// ```compile_fail,E0277
/// use cyclegc::{unsize, Gc};
///
/// // `u8` is not an `Error`.
/// let error: Gc<dyn std::error::Error> = unsize!(Gc::new(1u8) => dyn std::error::Error);
/// ```
#[macro_export]
macro_rules! unsize {
    ($handle:expr => $target:ty) => {{
        let handle = $handle;
        // SAFETY: the closure's only statement is an implicit coercion to `*const $target`,
        // which the compiler accepts only as an unsizing coercion or the identity.
        #[allow(unused_unsafe, clippy::undocumented_unsafe_blocks)]
        unsafe {
            $crate::__private::Unsize::__unsize(handle, |pointer| -> *const $target { pointer })
        }
    }};
}
