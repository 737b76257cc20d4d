//! A panic hook runs on the collecting thread when a `Trace` impl panics, while the
//! collection holds the objects it examines: `get_mut` and `try_unwrap` on one of them must
//! not wait for a collection that is this thread's own (found by review: it waited for
//! ever). Its own test binary: it installs a panic hook.
// The thread-safe flavour needs 64-bit atomics.
#![cfg(all(feature = "derive", target_has_atomic = "64"))]

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use cyclegc::sync::{self, Gc};
use cyclegc::{Trace, Tracer};

/// Panics when traced.
struct Bomb;

// SAFETY: owns no `Gc`.
unsafe impl Trace for Bomb {
    fn trace(&self, _: &mut Tracer) {
        panic!("trace panics");
    }
}

#[derive(Trace)]
struct Node {
    bomb: Bomb,
}

static NODE: Mutex<Option<Gc<Node>>> = Mutex::new(None);
/// 1: `get_mut` answered `None` in the hook; 2: and `try_unwrap` answered `Err`.
static ANSWERED: AtomicU8 = AtomicU8::new(0);

#[test]
fn a_panic_hook_on_the_collecting_thread_does_not_wait_for_its_own_collection() {
    let node = Gc::new(Node { bomb: Bomb });
    drop(node.clone()); // buffered: a root of the next collection
    *NODE.lock().unwrap() = Some(node);
    if !cfg!(miri) {
        std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(30));
            eprintln!("hung: the panic hook waited for its own thread's collection");
            std::process::exit(3);
        });
    }
    std::panic::set_hook(Box::new(|_| {
        let Ok(mut slot) = NODE.try_lock() else {
            return;
        };
        if let Some(node) = slot.as_mut() {
            if Gc::get_mut(node).is_none() {
                ANSWERED.store(1, Ordering::SeqCst);
            }
        }
        if let Some(node) = slot.take() {
            match Gc::try_unwrap(node) {
                Err(node) => {
                    *slot = Some(node);
                    ANSWERED.store(2, Ordering::SeqCst);
                }
                Ok(_) => unreachable!("the collection holds it"),
            }
        }
    }));
    assert!(std::panic::catch_unwind(sync::collect).is_err());
    let _ = std::panic::take_hook();
    assert_eq!(ANSWERED.load(Ordering::SeqCst), 2);
    let node = NODE.lock().unwrap().take().unwrap();
    assert!(Gc::try_unwrap(node).is_ok(), "once the collection is over");
}
