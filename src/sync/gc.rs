//! [`Gc<T>`]: the thread-safe strong, reference-counted, cycle-collected pointer.

use std::any::Any;
use std::marker::PhantomData;
use std::mem;
use std::ops::Deref;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};

use crate::cycle::{Object, VTable, VTableFor, DEAD, DROPPED, UNTRACKED, WITHDRAWN};
use crate::handle::dead_deref;
use crate::primitive::sync::atomic::Ordering;
use crate::release::{self, Droppable};
use crate::sync::collector;
use crate::sync::header::{GcBox, Header};
use crate::sync::registry;
use crate::sync::state::{self, Release, Unique, SCANNED};
use crate::sync::weak::Weak;
use crate::trace::{Trace, Tracer};
use crate::unsize::Unsize;

/// A thread-safe reference-counting pointer whose garbage cycles are reclaimed by the cycle
/// collector. The `Arc` of this crate.
///
/// * Cloning adds a strong reference (one atomic increment, as `Arc`); dropping the last one
///   drops the value at once, on the dropping thread. Most objects never meet the
///   collector.
/// * A drop that leaves references behind may have orphaned a cycle, so the object is
///   remembered as a *possible root* (unless its type can never own a `Gc`), in a buffer of
///   the dropping thread. [`collect`](crate::sync::collect), on any thread, takes every
///   thread's possible roots, finds the cycles among them and frees them.
/// * `Gc<T>` is one pointer wide, and `Send + Sync` exactly when `T: Send + Sync` (`Arc`'s
///   rule). Values are shared, so mutation goes through a lock: std's `Mutex`, `RwLock` and
///   `OnceLock` (or `parking_lot`'s with the `parking_lot` feature).
///
/// Its methods are associated functions (`Gc::strong_count(&g)`), so they never shadow
/// methods of `T`.
///
/// # Dropping members of a collected cycle
///
/// As in the single-threaded flavour: the collector marks every member dead before it drops
/// any value, and a `Drop` impl that dereferences another member of the same cycle panics
/// (the panic is caught, the rest of the cycle is still dropped, and `collect` re-raises it).
/// Use [`Gc::try_deref`] where a `Drop` impl may run on a collected cycle. The values of
/// collected cycles are dropped on the thread that collects.
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use std::thread;
/// use cyclegc::sync::{self, Gc};
/// use cyclegc::Trace;
///
/// #[derive(Trace)]
/// struct Person {
///     name: String,
///     friends: Mutex<Vec<Gc<Person>>>,
/// }
///
/// let alice = Gc::new(Person { name: "Alice".into(), friends: Mutex::new(vec![]) });
/// let bob = Gc::new(Person { name: "Bob".into(), friends: Mutex::new(vec![]) });
/// let (a, b) = (alice.clone(), bob.clone());
/// thread::spawn(move || {
///     a.friends.lock().unwrap().push(b.clone());
///     b.friends.lock().unwrap().push(a); // a cycle: Arc would leak it
/// })
/// .join()
/// .unwrap();
///
/// assert_eq!(Gc::strong_count(&alice), 2);
/// drop((alice, bob));
/// assert_eq!(sync::collect(), 2);
/// ```
pub struct Gc<T: ?Sized> {
    ptr: NonNull<GcBox<T>>,
    // Owns a `T` for the drop checker.
    _owns: PhantomData<GcBox<T>>,
}

// SAFETY: as `Arc`: the counts are atomic, the value is shared between threads (`Sync`) and
// may be dropped on any of them (`Send`).
unsafe impl<T: ?Sized + Send + Sync> Send for Gc<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for Gc<T> {}

impl<T: Trace + Send + Sync + 'static> Gc<T> {
    /// Allocates `value` and returns the first strong reference to it.
    ///
    /// If automatic collection is enabled and enough possible cycle roots have accumulated
    /// (on all threads), this also runs a collection, before it returns the new object and
    /// without examining it, unless another thread is running one (see
    /// [`set_threshold`](crate::sync::set_threshold)). Types that can never own a `Gc`
    /// skip that check. A panic of a `Drop` impl or a callback in that collection is kept
    /// for the next [`collect`](crate::sync::collect), which re-raises it.
    ///
    /// So the `Drop` impls of garbage cycles may run inside any `Gc::new` of a tracked type,
    /// on the allocating thread (as Python's finalizers run inside allocations). A `Drop`
    /// impl that takes a lock would deadlock if that thread already holds it; for such
    /// types, [`disable`](crate::sync::disable) automatic collection and call
    /// [`collect`](crate::sync::collect) where no lock is held.
    ///
    /// # Examples
    ///
    /// ```
    /// let five = cyclegc::sync::Gc::new(5);
    /// assert_eq!(*five, 5);
    /// ```
    #[inline]
    pub fn new(value: T) -> Gc<T> {
        Gc::new_with(value, VTableFor::<Header, T>::VTABLE, true)
    }

    /// [`Gc::new`] with the vtable `vtable` (the type's, or its pinned one), listed in the
    /// registry or not (not for a value about to be lent mutably: a handle from the heap's
    /// view would alias the `&mut`).
    #[inline(always)]
    fn new_with(value: T, vtable: &'static VTable<Header>, listed: bool) -> Gc<T> {
        let tracked = T::may_contain_gc();
        if tracked && !listed {
            collector::before_alloc();
        }
        let ptr = Gc::<T>::allocate(tracked, 1, vtable);
        // SAFETY: `ptr` is a fresh allocation whose value is written here, once, in place;
        // then it is complete, and nothing else has it yet.
        unsafe {
            ptr::addr_of_mut!((*ptr.as_ptr()).value).write(value);
            if listed && tracked {
                enter_new(ptr.cast());
            }
        }
        Gc::from_box(ptr)
    }

    /// A fresh allocation with its header written and its value not. Listing it in the
    /// registry is the caller's business, once the value is written (a registry walk on
    /// another thread may read it from then on); `make_mut`'s fresh copies are never listed.
    #[inline(always)]
    fn allocate(
        tracked: bool,
        strong: usize,
        vtable: &'static VTable<Header>,
    ) -> NonNull<GcBox<T>> {
        let mut uninit = Box::<GcBox<T>>::new_uninit();
        let ptr = uninit.as_mut_ptr();
        // SAFETY: `ptr` points to an allocation sized and aligned for a `GcBox<T>`; the header
        // is written once, through a raw pointer, before anything reads the box.
        unsafe { ptr::addr_of_mut!((*ptr).header).write(Header::new(vtable, tracked, strong)) };
        NonNull::from(Box::leak(uninit)).cast::<GcBox<T>>()
    }

    /// Allocates `value` and pins it, as `Arc::pin`: a `Gc` never moves its value.
    ///
    /// # Examples
    ///
    /// ```
    /// let pinned = cyclegc::sync::Gc::pin(5);
    /// assert_eq!(*pinned, 5);
    /// ```
    pub fn pin(value: T) -> Pin<Gc<T>> {
        let vtable = VTableFor::<Header, T>::PINNED;
        // SAFETY: a `Gc` never moves its value: it is dropped in place, and the only ways to
        // move it out (`try_unwrap`, `make_mut`, `get_mut`) need the `Gc` by value or by
        // `&mut`, which `Pin` does not hand out; and no other `Gc` can be made: the heap's
        // view and saved garbage hand out `AnyGc`s, whose `downcast` refuses a pinned value
        // (its vtable's type id is a private marker's), and a `Weak` needs the `Gc`.
        unsafe { Pin::new_unchecked(Gc::new_with(value, vtable, true)) }
    }

    /// Builds a value that holds a [`Weak`] to itself, as `Arc::new_cyclic`: `data_fn` gets
    /// the `Weak` before the value exists (upgrading it returns `None` until `new_cyclic`
    /// returns).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::{Gc, Weak};
    /// use cyclegc::Trace;
    ///
    /// #[derive(Trace)]
    /// struct Me {
    ///     me: Weak<Me>,
    /// }
    ///
    /// let me = Gc::new_cyclic(|weak| {
    ///     assert!(weak.upgrade().is_none());
    ///     Me { me: weak.clone() }
    /// });
    /// assert!(Gc::ptr_eq(&me, &me.me.upgrade().unwrap()));
    /// ```
    pub fn new_cyclic<F>(data_fn: F) -> Gc<T>
    where
        F: FnOnce(&Weak<T>) -> T,
    {
        let tracked = T::may_contain_gc();
        if tracked {
            collector::before_alloc();
        }
        let ptr = Gc::<T>::allocate(tracked, 0, VTableFor::<Header, T>::VTABLE);
        // The implicit hold belongs to this `Weak` while the value is built; if `data_fn`
        // panics, dropping it frees the allocation without touching the value.
        let weak = Weak::from_box(ptr);
        let value = data_fn(&weak);
        // SAFETY: `ptr` is live (the `Weak` holds it) and the value slot is uninitialised and
        // unaliased: the strong count is 0, so no `Gc` to it exists yet, and no upgrade can
        // make one.
        unsafe { ptr::addr_of_mut!((*ptr.as_ptr()).value).write(value) };
        if tracked {
            // SAFETY: complete, and listed before its first strong reference appears: until
            // then no collection can reach it (and a registry walk skips it), though other
            // threads may hold `Weak`s to it.
            unsafe { registry::enter(ptr.cast(), true) };
        }
        // SAFETY: as above.
        unsafe { (*ptr.as_ptr()).header.state().publish() };
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
    #[doc = concat!("use ", "cyclegc::sync", "::Gc;")]
    ///
    /// assert!(!Gc::is_tracked(&Gc::new(String::from("atomic"))));
    /// assert!(Gc::is_tracked(&Gc::new(Mutex::new(Vec::<Gc<u8>>::new()))));
    /// ```
    pub fn is_tracked(this: &Self) -> bool {
        !this.header().has(UNTRACKED)
    }

    /// The number of strong references (`Gc`s) to the value. Other threads may change it at
    /// once, as with `Arc::strong_count`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(1);
    /// let b = a.clone();
    /// assert_eq!(Gc::strong_count(&b), 2);
    /// ```
    #[inline]
    pub fn strong_count(this: &Self) -> usize {
        state::strong(this.header().state().load(Ordering::Acquire))
    }

    /// The number of [`Weak`]s to the value. Other threads may change it at once, as with
    /// `Arc::weak_count`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(1);
    /// let _w = Gc::downgrade(&a);
    /// assert_eq!(Gc::weak_count(&a), 1);
    /// ```
    #[inline]
    pub fn weak_count(this: &Self) -> usize {
        let header = this.header();
        header.weak_handles(header.state().load(Ordering::Acquire))
    }

    /// Makes a [`Weak`] to the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(1);
    /// let w = Gc::downgrade(&a);
    /// assert_eq!(*w.upgrade().unwrap(), 1);
    /// ```
    #[must_use = "this returns a new `Weak` pointer, without modifying the original `Gc`"]
    pub fn downgrade(this: &Self) -> Weak<T> {
        this.header().take_hold();
        Weak::from_box(this.ptr)
    }

    /// Whether two `Gc`s point to the same allocation (like `Arc::ptr_eq`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(1);
    /// assert!(Gc::ptr_eq(&a, &a.clone()));
    /// assert!(!Gc::ptr_eq(&a, &Gc::new(1)));
    /// ```
    #[inline]
    pub fn ptr_eq(this: &Self, other: &Self) -> bool {
        ptr::addr_eq(this.ptr.as_ptr(), other.ptr.as_ptr())
    }

    /// A raw pointer to the value, valid while a strong reference lives.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(5);
    /// // SAFETY: `a` keeps the value alive.
    /// assert_eq!(unsafe { *Gc::as_ptr(&a) }, 5);
    /// ```
    #[inline]
    pub fn as_ptr(this: &Self) -> *const T {
        // SAFETY: the allocation is alive; no reference is created.
        unsafe { ptr::addr_of!((*this.ptr.as_ptr()).value) }
    }

    /// Consumes the `Gc`, returning the pointer to the value and keeping its strong
    /// reference; [`Gc::from_raw`] takes it back.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let raw = Gc::into_raw(Gc::new(5));
    /// // SAFETY: `raw` came from `into_raw`, and is taken back once.
    /// let back = unsafe { Gc::from_raw(raw) };
    /// assert_eq!(*back, 5);
    /// ```
    #[must_use = "losing the pointer leaks the value"]
    pub fn into_raw(this: Self) -> *const T {
        let ptr = Gc::as_ptr(&this);
        mem::forget(this);
        ptr
    }

    /// Takes back a strong reference that [`Gc::into_raw`] gave out.
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`Gc::into_raw`] of a `sync::Gc<U>` where `U` has the same size
    /// and alignment as `T` (or is `T` unsized to it), and each such pointer is taken back
    /// once per `into_raw`, as with `Arc::from_raw`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let raw = Gc::into_raw(Gc::new(String::from("x")));
    /// // SAFETY: from `into_raw`, taken back once.
    /// assert_eq!(*unsafe { Gc::from_raw(raw) }, "x");
    /// ```
    pub unsafe fn from_raw(ptr: *const T) -> Gc<T> {
        // SAFETY: by the caller's contract, `ptr` is the value of a live `GcBox<T>`, whose
        // strong reference it hands over.
        Gc::from_box(unsafe { GcBox::from_value(ptr) })
    }

    /// Adds a strong reference through a pointer from [`Gc::into_raw`].
    ///
    /// # Safety
    ///
    /// As for [`Gc::from_raw`], and the strong reference `ptr` stands for must be alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let raw = Gc::into_raw(Gc::new(5));
    /// // SAFETY: `raw` is alive; both references are taken back below.
    /// unsafe {
    ///     Gc::increment_strong_count(raw);
    ///     assert_eq!(Gc::strong_count(&Gc::from_raw(raw)), 2);
    ///     drop(Gc::from_raw(raw));
    /// }
    /// ```
    pub unsafe fn increment_strong_count(ptr: *const T) {
        // SAFETY: by the caller's contract; the reference is put back out with `forget`.
        let gc = mem::ManuallyDrop::new(unsafe { Gc::from_raw(ptr) });
        mem::forget(Gc::clone(&gc));
    }

    /// Drops a strong reference through a pointer from [`Gc::into_raw`].
    ///
    /// # Safety
    ///
    /// As for [`Gc::from_raw`]: the reference is given up.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(5);
    /// let raw = Gc::into_raw(a.clone());
    /// // SAFETY: gives back the reference `into_raw` kept.
    /// unsafe { Gc::decrement_strong_count(raw) };
    /// assert_eq!(Gc::strong_count(&a), 1);
    /// ```
    pub unsafe fn decrement_strong_count(ptr: *const T) {
        // SAFETY: by the caller's contract.
        drop(unsafe { Gc::from_raw(ptr) });
    }

    /// The value, or `None` if the collector has destroyed it: only possible in a `Drop`
    /// impl of a member of a collected cycle, reaching another member.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// assert_eq!(Gc::try_deref(&Gc::new(5)), Some(&5));
    /// ```
    #[inline]
    pub fn try_deref(this: &Self) -> Option<&T> {
        if this.header().state().load(Ordering::Relaxed) & DEAD != 0 {
            None
        } else {
            // SAFETY: the value is alive (not claimed by the collector, and we hold a strong
            // reference) and only shared references to it are ever handed out.
            Some(unsafe { &(*this.ptr.as_ptr()).value })
        }
    }

    /// A mutable reference to the value, if this is its only `Gc` and no [`Weak`] points to
    /// it (as `Arc::get_mut`).
    ///
    /// While a collection on another thread is reading the object, this waits for it to
    /// let go (at most the rest of that collection's judging phases). For the few
    /// instructions in which such a collection gives back the object's root-buffer entry,
    /// the entry counts as a `Weak` and this returns `None`; and on a thread that is itself
    /// collecting (a panic hook of a panicking `Trace` impl, a `Drop` impl of garbage), an
    /// object a collection is reading answers `None` rather than wait, since the collection
    /// may be that thread's own.
    ///
    /// The heap's view takes handles too: while a walk on another thread
    /// ([`objects`](crate::sync::objects), [`referrers`](crate::sync::referrers)) holds one,
    /// this returns `None`, even for an object fresh from `Gc::new` (as Python's
    /// `gc.get_objects()` raises every count it lists). A tracked object whose value this
    /// lends leaves the heap's view for good, so that no handle from it can alias the `&mut`;
    /// so does one this finds shared only after taking it out (a walk's handle taken just
    /// before).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let mut a = Gc::new(5);
    /// *Gc::get_mut(&mut a).unwrap() += 1;
    /// let b = a.clone();
    /// assert!(Gc::get_mut(&mut a).is_none());
    /// drop(b);
    /// assert_eq!(*a, 6);
    /// ```
    #[inline]
    pub fn get_mut(this: &mut Self) -> Option<&mut T> {
        if Gc::lock_unique(this) {
            // SAFETY: this is the only strong reference, no `Weak` exists, and no collection
            // can reach the value while the `&mut` lives (`lock_unique`).
            Some(unsafe { &mut (*this.ptr.as_ptr()).value })
        } else {
            None
        }
    }

    /// Whether this is the only strong reference and no `Weak` exists, for a `&mut` to the
    /// value. If so, withdraws the object's root-buffer entry (see [`Gc::check_unique`]) and
    /// takes it out of the registry for good: a registry walk could otherwise take a new
    /// handle while the `&mut` lives.
    fn lock_unique(this: &mut Self) -> bool {
        if !Gc::check_unique(this) {
            return false;
        }
        if this.header().listed_key() == 0 {
            return true;
        }
        if registry::unlist(this.header()) {
            collector::recheck_frozen();
        }
        // A registry walk may have taken a handle (or a `Weak`'s unit) before the object
        // left its table; none can after.
        Gc::check_unique(this)
    }

    /// Whether this is the only strong reference and no `Weak` exists. If so, withdraws the
    /// object's root-buffer entry, which is the one way a collection could still reach the
    /// value: it skips withdrawn entries, and the object's next buffering drop (which needs
    /// another `Gc`, so comes after any `&mut` this hands out) makes the entry a root again.
    fn check_unique(this: &mut Self) -> bool {
        let header = this.header();
        match header.state().lock_unique() {
            Unique::Shared => false,
            Unique::Locked(word) => {
                let unique = header.weak_handles(word) == 0;
                let word = if unique && word & crate::cycle::BUFFERED != 0 {
                    word & !crate::cycle::BUFFERED | WITHDRAWN
                } else {
                    word
                };
                header.state().unlock(word);
                unique
            }
        }
    }

    /// Drops the last strong reference, whose drop returned the word `old`.
    #[inline(never)]
    fn drop_last(&mut self, old: usize) {
        // SAFETY: this `Gc` dropped the last strong reference, with the word `old`.
        unsafe { drop_last(self.ptr, old) }
    }
}

/// Runs the automatic collection a `Gc::new` may have made due, then lists its object (what
/// `Header::placed` does): both in one call out of line. With the listing inline and the
/// collection's cold path a call of its own, `Gc::new` grew past what the compiler inlines
/// into its callers (BENCHMARKS.md, "One call out of line"). The object is not listed while
/// the collection runs, so neither the collection nor a heap view sees it before its `Gc`
/// exists; and an automatic collection does not unwind (it catches every panic, of a
/// `Trace`, a `Drop`, a callback or what a removed callback captured, and keeps the first
/// for the next explicit collection), so the value cannot be stranded in its allocation
/// (`tests/sync_hooks.rs`).
///
/// Its fast path makes no call, and everything else is one tail call
/// ([`enter_new_slowly`]), so that it keeps nothing across a call.
///
/// # Safety
/// `header`'s object is complete and fresh (as `Header::new` wrote it), with one strong
/// reference, which the caller makes its `Gc` once this returns; no other thread can reach
/// it.
#[inline(never)]
unsafe fn enter_new(header: NonNull<Header>) {
    // SAFETY: the caller's contract.
    if collector::collection_due() || !unsafe { registry::try_enter(header, false) } {
        // SAFETY: the caller's contract.
        unsafe { enter_new_slowly(header) };
    }
}

/// [`enter_new`] when a collection is due or the listing's fast path failed.
///
/// # Safety
/// As for [`enter_new`].
#[cold]
#[inline(never)]
unsafe fn enter_new_slowly(header: NonNull<Header>) {
    collector::before_alloc();
    // SAFETY: the caller's contract.
    unsafe { registry::enter(header, false) };
}

/// Drops the last strong reference to `ptr`'s object, whose drop returned the word `old`
/// (for `Drop for Gc` and `AnyGc`'s drop).
///
/// # Safety
/// The caller's release of its strong reference just returned `Release::Last(old)`, and it
/// acts on nothing of the object afterwards.
#[inline(always)]
pub(super) unsafe fn drop_last(ptr: impl Droppable<Header>, old: usize) {
    // One test for the usual case, a tracked object no collection holds.
    if old & (DEAD | SCANNED | UNTRACKED) == 0 {
        // SAFETY: the count reached zero, no collection holds the object, and the value
        // is alive; `release` drops it once.
        return unsafe { release::release(ptr) };
    }
    if old & DEAD != 0 {
        // The collector drops the value. If it already has, the last strong reference
        // gives back the implicit hold; if not, the collector will, after the drop.
        if old & DROPPED != 0 {
            // SAFETY: the value is gone and so is the last strong reference: the implicit
            // hold is ours to give back.
            unsafe { Header::release_hold(ptr.header()) };
        }
    } else if old & SCANNED != 0 {
        // A collection is reading the value: it is the collector's to drop once the
        // collection lets go of the object (race 6 in ARCHITECTURE.md).
    } else {
        // UNTRACKED.
        // SAFETY: the count reached zero: nobody else can reach the value. An untracked
        // value owns no `Gc`, so dropping it cannot cascade into other releases.
        unsafe { ptr.drop_now() };
    }
}

impl<T: ?Sized> Gc<T> {
    /// The value, if this is its only `Gc` (as `Arc::try_unwrap`); otherwise the `Gc`
    /// back. While a collection on another thread is reading the object, this waits for it
    /// to let go (on a thread that is itself collecting, it answers `Err` instead, as
    /// [`Gc::get_mut`] says).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// assert_eq!(Gc::try_unwrap(Gc::new(5)), Ok(5));
    /// let a = Gc::new(5);
    /// let _b = a.clone();
    /// assert!(Gc::try_unwrap(a).is_err());
    /// ```
    pub fn try_unwrap(this: Self) -> Result<T, Self>
    where
        T: Sized,
    {
        if this.header().state().take_unique().is_none() {
            return Err(this);
        }
        // SAFETY: the strong count went from 1 (ours) to 0 while no collection held the
        // object: nobody else can read the value, and no one will drop it (not `DEAD`, and
        // a count of zero keeps collections out). It is moved out once.
        let value = unsafe { ptr::read(ptr::addr_of!((*this.ptr.as_ptr()).value)) };
        let header = this.header_ptr();
        mem::forget(this);
        // SAFETY: the strong reference we gave up owned the implicit hold.
        unsafe { Header::release_hold(header) };
        Ok(value)
    }

    /// The value, if this is its only `Gc` (as `Arc::into_inner`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// assert_eq!(Gc::into_inner(Gc::new(5)), Some(5));
    /// ```
    pub fn into_inner(this: Self) -> Option<T>
    where
        T: Sized,
    {
        Gc::try_unwrap(this).ok()
    }

    /// The value if this is its only `Gc`, otherwise a clone of it (as
    /// `Arc::unwrap_or_clone`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(String::from("x"));
    /// let b = a.clone();
    /// assert_eq!(Gc::unwrap_or_clone(a), "x");
    /// assert_eq!(Gc::unwrap_or_clone(b), "x");
    /// ```
    pub fn unwrap_or_clone(this: Self) -> T
    where
        T: Sized + Clone,
    {
        Gc::try_unwrap(this).unwrap_or_else(|gc| (*gc).clone())
    }
}

impl<T: Clone + Trace + Send + Sync + 'static> Gc<T> {
    /// A mutable reference to the value, cloning it into a fresh allocation first if other
    /// `Gc`s point to it, or moving it there if only `Weak`s do (as `Arc::make_mut`: the
    /// `Weak`s are then disassociated).
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let mut a = Gc::new(5);
    /// let b = a.clone();
    /// *Gc::make_mut(&mut a) += 1; // clones: `b` still sees 5
    /// assert_eq!((*a, *b), (6, 5));
    /// ```
    pub fn make_mut(this: &mut Self) -> &mut T {
        // The only user code on the move path, run before the counts are read.
        let tracked = T::may_contain_gc();
        if !Gc::lock_unique(this) {
            let header = this.header();
            let word = header.state().load(Ordering::Acquire);
            if state::strong(word) == 1
                && word & DEAD == 0
                && header.state().take_unique().is_some()
            {
                // Only `Weak`s (or a collection's hold for a moment) besides this `Gc`: the
                // value moves.
                Gc::move_out(this, tracked);
            } else {
                *this = Gc::new_with((**this).clone(), VTableFor::<Header, T>::VTABLE, false);
            }
        }
        // SAFETY: `this` is unique: checked by `lock_unique`, or a fresh allocation, not
        // listed, that no other handle, buffer entry or collection knows.
        unsafe { &mut (*this.ptr.as_ptr()).value }
    }

    /// Moves the value of `this`, whose only strong reference `take_unique` just removed,
    /// into a fresh allocation that `this` then points to.
    fn move_out(this: &mut Self, tracked: bool) {
        let fresh = Gc::<T>::allocate(tracked, 1, VTableFor::<Header, T>::VTABLE);
        // SAFETY: the fresh value is a bitwise copy out of the old allocation, whose strong
        // count is already 0 without its value being dropped: it is moved, not duplicated.
        unsafe {
            ptr::copy_nonoverlapping(
                Gc::as_ptr(this),
                ptr::addr_of_mut!((*fresh.as_ptr()).value),
                1,
            )
        };
        let old = mem::replace(this, Gc::from_box(fresh));
        let header = old.header_ptr();
        mem::forget(old);
        // SAFETY: the strong reference `take_unique` removed owned the implicit hold; the
        // `Weak`s (and any root-buffer entry) keep the header, and nothing drops the value
        // again (no strong reference, not `DEAD`, and collections refuse a count of zero).
        unsafe { Header::release_hold(header) };
    }
}

impl Gc<dyn Any + Send + Sync> {
    /// Recovers the concrete type, as `Arc::downcast`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::any::Any;
    /// use cyclegc::sync::Gc;
    /// let any: Gc<dyn Any + Send + Sync> = cyclegc::unsize!(Gc::new(5_i32) => dyn Any + Send + Sync);
    /// assert_eq!(*any.downcast::<i32>().unwrap(), 5);
    /// ```
    pub fn downcast<T: Any + Send + Sync>(self) -> Result<Gc<T>, Self> {
        // SAFETY: the allocation is alive (this strong reference); `is` reads only the
        // trait object's vtable, never the value.
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
    /// Adds a strong reference: one atomic increment, as `Arc::clone`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cyclegc::sync::Gc;
    /// let a = Gc::new(1);
    /// let b = a.clone();
    /// assert!(Gc::ptr_eq(&a, &b));
    /// ```
    #[inline]
    fn clone(&self) -> Self {
        self.header().state().increment();
        Gc::from_box(self.ptr)
    }
}

impl<T: ?Sized> Drop for Gc<T> {
    /// Gives up the strong reference: the last one drops the value; one that leaves others
    /// may buffer the object as a possible root of a garbage cycle.
    #[inline]
    fn drop(&mut self) {
        let header = self.header();
        match header
            .state()
            .release(|| header.take_hold(), || header.give_back_hold())
        {
            Release::Kept => {}
            // SAFETY: the object was just made `BUFFERED`, with the hold taken for it.
            Release::Buffered => unsafe { collector::buffer(self.header_ptr()) },
            Release::Last(old) => self.drop_last(old),
        }
    }
}

impl<T: ?Sized> Deref for Gc<T> {
    type Target = T;

    /// The value.
    ///
    /// # Panics
    ///
    /// If the collector has destroyed it: only possible in a `Drop` impl of a member of a
    /// collected cycle, reaching another member (use [`Gc::try_deref`] there).
    #[inline(always)]
    fn deref(&self) -> &T {
        if self.header().state().load(Ordering::Relaxed) & DEAD != 0 {
            dead_deref();
        }
        // SAFETY: we hold a strong reference and the collector has not claimed the value, so
        // it is alive; only shared references to it are handed out.
        unsafe { &(*self.ptr.as_ptr()).value }
    }
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

crate::handle::value_traits!("cyclegc::sync", Trace + Send + Sync + 'static);
crate::handle::slice_conversions!(
    "cyclegc::sync",
    Header,
    collector::before_alloc,
    Trace + Send + Sync + 'static
);
