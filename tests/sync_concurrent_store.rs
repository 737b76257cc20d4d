//! A handle cloned and stored by another thread while the shared heap's collector reads the
//! objects involved is no lying `Trace`: the collection keeps what it cannot judge, and
//! neither panics (in debug builds) nor counts an abort. In a file of its own: it turns
//! automatic collection off, which is process-wide.
// The thread-safe flavour needs 64-bit atomics.
#![cfg(all(feature = "derive", target_has_atomic = "64"))]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use cyclegc::sync::{self, Gc};
use cyclegc::{Trace, Tracer};

static ENTERED: AtomicBool = AtomicBool::new(false);
static OPEN: AtomicBool = AtomicBool::new(false);

/// Holds the collector inside its trace until `OPEN`.
struct Gate(bool);

// SAFETY: owns no `Gc`.
unsafe impl Trace for Gate {
    fn trace(&self, _: &mut Tracer) {
        if self.0 {
            ENTERED.store(true, Ordering::SeqCst);
            while !OPEN.load(Ordering::SeqCst) {
                thread::yield_now();
            }
        }
    }
}

#[derive(Trace)]
struct N {
    gate: Gate,
    #[trace(skip)]
    drops: Arc<AtomicUsize>,
    next: Mutex<Vec<Gc<N>>>,
}

impl Drop for N {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_handle_stored_during_a_collection_is_no_lie() {
    sync::disable();
    let drops = Arc::new(AtomicUsize::new(0));
    let n = |gate| {
        Gc::new(N {
            gate: Gate(gate),
            drops: drops.clone(),
            next: Mutex::new(Vec::new()),
        })
    };
    let r = n(false);
    let (z, g, y) = (n(false), n(true), n(false));
    r.next.lock().unwrap().extend([z, g, y.clone()]);
    drop(r.clone()); // `r` is a possible root
    let aborted = sync::stats().aborted;
    let collector = thread::spawn(|| std::panic::catch_unwind(sync::collect));
    while !ENTERED.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    // `r` and `z` are traced (`z`'s count read), the collector waits in `g`'s trace, `y`'s
    // trace comes next: it will report an edge to `z` that `z`'s count did not include.
    let z = r.next.lock().unwrap()[0].clone();
    y.next.lock().unwrap().push(z);
    OPEN.store(true, Ordering::SeqCst);
    let freed = collector
        .join()
        .unwrap()
        .expect("a concurrent store is not reported as a lie");
    assert_eq!(freed, 0, "everything is reachable");
    assert_eq!(sync::stats().aborted, aborted);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop((r, y));
    sync::collect();
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    sync::enable();
}
