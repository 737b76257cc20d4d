//! The thread-safe heap's view of itself: `sync::objects`, `referents` and `referrers` list
//! exactly the live tracked objects and edges, from every thread, through every way an
//! object is made and every way it goes, while other threads allocate, free and collect.
//! The heap is the whole process's: each test looks only at its own objects (by tag), and
//! the tests of this file run one at a time (a walk holds a handle to every object for a
//! moment, which would keep another test's objects listed a little longer).
// The thread-safe flavour needs 64-bit atomics.
#![cfg(all(feature = "derive", target_has_atomic = "64"))]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use cyclegc::sync::{self, objects, referents, referrers, AnyGc, Gc, Weak};
use cyclegc::Trace;

#[derive(Trace)]
struct Node {
    #[trace(skip)]
    tag: u32,
    #[trace(skip)]
    id: u32,
    #[trace(skip)]
    alive: AtomicBool,
    edges: Mutex<Vec<Gc<Node>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        assert!(self.alive.swap(false, Ordering::SeqCst), "dropped twice");
    }
}

impl Clone for Node {
    fn clone(&self) -> Node {
        Node {
            tag: self.tag,
            id: self.id,
            alive: AtomicBool::new(true),
            edges: Mutex::new(self.edges.lock().unwrap().clone()),
        }
    }
}

/// Runs the tests of this file one at a time; and gives a tag no other test uses.
fn serial() -> (std::sync::MutexGuard<'static, ()>, u32) {
    static SERIAL: Mutex<()> = Mutex::new(());
    let guard = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (guard, fresh_tag())
}

/// A tag no other test uses.
fn fresh_tag() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn node(tag: u32, id: u32) -> Gc<Node> {
    Gc::new(Node {
        tag,
        id,
        alive: AtomicBool::new(true),
        edges: Mutex::new(Vec::new()),
    })
}

fn link(from: &Gc<Node>, to: &Gc<Node>) {
    from.edges.lock().unwrap().push(to.clone());
}

/// The ids of the listed `Node`s tagged `tag`, in the order listed; every listed node of any
/// tag must be alive.
fn ids(tag: u32, listed: Vec<AnyGc>) -> Vec<u32> {
    listed
        .into_iter()
        .filter_map(|o| o.downcast::<Node>().ok())
        .inspect(|n| assert!(n.alive.load(Ordering::SeqCst), "listed a dropped value"))
        .filter(|n| n.tag == tag)
        .map(|n| n.id)
        .collect()
}

/// Sizes: smaller under Miri.
const MANY: u32 = if cfg!(miri) { 120 } else { 3000 };

#[test]
fn objects_lists_every_live_tracked_object_of_every_thread() {
    let (_serial, tag) = serial();
    let here: Vec<_> = (0..5).map(|id| node(tag, id)).collect();
    let there: Vec<_> = thread::spawn(move || (5..8).map(|id| node(tag, id)).collect())
        .join()
        .unwrap();
    let _text = Gc::new(String::from("untracked"));
    let mut listed = ids(tag, objects());
    // One thread's objects in the order it allocated them.
    let (mine, theirs): (Vec<u32>, Vec<u32>) = listed.iter().partition(|&&id| id < 5);
    assert_eq!(mine, [0, 1, 2, 3, 4]);
    assert_eq!(theirs, [5, 6, 7]);
    listed.sort_unstable();
    assert_eq!(listed, (0..8).collect::<Vec<_>>());
    drop(here);
    assert_eq!(ids(tag, objects()), [5, 6, 7]);
    drop(there);
    assert!(ids(tag, objects()).is_empty());
}

#[test]
fn the_list_stays_true_when_tables_tidy_and_renumber() {
    let (_serial, tag) = serial();
    let nodes: Vec<_> = (0..MANY).map(|id| node(tag, id)).collect();
    // Free two in three, scattered, then allocate more, so that the table is tidied and the
    // survivors renumbered; and free some of those on another thread.
    let (kept, freed): (Vec<_>, Vec<_>) = nodes.into_iter().partition(|n| n.id % 3 == 0);
    drop(freed);
    let more: Vec<_> = (MANY..2 * MANY).map(|id| node(tag, id)).collect();
    let (kept, elsewhere): (Vec<_>, Vec<_>) = kept.into_iter().partition(|n| n.id % 2 == 0);
    thread::spawn(move || drop(elsewhere)).join().unwrap();
    let expected: Vec<u32> = (0..MANY)
        .filter(|id| id % 6 == 0)
        .chain(MANY..2 * MANY)
        .collect();
    assert_eq!(ids(tag, objects()), expected);
    // Weak counts are untouched by the numbers sharing their word.
    let weak = Gc::downgrade(&kept[1]);
    assert_eq!((Gc::weak_count(&kept[1]), Gc::weak_count(&kept[0])), (1, 0));
    drop(weak);
    drop((kept, more));
    assert!(ids(tag, objects()).is_empty());
}

#[test]
fn objects_made_on_an_exited_thread_stay_listed_until_they_go() {
    let (_serial, tag) = serial();
    let made = thread::spawn(move || {
        let a = node(tag, 0);
        let b = node(tag, 1);
        link(&a, &b);
        link(&b, &a);
        drop(b);
        a
    })
    .join()
    .unwrap();
    let mut listed = ids(tag, objects());
    listed.sort_unstable();
    assert_eq!(listed, [0, 1]);
    // A later thread takes over the exited one's table and appends to it.
    let later = thread::spawn(move || node(tag, 2)).join().unwrap();
    drop(made);
    assert_eq!(
        ids(tag, objects()).len(),
        3,
        "the cycle is alive until collected"
    );
    for _ in 0..10 {
        if ids(tag, objects()).len() == 1 {
            break;
        }
        sync::collect();
    }
    assert_eq!(ids(tag, objects()), [2]);
    drop(later);
}

#[test]
fn referents_and_referrers_are_exact() {
    let (_serial, tag) = serial();
    let leaf = node(tag, 0);
    let a = node(tag, 1);
    let b = node(tag, 2);
    link(&a, &leaf);
    link(&b, &leaf);
    link(&b, &leaf);
    link(&b, &a);
    let edges = referents(&AnyGc::from(b.clone()));
    assert_eq!(ids(tag, edges), [0, 0, 1]);
    let mut found = ids(tag, referrers(&AnyGc::from(leaf.clone())));
    found.sort_unstable();
    assert_eq!(found, [1, 2]);
    assert_eq!(ids(tag, referrers(&AnyGc::from(b.clone()))), [] as [u32; 0]);
    // Untracked: no edges, never a referrer.
    let text = AnyGc::from(Gc::new(String::from("untracked")));
    assert!(referents(&text).is_empty());
    assert!(referrers(&text).is_empty());
}

#[test]
fn a_lock_held_on_another_thread_hides_its_edges_without_blocking() {
    let (_serial, tag) = serial();
    let leaf = node(tag, 0);
    let parent = node(tag, 1);
    link(&parent, &leaf);
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let parent = parent.clone();
        thread::spawn(move || {
            let guard = parent.edges.lock().unwrap();
            locked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            drop(guard);
        })
    };
    locked_rx.recv().unwrap();
    assert!(referents(&AnyGc::from(parent.clone())).is_empty());
    assert!(ids(tag, referrers(&AnyGc::from(leaf.clone()))).is_empty());
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(ids(tag, referents(&AnyGc::from(parent.clone()))), [0]);
    assert_eq!(ids(tag, referrers(&AnyGc::from(leaf))), [1]);
}

#[test]
fn get_mut_and_make_mut_take_the_object_out_of_the_list() {
    let (_serial, tag) = serial();
    let mut lent = node(tag, 0);
    let shared = node(tag, 1);
    let mut cloned = node(tag, 2);
    let other = cloned.clone();
    let pinned = Gc::pin(Node {
        tag,
        id: 3,
        alive: AtomicBool::new(true),
        edges: Mutex::new(Vec::new()),
    });
    let cyclic = Gc::new_cyclic(|me: &Weak<Node>| {
        assert!(me.upgrade().is_none());
        Node {
            tag,
            id: 4,
            alive: AtomicBool::new(true),
            edges: Mutex::new(Vec::new()),
        }
    });
    assert_eq!(ids(tag, objects()), [0, 1, 2, 4]);
    Gc::get_mut(&mut lent).expect("unique").id = 10;
    // A shared object is not lent, and stays listed.
    let mut shared_too = shared.clone();
    assert!(Gc::get_mut(&mut shared_too).is_none());
    // `make_mut` of a shared object lends a fresh clone, which is not listed either.
    Gc::make_mut(&mut cloned).id = 12;
    assert_eq!(ids(tag, objects()), [1, 2, 4]);
    // A handle from the list makes the object shared: `get_mut` refuses.
    let mut fresh = node(tag, 5);
    let listed = objects();
    assert!(Gc::get_mut(&mut fresh).is_none());
    drop(listed);
    assert!(Gc::get_mut(&mut fresh).is_some());
    assert_eq!(ids(tag, objects()), [1, 2, 4]);
    drop((
        lent, shared, shared_too, cloned, other, pinned, cyclic, fresh,
    ));
    assert!(ids(tag, objects()).is_empty());
}

#[test]
fn walks_racing_allocation_free_and_collection_see_only_live_values() {
    let (_serial, tag) = serial();
    let rounds = if cfg!(miri) { 3 } else { 200 };
    let stop = Arc::new(AtomicBool::new(false));
    let churners: Vec<_> = (0..2)
        .map(|t| {
            thread::spawn(move || {
                for round in 0..rounds {
                    // Chains, 2-cycles and lone nodes, dropped at once or kept a round.
                    let a = node(tag, t * 1_000_000 + round);
                    let b = node(tag, t * 1_000_000 + round);
                    link(&a, &b);
                    if round % 2 == 0 {
                        link(&b, &a);
                    }
                    let mut spare = Some(b);
                    let c = node(tag, 0);
                    if round % 3 == 0 {
                        spare = None;
                        sync::collect();
                    }
                    drop((a, c, spare));
                }
            })
        })
        .collect();
    let walker = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut walks = 0;
            while !stop.load(Ordering::SeqCst) || walks < 2 {
                let listed = objects();
                // `ids` checks every listed value is alive; the edges too.
                for object in &listed {
                    ids(tag, referents(object));
                }
                ids(tag, listed);
                walks += 1;
            }
        })
    };
    for churner in churners {
        churner.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    walker.join().unwrap();
    while !ids(tag, objects()).is_empty() {
        assert!(
            sync::collect() > 0,
            "only cycles are left, and collect frees them"
        );
    }
}

/// Review finding: a pinned value reached through the heap's view (an edge of another
/// object, or saved garbage) must not come back as a `Gc`, which `try_unwrap` could move.
#[test]
fn a_pinned_value_is_listed_but_never_downcast() {
    let (_serial, tag) = serial();
    let pinned = Gc::pin(Node {
        tag,
        id: 0,
        alive: AtomicBool::new(true),
        edges: Mutex::new(Vec::new()),
    });
    let holder: Gc<Mutex<Vec<std::pin::Pin<Gc<Node>>>>> = Gc::new(Mutex::new(vec![pinned]));
    let edges = referents(&AnyGc::from(holder.clone()));
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0].type_name(), std::any::type_name::<Node>());
    assert!(edges[0].clone().downcast::<Node>().is_err());
    let listed = objects()
        .into_iter()
        .filter(|o| o.type_name() == std::any::type_name::<Node>())
        .count();
    assert!(listed >= 1, "the pinned object is listed");
    assert!(objects()
        .into_iter()
        .all(|o| o.downcast::<Node>().map_or(true, |n| n.tag != tag)));
}

/// What a thread-local destructor does after its thread gave its registry table back:
/// allocates, frees, makes cycles and collects them, each object listed and unlisted in
/// table 0. Its tag is its thread's.
struct LateWork(u32);

impl Drop for LateWork {
    fn drop(&mut self) {
        let tag = self.0;
        for id in 0..LATE {
            let (a, b) = (node(tag, id), node(tag, id));
            link(&a, &b);
            link(&b, &a);
            drop(Gc::downgrade(&a));
            drop((a, b));
            drop(Gc::<[u8]>::from(vec![1, 2, 3]));
        }
        let kept = node(tag, LATE);
        // With the cycles an automatic collection has not freed yet.
        assert!(ids(tag, objects()).contains(&LATE));
        sync::collect();
        assert_eq!(ids(tag, objects()), [LATE]);
        drop(kept);
        assert!(ids(tag, objects()).is_empty());
    }
}

/// Cycles each thread-local destructor makes in [`LateWork`]: smaller under Miri.
const LATE: u32 = if cfg!(miri) { 3 } else { 200 };

#[test]
fn a_thread_local_destructor_lists_and_unlists_after_its_thread_gave_its_table_back() {
    std::thread_local! {
        static LATE_WORK: std::cell::RefCell<Option<LateWork>> =
            const { std::cell::RefCell::new(None) };
    }
    let (_serial, _tag) = serial();
    let tags: Vec<u32> = (0..if cfg!(miri) { 2 } else { 4 })
        .map(|_| fresh_tag())
        .collect();
    // One thread after another: a walk on another thread holds every object it lists for a
    // moment, which can make a collection give up on garbage it was claiming (it stays for
    // the next one), and the destructor checks that its collection frees its cycles.
    for &tag in &tags {
        thread::spawn(move || {
            // Set before the thread's first allocation: its destructor is registered first,
            // so it runs after the registry's, with no table of the thread's.
            LATE_WORK.with(|late| *late.borrow_mut() = Some(LateWork(tag)));
            let early: Vec<_> = (0..10).map(|id| node(tag, id)).collect();
            assert_eq!(ids(tag, objects()).len(), 10);
            drop(early);
        })
        .join()
        .unwrap();
    }
    // Nothing of theirs is listed (a freed object still listed would be read by the walk).
    for tag in tags {
        assert!(ids(tag, objects()).is_empty());
    }
}

/// A node that refers to itself, built by `new_cyclic` (tracked: it may own a `Gc`).
#[derive(Trace)]
struct Cyclic {
    me: Weak<Cyclic>,
    edges: Mutex<Vec<Gc<Cyclic>>>,
}

#[test]
fn new_cyclic_lists_its_object_while_other_threads_use_its_weak_handles() {
    let (_serial, _tag) = serial();
    for _ in 0..if cfg!(miri) { 2 } else { 100 } {
        let start = Arc::new(std::sync::Barrier::new(3));
        let mut others = Vec::new();
        let cyclic = Gc::new_cyclic(|me: &Weak<Cyclic>| {
            for _ in 0..2 {
                let (me, start) = (me.clone(), start.clone());
                others.push(thread::spawn(move || {
                    start.wait();
                    for _ in 0..if cfg!(miri) { 5 } else { 500 } {
                        drop(me.clone());
                        drop(me.upgrade());
                    }
                }));
            }
            start.wait();
            Cyclic {
                me: me.clone(),
                edges: Mutex::new(Vec::new()),
            }
        });
        for other in others {
            other.join().unwrap();
        }
        // Listing set the table and key bits beside the weak count, which the other threads
        // changed meanwhile: the count is exact, and the object is listed.
        assert_eq!(Gc::weak_count(&cyclic), 1);
        assert!(Weak::ptr_eq(&cyclic.me, &Gc::downgrade(&cyclic)));
        assert!(Gc::is_tracked(&cyclic) && cyclic.edges.lock().unwrap().is_empty());
        let handle = AnyGc::from(cyclic.clone());
        assert_eq!(
            objects()
                .iter()
                .filter(|o| AnyGc::ptr_eq(o, &handle))
                .count(),
            1
        );
    }
}
