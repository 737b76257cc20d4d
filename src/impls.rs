//! [`Trace`] for std types.
//!
//! Leaves own no `Gc` and are untracked. Containers trace their elements and are tracked if
//! their element type is. Interior-mutability cells are traced only if they can be read
//! without blocking or panicking right now; otherwise their contents count as referenced from
//! outside (alive). `Rc` and `Arc` are deliberately absent: see the [`Trace`] docs.

use std::borrow::{Cow, ToOwned};
use std::cell::{Cell, OnceCell, RefCell};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::ffi::{CStr, CString, OsStr, OsString};
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::num::{
    NonZeroI128, NonZeroI16, NonZeroI32, NonZeroI64, NonZeroI8, NonZeroIsize, NonZeroU128,
    NonZeroU16, NonZeroU32, NonZeroU64, NonZeroU8, NonZeroUsize, Saturating, Wrapping,
};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::trace::{Contents, Trace, Tracer};

/// Types that own no `Gc`: nothing to trace, never tracked.
macro_rules! leaf {
    ($($ty:ty),* $(,)?) => {$(
        // SAFETY: owns no `Gc`.
        unsafe impl Trace for $ty {
            #[inline]
            fn trace(&self, _: &mut Tracer) {}
            #[inline]
            fn may_contain_gc() -> bool {
                false
            }
        }
    )*};
}

leaf!(
    (),
    bool,
    char,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    String,
    CString,
    OsString,
    PathBuf,
    Duration,
    Instant,
    SystemTime,
    std::any::TypeId,
    std::sync::atomic::AtomicBool,
    std::sync::atomic::AtomicI8,
    std::sync::atomic::AtomicI16,
    std::sync::atomic::AtomicI32,
    std::sync::atomic::AtomicIsize,
    std::sync::atomic::AtomicU8,
    std::sync::atomic::AtomicU16,
    std::sync::atomic::AtomicU32,
    std::sync::atomic::AtomicUsize,
);

// Only where the target has 64-bit atomics (not 32-bit PowerPC or MIPS, for example).
#[cfg(target_has_atomic = "64")]
leaf!(std::sync::atomic::AtomicI64, std::sync::atomic::AtomicU64);

/// Unsized leaves (only reachable behind a pointer, so `may_contain_gc` does not apply).
macro_rules! unsized_leaf {
    ($($ty:ty),*) => {$(
        // SAFETY: owns no `Gc`.
        unsafe impl Trace for $ty {
            #[inline]
            fn trace(&self, _: &mut Tracer) {}
        }
    )*};
}

unsized_leaf!(str, CStr, OsStr, Path);

leaf!(
    NonZeroI8,
    NonZeroI16,
    NonZeroI32,
    NonZeroI64,
    NonZeroI128,
    NonZeroIsize,
    NonZeroU8,
    NonZeroU16,
    NonZeroU32,
    NonZeroU64,
    NonZeroU128,
    NonZeroUsize,
);

// SAFETY: a shared `'static` reference owns nothing; whatever it points to is kept alive by
// its owner, so leaving it out is exactly right.
unsafe impl<T: ?Sized> Trace for &'static T {
    fn trace(&self, _: &mut Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
}

// SAFETY: owns nothing at all.
unsafe impl<T: ?Sized> Trace for PhantomData<T> {
    fn trace(&self, _: &mut Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
}

// SAFETY: a `Cell<T: Copy>` cannot own a `Gc` (`Gc` is not `Copy`).
unsafe impl<T: Copy> Trace for Cell<T> {
    fn trace(&self, _: &mut Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
}

/// `may_contain_gc` of a container: whatever its element types answer.
macro_rules! forward_may_contain_gc {
    ($($param:ident),+) => {
        #[inline]
        fn may_contain_gc() -> bool {
            $(<$param as Trace>::may_contain_gc())||+
        }
        #[inline]
        fn __may_contain_gc_at(depth: usize) -> bool {
            $(<$param as Trace>::__may_contain_gc_at(depth))||+
        }
    };
}

/// Traces a container whose elements live behind a pointer: through [`Tracer::nested`], so
/// types nesting through it never recurse deeply, and not at all if the elements can never
/// own a `Gc`.
macro_rules! trace_nested {
    ($($elem:ty),+) => {
        #[inline]
        fn trace(&self, tracer: &mut Tracer) {
            // (Asking the elements, not `Self`: a hasher that owns a `Gc` makes `Self`
            // tracked, but it is not traced.)
            if $(<$elem as Trace>::may_contain_gc())||+ {
                // SAFETY: `self` is part of the value being traced (the `Trace` contract: impls
                // trace what they own, never temporaries).
                unsafe { tracer.nested(self) };
            }
        }
    };
}

/// Containers whose `&self` iterates over their elements. A hasher `S` is owned too but not
/// traced (it is not `Trace`): one that needs dropping may own a `Gc`, so it makes the
/// container tracked (what it owns is then kept alive, as by any untraced field).
macro_rules! iterable {
    ($($ty:ident<$param:ident $(, $extra:ident: $bound:path)?>),* $(,)?) => {$(
        // SAFETY: every element is owned by the container and reported once.
        unsafe impl<$param: Trace $(, $extra: $bound)?> Trace for $ty<$param $(, $extra)?> {
            trace_nested!($param);
            fn may_contain_gc() -> bool {
                <$param as Trace>::may_contain_gc() $(|| std::mem::needs_drop::<$extra>())?
            }
            fn __may_contain_gc_at(depth: usize) -> bool {
                <$param as Trace>::__may_contain_gc_at(depth)
                    $(|| std::mem::needs_drop::<$extra>())?
            }
        }

        impl<$param: Trace $(, $extra: $bound)?> Contents for $ty<$param $(, $extra)?> {
            fn trace_contents(&self, tracer: &mut Tracer) {
                for item in self {
                    item.trace(tracer);
                }
            }
        }
    )*};
}

iterable!(
    Vec<T>,
    VecDeque<T>,
    LinkedList<T>,
    BinaryHeap<T>,
    BTreeSet<T>,
    HashSet<T, S: BuildHasher>,
);

/// Maps: every key and value (and a hasher, as for [`iterable!`]).
macro_rules! map {
    ($($ty:ident<K, V $(, $extra:ident: $bound:path)?>),*) => {$(
        // SAFETY: every key and value is owned by the map and reported once.
        unsafe impl<K: Trace, V: Trace $(, $extra: $bound)?> Trace for $ty<K, V $(, $extra)?> {
            trace_nested!(K, V);
            fn may_contain_gc() -> bool {
                <K as Trace>::may_contain_gc()
                    || <V as Trace>::may_contain_gc()
                    $(|| std::mem::needs_drop::<$extra>())?
            }
            fn __may_contain_gc_at(depth: usize) -> bool {
                <K as Trace>::__may_contain_gc_at(depth)
                    || <V as Trace>::__may_contain_gc_at(depth)
                    $(|| std::mem::needs_drop::<$extra>())?
            }
        }

        impl<K: Trace, V: Trace $(, $extra: $bound)?> Contents for $ty<K, V $(, $extra)?> {
            fn trace_contents(&self, tracer: &mut Tracer) {
                for (key, value) in self {
                    key.trace(tracer);
                    value.trace(tracer);
                }
            }
        }
    )*};
}

map!(HashMap<K, V, S: BuildHasher>, BTreeMap<K, V>);

// SAFETY: every element is owned by the slice and reported once.
unsafe impl<T: Trace> Trace for [T] {
    fn trace(&self, tracer: &mut Tracer) {
        // A slice of leaves (a `Gc<[u8]>` made from a box is tracked) has nothing to walk.
        if T::may_contain_gc() {
            for item in self {
                item.trace(tracer);
            }
        }
    }
}

// SAFETY: every element is owned by the array and reported once.
unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    fn trace(&self, tracer: &mut Tracer) {
        for item in self {
            item.trace(tracer);
        }
    }
    forward_may_contain_gc!(T);
}

// SAFETY: the content is owned and reported once.
unsafe impl<T: Trace> Trace for Option<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        if let Some(value) = self {
            value.trace(tracer);
        }
    }
    forward_may_contain_gc!(T);
}

// SAFETY: the content is owned and reported once.
unsafe impl<T: Trace, E: Trace> Trace for Result<T, E> {
    fn trace(&self, tracer: &mut Tracer) {
        match self {
            Ok(value) => value.trace(tracer),
            Err(error) => error.trace(tracer),
        }
    }
    forward_may_contain_gc!(T, E);
}

// SAFETY: the boxed value is owned and reported once.
unsafe impl<T: Trace> Trace for Box<T> {
    trace_nested!(T);
    forward_may_contain_gc!(T);
}

impl<T: Trace> Contents for Box<T> {
    #[inline]
    fn trace_contents(&self, tracer: &mut Tracer) {
        (**self).trace(tracer);
    }
}

// SAFETY: the boxed elements are owned and reported once.
unsafe impl<T: Trace> Trace for Box<[T]> {
    trace_nested!(T);
    forward_may_contain_gc!(T);
}

impl<T: Trace> Contents for Box<[T]> {
    fn trace_contents(&self, tracer: &mut Tracer) {
        (**self).trace(tracer);
    }
}

// SAFETY: owns no `Gc`.
unsafe impl Trace for Box<str> {
    fn trace(&self, _: &mut Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
}

/// Boxed trait objects: the vtable's `trace` reports what the concrete value owns. For your
/// own `trait Shape: Trace`, write the same three lines for `Box<dyn Shape>`.
macro_rules! boxed_dyn {
    ($($dyn:ty),*) => {$(
        // SAFETY: forwards to the concrete value's `Trace` impl.
        unsafe impl Trace for Box<$dyn> {
            fn trace(&self, tracer: &mut Tracer) {
                // SAFETY: `self` is part of the value being traced (the `Trace` contract).
                unsafe { tracer.nested(self) };
            }
        }

        impl Contents for Box<$dyn> {
            fn trace_contents(&self, tracer: &mut Tracer) {
                (**self).trace(tracer);
            }
        }
    )*};
}

boxed_dyn!(dyn Trace, dyn Trace + Send, dyn Trace + Send + Sync);

// SAFETY: only the owned variant owns its data.
unsafe impl<B> Trace for Cow<'_, B>
where
    B: ?Sized + ToOwned,
    B::Owned: Trace,
{
    fn trace(&self, tracer: &mut Tracer) {
        if let Cow::Owned(owned) = self {
            owned.trace(tracer);
        }
    }
    fn may_contain_gc() -> bool {
        <B::Owned as Trace>::may_contain_gc()
    }
    fn __may_contain_gc_at(depth: usize) -> bool {
        <B::Owned as Trace>::__may_contain_gc_at(depth)
    }
}

// SAFETY: the content is owned. A mutable borrow in progress means the content cannot be read
// now: it is skipped, so everything it owns counts as referenced from outside (alive).
unsafe impl<T: Trace> Trace for RefCell<T> {
    fn trace(&self, tracer: &mut Tracer) {
        match self.try_borrow() {
            // SAFETY: the borrow is of `self`, part of the value being traced; a `Ref` derefs
            // into the cell.
            Ok(value) => unsafe { tracer.guarded(value) },
            Err(_) => tracer.skip_busy(),
        }
    }
    forward_may_contain_gc!(T);
}

// SAFETY: the content, once set, is owned and reported once.
unsafe impl<T: Trace> Trace for OnceCell<T> {
    fn trace(&self, tracer: &mut Tracer) {
        if let Some(value) = self.get() {
            value.trace(tracer);
        }
    }
    forward_may_contain_gc!(T);
}

// SAFETY: the content, once set, is owned and reported once.
unsafe impl<T: Trace> Trace for OnceLock<T> {
    fn trace(&self, tracer: &mut Tracer) {
        if let Some(value) = self.get() {
            value.trace(tracer);
        }
    }
    forward_may_contain_gc!(T);
}

/// Locks, read with a `try_*` call that gives the guard (`None` when the lock is held, or
/// poisoned: "cannot read now").
macro_rules! lock {
    ($($ty:ty: |$lock:ident| $try_guard:expr),* $(,)?) => {$(
        // SAFETY: the content is owned. A lock that cannot be read now is skipped (what it
        // holds counts as referenced from outside, so alive), never blocked on.
        unsafe impl<T: Trace> Trace for $ty {
            fn trace(&self, tracer: &mut Tracer) {
                let $lock = self;
                match $try_guard {
                    // SAFETY: the guard locks `self`, part of the value being traced, and
                    // derefs into the lock's data, which does not move with the guard.
                    Some(value) => unsafe { tracer.guarded(value) },
                    None => tracer.skip_busy(),
                }
            }
            forward_may_contain_gc!(T);
        }
    )*};
}

lock!(
    Mutex<T>: |lock| lock.try_lock().ok(),
    RwLock<T>: |lock| lock.try_read().ok(),
);

/// Transparent wrappers.
macro_rules! wrapper {
    ($($ty:ident),*) => {$(
        // SAFETY: the wrapped value is owned and reported once.
        unsafe impl<T: Trace> Trace for $ty<T> {
            fn trace(&self, tracer: &mut Tracer) {
                self.0.trace(tracer);
            }
            forward_may_contain_gc!(T);
        }
    )*};
}

wrapper!(Reverse, Wrapping, Saturating);

macro_rules! tuple {
    ($($name:ident)+) => {
        // SAFETY: every element is owned and reported once.
        unsafe impl<$($name: Trace),+> Trace for ($($name,)+) {
            #[allow(non_snake_case)]
            fn trace(&self, tracer: &mut Tracer) {
                let ($($name,)+) = self;
                $($name.trace(tracer);)+
            }
            forward_may_contain_gc!($($name),+);
        }
    };
}

tuple!(A);
tuple!(A B);
tuple!(A B C);
tuple!(A B C D);
tuple!(A B C D E);
tuple!(A B C D E F);
tuple!(A B C D E F G);
tuple!(A B C D E F G H);
tuple!(A B C D E F G H I);
tuple!(A B C D E F G H I J);
tuple!(A B C D E F G H I J K);
tuple!(A B C D E F G H I J K L);

leaf!(
    std::cmp::Ordering,
    std::net::IpAddr,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr,
    std::net::SocketAddr,
    std::net::SocketAddrV4,
    std::net::SocketAddrV6,
    std::ops::RangeFull,
);

/// Function pointers own nothing (a closure's captures cannot be reached through one).
macro_rules! fn_pointer {
    ($($arg:ident)*) => {
        // SAFETY: a function pointer owns nothing.
        unsafe impl<R $(, $arg)*> Trace for fn($($arg),*) -> R {
            fn trace(&self, _: &mut Tracer) {}
            fn may_contain_gc() -> bool {
                false
            }
        }
        // SAFETY: as above.
        unsafe impl<R $(, $arg)*> Trace for unsafe fn($($arg),*) -> R {
            fn trace(&self, _: &mut Tracer) {}
            fn may_contain_gc() -> bool {
                false
            }
        }
        // SAFETY: as above.
        unsafe impl<R $(, $arg)*> Trace for extern "C" fn($($arg),*) -> R {
            fn trace(&self, _: &mut Tracer) {}
            fn may_contain_gc() -> bool {
                false
            }
        }
    };
}

fn_pointer!();
fn_pointer!(A);
fn_pointer!(A B);
fn_pointer!(A B C);
fn_pointer!(A B C D);
fn_pointer!(A B C D E);
fn_pointer!(A B C D E F);

/// Ranges: their bounds are owned (a `Range<Gc<T>>` owns two `Gc`s).
macro_rules! range {
    ($($ty:ident { $($bound:ident),+ }),* $(,)?) => {$(
        // SAFETY: each bound is owned and reported once.
        unsafe impl<T: Trace> Trace for std::ops::$ty<T> {
            fn trace(&self, tracer: &mut Tracer) {
                $(self.$bound.trace(tracer);)+
            }
            forward_may_contain_gc!(T);
        }
    )*};
}

range!(
    Range { start, end },
    RangeFrom { start },
    RangeTo { end },
    RangeToInclusive { end },
);

// SAFETY: both bounds are owned and reported once.
unsafe impl<T: Trace> Trace for std::ops::RangeInclusive<T> {
    fn trace(&self, tracer: &mut Tracer) {
        self.start().trace(tracer);
        self.end().trace(tracer);
    }
    forward_may_contain_gc!(T);
}

// SAFETY: an included or excluded bound owns its value, reported once.
unsafe impl<T: Trace> Trace for std::ops::Bound<T> {
    fn trace(&self, tracer: &mut Tracer) {
        match self {
            std::ops::Bound::Included(value) | std::ops::Bound::Excluded(value) => {
                value.trace(tracer)
            }
            std::ops::Bound::Unbounded => {}
        }
    }
    forward_may_contain_gc!(T);
}

// SAFETY: the wrapped value is owned and reported once; whether it is ever dropped does not
// change what it owns while it exists. (A value taken out with `ManuallyDrop::take` outside
// its owner's `Drop` must not be traced again: that is the `unsafe` caller's obligation.)
unsafe impl<T: Trace> Trace for std::mem::ManuallyDrop<T> {
    fn trace(&self, tracer: &mut Tracer) {
        (**self).trace(tracer);
    }
    forward_may_contain_gc!(T);
}

// SAFETY: a `Pin<P>` is the pointer `P` (`#[repr(transparent)]`); tracing it reads the
// pointer, never moves what it points to.
unsafe impl<P: Trace> Trace for std::pin::Pin<P> {
    fn trace(&self, tracer: &mut Tracer) {
        // SAFETY: `Pin<P>` is `#[repr(transparent)]` over `P`; a shared reference to the
        // pointer lets no one move the pointee.
        let pointer = unsafe { &*(self as *const std::pin::Pin<P>).cast::<P>() };
        pointer.trace(tracer);
    }
    forward_may_contain_gc!(P);
}

/// `Box<dyn Any>` can hold anything, a `Gc` included, but the collector cannot see inside:
/// it reports nothing (what it holds stays alive, as behind `#[trace(skip)]`).
macro_rules! opaque_any {
    ($($ty:ty),*) => {$(
        // SAFETY: reports nothing, which is always allowed; it may own a `Gc`, so it stays
        // tracked (`may_contain_gc` keeps its default, `true`).
        unsafe impl Trace for $ty {
            fn trace(&self, _: &mut Tracer) {}
        }
    )*};
}

opaque_any!(
    Box<dyn std::any::Any>,
    Box<dyn std::any::Any + Send>,
    Box<dyn std::any::Any + Send + Sync>,
    // The trait objects themselves, so that `Gc::from(Box<dyn Any>)` makes a `Gc<dyn Any>`
    // as `Rc::from` does: opaque in the same way.
    dyn std::any::Any,
    dyn std::any::Any + Send,
    dyn std::any::Any + Send + Sync
);

// Other crates' containers, each behind the feature named after the crate. They follow the
// std containers above: elements traced through `Tracer::nested`, locks by `try_*`.

#[cfg(feature = "hashbrown")]
mod hashbrown_impls {
    use super::*;
    use hashbrown::{HashMap as HashbrownMap, HashSet as HashbrownSet};

    iterable!(HashbrownSet<T, S: BuildHasher>);
    map!(HashbrownMap<K, V, S: BuildHasher>);
}

#[cfg(feature = "indexmap")]
mod indexmap_impls {
    use super::*;
    use indexmap::{IndexMap, IndexSet};

    iterable!(IndexSet<T, S: BuildHasher>);
    map!(IndexMap<K, V, S: BuildHasher>);
}

#[cfg(feature = "smallvec")]
mod smallvec_impls {
    use super::*;
    use smallvec::{Array, SmallVec};

    // SAFETY: every element is owned by the vector (inline or spilled) and reported once.
    unsafe impl<A: Array> Trace for SmallVec<A>
    where
        A::Item: Trace,
    {
        trace_nested!(A::Item);
        fn may_contain_gc() -> bool {
            <A::Item as Trace>::may_contain_gc()
        }
        fn __may_contain_gc_at(depth: usize) -> bool {
            <A::Item as Trace>::__may_contain_gc_at(depth)
        }
    }

    impl<A: Array> Contents for SmallVec<A>
    where
        A::Item: Trace,
    {
        fn trace_contents(&self, tracer: &mut Tracer) {
            for item in self {
                item.trace(tracer);
            }
        }
    }
}

#[cfg(feature = "arrayvec")]
mod arrayvec_impls {
    use super::*;
    use arrayvec::{ArrayString, ArrayVec};

    // SAFETY: every element is owned by the vector and reported once. Inline storage, like
    // an array: traced directly.
    unsafe impl<T: Trace, const CAP: usize> Trace for ArrayVec<T, CAP> {
        fn trace(&self, tracer: &mut Tracer) {
            for item in self {
                item.trace(tracer);
            }
        }
        forward_may_contain_gc!(T);
    }

    // SAFETY: owns no `Gc`.
    unsafe impl<const CAP: usize> Trace for ArrayString<CAP> {
        fn trace(&self, _: &mut Tracer) {}
        fn may_contain_gc() -> bool {
            false
        }
    }
}

#[cfg(feature = "slotmap")]
mod slotmap_impls {
    use super::*;
    use slotmap::{DenseSlotMap, Key, SecondaryMap, SlotMap, SparseSecondaryMap};

    /// Slot maps: every value (keys are plain `Copy` handles).
    macro_rules! slot_map {
        ($($ty:ident<K, V $(, $extra:ident: $bound:path)?>),*) => {$(
            // SAFETY: every value is owned by the map and reported once.
            unsafe impl<K: Key, V: Trace $(, $extra: $bound)?> Trace for $ty<K, V $(, $extra)?> {
                trace_nested!(V);
                fn may_contain_gc() -> bool {
                    <V as Trace>::may_contain_gc() $(|| std::mem::needs_drop::<$extra>())?
                }
                fn __may_contain_gc_at(depth: usize) -> bool {
                    <V as Trace>::__may_contain_gc_at(depth)
                        $(|| std::mem::needs_drop::<$extra>())?
                }
            }

            impl<K: Key, V: Trace $(, $extra: $bound)?> Contents for $ty<K, V $(, $extra)?> {
                fn trace_contents(&self, tracer: &mut Tracer) {
                    for value in self.values() {
                        value.trace(tracer);
                    }
                }
            }
        )*};
    }

    slot_map!(
        SlotMap<K, V>,
        DenseSlotMap<K, V>,
        SecondaryMap<K, V>,
        SparseSecondaryMap<K, V, S: BuildHasher>
    );
}

#[cfg(feature = "serde_json")]
leaf!(serde_json::Value, serde_json::Map<String, serde_json::Value>, serde_json::Number);

#[cfg(feature = "parking_lot")]
lock!(
    parking_lot::Mutex<T>: |lock| lock.try_lock(),
    parking_lot::RwLock<T>: |lock| lock.try_read(),
);
