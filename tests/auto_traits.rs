//! Compile-time guarantees: thread safety markers and pointer sizes.

use std::mem::size_of;

use cyclegc::{Gc, Weak};
use static_assertions::{assert_eq_size, assert_impl_all, assert_not_impl_any};

mod static_check_gc_is_not_send_nor_sync {
    use super::*;
    // Premise: the payload itself is thread-safe, so only the pointer can be the reason.
    assert_impl_all!(u32: Send, Sync);
    assert_not_impl_any!(Gc<u32>: Send, Sync);
    assert_not_impl_any!(Weak<u32>: Send, Sync);
}

mod static_check_pointers_are_one_word {
    use super::*;
    assert_eq_size!(Gc<u64>, usize);
    assert_eq_size!(Option<Gc<u64>>, usize);
    assert_eq_size!(Weak<u64>, usize);
    assert_eq_size!(Option<Weak<u64>>, usize);
}

mod static_check_common_traits {
    use super::*;
    assert_impl_all!(Gc<u32>: Clone, std::fmt::Debug, std::fmt::Pointer, Unpin);
    assert_impl_all!(Gc<u32>: std::panic::UnwindSafe, std::panic::RefUnwindSafe);
    // As for `Rc`: only a payload that is `RefUnwindSafe` makes the pointer so.
    assert_not_impl_any!(Gc<std::cell::UnsafeCell<u32>>: std::panic::UnwindSafe, std::panic::RefUnwindSafe);
    assert_impl_all!(Weak<u32>: Clone, std::fmt::Debug, Default);
}

#[test]
fn sizes_match_rc() {
    assert_eq!(
        size_of::<Gc<[u8; 100]>>(),
        size_of::<std::rc::Rc<[u8; 100]>>()
    );
}

/// The thread-safe flavour: `Arc`'s rule, `Send + Sync` exactly when the value is both.
#[cfg(target_has_atomic = "64")]
mod static_check_sync_handles {
    use super::*;
    use cyclegc::sync;
    use std::cell::Cell;
    use std::sync::MutexGuard;

    assert_impl_all!(sync::Gc<u32>: Send, Sync, Clone, std::fmt::Debug, Unpin);
    assert_impl_all!(sync::Weak<u32>: Send, Sync, Clone, std::fmt::Debug, Default);
    assert_impl_all!(sync::Gc<std::sync::Mutex<Vec<sync::Gc<u32>>>>: Send, Sync);
    // `Send` but not `Sync`: shared between threads, it would be read from two at once.
    assert_impl_all!(Cell<u8>: Send);
    assert_not_impl_any!(sync::Gc<Cell<u8>>: Send, Sync);
    assert_not_impl_any!(sync::Weak<Cell<u8>>: Send, Sync);
    // `Sync` but not `Send`: the last handle may drop it on another thread.
    assert_impl_all!(MutexGuard<'static, u8>: Sync);
    assert_not_impl_any!(sync::Gc<MutexGuard<'static, u8>>: Send, Sync);
    assert_not_impl_any!(sync::Weak<MutexGuard<'static, u8>>: Send, Sync);
    assert_not_impl_any!(sync::Gc<std::rc::Rc<u8>>: Send, Sync);
    assert_impl_all!(sync::Gc<u32>: std::panic::UnwindSafe, std::panic::RefUnwindSafe);
    // As for `Arc`: only a payload that is `RefUnwindSafe` makes the pointer so.
    assert_not_impl_any!(sync::Gc<std::cell::UnsafeCell<u32>>: std::panic::UnwindSafe, std::panic::RefUnwindSafe);

    assert_eq_size!(sync::Gc<u64>, usize);
    assert_eq_size!(Option<sync::Gc<u64>>, usize);
    assert_eq_size!(sync::Weak<u64>, usize);
    assert_eq_size!(Option<sync::Weak<u64>>, usize);
}
