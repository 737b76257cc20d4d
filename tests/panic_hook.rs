//! The panic hook is user code that runs in the middle of a collection when a `Trace` impl
//! panics, and safe code may do anything there: clone, move and drop handles among the
//! objects being counted, free what the panicking `trace` reported, read live objects. A
//! collection that saw a `Trace` panic draws no verdict from that snapshot: it traces again
//! without the panicking object, so nothing reachable is ever freed and nothing aborts.
//!
//! The hook is global to the process, so the tests that install one take turns.

use std::cell::{Cell, RefCell};
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use cyclegc::{Gc, Trace, Tracer, Weak};

static HOOK_TURN: Mutex<()> = Mutex::new(());

/// Runs `f` with `hook` as the panic hook (silencing the default one), then restores it.
fn with_hook<R>(hook: impl Fn() + Send + Sync + 'static, f: impl FnOnce() -> R) -> R {
    let _turn = HOOK_TURN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |_| hook()));
    let result = catch_unwind(AssertUnwindSafe(f));
    drop(panic::take_hook());
    panic::set_hook(previous);
    result.unwrap_or_else(|payload| panic::resume_unwind(payload))
}

thread_local! {
    /// Set while the next `Bangy` trace must panic.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// What a hook works on, on this thread only.
    static HELD: RefCell<Vec<Gc<Obj>>> = const { RefCell::new(Vec::new()) };
    static SEEN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Owns no `Gc`; its trace panics once when armed (the contract allows panicking).
struct Bangy;

// SAFETY: reports nothing (owns no `Gc`); may panic.
unsafe impl Trace for Bangy {
    fn trace(&self, _: &mut Tracer) {
        if ARMED.with(|armed| armed.replace(false)) {
            panic!("bang");
        }
    }
}

struct Obj {
    name: String,
    bang: Option<Bangy>,
    leaf: RefCell<Option<Gc<String>>>,
    kids: RefCell<Vec<Gc<Obj>>>,
}

// SAFETY: reports every owned `Gc` once; `bang` may panic first.
unsafe impl Trace for Obj {
    fn trace(&self, tracer: &mut Tracer) {
        self.leaf.trace(tracer);
        if let Some(bang) = &self.bang {
            bang.trace(tracer);
        }
        self.kids.trace(tracer);
    }
}

fn obj(name: &str, bang: bool) -> Gc<Obj> {
    Gc::new(Obj {
        name: name.into(),
        bang: bang.then_some(Bangy),
        leaf: RefCell::new(None),
        kids: RefCell::new(Vec::new()),
    })
}

fn held(i: usize) -> Gc<Obj> {
    HELD.with(|held| held.borrow()[i].clone())
}

/// A collection whose root is `o` (held by the test and by `HELD[0]`), with
/// `o -> [p, w]`, `w -> [z]` and `z` also in `HELD[1]`: `o` is traced first, then `p`, whose
/// trace panics once, then `w` and `z`. Returns `o` and a `Weak` to `w`.
fn panicking_collection(hook: impl Fn() + Send + Sync + 'static) -> (Gc<Obj>, Weak<Obj>) {
    cyclegc::collect();
    let o = obj("o, whose value must stay readable", false);
    let p = obj("p", true);
    let w = obj("w", false);
    let z = obj("z", false);
    // No handle is dropped while others remain, except `o`'s below: it is the only root.
    w.kids.borrow_mut().push(z.clone());
    let weak_w = Gc::downgrade(&w);
    o.kids.borrow_mut().extend([p, w]);
    HELD.with(|held| *held.borrow_mut() = vec![o.clone(), z]);
    drop(o.clone());
    assert_eq!(cyclegc::count(), 1);
    with_hook(hook, || {
        ARMED.with(|armed| armed.set(true));
        let err = catch_unwind(cyclegc::collect).unwrap_err();
        assert_eq!(*err.downcast_ref::<&str>().unwrap(), "bang");
    });
    (o, weak_w)
}

/// Empties `HELD` and every object's edges, so that everything goes by reference counting.
fn clean_up(o: Gc<Obj>) {
    HELD.with(|held| held.borrow_mut().clear());
    let mut work = vec![o];
    while let Some(next) = work.pop() {
        work.extend(next.kids.borrow_mut().drain(..));
    }
    assert_eq!(cyclegc::collect(), 0);
}

/// The hook stores two new references to `o` (which the snapshot has counted already) in
/// `z` (which it has not traced yet), and lets go of `z`, which `w` still holds: a verdict
/// drawn from that snapshot counts them as internal references and frees `o` under the
/// test's handle (and a `&Obj` into it).
#[test]
fn references_created_by_the_hook_while_tracing_do_not_free_a_live_object() {
    let (o, w) = panicking_collection(|| {
        let (o, z) = (held(0), held(1));
        z.kids.borrow_mut().push(o.clone());
        z.kids.borrow_mut().push(o.clone());
        HELD.with(|held| held.borrow_mut().clear());
    });
    let value: &Obj = &o;
    assert_eq!(value.name, "o, whose value must stay readable");
    assert!(Gc::try_deref(&o).is_some());
    assert!(w.upgrade().is_some(), "reachable from o");
    clean_up(o);
    assert!(w.upgrade().is_none());
}

/// The hook drops the last reference to an object the panicking `trace` had reported before
/// it panicked (an untracked `Gc<String>`, freed at once): the collector must not read it.
#[test]
fn an_object_the_panicking_trace_reported_and_the_hook_freed_is_not_read() {
    cyclegc::collect();
    let x = obj("x", true);
    *x.leaf.borrow_mut() = Some(Gc::new("leaf".to_string()));
    HELD.with(|held| *held.borrow_mut() = vec![x.clone()]);
    drop(x.clone());
    with_hook(
        || drop(held(0).leaf.borrow_mut().take()),
        || {
            ARMED.with(|armed| armed.set(true));
            assert!(catch_unwind(cyclegc::collect).is_err());
        },
    );
    assert!(x.leaf.borrow().is_none());
    HELD.with(|held| held.borrow_mut().clear());
}

/// Objects being scanned are only tentatively dead: a hook that reads a live object (say,
/// a configuration it logs) reads it, rather than panicking inside the hook, which aborts.
#[test]
fn a_hook_can_read_a_live_object_that_is_being_scanned() {
    let (o, _) = panicking_collection(|| {
        let name = held(0).name.clone();
        let try_deref = Gc::try_deref(&held(0)).is_some();
        SEEN.with(|seen| seen.borrow_mut().push(format!("{name} {try_deref}")));
    });
    assert_eq!(
        SEEN.with(|seen| seen.take()),
        ["o, whose value must stay readable true"]
    );
    clean_up(o);
}

/// The hook drops the only reference to a cycle the void attempt had scanned (it takes `w`
/// out of `o`, and `w -> z -> w` is left alone). A drop does not buffer an object being
/// scanned, so the collection's retry must not start from the original roots only, or the
/// cycle would wait for a decrement that never comes.
#[test]
fn a_cycle_the_hook_orphans_while_tracing_is_collected_by_the_same_collection() {
    let (o, w) = panicking_collection(|| {
        let (o, z) = (held(0), held(1));
        let w = o.kids.borrow_mut().pop().unwrap();
        z.kids.borrow_mut().push(w);
        HELD.with(|held| held.borrow_mut().truncate(1));
    });
    assert!(
        w.upgrade().is_none(),
        "the orphaned cycle w -> z -> w was collected"
    );
    clean_up(o);
}

/// Any panic while the panic hook runs aborts the process, even one that would be caught. An
/// allocation in the hook (say, an interpreter making an exception object) must therefore
/// not run an automatic collection, nor `collect()` a collection: the garbage's `Drop` may
/// panic.
#[test]
fn no_collection_runs_in_the_panic_hook() {
    cyclegc::collect();
    let old = cyclegc::threshold();
    cyclegc::set_threshold(1);
    // Garbage whose trace panics: collecting it in the hook would abort.
    let garbage = obj("garbage", true);
    garbage.kids.borrow_mut().push(garbage.clone());
    let weak = Gc::downgrade(&garbage);
    drop(garbage);
    let collections = cyclegc::stats().collections;
    with_hook(
        || {
            drop(obj("made in the hook", false));
            let collected = cyclegc::collect();
            SEEN.with(|seen| {
                seen.borrow_mut()
                    .push(format!("collect() in the hook: {collected}"))
            });
        },
        || {
            ARMED.with(|armed| armed.set(true));
            assert!(catch_unwind(|| panic!("an ordinary, caught panic")).is_err());
        },
    );
    cyclegc::set_threshold(old);
    assert_eq!(SEEN.with(|seen| seen.take()), ["collect() in the hook: 0"]);
    assert_eq!(cyclegc::stats().collections, collections);
    ARMED.with(|armed| armed.set(false));
    assert_eq!(cyclegc::collect(), 1);
    assert!(weak.upgrade().is_none());
}
