//! The synchronisation primitives the crate builds on: std's, or loom's under `cfg(loom)`, so
//! that loom models run the very code users run. No other file names std's atomics or loom:
//! code that shares memory between threads takes its primitives from here. (One exception:
//! the counter of callback ids in `hooks.rs` is a std `Mutex`, under loom too, since it is
//! part of no protocol a model checks.)
//!
//! The single-threaded flavour shares nothing between threads and uses none of this, except
//! the thread-locals of the release loop both flavours share; the thread-safe flavour is
//! built on it. Its process-wide statics are declared with [`global!`] and its thread-locals
//! with [`local!`], so that under loom each model execution gets fresh ones, per loom
//! thread.
#![allow(dead_code, unused_imports)]

#[cfg(not(loom))]
pub(crate) mod sync {
    pub(crate) use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

    pub(crate) mod atomic {
        #[cfg(target_has_atomic = "64")]
        pub(crate) use std::sync::atomic::AtomicU64;
        pub(crate) use std::sync::atomic::{
            fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicUsize, Ordering,
        };
    }
}

#[cfg(loom)]
pub(crate) mod sync {
    pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};
    pub(crate) use std::sync::TryLockError;

    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
        };
    }
}

#[cfg(not(loom))]
pub(crate) mod thread {
    pub(crate) use std::thread::{spawn, yield_now, JoinHandle};
}

#[cfg(loom)]
pub(crate) mod thread {
    pub(crate) use loom::thread::{spawn, yield_now, JoinHandle};
}

#[cfg(not(loom))]
pub(crate) mod hint {
    pub(crate) use std::hint::spin_loop;
}

#[cfg(loom)]
pub(crate) mod hint {
    pub(crate) use loom::hint::spin_loop;
}

#[cfg(loom)]
pub(crate) mod cell {
    pub(crate) use loom::cell::UnsafeCell;
}

#[cfg(not(loom))]
pub(crate) mod cell {
    /// `std::cell::UnsafeCell` with loom's interface: access goes through `with` and
    /// `with_mut`, which is where loom checks for concurrent access.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Calls `f` with a pointer for reading the contents.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a pointer for writing the contents.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// Declares a thread-local: std's (`const`-initialised when the initialiser says so), or,
/// under loom, loom's, which each loom thread of each model execution initialises afresh.
macro_rules! local {
    ($(#[$attr:meta])* static $name:ident: $ty:ty = const $init:block;) => {
        #[cfg(not(loom))]
        std::thread_local! { $(#[$attr])* static $name: $ty = const $init; }
        #[cfg(loom)]
        loom::thread_local! { $(#[$attr])* static $name: $ty = $init; }
    };
    ($(#[$attr:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        #[cfg(not(loom))]
        std::thread_local! { $(#[$attr])* static $name: $ty = $init; }
        #[cfg(loom)]
        loom::thread_local! { $(#[$attr])* static $name: $ty = $init; }
    };
}

/// Declares a process-wide static built by `$init` (a `const` expression with std's
/// primitives): a plain `static`, or, under loom, a lazily built one that each model
/// execution builds afresh (loom's primitives cannot be built in a `const`).
macro_rules! global {
    ($(#[$attr:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        #[cfg(not(loom))]
        $(#[$attr])*
        static $name: $ty = $init;
        #[cfg(loom)]
        loom::lazy_static! { $(#[$attr])* static ref $name: $ty = $init; }
    };
}

pub(crate) use {global, local};
