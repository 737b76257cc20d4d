//! The `Trace` impls for std types (src/impls.rs).
//!
//! For each container kind, a cycle is built whose back edges live *only* inside that
//! container: `link_i -> holder` (a hand-written edge) and `holder.c -> link_i` (inside the
//! container under test). If the container's `trace` misses an element, or its
//! `may_contain_gc` wrongly answers `false` (so the holder is never tracked), the cycle
//! survives and `collect()` returns less than expected.
//!
//! Everything here uses hand-written `Trace` impls (no derive).

mod common;

use std::borrow::Cow;
use std::cell::{Cell, OnceCell, RefCell};
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::num::{Saturating, Wrapping};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, RwLock};

use cyclegc::{Gc, Trace, Tracer, Weak};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

/// `Link`s and `Holder`s dropped on this thread so far.
fn drops() -> usize {
    DROPS.with(Cell::get)
}

fn count_drop() {
    DROPS.with(|d| d.set(d.get() + 1));
}

/// A container kind under test: `C` holds `Gc<Link<Self>>`s, one clone of each link given to
/// `make` (and possibly leaves around them).
trait Kind: Sized + 'static {
    type C: Trace + 'static;
    /// How many links the container holds.
    const LINKS: usize;
    fn make(links: &[G<Self>]) -> Self::C;
}

type G<K> = Gc<Link<K>>;

/// One end of the cycle: a hand-written edge to the holder (no std impl involved).
struct Link<K: Kind> {
    id: usize,
    next: RefCell<Option<Gc<Holder<K>>>>,
}

// SAFETY: reports the one `Gc` it owns, once; skips it if the cell is mutably borrowed (then
// the holder counts as referenced from outside, which is always allowed).
unsafe impl<K: Kind> Trace for Link<K> {
    fn trace(&self, tracer: &mut Tracer) {
        if let Ok(next) = self.next.try_borrow() {
            if let Some(holder) = &*next {
                holder.trace(tracer);
            }
        }
    }
}

impl<K: Kind> Drop for Link<K> {
    fn drop(&mut self) {
        count_drop();
    }
}

// Ordered and hashed by id, so `Gc<Link<_>>` can live in sets, maps and heaps.
impl<K: Kind> PartialEq for Link<K> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl<K: Kind> Eq for Link<K> {}
impl<K: Kind> PartialOrd for Link<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: Kind> Ord for Link<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.id.cmp(&other.id)
    }
}
impl<K: Kind> Hash for Link<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

/// The other end: the back edges live in `c`, the container under test.
struct Holder<K: Kind> {
    c: K::C,
}

// SAFETY: forwards to the container.
unsafe impl<K: Kind> Trace for Holder<K> {
    fn trace(&self, tracer: &mut Tracer) {
        self.c.trace(tracer);
    }
    fn may_contain_gc() -> bool {
        <K::C as Trace>::may_contain_gc()
    }
}

impl<K: Kind> Drop for Holder<K> {
    fn drop(&mut self) {
        count_drop();
    }
}

/// Builds the links and the holder and closes the cycle; returns both.
fn build<K: Kind>() -> (Vec<G<K>>, Gc<Holder<K>>) {
    assert!(
        <K::C as Trace>::may_contain_gc(),
        "a container of `Gc`s must be tracked"
    );
    let links: Vec<G<K>> = (0..K::LINKS)
        .map(|id| {
            Gc::new(Link {
                id,
                next: RefCell::new(None),
            })
        })
        .collect();
    let holder = Gc::new(Holder { c: K::make(&links) });
    for link in &links {
        *link.next.borrow_mut() = Some(holder.clone());
    }
    for link in &links {
        assert_eq!(
            Gc::strong_count(link),
            2,
            "`make` must store exactly one clone of each link"
        );
    }
    assert_eq!(Gc::strong_count(&holder), K::LINKS + 1);
    (links, holder)
}

/// The cycle through the container is found and freed, exactly.
fn cycle_through<K: Kind>() {
    cyclegc::collect();
    let before = drops();
    let (links, holder) = build::<K>();
    let weak_holder = Gc::downgrade(&holder);
    let weak_links: Vec<Weak<Link<K>>> = links.iter().map(Gc::downgrade).collect();

    // While referenced from outside, nothing is freed and counts are untouched.
    assert_eq!(cyclegc::collect(), 0);
    assert_eq!(Gc::strong_count(&holder), K::LINKS + 1);

    drop(links);
    drop(holder);
    assert_eq!(
        drops(),
        before,
        "reference counting alone cannot free the cycle"
    );
    assert!(weak_holder.upgrade().is_some());
    assert_eq!(
        cyclegc::collect(),
        K::LINKS + 1,
        "every link and the holder are garbage"
    );
    assert_eq!(drops(), before + K::LINKS + 1);
    assert!(weak_holder.upgrade().is_none());
    assert!(weak_links.iter().all(|w| w.upgrade().is_none()));
    assert_eq!(cyclegc::collect(), 0);
}

/// Declares a container kind: `kind!(Name, links, Type, |l| make)`, where the type may use
/// `G<Self>` for `Gc<Link<Self>>` and `l: &[G<Self>]`.
macro_rules! kind {
    ($name:ident, $links:expr, $c:ty, |$l:ident| $make:expr) => {
        struct $name;
        impl Kind for $name {
            type C = $c;
            const LINKS: usize = $links;
            fn make($l: &[G<Self>]) -> Self::C {
                $make
            }
        }
    };
}

/// Declares a kind and a test that collects a cycle through it.
macro_rules! cycle_test {
    ($test:ident, $name:ident, $links:expr, $c:ty, |$l:ident| $make:expr) => {
        kind!($name, $links, $c, |$l| $make);
        #[test]
        fn $test() {
            cycle_through::<$name>();
        }
    };
}

cycle_test!(vec, VecK, 3, Vec<G<Self>>, |l| l.to_vec());
cycle_test!(vec_deque, VecDequeK, 3, VecDeque<G<Self>>, |l| l
    .iter()
    .cloned()
    .collect());
cycle_test!(linked_list, LinkedListK, 3, LinkedList<G<Self>>, |l| l
    .iter()
    .cloned()
    .collect());
cycle_test!(binary_heap, BinaryHeapK, 3, BinaryHeap<G<Self>>, |l| l
    .iter()
    .cloned()
    .collect());
cycle_test!(
    hash_map_keys,
    HashMapKeysK,
    3,
    HashMap<G<Self>, String>,
    |l| l.iter().map(|g| (g.clone(), format!("{}", g.id))).collect()
);
cycle_test!(
    hash_map_values,
    HashMapValuesK,
    3,
    HashMap<u32, G<Self>>,
    |l| l.iter().cloned().zip(0..).map(|(g, k)| (k, g)).collect()
);
cycle_test!(
    hash_map_keys_and_values,
    HashMapBothK,
    4,
    HashMap<G<Self>, G<Self>>,
    |l| HashMap::from([(l[0].clone(), l[1].clone()), (l[2].clone(), l[3].clone())])
);
cycle_test!(hash_set, HashSetK, 3, HashSet<G<Self>>, |l| l
    .iter()
    .cloned()
    .collect());
cycle_test!(
    btree_map_keys_and_values,
    BTreeMapBothK,
    4,
    BTreeMap<G<Self>, G<Self>>,
    |l| BTreeMap::from([(l[0].clone(), l[1].clone()), (l[2].clone(), l[3].clone())])
);
cycle_test!(
    btree_map_values,
    BTreeMapValuesK,
    3,
    BTreeMap<String, G<Self>>,
    |l| l.iter().map(|g| (format!("k{}", g.id), g.clone())).collect()
);
cycle_test!(btree_set, BTreeSetK, 3, BTreeSet<G<Self>>, |l| l
    .iter()
    .cloned()
    .collect());
cycle_test!(option_some, OptionK, 1, Option<G<Self>>, |l| Some(
    l[0].clone()
));
cycle_test!(result_ok, ResultOkK, 1, Result<G<Self>, String>, |l| Ok(l
    [0]
.clone()));
cycle_test!(result_err, ResultErrK, 1, Result<u8, G<Self>>, |l| Err(
    l[0].clone()
));
cycle_test!(boxed, BoxK, 1, Box<G<Self>>, |l| Box::new(l[0].clone()));
cycle_test!(boxed_slice, BoxSliceK, 3, Box<[G<Self>]>, |l| l
    .to_vec()
    .into_boxed_slice());
cycle_test!(boxed_dyn_trace, BoxDynK, 1, Box<dyn Trace>, |l| Box::new(
    l[0].clone()
));
cycle_test!(
    boxed_dyn_trace_of_several_types,
    BoxDynManyK,
    3,
    Vec<Box<dyn Trace>>,
    |l| vec![
        Box::new(l[0].clone()) as Box<dyn Trace>,
        Box::new(vec![l[1].clone()]),
        Box::new(String::from("leaf")),
        Box::new((7u8, Some(l[2].clone()))),
    ]
);
cycle_test!(array, ArrayK, 3, [G<Self>; 3], |l| [
    l[0].clone(),
    l[1].clone(),
    l[2].clone()
]);
cycle_test!(
    array_of_options,
    ArrayOfOptionsK,
    2,
    [Option<G<Self>>; 4],
    |l| [None, Some(l[0].clone()), None, Some(l[1].clone())]
);
cycle_test!(tuple_2, Tuple2K, 1, (String, G<Self>), |l| (
    "x".to_owned(),
    l[0].clone()
));
cycle_test!(
    tuple_12,
    Tuple12K,
    12,
    (
        G<Self>,
        G<Self>,
        G<Self>,
        G<Self>,
        G<Self>,
        G<Self>,
        G<Self>,
        G<Self>,
        G<Self>,
        G<Self>,
        G<Self>,
        G<Self>
    ),
    |l| (
        l[0].clone(),
        l[1].clone(),
        l[2].clone(),
        l[3].clone(),
        l[4].clone(),
        l[5].clone(),
        l[6].clone(),
        l[7].clone(),
        l[8].clone(),
        l[9].clone(),
        l[10].clone(),
        l[11].clone()
    )
);
cycle_test!(
    tuple_12_mixed,
    Tuple12MixedK,
    3,
    (
        u8,
        String,
        G<Self>,
        (),
        Option<u8>,
        G<Self>,
        bool,
        Vec<u8>,
        char,
        PathBuf,
        i64,
        G<Self>
    ),
    |l| (
        1,
        "s".into(),
        l[0].clone(),
        (),
        None,
        l[1].clone(),
        true,
        vec![1],
        'c',
        PathBuf::from("/"),
        -1,
        l[2].clone()
    )
);
cycle_test!(ref_cell, RefCellK, 3, RefCell<Vec<G<Self>>>, |l| {
    RefCell::new(l.to_vec())
});
cycle_test!(once_cell, OnceCellK, 1, OnceCell<G<Self>>, |l| {
    let cell = OnceCell::new();
    assert!(cell.set(l[0].clone()).is_ok());
    cell
});
cycle_test!(once_lock, OnceLockK, 1, OnceLock<G<Self>>, |l| {
    let cell = OnceLock::new();
    assert!(cell.set(l[0].clone()).is_ok());
    cell
});
cycle_test!(mutex, MutexK, 2, Mutex<Vec<G<Self>>>, |l| Mutex::new(
    l.to_vec()
));
cycle_test!(rw_lock, RwLockK, 2, RwLock<Vec<G<Self>>>, |l| RwLock::new(
    l.to_vec()
));
cycle_test!(cow_owned, CowK, 3, Cow<'static, [G<Self>]>, |l| Cow::Owned(
    l.to_vec()
));
cycle_test!(reverse, ReverseK, 1, Reverse<G<Self>>, |l| Reverse(
    l[0].clone()
));
cycle_test!(
    reverse_in_binary_heap,
    ReverseHeapK,
    3,
    BinaryHeap<Reverse<G<Self>>>,
    |l| l.iter().cloned().map(Reverse).collect()
);
cycle_test!(wrapping, WrappingK, 1, Wrapping<G<Self>>, |l| Wrapping(
    l[0].clone()
));
cycle_test!(saturating, SaturatingK, 1, Saturating<G<Self>>, |l| {
    Saturating(l[0].clone())
});
cycle_test!(
    nested_containers,
    NestedK,
    4,
    Vec<Option<Box<(G<Self>, VecDeque<G<Self>>, RefCell<HashMap<u8, G<Self>>>)>>>,
    |l| vec![
        None,
        Some(Box::new((
            l[0].clone(),
            VecDeque::from([l[1].clone(), l[2].clone()]),
            RefCell::new(HashMap::from([(9, l[3].clone())])),
        ))),
        None,
    ]
);

/// Boxed trait objects answer `true` (they cannot know): always safe.
#[test]
fn boxed_dyn_trace_objects_are_tracked() {
    assert!(<Box<dyn Trace + Send + Sync> as Trace>::may_contain_gc());
    assert!(<Box<dyn Trace + Send> as Trace>::may_contain_gc());
    assert!(<Box<dyn Trace> as Trace>::may_contain_gc());
}

/// A control for the harness itself: a container whose `trace` reports nothing keeps the
/// cycle alive (collect returns 0). Then the cycle is broken by hand, so nothing leaks.
#[test]
fn harness_control_untraced_container_keeps_the_cycle() {
    struct Opaque<T>(T);
    // SAFETY: reports nothing, which is always allowed (a leak, never unsoundness).
    unsafe impl<T> Trace for Opaque<T> {
        fn trace(&self, _: &mut Tracer) {}
    }
    kind!(OpaqueK, 2, Opaque<Vec<G<Self>>>, |l| Opaque(l.to_vec()));

    cyclegc::collect();
    let before = drops();
    let (links, holder) = build::<OpaqueK>();
    let weak_link = Gc::downgrade(&links[0]);
    drop(links);
    drop(holder);
    assert_eq!(
        cyclegc::collect(),
        0,
        "an unreported edge keeps the cycle alive"
    );
    assert_eq!(drops(), before);
    // Break the cycle: take the holder out of a link.
    let link = weak_link.upgrade().expect("alive");
    let holder = link.next.borrow_mut().take().expect("set");
    drop(link);
    let other = holder.c.0[1].clone();
    drop(other.next.borrow_mut().take());
    drop(other);
    drop(holder);
    assert_eq!(drops(), before + 3, "freed by reference counting");
    assert_eq!(cyclegc::collect(), 0);
}

#[test]
fn may_contain_gc_leaves() {
    fn no<T: Trace>() -> bool {
        !T::may_contain_gc()
    }
    assert!(no::<String>());
    assert!(no::<u8>());
    assert!(no::<()>());
    assert!(no::<bool>());
    assert!(no::<char>());
    assert!(no::<f64>());
    assert!(no::<u128>());
    assert!(no::<PathBuf>());
    assert!(no::<std::ffi::OsString>());
    assert!(no::<std::ffi::CString>());
    assert!(no::<std::time::Duration>());
    assert!(no::<std::num::NonZeroU32>());
    assert!(no::<std::sync::atomic::AtomicUsize>());
    assert!(no::<Box<str>>());
    assert!(no::<Cell<u32>>());
    assert!(no::<PhantomData<Gc<u8>>>());
    assert!(no::<Weak<common::Node>>());
    assert!(no::<Weak<u8>>());
}

#[test]
fn may_contain_gc_containers_of_leaves() {
    fn no<T: Trace>() -> bool {
        !T::may_contain_gc()
    }
    assert!(no::<Vec<String>>());
    assert!(no::<VecDeque<u8>>());
    assert!(no::<LinkedList<()>>());
    assert!(no::<BinaryHeap<u32>>());
    assert!(no::<HashMap<String, u8>>());
    assert!(no::<HashSet<PathBuf>>());
    assert!(no::<BTreeMap<u32, Box<str>>>());
    assert!(no::<BTreeSet<String>>());
    assert!(no::<Option<Box<str>>>());
    assert!(no::<Result<u8, String>>());
    assert!(no::<Box<u8>>());
    assert!(no::<Box<[u8]>>());
    assert!(no::<[u8; 4]>());
    assert!(no::<[String; 0]>());
    assert!(no::<(u8, String)>());
    assert!(no::<(u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, String)>());
    assert!(no::<RefCell<Vec<u8>>>());
    assert!(no::<OnceCell<String>>());
    assert!(no::<OnceLock<String>>());
    assert!(no::<Mutex<PathBuf>>());
    assert!(no::<RwLock<()>>());
    assert!(no::<Cow<'static, str>>());
    assert!(no::<Cow<'static, [u8]>>());
    assert!(no::<Reverse<u8>>());
    assert!(no::<Wrapping<u32>>());
    assert!(no::<Saturating<u32>>());
    assert!(no::<Vec<Weak<common::Node>>>());
    assert!(no::<RefCell<Option<Weak<common::Node>>>>());
    assert!(no::<Vec<PhantomData<Gc<u8>>>>());
    assert!(no::<HashMap<String, Vec<Option<(u8, Cell<u32>)>>>>());
}

#[test]
fn may_contain_gc_containers_of_gc() {
    fn yes<T: Trace>() -> bool {
        T::may_contain_gc()
    }
    type N = Gc<common::Node>;
    assert!(yes::<N>());
    assert!(yes::<Gc<u8>>(), "a `Gc` is an edge whatever it points to");
    assert!(yes::<Vec<N>>());
    assert!(yes::<VecDeque<N>>());
    assert!(yes::<LinkedList<N>>());
    assert!(yes::<BinaryHeap<Gc<u8>>>());
    assert!(yes::<HashMap<N, u8>>());
    assert!(yes::<HashMap<u8, N>>());
    assert!(yes::<HashSet<Gc<u8>>>());
    assert!(yes::<BTreeMap<Gc<u8>, ()>>());
    assert!(yes::<BTreeMap<(), N>>());
    assert!(yes::<BTreeSet<Gc<u8>>>());
    assert!(yes::<Option<N>>());
    assert!(yes::<Result<N, String>>());
    assert!(yes::<Result<String, N>>());
    assert!(yes::<Box<N>>());
    assert!(yes::<Box<[N]>>());
    assert!(yes::<[N; 2]>());
    assert!(yes::<[N; 0]>(), "answers for the type, not the value");
    assert!(yes::<(N, u8)>());
    assert!(yes::<(u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, N)>());
    assert!(yes::<(N, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8)>());
    assert!(yes::<RefCell<Vec<N>>>());
    assert!(yes::<OnceCell<N>>());
    assert!(yes::<OnceLock<N>>());
    assert!(yes::<Mutex<N>>());
    assert!(yes::<RwLock<N>>());
    assert!(yes::<Cow<'static, [N]>>());
    assert!(yes::<Reverse<N>>());
    assert!(yes::<Wrapping<N>>());
    assert!(yes::<Saturating<N>>());
    assert!(yes::<Vec<Option<Box<(u8, RefCell<N>)>>>>());
}

/// `Gc`s of leaf types are untracked: dropping a clone does not buffer a possible root.
#[test]
fn leaf_gcs_are_never_buffered() {
    cyclegc::collect();
    let s = Gc::new(vec![String::from("a")]);
    drop(s.clone());
    assert_eq!(cyclegc::count(), 0);
    let n = Gc::new(Vec::<Gc<u8>>::new());
    drop(n.clone());
    assert_eq!(cyclegc::count(), 1, "a container of `Gc`s is tracked");
    drop((s, n));
    assert_eq!(cyclegc::collect(), 0);
}

/// Makes a surviving, unreferenced structure a possible root again: upgrading its `Weak` and
/// dropping the handle is a decrement that leaves a reference. Only used to clean up after a
/// failed assertion, so that a failure never shows up as a leak as well.
fn rebuffer<T>(weak: &Weak<T>) {
    drop(weak.upgrade().expect("still alive"));
}

/// Collects the cycle of `build::<K>()` once it is no longer blocked; asserts it all goes.
fn assert_collected_after_release<K: Kind>(what: &str, weak: &Weak<Holder<K>>, before: usize) {
    let freed = cyclegc::collect();
    if freed != K::LINKS + 1 {
        rebuffer(weak);
        cyclegc::collect();
    }
    assert_eq!(drops(), before + K::LINKS + 1, "{what}");
    assert_eq!(
        freed,
        K::LINKS + 1,
        "{what}: a cycle kept alive only because its container could not be read during a \
         collection must be examined again, and freed, once the container is readable"
    );
}

/// Builds the cycle through `K`'s container, drops every handle, and calls `block` with the
/// container (reached through `Gc::as_ptr`, so that no handle of ours keeps the holder alive:
/// only the cycle does) and a check to run while it is borrowed or locked: `collect()` must
/// keep everything alive. After `block` returns (the borrow or lock released), a plain
/// `collect()` must free the whole cycle.
fn blocked_during_collect<K: Kind>(what: &str, block: impl FnOnce(&K::C, &dyn Fn())) {
    cyclegc::collect();
    let before = drops();
    let (links, holder) = build::<K>();
    let weak = Gc::downgrade(&holder);
    // SAFETY: `as_ptr` is valid while strong pointers exist; `addr_of!` creates no reference.
    let container: *const K::C = unsafe { std::ptr::addr_of!((*Gc::as_ptr(&holder)).c) };
    drop(links);
    drop(holder);
    let during = || {
        assert_eq!(
            cyclegc::collect(),
            0,
            "{what}: the contents must stay alive"
        );
        assert_eq!(drops(), before, "{what}");
        // Not `upgrade` (dropping the upgraded handle would re-buffer the holder).
        assert_eq!(
            weak.strong_count(),
            K::LINKS,
            "{what}: the links still point to it"
        );
        assert_eq!(cyclegc::collect(), 0, "{what}: and again");
    };
    // SAFETY: the holder is kept alive by the cycle (links -> holder). `during` asserts that
    // the collector does not free it while `block` uses it; had it done so, Miri would report
    // the use after free.
    block(unsafe { &*container }, &during);
    assert_collected_after_release::<K>(what, &weak, before);
}

/// A `RefCell` mutably borrowed during `collect()` is skipped: its contents count as
/// referenced from outside, so the cycle through it survives; once the borrow ends, the next
/// plain `collect()` frees it.
///
/// Regression test: in the version of src/ this was written against (commit 6dfad07), the
/// survivors left the root buffer and ending a borrow is no decrement, so nothing put them
/// back: the second `collect()` returned 0 and the cycle leaked for good. Fixed meanwhile in
/// the working tree (`Tracer::skip_busy`: incompletely traced survivors are re-buffered).
#[test]
fn ref_cell_borrowed_during_collect_keeps_contents_alive_then_is_collected() {
    blocked_during_collect::<RefCellK>("RefCell::borrow_mut", |cell, during| {
        let mut guard = cell.borrow_mut();
        assert_eq!(guard.len(), 3);
        during();
        assert!(guard.iter().all(|l| l.next.borrow().is_some()));
        guard.reverse(); // still ours to mutate
    });
}

/// A `Mutex` locked (by this thread) during `collect()` is skipped, never blocked on.
#[test]
fn mutex_locked_during_collect_keeps_contents_alive_then_is_collected() {
    blocked_during_collect::<MutexK>("Mutex::lock", |mutex, during| {
        let guard = mutex.lock().unwrap();
        assert_eq!(guard.len(), 2);
        during();
        assert!(guard.iter().all(|l| l.next.borrow().is_some()));
    });
}

/// An `RwLock` write-locked during `collect()` is skipped, never blocked on.
#[test]
fn rw_lock_write_locked_during_collect_keeps_contents_alive_then_is_collected() {
    blocked_during_collect::<RwLockK>("RwLock::write", |lock, during| {
        let mut guard = lock.write().unwrap();
        assert_eq!(guard.len(), 2);
        during();
        assert!(guard.iter().all(|l| l.next.borrow().is_some()));
        guard.swap(0, 1); // a write lock: still ours to mutate
    });
}

/// A nested borrow (a `RefCell` inside the container, borrowed while the outer one is not)
/// blocks tracing just the same.
#[test]
fn inner_ref_cell_borrowed_during_collect_keeps_contents_alive_then_is_collected() {
    blocked_during_collect::<NestedK>("inner RefCell", |nested, during| {
        let inner = &nested[1].as_ref().expect("the middle entry").2;
        let guard = inner.borrow_mut();
        assert_eq!(guard.len(), 1);
        during();
    });
}

/// A poisoned `Mutex` is skipped too (reading it would mean deciding to ignore the poison),
/// so the cycle through it survives, collection after collection. Clearing the poison makes
/// it collectable by a plain `collect()`.
#[test]
fn poisoned_mutex_keeps_its_contents_alive() {
    cyclegc::collect();
    let before = drops();
    let (links, holder) = build::<MutexK>();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let _guard = holder.c.lock().unwrap();
        panic!("poisoning the mutex on purpose");
    }));
    assert!(result.is_err());
    assert!(holder.c.is_poisoned());
    let weak = Gc::downgrade(&holder);
    // SAFETY: `as_ptr` is valid while strong pointers exist; `addr_of!` creates no reference.
    let mutex: *const Mutex<Vec<G<MutexK>>> =
        unsafe { std::ptr::addr_of!((*Gc::as_ptr(&holder)).c) };
    drop(links);
    drop(holder);
    for _ in 0..3 {
        assert_eq!(
            cyclegc::collect(),
            0,
            "a poisoned mutex's contents are alive"
        );
        assert_eq!(drops(), before);
        assert_eq!(weak.strong_count(), 2);
    }
    // SAFETY: the cycle keeps the holder alive; the collections above did not free it.
    let mutex = unsafe { &*mutex };
    {
        // Still usable despite the poison.
        let guard = mutex.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(guard.len(), 2);
        assert!(guard.iter().all(|l| l.next.borrow().is_some()));
    }
    mutex.clear_poison();
    assert!(!mutex.is_poisoned());
    assert_collected_after_release::<MutexK>("cleared poison", &weak, before);
}

/// A poisoned `RwLock` behaves like a poisoned `Mutex`.
#[test]
fn poisoned_rw_lock_keeps_its_contents_alive() {
    cyclegc::collect();
    let before = drops();
    let (links, holder) = build::<RwLockK>();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let _guard = holder.c.write().unwrap();
        panic!("poisoning the lock on purpose");
    }));
    assert!(result.is_err());
    assert!(holder.c.is_poisoned());
    let weak = Gc::downgrade(&holder);
    // SAFETY: as above.
    let lock: *const RwLock<Vec<G<RwLockK>>> =
        unsafe { std::ptr::addr_of!((*Gc::as_ptr(&holder)).c) };
    drop(links);
    drop(holder);
    assert_eq!(
        cyclegc::collect(),
        0,
        "a poisoned lock's contents are alive"
    );
    assert_eq!(drops(), before);
    // SAFETY: as above.
    let lock = unsafe { &*lock };
    lock.clear_poison();
    assert_collected_after_release::<RwLockK>("cleared poison", &weak, before);
}

/// A poisoned mutex can also be emptied by hand: the cycle then goes by reference counting.
#[test]
fn poisoned_mutex_can_be_cleared_with_into_inner_style_recovery() {
    cyclegc::collect();
    let before = drops();
    let (links, holder) = build::<MutexK>();
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        let _guard = holder.c.lock().unwrap();
        panic!("poisoning the mutex on purpose");
    }));
    drop(links);
    assert_eq!(cyclegc::collect(), 0);
    let taken = std::mem::take(&mut *holder.c.lock().unwrap_or_else(|e| e.into_inner()));
    assert_eq!(taken.len(), 2);
    drop(taken);
    assert_eq!(drops(), before + 2, "the links went by reference counting");
    drop(holder);
    assert_eq!(drops(), before + 3);
    assert_eq!(cyclegc::collect(), 0);
}

/// A hasher that owns a `Gc` (it is not traced: `BuildHasher` is not `Trace`); it only holds
/// it, as the next link of a chain.
struct GcHasher(#[allow(dead_code)] Option<Gc<HashMap<u8, u8, GcHasher>>>);

impl std::hash::BuildHasher for GcHasher {
    type Hasher = std::collections::hash_map::DefaultHasher;
    fn build_hasher(&self) -> Self::Hasher {
        std::collections::hash_map::DefaultHasher::new()
    }
}

/// A map owns its hasher, so a map whose hasher may own a `Gc` may own one too: answering
/// "cannot" would make it untracked, dropped in place outside the bounded release loop.
#[test]
fn a_map_whose_hasher_owns_a_gc_is_tracked_and_drops_a_long_chain_on_a_small_stack() {
    assert!(<HashMap<u8, u8, GcHasher> as Trace>::may_contain_gc());
    assert!(<HashSet<u8, GcHasher> as Trace>::may_contain_gc());
    assert!(
        !<HashMap<u8, u8> as Trace>::may_contain_gc(),
        "std hashers own nothing"
    );
    const N: usize = if cfg!(miri) { 300 } else { 1_000_000 };
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let mut head = None;
            for _ in 0..N {
                head = Some(Gc::new(HashMap::with_hasher(GcHasher(head.take()))));
            }
            drop(head);
        })
        .unwrap()
        .join()
        .unwrap();
}

cycle_test!(range, RangeK, 2, std::ops::Range<G<Self>>, |l| l[0].clone()
    ..l[1].clone());
cycle_test!(
    range_inclusive,
    RangeInclusiveK,
    2,
    std::ops::RangeInclusive<G<Self>>,
    |l| l[0].clone()..=l[1].clone()
);
cycle_test!(
    range_from,
    RangeFromK,
    1,
    std::ops::RangeFrom<G<Self>>,
    |l| l[0].clone()..
);
cycle_test!(range_to, RangeToK, 1, std::ops::RangeTo<G<Self>>, |l| ..l
    [0]
.clone());
cycle_test!(
    range_to_inclusive,
    RangeToInclusiveK,
    1,
    std::ops::RangeToInclusive<G<Self>>,
    |l| ..=l[0].clone()
);
cycle_test!(bound, BoundK, 1, std::ops::Bound<G<Self>>, |l| {
    std::ops::Bound::Excluded(l[0].clone())
});
cycle_test!(
    pin,
    PinK,
    1,
    std::pin::Pin<G<Self>>,
    |l| std::pin::Pin::new(l[0].clone())
);

#[test]
fn may_contain_gc_of_the_newer_std_impls() {
    fn no<T: Trace>() -> bool {
        !T::may_contain_gc()
    }
    assert!(no::<fn(u8) -> u8>());
    assert!(no::<unsafe fn()>());
    assert!(no::<extern "C" fn(u32, u32) -> u32>());
    assert!(no::<Ordering>());
    assert!(no::<std::net::SocketAddr>());
    assert!(no::<std::net::IpAddr>());
    assert!(no::<std::net::Ipv4Addr>());
    assert!(no::<std::net::Ipv6Addr>());
    assert!(no::<std::time::Instant>());
    assert!(no::<std::time::Duration>());
    assert!(no::<std::ops::Range<u32>>());
    assert!(no::<std::ops::RangeFull>());
    assert!(no::<std::mem::ManuallyDrop<String>>());
    assert!(<std::mem::ManuallyDrop<G<RangeK>> as Trace>::may_contain_gc());
    assert!(<Box<dyn std::any::Any> as Trace>::may_contain_gc());
    assert!(<Box<dyn std::any::Any + Send + Sync> as Trace>::may_contain_gc());
    // `Untraced`: untracked only when it has no destructor (and so cannot own a `Gc`).
    assert!(no::<cyclegc::Untraced<u32>>());
    assert!(<cyclegc::Untraced<String> as Trace>::may_contain_gc());
    assert!(<cyclegc::Untraced<Box<dyn Fn()>> as Trace>::may_contain_gc());
}

/// A `Gc` inside `Untraced` is hidden, as documented: the cycle through it survives a
/// collection (a leak, never unsoundness). Broken by hand afterwards, so nothing leaks.
#[test]
fn a_cycle_through_untraced_is_kept() {
    kind!(UntracedK, 1, cyclegc::Untraced<G<Self>>, |l| {
        cyclegc::Untraced(l[0].clone())
    });

    cyclegc::collect();
    let before = drops();
    let (links, holder) = build::<UntracedK>();
    let weak_link = Gc::downgrade(&links[0]);
    drop(links);
    drop(holder);
    assert_eq!(
        cyclegc::collect(),
        0,
        "the hidden edge keeps the cycle alive"
    );
    assert_eq!(drops(), before);
    let link = weak_link.upgrade().expect("alive");
    let holder = link.next.borrow_mut().take().expect("set");
    drop(link);
    drop(holder);
    assert_eq!(drops(), before + 2, "freed by reference counting");
}

// Other crates' containers (features named after the crates).

#[cfg(feature = "hashbrown")]
mod hashbrown_cases {
    use super::*;
    use std::hash::RandomState;
    cycle_test!(hashbrown_map, HashbrownMapK, 2, hashbrown::HashMap<u32, G<Self>, RandomState>, |l| {
        l.iter().cloned().enumerate().map(|(i, g)| (i as u32, g)).collect()
    });
    cycle_test!(
        hashbrown_set,
        HashbrownSetK,
        2,
        hashbrown::HashSet<G<Self>, RandomState>,
        |l| l.iter().cloned().collect()
    );
}

#[cfg(feature = "indexmap")]
mod indexmap_cases {
    use super::*;
    use std::hash::RandomState;
    cycle_test!(
        index_map,
        IndexMapK,
        2,
        indexmap::IndexMap<G<Self>, u8, RandomState>,
        |l| l.iter().cloned().map(|g| (g, 0)).collect()
    );
    cycle_test!(
        index_set,
        IndexSetK,
        2,
        indexmap::IndexSet<G<Self>, RandomState>,
        |l| l.iter().cloned().collect()
    );
}

#[cfg(feature = "smallvec")]
mod smallvec_cases {
    use super::*;
    // One inline, three spilled to the heap.
    cycle_test!(
        small_vec_inline,
        SmallVecInlineK,
        1,
        smallvec::SmallVec<[G<Self>; 2]>,
        |l| l.iter().cloned().collect()
    );
    cycle_test!(
        small_vec_spilled,
        SmallVecSpilledK,
        3,
        smallvec::SmallVec<[G<Self>; 2]>,
        |l| l.iter().cloned().collect()
    );
}

#[cfg(feature = "arrayvec")]
mod arrayvec_cases {
    use super::*;
    cycle_test!(
        array_vec,
        ArrayVecK,
        2,
        arrayvec::ArrayVec<G<Self>, 4>,
        |l| l.iter().cloned().collect()
    );

    #[test]
    fn array_string_is_a_leaf() {
        assert!(!<arrayvec::ArrayString<8> as Trace>::may_contain_gc());
    }
}

#[cfg(feature = "slotmap")]
mod slotmap_cases {
    use super::*;
    cycle_test!(slot_map, SlotMapK, 2, slotmap::SlotMap<slotmap::DefaultKey, G<Self>>, |l| {
        let mut map = slotmap::SlotMap::new();
        for g in l {
            map.insert(g.clone());
        }
        map
    });
    // Secondary maps are keyed by a primary map's keys; their values are owned and traced.
    fn keys(n: usize) -> Vec<slotmap::DefaultKey> {
        let mut primary = slotmap::SlotMap::new();
        (0..n).map(|_| primary.insert(())).collect()
    }
    cycle_test!(
        secondary_map,
        SecondaryMapK,
        2,
        slotmap::SecondaryMap<slotmap::DefaultKey, G<Self>>,
        |l| keys(l.len()).into_iter().zip(l.iter().cloned()).collect()
    );
    cycle_test!(
        sparse_secondary_map,
        SparseSecondaryMapK,
        2,
        slotmap::SparseSecondaryMap<slotmap::DefaultKey, G<Self>>,
        |l| keys(l.len()).into_iter().zip(l.iter().cloned()).collect()
    );
    cycle_test!(
        dense_slot_map,
        DenseSlotMapK,
        2,
        slotmap::DenseSlotMap<slotmap::DefaultKey, G<Self>>,
        |l| {
            let mut map = slotmap::DenseSlotMap::new();
            for g in l {
                map.insert(g.clone());
            }
            map
        }
    );
}

#[cfg(feature = "serde_json")]
#[test]
fn serde_json_values_are_untracked() {
    assert!(!<serde_json::Value as Trace>::may_contain_gc());
    let value = Gc::new(serde_json::json!({"a": [1, 2]}));
    drop(value.clone());
    assert_eq!(cyclegc::count(), 0, "never buffered");
}

#[cfg(feature = "parking_lot")]
mod parking_lot_cases {
    use super::*;
    cycle_test!(
        parking_lot_mutex,
        ParkingLotMutexK,
        1,
        parking_lot::Mutex<G<Self>>,
        |l| parking_lot::Mutex::new(l[0].clone())
    );
    cycle_test!(
        parking_lot_rw_lock,
        ParkingLotRwLockK,
        1,
        parking_lot::RwLock<G<Self>>,
        |l| parking_lot::RwLock::new(l[0].clone())
    );
}

#[cfg(all(feature = "serde", feature = "serde_json"))]
#[test]
fn gc_and_weak_round_trip_through_serde() {
    let value = Gc::new(vec![String::from("a"), String::from("b")]);
    let json = serde_json::to_string(&value).unwrap();
    assert_eq!(json, r#"["a","b"]"#);
    let back: Gc<Vec<String>> = serde_json::from_str(&json).unwrap();
    assert_eq!(*back, *value);
    assert!(!Gc::ptr_eq(&back, &value), "sharing is not preserved");

    // Unsized values deserialize through a `Box`, as serde's `rc` feature does.
    let text: Gc<str> = serde_json::from_str(r#""text""#).unwrap();
    assert_eq!(&*text, "text");
    let items: Gc<[u8]> = serde_json::from_str("[1,2]").unwrap();
    assert_eq!(&*items, [1, 2]);
    #[cfg(target_has_atomic = "64")]
    {
        let shared: cyclegc::sync::Gc<str> = serde_json::from_str(r#""shared""#).unwrap();
        assert_eq!(&*shared, "shared");
    }

    let weak = Gc::downgrade(&value);
    assert_eq!(serde_json::to_string(&weak).unwrap(), json);
    let weak_back: Weak<Vec<String>> = serde_json::from_str(&json).unwrap();
    assert!(
        weak_back.upgrade().is_none(),
        "a deserialized Weak is empty"
    );
    drop(value);
    assert_eq!(serde_json::to_string(&weak).unwrap(), "null");
}
