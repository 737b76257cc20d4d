//! Closures the collector can see through: [`TracedFn`] keeps what a closure works on as a
//! traced part of its own, and [`Callback`] is the trait to store such closures behind
//! (`Box<dyn Callback<A>>`, which is `Trace`).
//!
//! A plain closure's captures are invisible: Rust gives no way to enumerate what a closure
//! captured, so a `Box<dyn Fn()>` cannot implement `Trace`. Wrapped in [`Untraced`], it
//! compiles, but a `Gc` it captured is then hidden from the collector, and a handler that
//! captures its own widget keeps the widget alive for ever: a leak. `TracedFn` splits the
//! closure in two: the values it needs (`captures`, traced like any field) and a function
//! that receives them on each call (`Copy`, so it cannot own a `Gc` itself).
//!
//! [`Untraced`]: crate::Untraced

use std::fmt;

use crate::trace::{Contents, Trace, Tracer};

/// Something that can be called with `A` and returns `R`, and reports to the collector the
/// `Gc`s it keeps: the trait to store [`TracedFn`]s behind. `Box<dyn Callback<A, R>>` (also
/// with `+ Send` and `+ Send + Sync`) implements `Trace`, and so does `Gc<dyn Callback<A,
/// R>>` (made with [`unsize!`](macro@crate::unsize)).
///
/// Several arguments are passed as one tuple.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{Callback, Gc, Trace, TracedFn};
///
/// #[derive(Trace)]
/// struct Button {
///     label: String,
///     on_click: RefCell<Vec<Box<dyn Callback<u32>>>>,
/// }
///
/// let button = Gc::new(Button { label: "OK".into(), on_click: RefCell::new(Vec::new()) });
/// // The handler needs the button: it is a capture the collector sees, not a hidden one.
/// let handler = TracedFn::new(button.clone(), |button: &Gc<Button>, clicks: u32| {
///     println!("{} clicked {clicks} times", button.label);
/// });
/// button.on_click.borrow_mut().push(Box::new(handler));
/// for handler in button.on_click.borrow().iter() {
///     handler.call(2);
/// }
/// drop(button); // button -> handler -> button: a cycle
/// assert_eq!(cyclegc::collect(), 1);
/// ```
pub trait Callback<A, R = ()>: Trace {
    /// Calls the function with the captures and `args`.
    fn call(&self, args: A) -> R;
}

/// A closure whose captures the collector can trace: the values it works on (`captures`,
/// any `Trace` type: a `Gc`, a tuple of them, a struct) and a function called with them
/// (`f`, which receives `&captures` and the call's arguments).
///
/// `f` must be `Copy`: a closure that captures nothing, or only `Copy` values, is; one that
/// captures a `Gc` (or a `String`, a `Vec`…) is not, and does not compile here. So all that
/// `f` owns is in plain sight, in `captures`, and a handler whose captures lead back to
/// its owner is an ordinary cycle that [`collect`](crate::collect) reclaims.
///
/// For the thread-safe flavour, capture `sync::Gc`s: a `TracedFn` is `Send` and `Sync`
/// when its captures and function are, so it fits in a `Box<dyn Callback<A> + Send +
/// Sync>`.
///
/// The alternative without this type is to capture [`Weak`](crate::Weak)s in a plain
/// closure (and upgrade them on each call), stored in an [`Untraced`](crate::Untraced):
/// a `Weak` is no edge, so nothing leaks, but nothing keeps the captured objects alive
/// either.
///
/// # Examples
///
/// ```
/// use cyclegc::{Callback, Gc, TracedFn};
///
/// let counter = Gc::new(std::cell::Cell::new(0));
/// let add = TracedFn::new(counter.clone(), |counter: &Gc<std::cell::Cell<i32>>, n: i32| {
///     counter.set(counter.get() + n);
///     counter.get()
/// });
/// assert_eq!(add.call(5), 5);
/// assert_eq!(add.call(2), 7);
/// assert_eq!(Gc::strong_count(add.captures()), 2);
/// ```
pub struct TracedFn<C, F> {
    captures: C,
    f: F,
}

impl<C: Trace, F: Copy + 'static> TracedFn<C, F> {
    /// A callable that calls `f` with `&captures` and its arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::{Callback, TracedFn};
    /// let greet = TracedFn::new(String::from("hello"), |s: &String, name: &str| format!("{s} {name}"));
    /// assert_eq!(greet.call("you"), "hello you");
    /// ```
    pub fn new<A, R>(captures: C, f: F) -> TracedFn<C, F>
    where
        F: Fn(&C, A) -> R,
    {
        TracedFn { captures, f }
    }
}

impl<C, F> TracedFn<C, F> {
    /// The captured values.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::TracedFn;
    /// let f = TracedFn::new(7, |n: &i32, (): ()| *n);
    /// assert_eq!(*f.captures(), 7);
    /// ```
    pub fn captures(&self) -> &C {
        &self.captures
    }

    /// Takes the captured values back.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::TracedFn;
    /// let f = TracedFn::new(String::from("x"), |s: &String, (): ()| s.len());
    /// assert_eq!(f.into_captures(), "x");
    /// ```
    pub fn into_captures(self) -> C {
        self.captures
    }
}

impl<A, R, C, F> Callback<A, R> for TracedFn<C, F>
where
    C: Trace,
    F: Fn(&C, A) -> R + Copy + 'static,
{
    fn call(&self, args: A) -> R {
        (self.f)(&self.captures, args)
    }
}

// SAFETY: the captures are the only part that can own a `Gc`: `f` is `Copy` (and a `Gc` is
// not), so it owns none.
unsafe impl<C: Trace, F: Copy + 'static> Trace for TracedFn<C, F> {
    fn trace(&self, tracer: &mut Tracer) {
        self.captures.trace(tracer);
    }

    fn may_contain_gc() -> bool {
        C::may_contain_gc()
    }

    fn __may_contain_gc_at(depth: usize) -> bool {
        C::__may_contain_gc_at(depth)
    }
}

impl<C: fmt::Debug, F> fmt::Debug for TracedFn<C, F> {
    /// Shows the captures (a function has nothing to show).
    ///
    /// # Examples
    ///
    /// ```
    /// let f = cyclegc::TracedFn::new(3, |n: &i32, (): ()| *n);
    /// assert_eq!(format!("{f:?}"), "TracedFn { captures: 3, .. }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedFn")
            .field("captures", &self.captures)
            .finish_non_exhaustive()
    }
}

/// `Trace` for boxed callbacks, with and without the thread-safety markers.
macro_rules! boxed_callback {
    ($($markers:tt)*) => {
        // SAFETY: forwards to the concrete callback's `Trace` impl (a supertrait).
        unsafe impl<A: 'static, R: 'static> Trace for Box<dyn Callback<A, R> $($markers)*> {
            fn trace(&self, tracer: &mut Tracer) {
                // SAFETY: `self` is part of the value being traced (the `Trace` contract).
                unsafe { tracer.nested(self) };
            }
        }

        impl<A: 'static, R: 'static> Contents for Box<dyn Callback<A, R> $($markers)*> {
            fn trace_contents(&self, tracer: &mut Tracer) {
                (**self).trace(tracer);
            }
        }
    };
}

boxed_callback!();
boxed_callback!(+ Send);
boxed_callback!(+ Send + Sync);
