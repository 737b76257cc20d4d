//! [`Gc<T>`]: the strong, reference-counted, cycle-collected pointer.

use std::any::Any;
use std::marker::PhantomData;
use std::mem::{self, MaybeUninit};
use std::ops::Deref;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};

use crate::cycle::{Object, VTableFor, BUFFERED, DEAD, DROPPED, UNTRACKED, WITHDRAWN};
use crate::handle::dead_deref;
use crate::release::{self, Droppable};
use crate::trace::{Trace, Tracer};
use crate::unsize::Unsize;
use crate::unsync::header::{GcBox, Header};
use crate::unsync::local;
use crate::unsync::weak::Weak;

/// A single-threaded reference-counting pointer whose garbage cycles are reclaimed by the
/// cycle collector. The `Rc` of this crate.
///
/// * Cloning adds a strong reference; dropping the last one drops the value at once, exactly
///   like [`Rc`](std::rc::Rc). Most objects never meet the collector.
/// * A drop that leaves references behind may have orphaned a cycle, so the object is
///   remembered as a *possible root* (unless its type can never own a `Gc`). [`collect`]
///   — or the automatic collection it triggers — finds the cycles among them and frees them.
/// * `Gc<T>` is one pointer wide, `!Send` and `!Sync`; each thread has its own collector.
///
/// Like `Rc`, its methods are associated functions (`Gc::strong_count(&g)`), so they never
/// shadow methods of `T`.
///
/// # Dropping members of a collected cycle
///
/// When the collector frees a cycle, it first marks every member dead, then drops the values
/// one by one. A `Drop` impl of one member that dereferences another member of the same cycle
/// **panics** (the panic is caught, the rest of the cycle is still dropped, and `collect`
/// re-raises it afterwards) instead of reading a value that may already be dropped. Use
/// [`Gc::try_deref`] where a `Drop` impl may run on a collected cycle.
///
/// [`collect`]: crate::collect
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use cyclegc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Person {
///     name: String,
///     friends: RefCell<Vec<Gc<Person>>>,
/// }
///
/// let alice = Gc::new(Person { name: "Alice".into(), friends: RefCell::new(vec![]) });
/// let bob = Gc::new(Person { name: "Bob".into(), friends: RefCell::new(vec![]) });
/// alice.friends.borrow_mut().push(bob.clone());
/// bob.friends.borrow_mut().push(alice.clone()); // a cycle: Rc would leak it
///
/// assert_eq!(Gc::strong_count(&alice), 2);
/// drop((alice, bob));
/// assert_eq!(cyclegc::collect(), 2);
/// ```
pub struct Gc<T: ?Sized> {
    ptr: NonNull<GcBox<T>>,
    // Owns a `T` for the drop checker; `NonNull` already makes `Gc` `!Send + !Sync`.
    _owns: PhantomData<GcBox<T>>,
}

impl<T: Trace + 'static> Gc<T> {
    /// Allocates `value` and returns the first strong reference to it.
    ///
    /// If automatic collection is enabled and enough possible cycle roots have accumulated,
    /// this first runs a collection (see [`set_threshold`](crate::set_threshold)). Types that
    /// can never own a `Gc` skip that check entirely.
    ///
    /// The automatic collection never panics out of `new`: a panic of a `Drop` or `Trace`
    /// impl during it is reported by the panic hook as usual and kept, to be resumed by the
    /// next [`collect`](crate::collect) (an allocation may sit in a `Drop` that runs during
    /// unwinding, or in a thread-local destructor, where a panic aborts the process).
    ///
    /// `T: 'static`, because the value may be dropped long after this call: a cycle is only
    /// found at a later collection (at any `Gc::new` or `collect()` on the thread, or when it
    /// exits), and a `Drop` of a collected cycle may keep a handle anywhere. A value holding a
    /// borrow could be traced or dropped after the borrow ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let five = Gc::new(5);
    /// assert_eq!(*five, 5);
    /// ```
    #[inline]
    pub fn new(value: T) -> Gc<T> {
        let tracked = T::may_contain_gc();
        if tracked {
            local::before_alloc();
        }
        let ptr = Gc::<T>::allocate(tracked);
        // SAFETY: `ptr` is a fresh allocation whose value is written here, once, in place:
        // building the value into a `GcBox` on the stack and moving that would copy it twice.
        unsafe { ptr::addr_of_mut!((*ptr.as_ptr()).value).write(value) };
        Gc::from_box(ptr)
    }

    /// Allocates a `GcBox<T>` and writes its header (one strong reference, the implicit
    /// hold); the value is left uninitialized, for the caller to write in place before the
    /// box becomes a `Gc`.
    #[inline(always)]
    fn allocate(tracked: bool) -> NonNull<GcBox<T>> {
        let ptr = NonNull::from(Box::leak(Box::<GcBox<T>>::new_uninit())).cast::<GcBox<T>>();
        // Listed before the header is written (the registry only keeps the pointer), so that
        // the header is written once, number included. (If listing panics, the uninitialised
        // box leaks.)
        let number = if tracked {
            local::register(ptr.cast())
        } else {
            None
        };
        // SAFETY: `ptr` points to an allocation sized and aligned for a `GcBox<T>`; the header
        // is written once, through a raw pointer, before anything reads the box.
        unsafe {
            ptr::addr_of_mut!((*ptr.as_ptr()).header).write(Header::new(
                VTableFor::<Header, T>::VTABLE,
                tracked,
                1,
                number,
            ))
        };
        ptr
    }

    /// Allocates `value` and pins it: the value never moves again, as for
    /// [`Rc::pin`](std::rc::Rc::pin) (the collector drops values in place).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let pinned = Gc::pin(5);
    /// assert_eq!(*pinned, 5);
    /// ```
    pub fn pin(value: T) -> Pin<Gc<T>> {
        let gc = Gc::new(value);
        // SAFETY: fresh (no scan, no other handle), and the pinned vtable is the type's but
        // for the type id. (Set here rather than passed to the allocation, which kept
        // `Gc::new` from being inlined as before.)
        unsafe { gc.header().set_vtable(VTableFor::<Header, T>::PINNED) };
        // SAFETY: a `Gc` never moves its value: the value is dropped in place, and the only
        // ways to move it out (`try_unwrap`, `make_mut`, `get_mut`) need the `Gc` by value
        // or by `&mut`, which `Pin` does not hand out; and no other `Gc` can be made: the
        // heap's view and saved garbage hand out `AnyGc`s, whose `downcast` refuses a pinned
        // value (its vtable's type id is a private marker's), and a `Weak` needs the `Gc`.
        unsafe { Pin::new_unchecked(gc) }
    }

    /// Builds a value that holds a [`Weak`] pointer to itself.
    ///
    /// `data_fn` receives a `Weak` to the allocation being built; upgrading it returns `None`
    /// until `new_cyclic` returns. Clones of it may be stored in the value. If `data_fn`
    /// panics, nothing leaks and the panic propagates.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::{Gc, Trace, Weak};
    ///
    /// #[derive(Trace)]
    /// struct Gadget {
    ///     me: Weak<Gadget>,
    /// }
    ///
    /// let gadget = Gc::new_cyclic(|me| {
    ///     assert!(me.upgrade().is_none());
    ///     Gadget { me: me.clone() }
    /// });
    /// assert!(Gc::ptr_eq(&gadget, &gadget.me.upgrade().unwrap()));
    /// ```
    pub fn new_cyclic<F>(data_fn: F) -> Gc<T>
    where
        F: FnOnce(&Weak<T>) -> T,
    {
        let tracked = T::may_contain_gc();
        if tracked {
            local::before_alloc();
        }
        // `MaybeUninit<T>` has `T`'s layout, so this is the layout of a `GcBox<T>`.
        let uninit = Box::new(GcBox {
            header: Header::new(VTableFor::<Header, T>::VTABLE, tracked, 0, None),
            value: MaybeUninit::<T>::uninit(),
        });
        let ptr = NonNull::from(Box::leak(uninit)).cast::<GcBox<T>>();
        // SAFETY: the header is written; nothing else has the allocation yet.
        unsafe { Header::placed(ptr.cast()) };
        // The implicit hold (weak == 1) belongs to this `Weak` while the value is built; if
        // `data_fn` panics, dropping it frees the allocation without touching the value.
        let weak = Weak::from_box(ptr);
        let value = data_fn(&weak);
        // SAFETY: `ptr` is live (the `Weak` holds it) and the value slot is uninitialised and
        // unaliased: the strong count is 0, so no `Gc` to it exists yet.
        unsafe { ptr::addr_of_mut!((*ptr.as_ptr()).value).write(value) };
        // SAFETY: as above.
        let header = unsafe { &(*ptr.as_ptr()).header };
        // SAFETY: the value is written; the one `Gc` is returned below.
        unsafe { header.set_strong(1) };
        // The `Weak`'s unit becomes the implicit hold of the strong reference.
        mem::forget(weak);
        Gc::from_box(ptr)
    }
}

impl<T: ?Sized> Gc<T> {
    pub(crate) fn from_box(ptr: NonNull<GcBox<T>>) -> Gc<T> {
        Gc {
            ptr,
            _owns: PhantomData,
        }
    }

    #[inline(always)]
    fn header(&self) -> &Header {
        // SAFETY: a `Gc` keeps its allocation (and so its header) alive.
        unsafe { &(*self.ptr.as_ptr()).header }
    }

    #[inline(always)]
    pub(crate) fn header_ptr(&self) -> NonNull<Header> {
        self.ptr.cast()
    }

    /// Gives up the handle without its strong reference, which the caller takes over.
    pub(crate) fn into_header(this: Self) -> NonNull<Header> {
        let header = this.header_ptr();
        mem::forget(this);
        header
    }

    /// Whether the collector tracks this object (CPython's `gc.is_tracked`): `false` when
    /// its type can never own a `Gc` ([`Trace::may_contain_gc`]
    /// answers `false`), so it is never a possible cycle root, never traced and not listed
    /// among the heap's objects.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Mutex;
    #[doc = concat!("use ", "cyclegc", "::Gc;")]
    ///
    /// assert!(!Gc::is_tracked(&Gc::new(String::from("atomic"))));
    /// assert!(Gc::is_tracked(&Gc::new(Mutex::new(Vec::<Gc<u8>>::new()))));
    /// ```
    pub fn is_tracked(this: &Self) -> bool {
        !this.header().has(UNTRACKED)
    }

    /// The number of strong pointers (`Gc`s) to this allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let five = Gc::new(5);
    /// let _also_five = Gc::clone(&five);
    /// assert_eq!(Gc::strong_count(&five), 2);
    /// ```
    #[inline]
    pub fn strong_count(this: &Self) -> usize {
        this.header().strong()
    }

    /// The number of [`Weak`] pointers to this allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let five = Gc::new(5);
    /// let _weak_five = Gc::downgrade(&five);
    /// assert_eq!(Gc::weak_count(&five), 1);
    /// ```
    #[inline]
    pub fn weak_count(this: &Self) -> usize {
        this.header().weak_handles()
    }

    /// Creates a new [`Weak`] pointer to this allocation. A `Weak` is not an edge for the
    /// collector: it never keeps a cycle alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let five = Gc::new(5);
    /// let weak_five = Gc::downgrade(&five);
    /// assert_eq!(weak_five.upgrade().as_deref(), Some(&5));
    /// ```
    #[must_use = "this returns a new `Weak` pointer, without modifying the original `Gc`"]
    pub fn downgrade(this: &Self) -> Weak<T> {
        this.header().take_hold();
        Weak::from_box(this.ptr)
    }

    /// Whether two `Gc`s point to the same allocation (like `ptr::eq`, not `==`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let five = Gc::new(5);
    /// let same_five = Gc::clone(&five);
    /// let other_five = Gc::new(5);
    /// assert!(Gc::ptr_eq(&five, &same_five));
    /// assert!(!Gc::ptr_eq(&five, &other_five));
    /// ```
    #[inline]
    pub fn ptr_eq(this: &Self, other: &Self) -> bool {
        ptr::addr_eq(this.ptr.as_ptr(), other.ptr.as_ptr())
    }

    /// A raw pointer to the value. Like Python's `id()`, it identifies the object for as long
    /// as a strong pointer exists.
    ///
    /// The value behind it can be read while a strong pointer exists and the value has not
    /// been destroyed by the cycle collector — the only way to hold a strong pointer to a
    /// destroyed value is a handle that a `Drop` impl of a collected cycle kept (see
    /// [`Gc::try_deref`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let x = Gc::new("hello".to_owned());
    /// let y = Gc::clone(&x);
    /// assert_eq!(Gc::as_ptr(&x), Gc::as_ptr(&y));
    /// // SAFETY: `x` is a strong reference to a value the collector has not destroyed.
    /// assert_eq!(unsafe { &*Gc::as_ptr(&x) }, "hello");
    /// ```
    #[inline]
    pub fn as_ptr(this: &Self) -> *const T {
        // SAFETY: the allocation is alive; no reference is created.
        unsafe { ptr::addr_of!((*this.ptr.as_ptr()).value) }
    }

    /// Consumes the `Gc` and returns the pointer to the value, as
    /// [`Rc::into_raw`](std::rc::Rc::into_raw): the strong reference is kept (leaked) until
    /// [`Gc::from_raw`] takes it back. While it is out, the collector counts it as a
    /// reference from outside, so the object and everything it reaches stay alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let x = Gc::new("hello".to_owned());
    /// let ptr = Gc::into_raw(x);
    /// // SAFETY: the strong reference `into_raw` gave out keeps the value alive.
    /// assert_eq!(unsafe { &*ptr }, "hello");
    /// // SAFETY: `ptr` comes from `into_raw` of a `Gc<String>` and is taken back once.
    /// let x = unsafe { Gc::from_raw(ptr) };
    /// assert_eq!(*x, "hello");
    /// ```
    #[must_use = "losing the pointer leaks the value"]
    pub fn into_raw(this: Self) -> *const T {
        let ptr = Gc::as_ptr(&this);
        mem::forget(this);
        ptr
    }

    /// Takes back the strong reference a [`Gc::into_raw`] gave out.
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`Gc::into_raw`] (or [`Gc::as_ptr`] of a `Gc` whose strong
    /// reference [`Gc::increment_strong_count`] added) for this same `T`, and each such
    /// reference may be taken back once. As for `Rc::from_raw`, a pointer from `into_raw` of
    /// a `Gc<U>` is only allowed if `U` has the size and alignment of `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let ptr = Gc::into_raw(Gc::new(7));
    /// // SAFETY: `ptr` comes from `into_raw` of a `Gc<i32>` and is taken back once.
    /// let back = unsafe { Gc::from_raw(ptr) };
    /// assert_eq!(Gc::strong_count(&back), 1);
    /// ```
    pub unsafe fn from_raw(ptr: *const T) -> Gc<T> {
        // SAFETY: by the caller's contract, `ptr` is the value of a live `GcBox<T>`, whose
        // strong reference it hands over.
        Gc::from_box(unsafe { GcBox::from_value(ptr) })
    }

    /// Adds a strong reference to the object `ptr` points into, as
    /// [`Rc::increment_strong_count`](std::rc::Rc::increment_strong_count).
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`Gc::into_raw`] and its strong reference must still be out
    /// (not taken back), so that the object is alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let ptr = Gc::into_raw(Gc::new(5));
    /// // SAFETY: `ptr`'s reference stays out until the end; the one added is given back.
    /// unsafe {
    ///     Gc::increment_strong_count(ptr);
    ///     let five = Gc::from_raw(ptr);
    ///     assert_eq!(Gc::strong_count(&five), 2);
    ///     Gc::decrement_strong_count(ptr);
    ///     assert_eq!(Gc::strong_count(&five), 1);
    /// }
    /// ```
    pub unsafe fn increment_strong_count(ptr: *const T) {
        // SAFETY: by the caller's contract; the reference is put back out with `forget`.
        let gc = mem::ManuallyDrop::new(unsafe { Gc::from_raw(ptr) });
        mem::forget(Gc::clone(&gc));
    }

    /// Gives back a strong reference to the object `ptr` points into, as
    /// [`Rc::decrement_strong_count`](std::rc::Rc::decrement_strong_count): the same as
    /// dropping the `Gc` that [`Gc::from_raw`] would return.
    ///
    /// # Safety
    ///
    /// As for [`Gc::from_raw`]: the strong reference must be out, and is taken back here.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let five = Gc::new(5);
    /// let ptr = Gc::into_raw(Gc::clone(&five));
    /// assert_eq!(Gc::strong_count(&five), 2);
    /// // SAFETY: `ptr` came from `into_raw`, and its reference is still out.
    /// unsafe { Gc::decrement_strong_count(ptr) };
    /// assert_eq!(Gc::strong_count(&five), 1);
    /// ```
    pub unsafe fn decrement_strong_count(ptr: *const T) {
        // SAFETY: by the caller's contract.
        drop(unsafe { Gc::from_raw(ptr) });
    }

    /// Returns the value, or `None` if the cycle collector has already destroyed it.
    ///
    /// That can only be observed from a `Drop` impl of a member of a garbage cycle (or from
    /// a handle such an impl stored somewhere): plain [`Deref`] panics there instead. While
    /// the collector traces (in a `Trace` impl, or in the panic hook when one panics), the
    /// objects it scans can still be read, but [`Weak::upgrade`] answers `None` for them.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let x = Gc::new(1);
    /// assert_eq!(Gc::try_deref(&x), Some(&1));
    /// ```
    #[inline]
    pub fn try_deref(this: &Self) -> Option<&T> {
        let header = this.header();
        if header.has(DEAD) && !tentatively_dead(header) {
            None
        } else {
            // SAFETY: the value is alive (not claimed by the collector, or only tentatively
            // while it traces, and we hold a strong reference) and only shared references to
            // it are ever handed out.
            Some(unsafe { &(*this.ptr.as_ptr()).value })
        }
    }

    /// A mutable reference to the value, if there are no other `Gc` or `Weak` pointers to it.
    ///
    /// The cycle collector never reads the value while that reference lives, even if a
    /// collection runs meanwhile (started by a `Gc::new` or a `collect()` in code the
    /// mutation calls). A collection reaches an object only through its buffer of possible
    /// roots and through the `Gc`s that the values it traces report. With no other pointer,
    /// the only `Gc` to this object is `this`; while it is borrowed here, a value that owns
    /// it can only be reached mutably through a `RefCell` borrow or a held lock, which the
    /// collector does not trace through. And if the object is in the root buffer, `get_mut`
    /// withdraws it from there (the next drop that may orphan a cycle through it puts it
    /// back). Returning `None` instead would make `get_mut` fail after every
    /// `drop(x.clone())`, which `Rc::get_mut` does not.
    ///
    /// The heap's view ([`objects`](crate::objects)) is the one other way to reach an
    /// object: one that `get_mut` lends leaves that list, for good.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let mut x = Gc::new(3);
    /// *Gc::get_mut(&mut x).unwrap() = 4;
    /// assert_eq!(*x, 4);
    ///
    /// let _y = Gc::clone(&x);
    /// assert!(Gc::get_mut(&mut x).is_none());
    /// ```
    #[inline]
    pub fn get_mut(this: &mut Self) -> Option<&mut T> {
        let header = this.header();
        if header.strong() == 1 && header.weak_handles() == 0 && !header.has(DEAD) {
            if header.has(BUFFERED) {
                // The root buffer is the one way a collection could still reach the value
                // while the `&mut` lives: withdraw the entry (see the docs above).
                // SAFETY: the entry and its unit stay in the buffer; only its kind changes.
                unsafe {
                    header.clear_flag(BUFFERED);
                    header.set_flag(WITHDRAWN);
                }
            }
            // The heap's view could otherwise hand out a second handle (`objects()`) or trace
            // the value (`referrers()`) while the `&mut` lives: the object leaves it.
            header.unlist();
            // SAFETY: this is the only pointer to the allocation, and `&mut self` guarantees
            // no reference derived from it is alive. No collection reads the value while the
            // `&mut` lives (see above), and the heap's view no longer lists it.
            Some(unsafe { &mut (*this.ptr.as_ptr()).value })
        } else {
            None
        }
    }

    // Not `#[cold]`: for acyclic data the last drop is the common case (as in `Rc`).
    #[inline(never)]
    fn drop_slow(&mut self) {
        // SAFETY: this `Gc` gave up its strong reference, past `Drop`'s fast path.
        unsafe { drop_slow(self.ptr) }
    }
}

/// What `Drop for Gc` does past its fast path (and `AnyGc`'s drop, after the same test):
/// the object's count has just been decremented, and either reached zero or the object is
/// a possible root (tracked, live, not yet buffered).
///
/// # Safety
/// The caller has just given up a strong reference to `ptr`'s object, and acts on nothing of
/// the object afterwards.
#[inline(always)]
pub(super) unsafe fn drop_slow(ptr: impl Droppable<Header>) {
    let header = ptr.header();
    // SAFETY: the caller's strong reference kept the header alive until now, and the implicit
    // hold (or the collector's) keeps it while this runs.
    let (strong, flags) = unsafe { (header.as_ref().strong(), header.as_ref().flags()) };
    if strong > 0 {
        // SAFETY: the object is alive and tracked (the caller's flag test), with strong
        // references left.
        unsafe { local::possible_root(header) };
    } else if flags & DEAD != 0 {
        // The collector drops the value. If it already has, the last strong reference
        // gives back the implicit hold; if not, the collector will, after the drop.
        if flags & DROPPED != 0 {
            // SAFETY: the value is gone and so is the last strong reference: the implicit
            // hold is ours to give back.
            unsafe { Header::release_hold(header) };
        } else {
            // SAFETY: `DEAD`, not `DROPPED`, and its last strong reference just went.
            unsafe { dead_released(header) };
        }
    } else if flags & UNTRACKED != 0 {
        // SAFETY: the count reached zero: nobody else can reach the value. An untracked
        // value owns no `Gc`, so dropping it cannot cascade into other releases.
        unsafe { ptr.drop_now() };
    } else {
        // SAFETY: the count reached zero and the value is alive; `release` drops it once.
        unsafe { release::release(ptr) };
    }
}

impl<T: ?Sized> Gc<T> {
    /// Returns the value if this is the only strong pointer; otherwise gives `this` back.
    /// [`Weak`] pointers do not count, and can no longer be upgraded afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let x = Gc::new(3);
    /// assert_eq!(Gc::try_unwrap(x), Ok(3));
    ///
    /// let x = Gc::new(4);
    /// let _y = Gc::clone(&x);
    /// assert_eq!(*Gc::try_unwrap(x).unwrap_err(), 4);
    /// ```
    pub fn try_unwrap(this: Self) -> Result<T, Self>
    where
        T: Sized,
    {
        let header = this.header();
        if header.strong() != 1 || header.has(DEAD) {
            return Err(this);
        }
        // SAFETY: this is the last strong pointer, so nobody else can read the value; after
        // the read it is treated as moved out (strong count 0, never dropped in place).
        let value = unsafe { ptr::read(ptr::addr_of!((*this.ptr.as_ptr()).value)) };
        // SAFETY: the value was moved out; the implicit hold is ours, given back below.
        unsafe { header.set_strong(0) };
        let header = this.header_ptr();
        mem::forget(this);
        // SAFETY: the strong reference we gave up owned the implicit hold.
        unsafe { Header::release_hold(header) };
        Ok(value)
    }

    /// Returns the value if this is the only strong pointer, else drops `this` and returns
    /// `None`; like [`Rc::into_inner`](std::rc::Rc::into_inner).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let x = Gc::new(3);
    /// let y = Gc::clone(&x);
    /// assert_eq!(Gc::into_inner(x), None);
    /// assert_eq!(Gc::into_inner(y), Some(3));
    /// ```
    pub fn into_inner(this: Self) -> Option<T>
    where
        T: Sized,
    {
        Gc::try_unwrap(this).ok()
    }

    /// Returns the value if this is the only strong pointer, else a clone of it.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let x = Gc::new(String::from("hi"));
    /// let y = Gc::clone(&x);
    /// assert_eq!(Gc::unwrap_or_clone(x), "hi");
    /// assert_eq!(Gc::unwrap_or_clone(y), "hi");
    /// ```
    pub fn unwrap_or_clone(this: Self) -> T
    where
        T: Sized + Clone,
    {
        Gc::try_unwrap(this).unwrap_or_else(|gc| (*gc).clone())
    }
}

impl<T: Clone + Trace + 'static> Gc<T> {
    /// A mutable reference to the value, making it unique first, as
    /// [`Rc::make_mut`](std::rc::Rc::make_mut) does:
    ///
    /// * other `Gc`s point to it: the value is cloned into a new allocation;
    /// * only [`Weak`]s point to it: the value is moved into a new allocation, and the
    ///   `Weak`s are disassociated (they no longer upgrade);
    /// * nothing else points to it: the value is borrowed in place.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let mut data = Gc::new(5);
    /// let other = Gc::clone(&data);
    /// *Gc::make_mut(&mut data) += 1; // clones
    /// assert_eq!((*data, *other), (6, 5));
    ///
    /// let weak = Gc::downgrade(&data);
    /// *Gc::make_mut(&mut data) += 1; // moves: the `Weak` is disassociated
    /// assert_eq!(*data, 7);
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub fn make_mut(this: &mut Self) -> &mut T {
        // The only user code on the move path, run before the counts are read: nothing it
        // could do (against the `Trace` contract) can change them after the check.
        let tracked = T::may_contain_gc();
        let header = this.header();
        if header.strong() != 1 || header.has(DEAD) {
            *this = Gc::new((**this).clone());
        } else if header.weak_handles() != 0 {
            Gc::move_to_fresh_allocation(this, tracked);
        }
        Gc::get_mut(this).expect("a fresh `Gc` is unique")
    }

    /// Moves the value of the only strong reference `this` into a new allocation (tracked
    /// as `tracked` says), leaving the old one to its `Weak`s (which no longer upgrade), as
    /// `try_unwrap` does. Runs no user code and does not unwind (an allocation failure
    /// aborts).
    fn move_to_fresh_allocation(this: &mut Self, tracked: bool) {
        let fresh = Gc::<T>::allocate(tracked);
        // SAFETY: the fresh value is a bitwise copy out of the old allocation, whose strong
        // count goes to 0 below without its value being dropped: it is moved, not duplicated.
        // Nothing unwinds in between.
        unsafe {
            ptr::copy_nonoverlapping(
                Gc::as_ptr(this),
                ptr::addr_of_mut!((*fresh.as_ptr()).value),
                1,
            )
        };
        let fresh = Gc::from_box(fresh);
        let old = mem::replace(this, fresh);
        // SAFETY: `old` was the only strong reference (checked by the caller) and its value
        // has been moved out: strong 0, and the implicit hold it owned is given back (the
        // `Weak`s and a root-buffer entry keep the header; nothing drops the value again,
        // since only a strong reference or the collector would, and the collector skips an
        // entry with no strong reference).
        unsafe {
            old.header().set_strong(0);
            let header = old.header_ptr();
            mem::forget(old);
            Header::release_hold(header);
        }
    }
}

impl Gc<dyn Any> {
    /// Returns the `Gc` as a `Gc<T>` if the value is a `T`, else gives it back, as
    /// [`Rc::downcast`](std::rc::Rc::downcast). Make a `Gc<dyn Any>` with
    /// [`unsize!`](macro@crate::unsize).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::any::Any;
    /// use cyclegc::{unsize, Gc};
    ///
    /// let any: Gc<dyn Any> = unsize!(Gc::new(5u32) => dyn Any);
    /// let any = any.downcast::<String>().unwrap_err();
    /// assert_eq!(*any.downcast::<u32>().unwrap(), 5);
    /// ```
    pub fn downcast<T: Any>(self) -> Result<Gc<T>, Gc<dyn Any>> {
        // SAFETY: the allocation is alive (this strong reference); `is` reads only the
        // trait object's vtable, never the value (which may have been destroyed).
        let is_t = unsafe { &*Gc::as_ptr(&self) }.is::<T>();
        if is_t {
            // SAFETY: the value is a `T`: the pointer, without its metadata, is a `*const T`
            // into the same `GcBox`, whose strong reference `into_raw` handed over.
            Ok(unsafe { Gc::from_raw(Gc::into_raw(self).cast::<T>()) })
        } else {
            Err(self)
        }
    }
}

impl<T: ?Sized> Unsize for Gc<T> {
    type Value = T;
    type Output<U: ?Sized> = Gc<U>;

    unsafe fn __unsize<U: ?Sized>(self, coerce: impl FnOnce(*const T) -> *const U) -> Gc<U> {
        let value = Gc::into_raw(self);
        let coerced = coerce(value);
        debug_assert!(
            ptr::addr_eq(value, coerced),
            "an unsizing coercion keeps the address"
        );
        // SAFETY: by the caller's contract `coerced` points to the same value, now with `U`'s
        // metadata; `into_raw` handed its strong reference over.
        unsafe { Gc::from_raw(coerced) }
    }
}

impl<T: ?Sized> Clone for Gc<T> {
    /// Adds a strong reference to the same allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// let five = Gc::new(5);
    /// let also_five = Gc::clone(&five);
    /// assert!(Gc::ptr_eq(&five, &also_five));
    /// ```
    #[inline]
    fn clone(&self) -> Self {
        self.header().inc_strong();
        Gc::from_box(self.ptr)
    }
}

impl<T: ?Sized> Drop for Gc<T> {
    /// Drops a strong reference: the value goes with the last one; a drop that leaves others
    /// behind records the object as a possible cycle root.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::Gc;
    ///
    /// struct Loud;
    /// impl Drop for Loud {
    ///     fn drop(&mut self) { println!("dropped!"); }
    /// }
    /// # unsafe impl cyclegc::Trace for Loud {
    /// #     fn trace(&self, _: &mut cyclegc::Tracer) {}
    /// # }
    ///
    /// let foo = Gc::new(Loud);
    /// let foo2 = Gc::clone(&foo);
    /// drop(foo); // nothing printed
    /// drop(foo2); // prints "dropped!"
    /// ```
    #[inline]
    fn drop(&mut self) {
        let header = self.header();
        // The last reference, or a possible root (tracked, live, not yet buffered); every
        // other drop is `Rc`'s decrement plus one flag test.
        // SAFETY: this `Gc` gives up its strong reference; `drop_slow` deals with the rest.
        let strong = unsafe { header.dec_strong() };
        if strong == 0 || header.flags() & (BUFFERED | UNTRACKED | DEAD) == 0 {
            self.drop_slow();
        }
    }
}

impl<T: ?Sized> Deref for Gc<T> {
    type Target = T;

    /// # Panics
    ///
    /// If the cycle collector has already destroyed the value: only possible from a `Drop`
    /// impl of a member of a garbage cycle (see [`Gc::try_deref`]).
    #[inline(always)]
    fn deref(&self) -> &T {
        let header = self.header();
        if header.has(DEAD) && !tentatively_dead(header) {
            dead_deref();
        }
        // SAFETY: we hold a strong reference and the collector has not claimed the value (or
        // only tentatively, while it traces), so it is alive; only shared references to it
        // are handed out.
        unsafe { &(*self.ptr.as_ptr()).value }
    }
}

/// The last strong reference to a `DEAD` object whose value the collector has not dropped
/// went. During a destruction that is normal (the collector drops the value, then gives back
/// the implicit hold). During a snapshot the object is only tentatively dead — a misbehaving
/// `Trace` impl dropped its last reference — so it is released like any other: into the
/// pending list, which the collector notices and then revives the object.
///
/// # Safety
/// `header` must be live, `DEAD` and not `DROPPED`, with a strong count that just reached
/// zero: its implicit hold is handed over.
#[cold]
unsafe fn dead_released(header: NonNull<Header>) {
    if release::phase().tracing() {
        // SAFETY: by the caller's contract, the value is alive and unclaimed (the snapshot
        // only tentatively marked it), and its drop and implicit hold are handed over.
        unsafe { release::defer(header) };
    }
}

/// Whether a `DEAD` object is only tentatively dead: a collection is tracing it and has not
/// drawn its verdict. Its value is intact, and code that runs meanwhile — a `Trace` impl, or
/// the panic hook when one panics — may read it. (Every garbage object of an earlier
/// collection that a handle still points to is `DROPPED`: a collection always completes its
/// destruction.)
#[cold]
#[inline(never)]
fn tentatively_dead(header: &Header) -> bool {
    !header.has(DROPPED) && release::phase().tracing()
}

// SAFETY: a `Gc` owns exactly one reference to its allocation: that is the edge. The target's
// type is not looked at, so recursive types need no `T: Trace` here.
unsafe impl<T: ?Sized> Trace for Gc<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        // SAFETY: the header of a live object, to which this `Gc` owns a strong reference.
        unsafe { tracer.edge(self.header_ptr()) };
    }

    fn may_contain_gc() -> bool {
        true
    }
}

impl<T: ?Sized> UnwindSafe for Gc<T> where T: RefUnwindSafe {}
impl<T: ?Sized> RefUnwindSafe for Gc<T> where T: RefUnwindSafe {}
impl<T: ?Sized> Unpin for Gc<T> {}

crate::handle::value_traits!("cyclegc::unsync", Trace + 'static);
crate::handle::slice_conversions!("cyclegc", Header, local::before_alloc, Trace + 'static);

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts past 32 bits (only where a count can be that large).
    #[cfg(target_pointer_width = "64")]
    mod wide_counts {
        use super::*;
        use std::cell::RefCell;

        struct Node(RefCell<Option<Gc<Node>>>);

        // SAFETY: reports its one owned `Gc`.
        unsafe impl Trace for Node {
            fn trace(&self, tracer: &mut Tracer) {
                self.0.trace(tracer);
            }
        }

        /// The collector keeps its per-object reference counts in 32 bits; a count that does not
        /// fit must keep the object alive, never let it look unreferenced.
        #[test]
        fn a_strong_count_beyond_32_bits_keeps_its_object_alive() {
            let a = Gc::new(Node(RefCell::new(None)));
            *a.0.borrow_mut() = Some(a.clone());
            let weak = Gc::downgrade(&a);
            // Pretend 2^32 more references exist; dropping `a` leaves the self-reference and them.
            // SAFETY: a lie the collector must survive; corrected below before anything else
            // reads the count.
            unsafe { a.header().set_strong(u32::MAX as usize + 3) };
            drop(a);
            assert_eq!(crate::collect(), 0, "kept alive");
            let a = weak.upgrade().expect("alive");
            // Back to the truth: `a` and the self-reference.
            // SAFETY: the true count again.
            unsafe { a.header().set_strong(2) };
            drop(a);
            assert_eq!(crate::collect(), 1);
            assert!(weak.upgrade().is_none());
        }
    }

    /// The strong count saturates into an abort, as `Rc`'s does. Checked in a child process
    /// (this test binary, re-run on this test alone), since an abort ends the process.
    #[test]
    #[cfg_attr(miri, ignore = "spawns a process")]
    fn strong_count_overflow_aborts() {
        const CHILD: &str = "CYCLEGC_OVERFLOW_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let gc = Gc::new(1u8);
            // SAFETY: the clone below aborts before anything else reads the count.
            unsafe { gc.header().set_strong(usize::MAX) };
            let _ = gc.clone();
            unreachable!("the clone above must abort");
        }
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "unsync::gc::tests::strong_count_overflow_aborts",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(!output.status.success());
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(output.status.signal(), Some(6), "SIGABRT");
        }
    }
}
