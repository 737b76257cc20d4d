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
// Which spellings count as the type itself
//
// `may_contain_gc` treats an occurrence of the type being derived as owning nothing (the
// least fixpoint of "a `Json` may own a `Gc` if a `Vec<Json>` may"). That is only right for
// the type itself: another type that happens to share its name, or the same generic type
// with other arguments, must be asked, or a type that owns a `Gc` answers `false`, is never
// buffered or traced, and drops recursively.

/// The shape from the bug report: `same_name::List` owns an `other::List`, which owns a
/// `Gc`. Neither type has an interior-mutable edge, so it cannot form a cycle; the chain
/// test below is what an untracked `List` breaks.
mod same_name {
    use cyclegc::{Gc, Trace};

    pub mod other {
        use cyclegc::{Gc, Trace};

        #[derive(Trace)]
        pub struct List(pub Option<Gc<super::List>>);
    }

    #[derive(Trace)]
    pub struct List {
        pub payload: crate::Payload,
        pub next: other::List,
    }

    pub fn node(next: Option<Gc<List>>) -> List {
        List {
            payload: crate::Payload,
            next: other::List(next),
        }
    }

    /// The same, with an edge that can close a cycle.
    pub mod cell {
        use cyclegc::Trace;

        use crate::Link;

        #[derive(Trace)]
        pub struct Ring(pub Link<super::Ring>);
    }

    #[derive(Trace)]
    pub struct Ring {
        pub payload: crate::Payload,
        pub next: cell::Ring,
    }
}

#[test]
fn a_field_of_another_type_with_the_same_name_counts_as_owning_a_gc() {
    start();
    assert!(<same_name::other::List as Trace>::may_contain_gc());
    assert!(<same_name::List as Trace>::may_contain_gc());
    assert!(<same_name::cell::Ring as Trace>::may_contain_gc());
    assert!(<same_name::Ring as Trace>::may_contain_gc());

    // An untracked `Ring` would never be buffered, so its cycle would leak.
    let ring = || {
        Gc::new(same_name::Ring {
            payload: Payload,
            next: same_name::cell::Ring(link()),
        })
    };
    let (a, b) = (ring(), ring());
    set(&a.next.0, &b);
    set(&b.next.0, &a);
    let _ = (&a.payload, &b.payload);
    drop((a, b));
    assert_eq!(collect(), 2);
    assert_eq!(drops(), 2);
}

/// How long the chains dropped on a small stack are.
fn chain_len() -> usize {
    if cfg!(miri) {
        1_000
    } else {
        1_000_000
    }
}

/// Builds a chain of `chain_len()` nodes, each owning the next through a `Gc`, on a thread
/// with a 256 KiB stack, drops its head there and returns how many `Payload`s were dropped.
///
/// No node type has a `Drop` impl that unlinks iteratively: the only recursion is through the
/// `Gc`s, and bounding it is the crate's release loop's job, which it only does for types
/// that say they may contain a `Gc`. An untracked node is dropped in place, so the chain
/// drops recursively and overflows the stack, which aborts the test binary.
fn drop_chain_on_a_small_stack<N: Trace + 'static>(node: fn(Option<Gc<N>>) -> N) -> usize {
    let len = chain_len();
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            start();
            let mut head = None;
            for _ in 0..len {
                head = Some(Gc::new(node(head.take())));
            }
            assert_eq!(drops(), 0);
            drop(head);
            assert_eq!(collect(), 0);
            drops()
        })
        .expect("spawning a thread")
        .join()
        .expect("the chain thread panicked")
}

#[test]
fn a_long_chain_through_another_type_with_the_same_name_drops_on_a_small_stack() {
    assert_eq!(drop_chain_on_a_small_stack(same_name::node), chain_len());
}

/// `::cyclegc::Gc` inside a type that is also called `Gc`: a leading `::` names a crate.
mod leading_colon {
    #[derive(cyclegc::Trace)]
    pub struct Gc(pub ::cyclegc::Gc<u8>);
}

/// A generic wrapper named like what it wraps, spelled through the crate's name.
mod wrapper {
    #[derive(cyclegc::Trace)]
    pub struct Gc<T>(pub cyclegc::Gc<T>);
}

/// `crate::..`, `super::..` and `self::..` paths to other types of the same name.
#[allow(unused_qualifications)] // the qualified spellings are what is tested
mod qualified {
    use cyclegc::Trace;

    pub mod a {
        use cyclegc::Trace;

        use crate::Link;

        #[derive(Trace)]
        pub struct Leaf(pub Link<Leaf>);

        #[derive(Trace)]
        pub struct Up(pub super::Up);
    }

    #[derive(Trace)]
    pub struct Leaf {
        pub inner: crate::qualified::a::Leaf,
    }

    #[derive(Trace)]
    pub struct Up(pub crate::Link<u8>);

    #[derive(Trace)]
    pub struct Outer(pub crate::Link<u8>);

    /// Inside a function body, `self::Outer` is the module's `Outer`, not the body's.
    pub fn inner_outer_may_contain_gc() -> bool {
        #[derive(Trace)]
        #[allow(dead_code)] // only its `may_contain_gc` is looked at
        struct Outer(self::Outer);

        <Outer as Trace>::may_contain_gc()
    }
}

#[test]
fn a_qualified_path_is_not_assumed_to_be_the_type_itself() {
    start();
    assert!(<leading_colon::Gc as Trace>::may_contain_gc());
    assert!(<wrapper::Gc<u8> as Trace>::may_contain_gc());
    assert!(<qualified::Leaf as Trace>::may_contain_gc());
    assert!(<qualified::a::Up as Trace>::may_contain_gc());
    assert!(qualified::inner_outer_may_contain_gc());

    let a = Gc::new(leading_colon::Gc(Gc::new(1)));
    let b = Gc::new(wrapper::Gc(Gc::new(2)));
    assert_eq!(*a.0 + *b.0, 3);
    let leaf = Gc::new(qualified::Leaf {
        inner: qualified::a::Leaf(link()),
    });
    let up = Gc::new(qualified::a::Up(qualified::Up(link())));
    let outer = Gc::new(qualified::Outer(link()));
    assert!(leaf.inner.0.borrow().is_none());
    assert!(up.0 .0.borrow().is_none() && outer.0.borrow().is_none());
    drop((a, b, leaf, up, outer));
    assert_eq!(collect(), 0);
}

/// `W<Gc<u8>>` inside `W<T>` is another type than `W<T>`: `W<u8>` owns a `Gc` through it.
#[derive(Trace)]
struct OtherArgs<T> {
    t: T,
    other: Option<Box<OtherArgs<Gc<u8>>>>,
}

/// A bare `Defaulted` means `Defaulted<Gc<u8>>`, not `Defaulted<T>`.
#[derive(Trace)]
struct Defaulted<T = Gc<u8>> {
    t: T,
    next: Option<Box<Defaulted>>,
}

/// `Partial<T>` means `Partial<T, Gc<u8>>`, not `Partial<T, U>`.
#[derive(Trace)]
struct Partial<T, U = Gc<u8>> {
    t: T,
    u: U,
    next: Option<Box<Partial<T>>>,
}

/// The arguments swapped: another type unless `A == B`.
#[derive(Trace)]
struct Swapped<A, B> {
    a: A,
    b: B,
    next: Option<Box<Swapped<B, A>>>,
}

/// Only the lifetime differs.
#[derive(Trace)]
struct Lifetimes<'a> {
    marker: PhantomData<&'a ()>,
    next: Option<Box<Lifetimes<'static>>>,
}

assert_impl_all!(Partial<u8, u8>: Trace);
assert_not_impl_any!(Swapped<u8, NotTrace>: Trace);

#[test]
fn the_same_generic_type_with_other_arguments_is_not_assumed_acyclic() {
    start();
    assert!(OtherArgs::<u8>::may_contain_gc());
    assert!(OtherArgs::<Gc<u8>>::may_contain_gc());
    assert!(Defaulted::<u8>::may_contain_gc());
    assert!(Partial::<u8, u8>::may_contain_gc());
    assert!(Swapped::<u8, Gc<u8>>::may_contain_gc());
    assert!(Swapped::<Gc<u8>, u8>::may_contain_gc());
    // Neither can own a `Gc`, but proving it would take looking through the other
    // instantiation; the derive answers `true` at the depth limit, which is allowed.
    assert!(Swapped::<u8, u16>::may_contain_gc());
    assert!(<Lifetimes<'_> as Trace>::may_contain_gc());

    let value = Gc::new(OtherArgs {
        t: 1u8,
        other: Some(Box::new(OtherArgs {
            t: Gc::new(2u8),
            other: None,
        })),
    });
    assert_eq!(value.other.as_ref().map(|other| *other.t), Some(2));
    let defaulted = Gc::new(Defaulted {
        t: 1u8,
        next: Some(Box::new(Defaulted {
            t: Gc::new(2u8),
            next: None,
        })),
    });
    assert_eq!(defaulted.t, 1);
    let partial = Gc::new(Partial {
        t: 1u8,
        u: 2u8,
        next: None,
    });
    assert_eq!(partial.t + partial.u, 3);
    assert!(partial.next.is_none());
    let swapped = Gc::new(Swapped {
        a: 1u8,
        b: 2u16,
        next: Some(Box::new(Swapped {
            a: 3u16,
            b: 4u8,
            next: None,
        })),
    });
    assert_eq!(
        swapped.next.as_ref().map(|next| (next.a, next.b)),
        Some((3, 4))
    );
    assert_eq!(u16::from(swapped.a) + swapped.b, 3);
    let lifetimes = Gc::new(Lifetimes {
        marker: PhantomData,
        next: None,
    });
    assert!(lifetimes.next.is_none());
    let _ = &lifetimes.marker;
    drop((value, defaulted, partial, swapped, lifetimes));
    assert_eq!(collect(), 0);
}

/// Recursive through its own name with all of its parameters, lifetime and const
/// included, spelled in every accepted way.
#[derive(Trace)]
struct Exact<'a, T, const N: usize> {
    items: [T; N],
    kids: Vec<Exact<'a, T, N>>,
    braced: Option<Box<Exact<'a, T, { N }>>>,
    turbofish: Vec<Exact<'a, T, N>>,
    marker: PhantomData<&'a ()>,
}

/// Empty angle brackets on a type without parameters.
#[derive(Trace)]
struct EmptyArgs {
    kids: Vec<EmptyArgs>,
}

/// The recursive occurrence passed through a `macro_rules!` type fragment, which wraps it
/// in an invisible group.
macro_rules! recursive_through_a_fragment {
    ($name:ident, $self_ty:ty) => {
        #[derive(Trace)]
        struct $name {
            label: String,
            kids: Vec<$self_ty>,
        }
    };
}

recursive_through_a_fragment!(ViaFragment, ViaFragment);

#[test]
fn the_type_itself_spelled_exactly_is_still_acyclic() {
    start();
    assert!(!Json::may_contain_gc());
    assert!(!List::may_contain_gc());
    assert!(!Tree::<u8>::may_contain_gc());
    assert!(!GList::<u8>::may_contain_gc());
    assert!(!<Exact<'_, u8, 2> as Trace>::may_contain_gc());
    assert!(<Exact<'_, Gc<u8>, 2> as Trace>::may_contain_gc());
    assert!(!EmptyArgs::may_contain_gc());
    assert!(!ViaFragment::may_contain_gc());

    let exact = Gc::new(Exact::<'static, u8, 1> {
        items: [1],
        kids: Vec::new(),
        braced: None,
        turbofish: Vec::new(),
        marker: PhantomData,
    });
    let empty = Gc::new(EmptyArgs { kids: Vec::new() });
    let fragment = Gc::new(ViaFragment {
        label: "v".into(),
        kids: Vec::new(),
    });
    drop((exact.clone(), empty.clone(), fragment.clone()));
    // Untracked: never buffered.
    assert_eq!(cyclegc::count(), 0);
    assert_eq!(exact.items[0], 1);
    assert!(exact.kids.is_empty() && exact.braced.is_none() && exact.turbofish.is_empty());
    assert!(empty.kids.is_empty());
    assert!(fragment.kids.is_empty() && fragment.label == "v");
    drop((exact, empty, fragment));
    assert_eq!(collect(), 0);
}

/// Recursive through qualified paths to itself: correct, but not provably the type itself,
/// so asked like any other type until the depth limit.
#[allow(unused_qualifications)] // the qualified spellings are what is tested
mod self_by_path {
    use cyclegc::Trace;

    #[derive(Trace)]
    pub enum Json {
        Null,
        Arr(Vec<self::Json>),
        Obj(Vec<(String, crate::self_by_path::Json)>),
    }

    /// Generic, and the recursive field mixes an exact and a qualified occurrence.
    #[derive(Trace)]
    pub struct Tree<T> {
        pub v: T,
        pub kids: Vec<(Tree<T>, self::Tree<T>)>,
    }
}

assert_impl_all!(self_by_path::Tree<String>: Trace);
assert_not_impl_any!(self_by_path::Tree<NotTrace>: Trace);

#[test]
fn a_qualified_path_to_the_type_itself_is_answered_conservatively() {
    start();
    assert!(<self_by_path::Json as Trace>::may_contain_gc());
    assert!(<self_by_path::Tree<u8> as Trace>::may_contain_gc());
    let json = Gc::new(self_by_path::Json::Arr(vec![self_by_path::Json::Null]));
    let obj = Gc::new(self_by_path::Json::Obj(Vec::new()));
    let tree = Gc::new(self_by_path::Tree {
        v: 1u8,
        kids: Vec::new(),
    });
    assert!(tree.kids.is_empty() && tree.v == 1);
    drop((json, obj, tree));
    assert_eq!(collect(), 0);
}

/// Another generic type with the same name gets no bound (the derive cannot tell it from
/// the type itself); the type's own bound supplies what it needs.
mod generic_same_name {
    use cyclegc::Trace;

    pub mod other {
        use cyclegc::Trace;

        #[derive(Trace)]
        pub struct Pair<T>(pub T, pub crate::Link<u8>);
    }

    #[derive(Trace)]
    pub struct Pair<T: Trace>(pub other::Pair<T>);
}

assert_impl_all!(generic_same_name::Pair<u8>: Trace);

#[test]
fn a_generic_field_of_another_type_with_the_same_name_compiles_with_the_type_own_bound() {
    start();
    assert!(<generic_same_name::Pair<u8> as Trace>::may_contain_gc());
    let pair = Gc::new(generic_same_name::Pair(generic_same_name::other::Pair(
        1u8,
        link(),
    )));
    assert_eq!(pair.0 .0, 1);
    drop(pair);
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
    assert!(SkipInVariants::may_contain_gc());

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

/// The only link to the next node is a skipped `Gc`.
#[derive(Trace)]
struct SkippedLink {
    payload: Payload,
    #[trace(skip)]
    next: Option<Gc<SkippedLink>>,
}

/// A skipped field whose type is not `Trace` and holds a `Gc` the derive cannot see.
#[derive(Trace)]
struct SkippedRc {
    #[trace(skip)]
    shared: Rc<Link<u8>>,
}

#[test]
fn a_skipped_field_counts_as_owning_a_gc() {
    start();
    assert!(SkippedLink::may_contain_gc());
    assert!(SkippedRc::may_contain_gc());
    assert!(OnlySkipped::may_contain_gc());
    assert!(SkipGeneric::<Gc<u8>>::may_contain_gc());
    // The derive cannot tell a skipped `u8` from a skipped `Gc`: `true` is the safe answer.
    assert!(SkipGeneric::<u8>::may_contain_gc());

    let shared = Rc::new(link());
    let a = Gc::new(SkippedRc {
        shared: shared.clone(),
    });
    set(&a.shared, &Gc::new(1u8));
    drop((a, shared));
    let b = Gc::new(SkippedLink {
        payload: Payload,
        next: Some(Gc::new(SkippedLink {
            payload: Payload,
            next: None,
        })),
    });
    assert!(b.next.as_ref().is_some_and(|next| next.next.is_none()));
    let _ = &b.payload;
    drop(b);
    assert_eq!(drops(), 2);
    assert_eq!(collect(), 0);
}

#[test]
fn a_long_chain_through_a_skipped_gc_drops_on_a_small_stack() {
    let node = |next| SkippedLink {
        payload: Payload,
        next,
    };
    assert_eq!(drop_chain_on_a_small_stack(node), chain_len());
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
