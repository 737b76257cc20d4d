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

/// Keeps the first panic of a piece of work, to resume once the work is done; later ones are
/// dropped with [`drop_payload`].
#[derive(Default)]
pub(crate) struct FirstPanic(Option<Payload>);

impl FirstPanic {
    pub(crate) fn record(&mut self, payload: Payload) {
        if self.0.is_none() {
            self.0 = Some(payload);
        } else {
            drop_payload(payload);
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

    /// Resumes the first panic, if there was one.
    pub(crate) fn resume(mut self) {
        if let Some(payload) = self.0.take() {
            panic::resume_unwind(payload);
        }
    }
}

impl Drop for FirstPanic {
    /// Only reached with a payload if something unwinds past the work that recorded it.
    fn drop(&mut self) {
        if let Some(payload) = self.0.take() {
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
    fn only_the_first_panic_is_kept() {
        let mut first = FirstPanic::default();
        assert!(first.catch(|| {}));
        assert!(!first.catch(|| panic!("first")));
        assert!(!first.catch(|| std::panic::panic_any(Bomb(1))));
        let payload = panic::catch_unwind(AssertUnwindSafe(|| first.resume())).unwrap_err();
        assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "first");
    }
}
