//! Saved garbage of the shared heap (`sync::set_save_all`, `sync::take_garbage`). One test, in
//! a file of its own: saving is process-wide, and would keep other tests' garbage.
// The thread-safe flavour needs 64-bit atomics.
#![cfg(all(feature = "derive", target_has_atomic = "64"))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use cyclegc::sync::{self, Gc, Weak};
use cyclegc::{CallbackPhase, Trace};

#[derive(Trace)]
struct Node {
    #[trace(skip)]
    id: usize,
    #[trace(skip)]
    drops: Arc<AtomicUsize>,
    next: Mutex<Option<Gc<Node>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A 2-cycle made and orphaned on another thread; a `Weak` to its second node.
fn orphaned_pair(drops: &Arc<AtomicUsize>, first_id: usize) -> Weak<Node> {
    let drops = drops.clone();
    thread::spawn(move || {
        let a = Gc::new(Node {
            id: first_id,
            drops: drops.clone(),
            next: Mutex::new(None),
        });
        let b = Gc::new(Node {
            id: first_id + 1,
            drops,
            next: Mutex::new(Some(a.clone())),
        });
        *a.next.lock().unwrap() = Some(b.clone());
        Gc::downgrade(&b)
    })
    .join()
    .unwrap()
}

#[test]
fn saved_garbage_of_the_shared_heap() {
    let drops = Arc::new(AtomicUsize::new(0));
    let uncollectable = Arc::new(AtomicUsize::new(0));
    let seen = uncollectable.clone();
    let callback = sync::add_callback(move |event| {
        if event.phase == CallbackPhase::Stop {
            seen.fetch_add(event.uncollectable, Ordering::SeqCst);
        }
    });
    sync::collect();
    let weak = orphaned_pair(&drops, 0);
    let before = sync::stats();
    sync::set_save_all(true);
    assert!(sync::save_all());
    assert_eq!(sync::collect(), 0, "found, but kept");
    let after = sync::stats();
    assert_eq!(
        after.generations[2].uncollectable - before.generations[2].uncollectable,
        2
    );
    assert_eq!(after.collected, before.collected);
    assert_eq!(uncollectable.load(Ordering::SeqCst), 2);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    // Kept alive and intact: a `Weak` still reaches it, from any thread.
    let upgraded = thread::spawn(move || weak.upgrade().map(|b| b.id))
        .join()
        .unwrap();
    assert_eq!(upgraded, Some(1));
    // Collections while saving leave the saved objects alone (the list holds them).
    assert_eq!(sync::collect(), 0);
    let garbage = sync::take_garbage();
    assert!(sync::take_garbage().is_empty());
    let mut ids: Vec<usize> = garbage
        .iter()
        .map(|o| o.clone().downcast::<Node>().expect("only nodes").id)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [0, 1]);
    assert!(garbage.iter().all(|o| o.strong_count() == 2));
    // Handed to another thread, dropped there: garbage again, and freed once saving is off.
    sync::set_save_all(false);
    thread::spawn(move || drop(garbage)).join().unwrap();
    assert_eq!(sync::collect(), 2);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    // With saving off, garbage goes as usual.
    let _weak = orphaned_pair(&drops, 2);
    assert_eq!(sync::collect(), 2);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    assert!(sync::remove_callback(callback));
}
