//! Panics caught while running user code that must not stop the work in progress (dropping
//! garbage, tracing, draining the release loop, the thread-exit collection).
//!
//! A panic payload is a `Box<dyn Any + Send>` chosen by the user: `panic_any(p)` can carry a
//! `p` whose own `Drop` panics. Dropping such a payload outside a `catch_unwind` would unwind
//! out of the collector in the middle of its work (DESIGN.md §2.8), and during unwinding it
//! would abort the process. So every payload the crate does not hand back to the user is
//! dropped here, under `catch_unwind`.

use std::any::Any;
use std::mem;
use std::panic::{self, AssertUnwindSafe};

/// A caught panic's payload.
pub(crate) type Payload = Box<dyn Any + Send>;

/// How many payloads in a row [`drop_payload`] drops when each one's `Drop` panics with the
/// next. A payload type can make that chain endless; past this many, the last is leaked.
const PAYLOAD_DROPS: usize = 8;

/// Drops a payload the crate will not resume. If its `Drop` panics, the payload of that panic
/// is dropped the same way, up to [`PAYLOAD_DROPS`] in a row.
pub(crate) fn drop_payload(mut payload: Payload) {
    for _ in 0..PAYLOAD_DROPS {
        match panic::catch_unwind(AssertUnwindSafe(|| drop(payload))) {
            Ok(()) => return,
            Err(next) => payload = next,
        }
    }
    mem::forget(payload);
}

/// The panics caught during a piece of work (a collection): the first to resume once the work
/// is done, and the later ones, kept rather than dropped at once because a payload's `Drop` is
/// user code, which must not run in the middle of the work (see `collect.rs`). They are dropped
/// with [`drop_payload`] when the work is done.
#[derive(Default)]
pub(crate) struct Panics {
    first: Option<Payload>,
    later: Vec<Payload>,
}

impl Panics {
    pub(crate) fn record(&mut self, payload: Payload) {
        if self.first.is_none() {
            self.first = Some(payload);
        } else {
            self.later.push(payload);
        }
    }

    /// Runs `f`, recording its panic if it panics. Returns whether it completed.
    pub(crate) fn catch(&mut self, f: impl FnOnce()) -> bool {
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => true,
            Err(payload) => {
                self.record(payload);
                false
            }
        }
    }

    /// How many panics were caught so far.
    pub(crate) fn count(&self) -> usize {
        usize::from(self.first.is_some()) + self.later.len()
    }

    /// Ends the work: drops the later payloads and returns the first.
    pub(crate) fn finish(mut self) -> Option<Payload> {
        for payload in self.later.drain(..) {
            drop_payload(payload);
        }
        self.first.take()
    }
}

impl Drop for Panics {
    /// Only reached with payloads if something unwinds past the work that recorded them.
    fn drop(&mut self) {
        for payload in self.later.drain(..).chain(self.first.take()) {
            drop_payload(payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        static BOMBS_DROPPED: Cell<usize> = const { Cell::new(0) };
    }

    /// A payload whose drop panics with another such payload, `0` more times.
    struct Bomb(usize);

    impl Drop for Bomb {
        fn drop(&mut self) {
            BOMBS_DROPPED.with(|d| d.set(d.get() + 1));
            if self.0 > 0 {
                std::panic::panic_any(Bomb(self.0 - 1));
            }
        }
    }

    #[test]
    fn a_payload_whose_drop_panics_is_dropped_without_unwinding() {
        let before = BOMBS_DROPPED.with(Cell::get);
        drop_payload(Box::new(Bomb(3)));
        // Each bomb's drop panicked with the next; every one was dropped.
        assert_eq!(BOMBS_DROPPED.with(Cell::get) - before, 4);
    }

    /// An endless chain ends in a leak of its last payload. Run in a child process (this test
    /// binary, re-run on this test alone), so that the leak stays out of this process, which
    /// Miri's leak checker watches.
    #[test]
    #[cfg_attr(miri, ignore = "spawns a process")]
    fn an_endless_chain_of_panicking_payloads_ends() {
        const CHILD: &str = "CYCLEGC_ENDLESS_PAYLOAD_CHILD";
        if std::env::var_os(CHILD).is_some() {
            drop_payload(Box::new(Bomb(usize::MAX)));
            assert_eq!(BOMBS_DROPPED.with(Cell::get), PAYLOAD_DROPS);
            return;
        }
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "panics::tests::an_endless_chain_of_panicking_payloads_ends",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
    }

    #[test]
    fn the_first_panic_is_returned_and_later_payloads_are_dropped_at_the_end() {
        let before = BOMBS_DROPPED.with(Cell::get);
        let mut panics = Panics::default();
        assert!(panics.catch(|| {}));
        assert!(!panics.catch(|| panic!("first")));
        assert!(!panics.catch(|| std::panic::panic_any(Bomb(1))));
        assert_eq!(panics.count(), 2);
        assert_eq!(BOMBS_DROPPED.with(Cell::get), before, "kept until the end");
        let first = panics.finish().unwrap();
        assert_eq!(*first.downcast_ref::<&str>().unwrap(), "first");
        assert_eq!(BOMBS_DROPPED.with(Cell::get) - before, 2);
    }
}
