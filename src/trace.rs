//! The [`Trace`] trait and the [`Tracer`] that collects the edges it reports.

use std::fmt;
use std::mem::{self, ManuallyDrop, MaybeUninit};
use std::ptr::{self, NonNull};

use crate::cycle::{Flavour, Object};

/// How deep the derived [`Trace::may_contain_gc`] computation follows field types before it
/// gives the conservative answer `true`. Only mutually recursive types (`A` holds a `Box<B>`,
/// `B` holds a `Box<A>`) ever reach it; everything else is answered exactly and folds to a
/// constant.
#[doc(hidden)]
pub const MAY_CONTAIN_GC_DEPTH_LIMIT: usize = 16;

/// Reports the [`Gc`](crate::Gc) pointers a value owns, so that the cycle collector can find
/// garbage cycles.
///
/// Implement it with `#[derive(Trace)]` (feature `derive`, on by default) wherever you can:
/// the derive visits every field, adds the bounds generic types need and computes
/// [`may_contain_gc`](Trace::may_contain_gc) for you. Fields that cannot own a `Gc` (a file
/// handle, an `Rc` to shared configuration) can be left out with `#[trace(skip)]`.
///
/// # Safety
///
/// The collector trusts `trace` to describe the object graph. An implementation must:
///
/// 1. **Report each `Gc` the value owns at most once per call.** Reporting a `Gc` twice, or
///    reporting a `Gc` that is owned by something else (a `Gc` inside an `Rc` that is also held
///    elsewhere, a `Gc` behind a `&'static`), makes the collector believe a live object is only
///    referenced from inside a cycle. The collector checks the counts it can check and gives up
///    on a collection whose numbers do not add up, but it cannot see every lie.
/// 2. **Not create, clone, drop or move `Gc`s, nor change the value** (through a `RefCell`,
///    say), **nor catch panics**. It is only a report: `trace` on a `Gc` field records the
///    edge without looking inside. The collector counts references while it traces, and
///    trusts that nothing but the tracing happens meanwhile; a panic must reach it, because
///    the panic hook runs user code that the collector has to account for. (In the
///    single-threaded flavour, objects being scanned count as dead for
///    [`Weak::upgrade`](crate::Weak::upgrade) until the collector decides.)
/// 3. **Report only `Gc`s owned by this value, by calling `trace` on the data that owns
///    them**, and only on data that stays in place, unchanged, until the whole object is
///    traced: the tracer may read what it is handed after the call returns (that is how
///    tracing avoids recursion; see [`Tracer`]). So never on a temporary (a `Vec` built
///    inside `trace`), nor on data behind a lock guard or cell borrow that `trace` releases
///    before it returns — trace the `RefCell`, `Mutex` or `RwLock` itself, whose impls keep
///    their guard as long as needed. Leaving a `Gc` out is allowed: the object it points to
///    is then treated as referenced from outside, so a cycle through it is never collected (a
///    leak, never unsoundness). That is what `#[trace(skip)]` does.
/// 4. Return `false` from [`may_contain_gc`](Trace::may_contain_gc) only for types that can
///    never own a `Gc`, whatever value they hold now (an empty `RefCell<Vec<Gc<_>>>` can
///    gain one later, so it answers `true`). `may_contain_gc` is called while the collector
///    traces, so rule 2 applies to it too: it only answers.
///
/// A `trace` that panics is fine: the collector traces again without that object (whatever
/// it points to counts as referenced from outside, so it is kept), completes the collection,
/// and then resumes the panic from [`collect`](crate::collect). A `RefCell` that is mutably
/// borrowed while the collector runs is skipped (its contents are kept alive), which is why
/// the collector can run while user code holds `borrow_mut()`; so is a lock another thread
/// holds. The thread-safe collector holds the locks of the objects it is about to claim while
/// it claims them, also while the panic hook of a panicking `trace` runs on its thread: a
/// hook that takes one of them deadlocks (as it would on any lock its own thread holds), and
/// `get_mut` or `try_unwrap` of an object a collection on that thread examines answer as if
/// other references existed.
///
/// # Why `Rc` and `Arc` are not `Trace`
///
/// An `Rc<Gc<T>>` may be shared by several owners. Reporting the inner `Gc` from each owner
/// would count one reference several times (rule 1), which can free a live object. The crate
/// therefore does not implement `Trace` for `Rc`/`Arc`; put them behind `#[trace(skip)]`
/// (anything inside them stays alive, as with any untraced field), or use `Gc` instead.
///
/// # Examples
///
/// Deriving:
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Node {
///     name: String,
///     next: RefCell<Option<Gc<Node>>>,
/// }
///
/// let a = Gc::new(Node { name: "a".into(), next: RefCell::new(None) });
/// *a.next.borrow_mut() = Some(a.clone()); // a cycle
/// drop(a);
/// assert_eq!(cyclegc::collect(), 1);
/// ```
///
/// By hand, for a type the derive cannot see into:
///
/// ```
/// use cyclegc::{Gc, Trace, Tracer};
///
/// struct Pair(Gc<i32>, Gc<i32>);
///
/// // SAFETY: reports each owned `Gc` exactly once and does nothing else.
/// unsafe impl Trace for Pair {
///     fn trace(&self, tracer: &mut Tracer) {
///         self.0.trace(tracer);
///         self.1.trace(tracer);
///     }
/// }
///
/// let p = Gc::new(Pair(Gc::new(1), Gc::new(2)));
/// assert_eq!(*p.0 + *p.1, 3);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Trace`",
    label = "the cycle collector cannot see inside `{Self}`",
    note = "add `#[derive(Trace)]` to the type, or mark the field `#[trace(skip)]` if it owns no `Gc`",
    note = "for a type you cannot implement `Trace` for (another crate's), wrap it in `cyclegc::Untraced`: the collector then sees nothing inside it",
    note = "for a closure (`Box<dyn Fn…>`), use `cyclegc::TracedFn` and `Box<dyn cyclegc::Callback<Args>>`: its captures are traced"
)]
pub unsafe trait Trace {
    /// Reports every [`Gc`](crate::Gc) this value owns by calling `trace` on it (or on the
    /// field that holds it).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::{Gc, Trace, Tracer};
    ///
    /// struct Holder { items: Vec<Gc<u8>>, label: String }
    ///
    /// // SAFETY: forwards to the fields; `label` owns no `Gc`.
    /// unsafe impl Trace for Holder {
    ///     fn trace(&self, tracer: &mut Tracer) {
    ///         self.items.trace(tracer);
    ///     }
    /// }
    /// # let _ = Gc::new(Holder { items: vec![Gc::new(1)], label: String::new() });
    /// ```
    fn trace(&self, tracer: &mut Tracer);

    /// Whether a value of this type can ever own a [`Gc`](crate::Gc).
    ///
    /// `false` makes the type *untracked*, like CPython's atomic objects: its `Gc`s are never
    /// buffered as possible cycle roots and never traced, so `Gc<String>` costs what
    /// `Rc<String>` costs. The default, `true`, is always safe. The derive computes it from
    /// the fields without recursing through `Gc<U>` (which answers `true` without looking at
    /// `U`), so self-referential types are fine.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use cyclegc::{Gc, Trace};
    ///
    /// assert!(!<String as Trace>::may_contain_gc());
    /// assert!(!<Vec<(u8, String)> as Trace>::may_contain_gc());
    /// assert!(<RefCell<Option<Gc<u8>>> as Trace>::may_contain_gc());
    /// ```
    fn may_contain_gc() -> bool
    where
        Self: Sized,
    {
        true
    }

    /// [`may_contain_gc`](Trace::may_contain_gc) as asked from `depth` derived types deep.
    /// Implemented by the derive and by containers so that mutually recursive types terminate;
    /// not meant to be called or implemented by hand.
    #[doc(hidden)]
    fn __may_contain_gc_at(depth: usize) -> bool
    where
        Self: Sized,
    {
        let _ = depth;
        Self::may_contain_gc()
    }
}

/// The visitor handed to [`Trace::trace`]; it records the edges the value reports.
///
/// Users never build one: the collector does, and `Trace` implementations only pass it on to
/// the fields they own.
///
/// Tracing never recurses on data: the crate's containers that hold their elements behind a
/// pointer (`Box`, `Vec`, the collections) trace their contents directly while only a few of
/// them are nested, and beyond that hand them back to the tracer, which traces them from a
/// work list. So a value nesting a million `Option<Box<Cell>>` deep is traced on a small
/// stack. (A hand-written `Trace` impl that recurses through pointers of its own recurses as
/// deep as its data.)
///
/// # Examples
///
/// ```
/// use cyclegc::{Gc, Trace, Tracer};
///
/// struct Wrapper(Option<Gc<String>>);
///
/// // SAFETY: forwards to the only field.
/// unsafe impl Trace for Wrapper {
///     fn trace(&self, tracer: &mut Tracer) {
///         self.0.trace(tracer)
///     }
/// }
/// # let _ = Gc::new(Wrapper(None));
/// ```
pub struct Tracer {
    /// The flavour whose collector is tracing: only its edges are recorded.
    flavour: Flavour,
    /// The headers of the edges recorded, all of `flavour`'s header type.
    edges: Vec<NonNull<()>>,
    /// Some content could not be read (a mutably borrowed `RefCell`, a held lock).
    incomplete: bool,
    /// How many containers deep the current call is nested (see [`Tracer::nested`]).
    depth: usize,
    /// Containers handed back to be traced later, and the guards (cell borrows, locks) that
    /// must outlive them, in stack order: a guard sits below the work it protects.
    ///
    /// Everything here points into the value whose trace is running, so it is only valid
    /// during [`Tracer::trace_value`], which empties the list before it returns (normally or
    /// by unwinding: see [`Tracer::abandon_work`]).
    work: Vec<Work>,
    /// The guards a *holding* tracer keeps until the collector's claim is decided (the
    /// thread-safe flavour's validation: ARCHITECTURE.md, "A thread-safe collection"), in
    /// the order their tracing finished, which puts every guard after the guards nested
    /// inside what it protects: [`Tracer::release_held`] releases them in that order,
    /// innermost first.
    held: Vec<ErasedGuard>,
    /// Whether guards are kept in `held` rather than released after each value.
    holding: bool,
    /// Whether the value traced since the last [`clear`](Tracer::clear) took a guard (its
    /// edges may change once the guard is released).
    guarded: bool,
}

/// How many containers nest directly before the rest goes to the work list. Direct calls are
/// faster; the limit bounds the stack whatever the data.
const NESTING_LIMIT: usize = 16;

/// An entry of [`Tracer::work`].
enum Work {
    /// Trace the contents of the container at `container` with `trace`.
    Contents {
        container: NonNull<()>,
        trace: unsafe fn(NonNull<()>, &mut Tracer),
    },
    /// A cell borrow or lock guard, dropped once the work above it is done.
    Guard(ErasedGuard),
}

/// A guard with its type and lifetime erased: stored inline when it fits in two words (every
/// std and parking_lot guard and cell borrow does), boxed otherwise. A holding tracer keeps
/// one per lock it traced, so a collection of a million objects behind locks does not
/// allocate a million boxes.
struct ErasedGuard {
    /// The guard itself, or a `Box<G>`'s pointer.
    storage: MaybeUninit<[usize; 2]>,
    /// Drops the guard in `storage`.
    drop: unsafe fn(*mut MaybeUninit<[usize; 2]>),
}

impl ErasedGuard {
    /// # Safety
    /// The guard borrows from the value being traced: the caller must drop the returned
    /// guard before that borrow would end (before [`Tracer::trace_value`] returns, or, for a
    /// holding tracer, before the value may be moved, borrowed mutably or dropped).
    unsafe fn new<G>(guard: G) -> ErasedGuard {
        /// # Safety
        /// `storage` holds a `G`, dropped once.
        unsafe fn drop_inline<G>(storage: *mut MaybeUninit<[usize; 2]>) {
            // SAFETY: by the function's contract.
            unsafe { ptr::drop_in_place(storage.cast::<G>()) }
        }
        /// # Safety
        /// `storage` holds a pointer from `Box::<G>::into_raw`, dropped once.
        unsafe fn drop_boxed<G>(storage: *mut MaybeUninit<[usize; 2]>) {
            // SAFETY: by the function's contract.
            drop(unsafe { Box::from_raw(storage.cast::<*mut G>().read()) });
        }
        let mut storage = MaybeUninit::<[usize; 2]>::uninit();
        let fits = mem::size_of::<G>() <= mem::size_of::<[usize; 2]>()
            && mem::align_of::<G>() <= mem::align_of::<[usize; 2]>();
        let drop = if fits {
            // SAFETY: `G` fits in `storage` (size and alignment checked); moving a guard
            // is allowed (it is not pinned).
            unsafe { storage.as_mut_ptr().cast::<G>().write(guard) };
            drop_inline::<G> as unsafe fn(*mut MaybeUninit<[usize; 2]>)
        } else {
            // SAFETY: a pointer fits in two words; written as a pointer, it keeps its
            // provenance.
            unsafe {
                storage
                    .as_mut_ptr()
                    .cast::<*mut G>()
                    .write(Box::into_raw(Box::new(guard)))
            };
            drop_boxed::<G>
        };
        ErasedGuard { storage, drop }
    }
}

impl Drop for ErasedGuard {
    fn drop(&mut self) {
        // SAFETY: made by `ErasedGuard::new`, whose `drop` matches what it stored; dropped
        // once, here.
        unsafe { (self.drop)(&mut self.storage) }
    }
}

/// A container whose contents live behind a pointer (so types can nest through it without
/// bound), traced through [`Tracer::nested`].
pub(crate) trait Contents {
    /// Traces every element, without the nesting bookkeeping.
    fn trace_contents(&self, tracer: &mut Tracer);
}

/// # Safety
/// `container` points to a live `C` that stays alive and unchanged for the call.
unsafe fn trace_contents_of<C: Contents>(container: NonNull<()>, tracer: &mut Tracer) {
    // SAFETY: by the function's contract.
    unsafe { container.cast::<C>().as_ref() }.trace_contents(tracer);
}

impl Tracer {
    /// A tracer for the collector of `flavour`, releasing every guard once the value it
    /// protects is traced (until [`Tracer::set_holding`]).
    pub(crate) const fn new(flavour: Flavour) -> Self {
        Tracer {
            flavour,
            edges: Vec::new(),
            incomplete: false,
            depth: 0,
            work: Vec::new(),
            held: Vec::new(),
            holding: false,
            guarded: false,
        }
    }

    /// Makes the tracer *hold* (or stop holding): every guard it takes then stays held after
    /// the value's trace, until [`Tracer::release_held`], so that what it has read cannot
    /// change meanwhile.
    pub(crate) fn set_holding(&mut self, holding: bool) {
        self.holding = holding;
    }

    /// Whether this tracer keeps its guards until [`Tracer::release_held`].
    #[inline(always)]
    fn holds(&self) -> bool {
        self.holding
    }

    /// Whether the value traced since the last [`clear`](Tracer::clear) took a guard.
    pub(crate) fn took_guard(&self) -> bool {
        self.guarded
    }

    /// Finishes with a guard whose protected work is done: a holding tracer keeps it, any
    /// other releases it now.
    ///
    /// # Safety
    /// As for [`Tracer::keep_guard`]; a kept guard borrows from a value that the caller of
    /// [`Tracer::trace_value`] keeps alive and unmoved until [`Tracer::release_held`].
    #[inline]
    unsafe fn done_with(&mut self, guard: ErasedGuard) {
        if self.holds() {
            self.held.push(guard);
        } else {
            drop(guard);
        }
    }

    /// Releases every guard a holding tracer kept, innermost first (see [`Tracer::held`]).
    /// If a guard's drop panics, the rest are still released, in order.
    #[inline]
    pub(crate) fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        // `drain` keeps the list's capacity for the next collection (the tracer lives in the
        // recycled scan), and its own drop releases the rest if a guard's drop panics.
        for guard in self.held.drain(..) {
            drop(guard);
        }
    }

    /// Traces the whole of `value` — what its `trace` reports and everything handed back to
    /// the work list meanwhile — then returns with the work list empty.
    ///
    /// # Safety
    /// Nothing may mutate or drop `value` during the call except through its own `Trace` impls
    /// (the collector calls this for a value it holds alive, with no other user code running).
    /// A holding tracer keeps guards that borrow from `value` beyond the call: then `value`
    /// must also stay alive, and not be moved or borrowed mutably, until
    /// [`Tracer::release_held`] (the thread-safe flavour's `SCANNED` guarantees it).
    pub(crate) unsafe fn trace_value<T: Trace + ?Sized>(&mut self, value: &T) {
        value.trace(self);
        if !self.work.is_empty() {
            // SAFETY: the work points into `value` (the caller's contract).
            unsafe { self.drain_work() };
        }
    }

    /// Does the work handed back while tracing a value, and what that work hands back.
    ///
    /// # Safety
    /// As for [`Tracer::trace_value`], for the value whose trace filled the list.
    #[cold]
    #[inline(never)]
    unsafe fn drain_work(&mut self) {
        while let Some(work) = self.work.pop() {
            match work {
                Work::Contents { container, trace } => {
                    self.depth = 0;
                    // SAFETY: `container` points into the value being traced (or into
                    // contents a guard below it in the list still protects), which is alive
                    // and unchanged.
                    unsafe { trace(container, self) }
                }
                // SAFETY: the guard borrows from the value being traced (the caller's
                // contract), and the work it protected is done.
                Work::Guard(guard) => unsafe { self.done_with(guard) },
            }
        }
        self.depth = 0;
    }

    /// Traces the contents of `container` now, or later from the work list if many
    /// containers are already nested.
    ///
    /// # Safety
    /// `container` must be part of the value being traced by the running
    /// [`Tracer::trace_value`] (not a temporary), or of contents a guard passed to
    /// [`Tracer::guarded`] protects: it may be read after this call returns.
    #[inline]
    pub(crate) unsafe fn nested<C: Contents>(&mut self, container: &C) {
        if self.depth < NESTING_LIMIT {
            self.depth += 1;
            container.trace_contents(self);
            self.depth -= 1;
        } else {
            self.work.push(Work::Contents {
                container: NonNull::from(container).cast(),
                trace: trace_contents_of::<C>,
            });
        }
    }

    /// Traces what `guard` (a cell borrow or lock guard) gives access to. If part of it was
    /// handed back to the work list, the guard is kept until that part has been traced, so
    /// the contents cannot change (another thread taking the lock) while they are read.
    ///
    /// If the trace panics, the guard is moved onto the work list too, below whatever was
    /// handed back from inside it: unwinding would otherwise release it first, freeing the
    /// contents for others to change while inner guards still point into them, and would
    /// poison a `Mutex` that the user's code never failed in. [`Tracer::abandon_work`] then
    /// releases them all (a holding tracer keeps them), innermost first.
    ///
    /// # Safety
    /// `guard` must borrow from the value being traced by the running
    /// [`Tracer::trace_value`], and deref to data that does not move when the guard does.
    pub(crate) unsafe fn guarded<G>(&mut self, guard: G)
    where
        G: std::ops::Deref,
        G::Target: Trace,
    {
        /// Moves the guard onto the work list if the trace unwinds; disarmed (forgotten) on the normal path.
        struct KeepOnUnwind<G> {
            tracer: *mut Tracer,
            guard: ManuallyDrop<G>,
            mark: usize,
        }
        impl<G> Drop for KeepOnUnwind<G> {
            fn drop(&mut self) {
                // SAFETY: only reached while the trace below unwinds, when nothing else uses
                // the tracer; the guard is taken once, here.
                unsafe {
                    let guard = ManuallyDrop::take(&mut self.guard);
                    (*self.tracer).keep_guard(self.mark, guard);
                }
            }
        }
        self.guarded = true;
        let mark = self.work.len();
        let tracer: *mut Tracer = self;
        let mut keep = KeepOnUnwind {
            tracer,
            guard: ManuallyDrop::new(guard),
            mark,
        };
        // SAFETY: `tracer` comes from `self`, which is not used until the call returns.
        keep.guard.trace(unsafe { &mut *tracer });
        // SAFETY: the guard is taken once; `keep` is forgotten, so it does not take it again.
        let guard = unsafe { ManuallyDrop::take(&mut keep.guard) };
        mem::forget(keep);
        if self.work.len() > mark {
            // SAFETY: the caller's contract.
            unsafe { self.keep_guard(mark, guard) };
        } else if self.holds() {
            // SAFETY: the caller's contract; the guard is released by `release_held`.
            unsafe { self.done_with(ErasedGuard::new(guard)) };
        }
    }

    /// Moves `guard` onto the work list at `mark`, below the work it protects.
    ///
    /// # Safety
    /// As for [`Tracer::guarded`].
    unsafe fn keep_guard<G>(&mut self, mark: usize, guard: G) {
        // SAFETY: the guard borrows from the value being traced (the caller's contract), and
        // `trace_value` (or `abandon_work`) drops it before returning; it sits below the work
        // it protects.
        let guard = unsafe { ErasedGuard::new(guard) };
        self.work.insert(mark, Work::Guard(guard));
    }

    /// Forgets the pending work but keeps the edges recorded so far. Used after a `trace`
    /// call panicked. The guards on the list are released, or, by a holding tracer, kept
    /// with the held ones, after them: the list pops innermost first, and a guard held
    /// already is inside one still on the list, which must not go first (found by review:
    /// releasing the outer lock first let another thread change what an inner guard still
    /// pointed into).
    pub(crate) fn abandon_work(&mut self) {
        // One at a time, so the list stays consistent whatever a guard's drop does.
        while let Some(work) = self.work.pop() {
            match work {
                Work::Guard(guard) if self.holds() => self.held.push(guard),
                work => drop(work),
            }
        }
        self.depth = 0;
    }

    /// Notes that part of the value could not be traced right now. Its edges count as
    /// references from outside (alive), and the object is examined again by the next
    /// collection, when the borrow may be over.
    pub(crate) fn skip_busy(&mut self) {
        self.incomplete = true;
    }

    /// Whether the value traced since the last [`clear`](Tracer::clear) skipped anything.
    pub(crate) fn incomplete(&self) -> bool {
        self.incomplete
    }

    /// Records one edge to the object whose header is `header`, if it belongs to the
    /// flavour being traced. An edge to another flavour's object is that flavour's business:
    /// for this collector the object is referenced from outside.
    ///
    /// # Safety
    /// `header` is the header of a live object, to which the value being traced owns a
    /// strong reference: the collector will read it.
    #[inline]
    pub(crate) unsafe fn edge<H: Object>(&mut self, header: NonNull<H>) {
        if H::FLAVOUR == self.flavour {
            self.edges.push(header.cast());
        }
    }

    /// The edges recorded so far, to be read and then [`clear`](Tracer::clear)ed. `H` must
    /// be the header type of the flavour this tracer was made for.
    pub(crate) fn edges<H: Object>(&self) -> &[NonNull<H>] {
        assert_eq!(H::FLAVOUR, self.flavour, "edges read as another flavour's");
        // SAFETY: every edge was recorded from a `NonNull<H>` of this flavour (`edge`), and
        // `NonNull<()>` and `NonNull<H>` have the same layout (`H: Sized`).
        unsafe { std::slice::from_raw_parts(self.edges.as_ptr().cast(), self.edges.len()) }
    }

    pub(crate) fn clear(&mut self) {
        self.edges.clear();
        self.incomplete = false;
        self.guarded = false;
    }
}

impl Drop for Tracer {
    /// Releases the guards of work left behind by a panic, then the held ones.
    fn drop(&mut self) {
        self.abandon_work();
        self.release_held();
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("flavour", &self.flavour)
            .field("edges", &self.edges.len())
            .finish()
    }
}

/// A type that owns no `Gc`, used by the derive in place of the type being derived when it
/// computes [`Trace::may_contain_gc`] for a directly recursive type: the least fixpoint of
/// "a `Json` may contain a `Gc` if a `Vec<Json>` may" is "if anything else in it may".
#[doc(hidden)]
pub struct Acyclic;

// SAFETY: owns nothing.
unsafe impl Trace for Acyclic {
    fn trace(&self, _: &mut Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::cycle::Flavour;
    use std::cell::RefCell;
    use std::ops::Deref;
    use std::panic::{self, AssertUnwindSafe};

    thread_local! {
        /// The guards of [`Logged`] in the order they were released.
        static RELEASED: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    }

    /// A guard that records its release.
    struct Logged<'a, T>(&'static str, &'a T);

    impl<T> Deref for Logged<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.1
        }
    }

    impl<T> Drop for Logged<'_, T> {
        fn drop(&mut self) {
            RELEASED.with(|released| released.borrow_mut().push(self.0));
        }
    }

    /// A part behind its own guard, whose trace panics if `panics`.
    struct Part(&'static str, bool);

    // SAFETY: owns nothing.
    unsafe impl Trace for Part {
        fn trace(&self, _: &mut Tracer) {
            assert!(!self.1, "this part's trace panics");
        }
    }

    struct Parts(Vec<Part>);

    // SAFETY: owns nothing; each part is traced behind a guard of its own.
    unsafe impl Trace for Parts {
        fn trace(&self, tracer: &mut Tracer) {
            for part in &self.0 {
                // SAFETY: the guard borrows `part`, part of the value being traced, and
                // derefs to it.
                unsafe { tracer.guarded(Logged(part.0, part)) };
            }
        }
    }

    struct Outer(Parts);

    // SAFETY: owns nothing; its parts are traced behind an outer guard.
    unsafe impl Trace for Outer {
        fn trace(&self, tracer: &mut Tracer) {
            // SAFETY: as above.
            unsafe { tracer.guarded(Logged("outer", &self.0)) };
        }
    }

    /// Review finding: after a `trace` panics inside nested guards, a holding tracer used to
    /// release the outer guard (left on the work list by the unwinding) before an inner one
    /// it already held; now every guard goes innermost first.
    #[test]
    fn a_holding_tracer_releases_innermost_first_after_a_panic() {
        let value = Outer(Parts(vec![Part("first", false), Part("second", true)]));
        let mut tracer = Tracer::new(Flavour::Sync);
        tracer.set_holding(true);
        let traced = panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `value` outlives the tracer's guards (released below).
            unsafe { tracer.trace_value(&value) }
        }));
        assert!(traced.is_err());
        tracer.abandon_work();
        assert!(
            RELEASED.with(|released| released.borrow().is_empty()),
            "all held"
        );
        tracer.release_held();
        let released = RELEASED.with(|released| released.take());
        assert_eq!(released, ["first", "second", "outer"]);
    }
}
