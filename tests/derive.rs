//! `#[derive(Trace)]`: every shape of type, the bounds it adds, `may_contain_gc`, and tracing
//! checked through the collector.
//!
//! Every test leaves nothing behind: cycles are either collected or broken by hand, so the
//! suite passes under Miri's leak checker.

#![cfg(feature = "derive")]
// The derive must produce clean code under strict lints, and it must not make a crate that
// forbids `unsafe` code reject the `unsafe impl` it emits.
#![deny(
    warnings,
    unsafe_op_in_unsafe_fn,
    rust_2018_idioms,
    unused_qualifications
)]
#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::rc::Rc;

use cyclegc::{collect, Gc, Trace, Weak};
use static_assertions::{assert_impl_all, assert_not_impl_any};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

/// Counts its drops. A derived unit struct with a user `Drop` impl.
#[derive(Trace)]
struct Payload;

impl Drop for Payload {
    fn drop(&mut self) {
        DROPS.with(|drops| drops.set(drops.get() + 1));
    }
}

fn drops() -> usize {
    DROPS.with(Cell::get)
}

/// Clears garbage left by earlier tests on this thread, turns automatic collection off so
/// that `collect()` counts are exact, and resets the drop counter.
fn start() {
    cyclegc::disable();
    collect();
    DROPS.with(|drops| drops.set(0));
}

/// Not `Trace`: only usable behind `#[trace(skip)]`.
struct NotTrace(#[allow(dead_code)] u8);

type Link<T> = RefCell<Option<Gc<T>>>;

fn link<T>() -> Link<T> {
    RefCell::new(None)
}

fn set<T>(slot: &Link<T>, target: &Gc<T>) {
    *slot.borrow_mut() = Some(target.clone());
}

// ---------------------------------------------------------------------------------------
// Structs

#[derive(Trace)]
struct Named {
    payload: Payload,
    label: String,
    next: Link<Named>,
}

#[test]
fn named_struct_cycle_is_collected() {
    start();
    assert!(Named::may_contain_gc());
    let a = Gc::new(Named {
        payload: Payload,
        label: "a".into(),
        next: link(),
    });
    let b = Gc::new(Named {
        payload: Payload,
        label: "b".into(),
        next: link(),
    });
    set(&a.next, &b);
    set(&b.next, &a);
    assert_eq!(a.label, "a");
    let _ = &b.payload;
    drop((a, b));
    assert_eq!(drops(), 0);
    assert_eq!(collect(), 2);
    assert_eq!(drops(), 2);
    assert_eq!(collect(), 0);
}

#[derive(Trace)]
struct Tuple(Payload, Link<Tuple>, u32);

#[test]
fn tuple_struct_cycle_is_collected() {
    start();
    assert!(Tuple::may_contain_gc());
    let a = Gc::new(Tuple(Payload, link(), 1));
    set(&a.1, &a);
    assert_eq!(a.2, 1);
    drop(a);
    assert_eq!(collect(), 1);
    assert_eq!(drops(), 1);
}

#[derive(Trace)]
struct Unit;

#[derive(Trace)]
struct EmptyNamed {}

#[derive(Trace)]
struct EmptyTuple();

#[test]
fn unit_and_empty_structs_are_untracked() {
    start();
    assert!(!Unit::may_contain_gc());
    assert!(!EmptyNamed::may_contain_gc());
    assert!(!EmptyTuple::may_contain_gc());
    assert!(!Payload::may_contain_gc());
    let unit = Gc::new(Unit);
    drop(unit.clone());
    let payload = Gc::new(Payload);
    drop(payload.clone());
    drop((Gc::new(EmptyNamed {}), Gc::new(EmptyTuple())));
    // Untracked types are never buffered as possible cycle roots.
    assert_eq!(cyclegc::count(), 0);
    drop((unit, payload));
    assert_eq!(drops(), 1);
    assert_eq!(collect(), 0);
}

// ---------------------------------------------------------------------------------------
// Enums

#[derive(Trace)]
enum Shape {
    Empty,
    Leaf(String),
    Tuple(Payload, Link<Shape>),
    Named {
        payload: Payload,
        next: Link<Shape>,
        weight: u8,
    },
    Nested(Option<Box<Shape>>),
}

#[test]
fn enum_cycle_through_every_variant_kind_is_collected() {
    start();
    assert!(Shape::may_contain_gc());
    let empty = Gc::new(Shape::Empty);
    let leaf = Gc::new(Shape::Leaf("leaf".into()));
    let tuple = Gc::new(Shape::Tuple(Payload, link()));
    let named = Gc::new(Shape::Named {
        payload: Payload,
        next: link(),
        weight: 3,
    });
    // The edge back to `tuple` goes through a nested `Box<Shape>` inside another variant.
    let nested = Gc::new(Shape::Nested(Some(Box::new(Shape::Tuple(Payload, link())))));
    match (&*tuple, &*named, &*nested) {
        (
            Shape::Tuple(_, to_named),
            Shape::Named {
                next: to_nested,
                weight,
                ..
            },
            Shape::Nested(Some(inner)),
        ) => {
            assert_eq!(*weight, 3);
            set(to_named, &named);
            set(to_nested, &nested);
            match &**inner {
                Shape::Tuple(_, to_tuple) => set(to_tuple, &tuple),
                _ => unreachable!(),
            }
        }
        _ => unreachable!(),
    }
    drop((empty, leaf));
    assert_eq!(collect(), 0);
    drop((tuple, named, nested));
    assert_eq!(drops(), 0);
    assert_eq!(collect(), 3);
    // The payloads of `tuple`, `named` and the boxed `Shape::Tuple` inside `nested`.
    assert_eq!(drops(), 3);
}

#[derive(Trace)]
enum Never {}

#[derive(Trace)]
enum Fieldless {
    A,
    B {},
    C(),
}

#[test]
fn empty_and_fieldless_enums_are_untracked() {
    start();
    assert!(!Never::may_contain_gc());
    assert!(!Fieldless::may_contain_gc());
    assert!(!<Option<Never> as Trace>::may_contain_gc());
    let values = Gc::new(vec![Fieldless::A, Fieldless::B {}, Fieldless::C()]);
    assert!(matches!(values[1], Fieldless::B {}));
    assert!(matches!(values[2], Fieldless::C()));
    drop(values.clone());
    assert_eq!(cyclegc::count(), 0);
    drop(Gc::new(None::<Never>));
    assert_eq!(collect(), 0);
}

#[derive(Trace)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// Recursive through `Self` rather than the type's name.
#[derive(Trace)]
enum List {
    Nil,
    Cons(u8, Box<Self>),
}

#[test]
fn directly_recursive_types_without_gc_are_untracked() {
    start();
    assert!(!Json::may_contain_gc());
    assert!(!List::may_contain_gc());
    let json = Gc::new(Json::Obj(vec![
        ("a".into(), Json::Arr(vec![Json::Null, Json::Bool(true)])),
        ("b".into(), Json::Num(1.5)),
        ("c".into(), Json::Str("s".into())),
    ]));
    drop(json.clone());
    let list = Gc::new(List::Cons(1, Box::new(List::Cons(2, Box::new(List::Nil)))));
    drop(list.clone());
    assert_eq!(cyclegc::count(), 0);
    assert!(matches!(&*json, Json::Obj(fields) if fields.len() == 3));
    assert!(matches!(&*list, List::Cons(1, _)));
    drop((json, list));
    assert_eq!(collect(), 0);
}

// ---------------------------------------------------------------------------------------
// Generics

#[derive(Trace)]
struct Wrapper<T> {
    inner: T,
}

/// Only a `PhantomData<T>` mentions `T`: the bound is `PhantomData<T>: Trace`, true for any
/// `T`, and no bound is put on `T` itself.
#[derive(Trace)]
struct Tagged<T> {
    id: u32,
    tag: PhantomData<T>,
}

assert_impl_all!(Wrapper<String>: Trace);
assert_impl_all!(Wrapper<Gc<NotTrace>>: Trace);
assert_not_impl_any!(Wrapper<NotTrace>: Trace);
assert_not_impl_any!(Wrapper<Rc<()>>: Trace);
assert_impl_all!(Tagged<NotTrace>: Trace);
assert_impl_all!(Tagged<Rc<()>>: Trace);

#[derive(Trace)]
struct ThroughWrapper {
    payload: Payload,
    edge: Wrapper<Link<ThroughWrapper>>,
}

#[test]
fn generic_wrapper() {
    start();
    assert!(!Wrapper::<String>::may_contain_gc());
    assert!(!Wrapper::<Wrapper<u8>>::may_contain_gc());
    assert!(Wrapper::<Gc<u8>>::may_contain_gc());
    assert!(Wrapper::<Option<Gc<String>>>::may_contain_gc());
    assert!(!Tagged::<Gc<u8>>::may_contain_gc());
    assert!(ThroughWrapper::may_contain_gc());

    let strings = Gc::new(Wrapper {
        inner: String::from("s"),
    });
    let gcs = Gc::new(Wrapper {
        inner: strings.clone(),
    });
    assert_eq!(gcs.inner.inner, "s");
    let tagged = Gc::new(Tagged::<Rc<()>> {
        id: 7,
        tag: PhantomData,
    });
    assert_eq!(tagged.id, 7);
    drop((strings, gcs, tagged));
    assert_eq!(collect(), 0);

    let a = Gc::new(ThroughWrapper {
        payload: Payload,
        edge: Wrapper { inner: link() },
    });
    let b = Gc::new(ThroughWrapper {
        payload: Payload,
        edge: Wrapper { inner: link() },
    });
    set(&a.edge.inner, &b);
    set(&b.edge.inner, &a);
    let _ = (&a.payload, &b.payload);
    drop((a, b));
    assert_eq!(collect(), 2);
    assert_eq!(drops(), 2);
}

/// Recursive and generic: `kids` gets no `Vec<Tree<T>>: Trace` bound (the solver would
/// cycle); `v` gets `T: Trace`.
#[derive(Trace)]
struct Tree<T> {
    v: T,
    kids: Vec<Tree<T>>,
}

/// The recursive field also holds a `T` directly.
#[derive(Trace)]
struct Pairs<T> {
    kids: Vec<(T, Pairs<T>)>,
}

/// Recursive through `Self`, generic.
#[derive(Trace)]
struct GList<T> {
    head: T,
    tail: Option<Box<Self>>,
}

assert_impl_all!(Tree<String>: Trace);
assert_not_impl_any!(Tree<NotTrace>: Trace);
assert_impl_all!(Pairs<u8>: Trace);
assert_not_impl_any!(Pairs<NotTrace>: Trace);
assert_not_impl_any!(GList<Rc<()>>: Trace);

#[derive(Trace)]
struct TreeHolder {
    payload: Payload,
    tree: Tree<Link<TreeHolder>>,
}

#[test]
fn generic_recursive_tree() {
    start();
    assert!(!Tree::<String>::may_contain_gc());
    assert!(!Tree::<Tree<u8>>::may_contain_gc());
    assert!(Tree::<Gc<u8>>::may_contain_gc());
    assert!(Tree::<RefCell<Vec<Gc<String>>>>::may_contain_gc());
    assert!(!Pairs::<u8>::may_contain_gc());
    assert!(Pairs::<Gc<u8>>::may_contain_gc());
    assert!(!GList::<String>::may_contain_gc());
    assert!(GList::<Gc<String>>::may_contain_gc());
    // Weak edges are not traced.
    assert!(!GList::<Weak<String>>::may_contain_gc());
    assert!(TreeHolder::may_contain_gc());

    // The edge back to the holder sits in a grandchild, so `kids` must be traced.
    let holder = Gc::new(TreeHolder {
        payload: Payload,
        tree: Tree {
            v: link(),
            kids: vec![Tree {
                v: link(),
                kids: vec![
                    Tree {
                        v: link(),
                        kids: Vec::new(),
                    },
                    Tree {
                        v: link(),
                        kids: Vec::new(),
                    },
                ],
            }],
        },
    });
    set(&holder.tree.kids[0].kids[1].v, &holder);
    let _ = &holder.payload;
    drop(holder);
    assert_eq!(collect(), 1);
    assert_eq!(drops(), 1);

    let pairs = Gc::new(Pairs {
        kids: vec![(Gc::new(1u8), Pairs { kids: Vec::new() })],
    });
    let list = Gc::new(GList {
        head: 1u8,
        tail: Some(Box::new(GList {
            head: 2,
            tail: None,
        })),
    });
    assert_eq!(*pairs.kids[0].0, 1);
    assert_eq!(list.tail.as_ref().map(|tail| tail.head), Some(2));
    drop((pairs, list));
    assert_eq!(collect(), 0);
}

// ---------------------------------------------------------------------------------------
// Recursion through `Gc` and through `Box`

#[derive(Trace)]
struct Node {
    payload: Payload,
    next: Link<Node>,
    parent: RefCell<Weak<Node>>,
}

fn node() -> Gc<Node> {
    Gc::new(Node {
        payload: Payload,
        next: link(),
        parent: RefCell::new(Weak::new()),
    })
}

#[test]
fn recursive_node_ring_is_collected() {
    start();
    assert!(Node::may_contain_gc());
    let ring = [node(), node(), node()];
    for (i, n) in ring.iter().enumerate() {
        set(&n.next, &ring[(i + 1) % ring.len()]);
        // Weak edges are not traced and keep nothing alive.
        *n.parent.borrow_mut() = Gc::downgrade(&ring[(i + 2) % ring.len()]);
    }
    let weak = Gc::downgrade(&ring[0]);
    let _ = &ring[0].payload;
    drop(ring);
    assert_eq!(collect(), 3);
    assert_eq!(drops(), 3);
    assert!(weak.upgrade().is_none());
}

#[derive(Trace)]
struct GcA {
    payload: Payload,
    b: RefCell<Option<Gc<GcB>>>,
}

#[derive(Trace)]
struct GcB {
    payload: Payload,
    a: Gc<GcA>,
}

#[test]
fn mutually_recursive_through_gc() {
    start();
    assert!(GcA::may_contain_gc());
    assert!(GcB::may_contain_gc());
    let a = Gc::new(GcA {
        payload: Payload,
        b: RefCell::new(None),
    });
    let b = Gc::new(GcB {
        payload: Payload,
        a: a.clone(),
    });
    *a.b.borrow_mut() = Some(b);
    let _ = &a.payload;
    assert!(a.b.borrow().as_ref().is_some_and(|b| Gc::ptr_eq(&b.a, &a)));
    drop(a);
    assert_eq!(collect(), 2);
    assert_eq!(drops(), 2);
}

#[derive(Trace)]
struct BoxA {
    b: Option<Box<BoxB>>,
}

#[derive(Trace)]
struct BoxB {
    a: Option<Box<BoxA>>,
    s: String,
}

#[test]
fn mutually_recursive_through_box_terminates_conservatively() {
    start();
    // Neither can own a `Gc`, but the derive cannot see that through two types; it stops at
    // the depth limit and answers `true`, which is always allowed.
    assert!(BoxA::may_contain_gc());
    assert!(BoxB::may_contain_gc());
    let value = Gc::new(BoxA {
        b: Some(Box::new(BoxB {
            a: Some(Box::new(BoxA { b: None })),
            s: "s".into(),
        })),
    });
    drop(value.clone());
    assert_eq!(value.b.as_ref().map(|b| b.s.as_str()), Some("s"));
    drop(value);
    assert_eq!(collect(), 0);
}

// ---------------------------------------------------------------------------------------
// `#[trace(skip)]`

#[derive(Trace)]
struct Skipping {
    payload: Payload,
    #[trace(skip)]
    config: Rc<()>,
    #[trace(skip)]
    local: NotTrace,
    seen: Link<Skipping>,
    #[trace(skip)]
    hidden: Link<Skipping>,
}

fn skipping() -> Gc<Skipping> {
    Gc::new(Skipping {
        payload: Payload,
        config: Rc::new(()),
        local: NotTrace(0),
        seen: link(),
        hidden: link(),
    })
}

#[derive(Trace)]
struct OnlySkipped(#[trace(skip)] Link<OnlySkipped>, #[trace(skip)] NotTrace);

#[derive(Trace)]
enum SkipInVariants {
    Tuple(#[trace(skip)] Rc<()>, Payload),
    Named {
        #[trace(skip)]
        local: NotTrace,
        edge: Link<SkipInVariants>,
    },
}

#[derive(Trace)]
struct SkipGeneric<T> {
    #[trace(skip)]
    value: T,
    count: u8,
}

assert_impl_all!(SkipGeneric<NotTrace>: Trace);
assert_impl_all!(SkipGeneric<Rc<()>>: Trace);

#[test]
fn skipped_edge_keeps_the_cycle_alive() {
    start();
    assert!(Skipping::may_contain_gc());
    assert!(!OnlySkipped::may_contain_gc());
    assert!(SkipInVariants::may_contain_gc());
    assert!(!SkipGeneric::<Gc<u8>>::may_contain_gc());

    // a -> b through a traced field, b -> a through a skipped one: the collector must
    // treat `a` as referenced from outside and keep both.
    let a = skipping();
    let b = skipping();
    set(&a.seen, &b);
    set(&b.hidden, &a);
    assert_eq!(Rc::strong_count(&a.config), 1);
    let _ = (&a.local, &a.payload);
    let weak_a = Gc::downgrade(&a);
    drop((a, b));
    assert_eq!(collect(), 0);
    assert_eq!(drops(), 0);
    // Break the cycle by hand so that nothing leaks.
    let a = weak_a.upgrade().expect("kept alive by the skipped edge");
    let b = a.seen.borrow_mut().take();
    drop((a, b));
    assert_eq!(drops(), 2);
    assert!(weak_a.upgrade().is_none());
    assert_eq!(collect(), 0);

    // A fully traced cycle next to it is still collected.
    let c = skipping();
    set(&c.seen, &c);
    drop(c);
    assert_eq!(collect(), 1);
    assert_eq!(drops(), 3);

    // Skipped fields inside enum variants.
    let tuple = Gc::new(SkipInVariants::Tuple(Rc::new(()), Payload));
    let named = Gc::new(SkipInVariants::Named {
        local: NotTrace(1),
        edge: link(),
    });
    if let SkipInVariants::Named { edge, local } = &*named {
        let _ = local;
        set(edge, &named);
    }
    if let SkipInVariants::Tuple(config, _) = &*tuple {
        assert_eq!(Rc::strong_count(config), 1);
    }
    drop(tuple);
    assert_eq!(drops(), 4);
    drop(named);
    assert_eq!(collect(), 1);

    let generic = Gc::new(SkipGeneric {
        value: NotTrace(2),
        count: 1,
    });
    assert_eq!(generic.count, 1);
    let _ = &generic.value;
    drop(generic);
    let only = Gc::new(OnlySkipped(link(), NotTrace(3)));
    assert!(only.0.borrow().is_none());
    let _ = &only.1;
    drop(only);
    assert_eq!(collect(), 0);
}

// ---------------------------------------------------------------------------------------
// A user `Drop` impl, lifetimes, const generics, `where` clauses, defaults

#[derive(Trace)]
struct Loud {
    name: String,
    next: Link<Loud>,
}

impl Drop for Loud {
    fn drop(&mut self) {
        // `next` may point into the cycle being collected: only look at it fallibly.
        if let Ok(next) = self.next.try_borrow() {
            if let Some(next) = next.as_ref() {
                let _ = Gc::try_deref(next).map(|next| next.name.len());
            }
        }
        assert!(!self.name.is_empty());
        DROPS.with(|drops| drops.set(drops.get() + 1));
    }
}

#[test]
fn user_drop_impl_runs_on_collection() {
    start();
    assert!(Loud::may_contain_gc());
    let a = Gc::new(Loud {
        name: "a".into(),
        next: link(),
    });
    let b = Gc::new(Loud {
        name: "b".into(),
        next: link(),
    });
    set(&a.next, &b);
    set(&b.next, &a);
    drop((a, b));
    assert_eq!(collect(), 2);
    assert_eq!(drops(), 2);
}

#[derive(Trace)]
struct Params<'a, T, const N: usize> {
    items: [T; N],
    marker: PhantomData<&'a ()>,
}

#[derive(Trace)]
enum Borrowing<'a, 'b: 'a, T> {
    Marker(PhantomData<(&'a T, &'b ())>),
    Owned(Option<T>),
}

#[derive(Trace)]
struct WithWhere<T, U = u8>
where
    T: Clone,
{
    t: T,
    u: Vec<U>,
}

/// Bounds in the parameter list: the derive's `T: Trace` joins them.
#[derive(Trace)]
struct Inline<T: Clone + 'static>(T, Vec<T>);

assert_impl_all!(Inline<String>: Trace);
assert_not_impl_any!(Inline<Rc<()>>: Trace);
assert_impl_all!(Params<'static, Gc<u8>, 2>: Trace);
assert_not_impl_any!(Params<'static, NotTrace, 1>: Trace);
assert_impl_all!(WithWhere<String>: Trace);

/// The derived impl exists for non-`'static` lifetimes too.
fn local_may_contain<'x>(_: &Params<'x, u8, 1>) -> bool {
    <Params<'x, u8, 1> as Trace>::may_contain_gc()
}

#[test]
fn lifetimes_and_const_generics() {
    start();
    assert!(Params::<'static, Gc<u8>, 2>::may_contain_gc());
    assert!(!Params::<'static, u8, 3>::may_contain_gc());
    // Answered from the element type, not the length.
    assert!(Params::<'static, Gc<u8>, 0>::may_contain_gc());
    assert!(!<Borrowing<'_, '_, String> as Trace>::may_contain_gc());
    assert!(<Borrowing<'_, '_, Gc<u8>> as Trace>::may_contain_gc());
    assert!(!WithWhere::<String>::may_contain_gc());
    assert!(WithWhere::<String, Gc<u8>>::may_contain_gc());
    assert!(!Inline::<u8>::may_contain_gc());
    assert!(Inline::<Gc<u8>>::may_contain_gc());
    let inline = Gc::new(Inline(1u8, vec![2]));
    assert_eq!(inline.0 + inline.1[0], 3);
    drop(inline);

    let local = Params {
        items: [1u8],
        marker: PhantomData,
    };
    assert!(!local_may_contain(&local));

    let a = Gc::new(Params::<'static, RefCell<Vec<Gc<Node>>>, 2> {
        items: [RefCell::new(Vec::new()), RefCell::new(Vec::new())],
        marker: PhantomData,
    });
    let n = node();
    a.items[1].borrow_mut().push(n.clone());
    assert_eq!(Gc::strong_count(&n), 2);
    drop(a);
    assert_eq!(Gc::strong_count(&n), 1);
    drop(n);
    let w = Gc::new(WithWhere::<String> {
        t: "t".into(),
        u: vec![1],
    });
    let borrowing = Gc::new(Borrowing::<'static, 'static, u8>::Owned(Some(1)));
    let marker = Gc::new(Borrowing::<'static, 'static, u8>::Marker(PhantomData));
    assert!(matches!(&*marker, Borrowing::Marker(_)));
    drop(marker);
    assert!(matches!(&*borrowing, Borrowing::Owned(Some(1))));
    assert_eq!((w.t.as_str(), w.u[0]), ("t", 1));
    drop((w, borrowing));
    assert_eq!(collect(), 0);
    assert_eq!(drops(), 1);
}

// ---------------------------------------------------------------------------------------
// Hygiene: the generated code must not be confused by names in the user's scope.

#[allow(non_camel_case_types, non_upper_case_globals, dead_code)]
mod hygiene {
    use std::cell::RefCell;

    struct bool;
    struct usize;
    struct Option;
    struct Tracer;
    trait Trace {}
    const depth: u8 = 0;
    const tracer: u8 = 0;

    #[derive(cyclegc::Trace)]
    pub struct Fields {
        pub tracer: u8,
        pub depth: u8,
        pub this: RefCell<core::option::Option<cyclegc::Gc<Fields>>>,
    }

    #[derive(cyclegc::Trace)]
    pub enum Variants {
        Self_(u8),
        Tracer { tracer: u8 },
    }
}

#[test]
fn generated_code_is_hygienic() {
    start();
    assert!(<hygiene::Fields as Trace>::may_contain_gc());
    assert!(!<hygiene::Variants as Trace>::may_contain_gc());
    let a = Gc::new(hygiene::Fields {
        tracer: 1,
        depth: 2,
        this: RefCell::new(None),
    });
    *a.this.borrow_mut() = Some(a.clone());
    assert_eq!(a.tracer + a.depth, 3);
    drop(a);
    assert_eq!(collect(), 1);
    let v = Gc::new(hygiene::Variants::Tracer { tracer: 1 });
    assert!(matches!(&*v, hygiene::Variants::Tracer { tracer: 1 }));
    drop((v, Gc::new(hygiene::Variants::Self_(0))));
}
