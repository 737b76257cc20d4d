//! The one heap of the thread-safe flavour: every thread's root buffer, the collector lock,
//! the trigger policy, the settings and the statistics, and the driver that runs a
//! collection around the shared algorithm (`cycle::Scan`). The Python-style functions in
//! front of it are in `mod.rs`.
//!
//! Each thread buffers its possible roots in a buffer of its own (uncontended except while
//! a collection takes its entries), registered with the heap, so that a collection on any
//! thread takes every thread's entries — also those of threads that have exited, whose
//! buffers stay registered until a collection has emptied them. Drops during a thread's
//! thread-local teardown, after its buffer is gone, use a shared one.
//!
//! Generations (ARCHITECTURE.md, "Generations"; the single-threaded design, with the marks
//! per registry table): each collection first *files* the threads' entries in buffers per
//! generation, which the collector lock keeps, by the generation of each entry's object;
//! a collection of generation *n* takes the buffers of 0..=*n* as its roots, examines only
//! the objects of those generations, and files its surviving roots again, by their
//! generation after promotion. An edge into an older generation is not followed; a cycle
//! through one is found when the member that was buffered (a survivor, filed ever older)
//! meets a collection of the cycle's oldest generation.
//!
//! No lock of this module is held while user code runs, except the collector lock during
//! phases 1–4, where only `Trace` impls run (ARCHITECTURE.md, "A thread-safe collection").

use std::mem;
use std::panic;
use std::ptr::NonNull;
use std::sync::PoisonError;

use crate::primitive::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use crate::primitive::sync::{Arc, Mutex, MutexGuard, TryLockError};
use crate::primitive::{global, local};

use crate::cycle::registry::{Marks, FROZEN};
use crate::cycle::{self, Context, Examined, Object, Phase, Scan, Stats, FULL};
use crate::hooks::{CallbackId, CollectionEvent};
use crate::panics::{drop_payload, Panics, Payload};
use crate::release;
use crate::sync::any::AnyGc;
use crate::sync::header::Header;
use crate::sync::registry::{self, TABLES};
use std::time::Instant;

/// The default [`thresholds`](crate::sync::thresholds), chosen by benchmark (see there).
pub(crate) const DEFAULT_THRESHOLDS: [usize; GENERATIONS] = if cfg!(miri) {
    [16, 2, 2]
} else {
    [700, 10, 10]
};

/// The generations a collection can be asked for.
const GENERATIONS: usize = FULL + 1;

/// Below this many entries an old generation's buffer is not purged of entries whose object
/// is gone (generation 0's is taken by every collection).
const PURGE_FLOOR: usize = if cfg!(miri) { 64 } else { 4096 };

/// What started a collection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Trigger {
    /// `sync::collect()`: waits for a running collection, and resumes the panics of `Drop`
    /// impls.
    Explicit,
    /// The countdown, from `Gc::new`: skipped if another collection runs — unless the
    /// garbage is piling up faster than collections free it (see [`collect_if_due`]) — and
    /// keeps the first panic for the next explicit collection.
    Automatic,
}

/// A root-buffer entry: a header with `IN_BUFFER`, and the unit of its weak count that the
/// entry holds.
struct Entry(NonNull<Header>);

// SAFETY: headers are `Sync` (their shared state is atomic), and the entry's unit is owned
// by whichever thread holds the entry.
unsafe impl Send for Entry {}

/// One thread's root buffer.
struct Buffer {
    entries: Mutex<Vec<Entry>>,
}

impl Buffer {
    fn new() -> Buffer {
        Buffer {
            entries: Mutex::new(Vec::new()),
        }
    }

    fn push(&self, entry: Entry) {
        lock(&self.entries).push(entry);
    }
}

/// What the collector lock keeps.
struct Held {
    /// The arrays of the last collection, kept for the next one (see `Scan::recycle`).
    spare: Option<Scan<Header>>,
    /// Root-buffer entries filed by generation (0 to 2, and [`FROZEN`] for frozen objects),
    /// each holding a unit of its object's weak count. An entry in buffer *g* is of an
    /// object of generation *g* or older, but for a key judged with stale marks (see
    /// `Heap::recheck_frozen`); the frozen buffer may also hold objects `Gc::get_mut` has
    /// taken out of the registry since (generation 2).
    roots: [Vec<NonNull<Header>>; GENERATIONS + 1],
    /// When to purge each buffer of entries whose object is gone.
    purge_at: [usize; GENERATIONS + 1],
}

// SAFETY: a spare scan is only kept between collections, when it holds no header (recycled:
// every array is empty) and no guard (the claim released them all), so it refers to nothing
// of the thread that made it; the entries are units of thread-safe headers, owned by
// whoever holds the collector lock.
unsafe impl Send for Held {}

impl Held {
    const fn new() -> Held {
        Held {
            spare: None,
            roots: [Vec::new(), Vec::new(), Vec::new(), Vec::new()],
            purge_at: [PURGE_FLOOR; GENERATIONS + 1],
        }
    }

    /// Files `header`'s entry in the buffer of its object's generation by `marks` (which may
    /// be stale for an object another thread's table renumbered: it is then filed a
    /// generation off, which only changes when it is examined — or with the frozen ones,
    /// until the next full collection files those again: see `Heap::recheck_frozen`).
    ///
    /// # Safety
    /// The caller hands over an entry of a live header (`IN_BUFFER`, with its unit).
    unsafe fn file(&mut self, header: NonNull<Header>, marks: &[Marks; TABLES]) {
        // SAFETY: the entry's unit keeps the header.
        let (table, key) = unsafe { header.as_ref() }.registry_place();
        let generation = marks[table % TABLES].generation(key);
        self.roots[generation].push(header);
    }

    /// Gives back the entries of buffer `index` whose object is gone (no strong reference
    /// left, or dead), once the buffer has grown past its purge mark (which then doubles
    /// from what is left).
    fn purge_if_long(&mut self, index: usize) {
        if self.roots[index].len() < self.purge_at[index] {
            return;
        }
        self.roots[index].retain(|&header| {
            // SAFETY: an entry's unit keeps its header.
            let gone = unsafe { header.as_ref() }.state().drop_entry_if_gone();
            if gone {
                // SAFETY: the entry's unit, given back with its flag.
                unsafe { Header::release_hold(header) };
            }
            !gone
        });
        self.purge_at[index] = PURGE_FLOOR.max(2 * self.roots[index].len());
    }
}

/// The thread-safe flavour's heap.
struct Heap {
    /// The collector lock, held for phases 1–4 of a collection; it keeps the spare scan and
    /// the filed entries.
    collector: Mutex<Held>,
    /// Every thread's buffer, including those of exited threads until they are emptied.
    buffers: Mutex<Vec<Arc<Buffer>>>,
    /// For drops after their thread's buffer is gone (thread-local teardown).
    orphans: Buffer,
    /// Entries to buffer before the next automatic collection; at or below zero, the next
    /// `Gc::new` of a tracked type collects.
    countdown: AtomicIsize,
    enabled: AtomicBool,
    /// `sync::thresholds`.
    thresholds: [AtomicUsize; GENERATIONS],
    /// `sync::counts()[1..]`: collections of generation 0 since the last of 1, and of 1
    /// since the last of 2.
    collections_since: [AtomicUsize; 2],
    /// How many entries generation 2's buffer holds (a copy, for deciding outside the lock).
    old_roots: AtomicUsize,
    /// How many objects the last full collection found alive.
    survivors_of_full: AtomicUsize,
    /// A `freeze()` (1) or `unfreeze()` (2) asked for on a thread whose collection holds the
    /// collector lock (from a `Trace` impl): the collection applies it before it lets go.
    pending_freeze: AtomicUsize,
    /// The frozen buffer may hold entries of objects that are not frozen: a frozen object
    /// left the registry (`Gc::get_mut`), or the end of a table's frozen range went down
    /// (tidying, on an allocating thread) while a collection judged keys with marks copied
    /// before. The next full collection files the frozen entries again, with fresh marks
    /// (read under each table's lock, which orders the keys' changes before them). Set
    /// after the keys changed, taken after the buffers are drained.
    recheck_frozen: AtomicBool,
    stats: Mutex<Stats>,
    /// The callbacks around each collection (`sync::add_callback`), in the order added.
    callbacks: Mutex<Vec<(CallbackId, std::sync::Arc<SyncCallback>)>>,
    /// How many callbacks are registered: a collection with none takes no lock for them.
    callback_count: AtomicUsize,
    /// The first panic of a `Drop` or `Trace` impl during an automatic collection, resumed
    /// by the next explicit one.
    kept_panic: Mutex<Option<Payload>>,
    /// `sync::set_save_all`: collections keep their garbage alive in `garbage`.
    save_all: AtomicBool,
    /// What collections found unreachable while `save_all` was on (`sync::take_garbage`).
    garbage: Mutex<Vec<AnyGc>>,
}

global! {
    static HEAP: Heap = Heap {
        collector: Mutex::new(Held::new()),
        buffers: Mutex::new(Vec::new()),
        orphans: Buffer {
            entries: Mutex::new(Vec::new()),
        },
        countdown: AtomicIsize::new(DEFAULT_THRESHOLDS[0] as isize),
        enabled: AtomicBool::new(true),
        thresholds: [
            AtomicUsize::new(DEFAULT_THRESHOLDS[0]),
            AtomicUsize::new(DEFAULT_THRESHOLDS[1]),
            AtomicUsize::new(DEFAULT_THRESHOLDS[2]),
        ],
        collections_since: [AtomicUsize::new(0), AtomicUsize::new(0)],
        old_roots: AtomicUsize::new(0),
        survivors_of_full: AtomicUsize::new(0),
        pending_freeze: AtomicUsize::new(0),
        recheck_frozen: AtomicBool::new(false),
        stats: Mutex::new(Stats::new()),
        callbacks: Mutex::new(Vec::new()),
        callback_count: AtomicUsize::new(0),
        kept_panic: Mutex::new(None),
        save_all: AtomicBool::new(false),
        garbage: Mutex::new(Vec::new()),
    };
}

local! {
    /// This thread's buffer, registered with the heap when first used.
    static LOCAL: Arc<Buffer> = {
        let buffer = Arc::new(Buffer::new());
        lock(&HEAP.buffers).push(Arc::clone(&buffer));
        buffer
    };
}

/// Locks `mutex`, ignoring poison: every lock of this module guards data that a panic
/// cannot leave half-changed (a push, a swap, counters).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records a root-buffer entry for `header`, which the caller just made `BUFFERED`.
///
/// # Safety
/// The header is alive, and the caller hands over the entry's unit of its weak count.
pub(crate) unsafe fn buffer(header: NonNull<Header>) {
    let mut entry = Some(Entry(header));
    let pushed = LOCAL.try_with(|buffer| buffer.push(entry.take().expect("pushed once")));
    if pushed.is_err() {
        HEAP.orphans
            .push(entry.take().expect("not pushed to the thread's buffer"));
    }
    HEAP.countdown.fetch_sub(1, Ordering::Relaxed);
}

/// Called before allocating a tracked object: collects if the countdown ran out.
#[inline]
pub(crate) fn before_alloc() {
    if collection_due() {
        collect_if_due();
    }
}

/// Whether the countdown ran out: [`before_alloc`] would collect, if collection is enabled.
#[inline]
pub(crate) fn collection_due() -> bool {
    HEAP.countdown.load(Ordering::Relaxed) <= 0
}

/// Runs an automatic collection, unless another thread is running one. Threads that make
/// garbage faster than one collector frees it would then pile it up without bound; so once
/// the roots buffered since the trigger went off outnumber the trigger itself, a thread
/// waits for the running collection and collects after it (back-pressure, as an allocator
/// that must wait for memory).
#[cold]
#[inline(never)]
fn collect_if_due() {
    let threshold = HEAP.thresholds[0].load(Ordering::Relaxed);
    if !HEAP.enabled.load(Ordering::Relaxed) || threshold == 0 {
        HEAP.countdown.store(isize::MAX, Ordering::Relaxed);
        return;
    }
    let trigger = isize::try_from(threshold).unwrap_or(isize::MAX);
    let overdue = HEAP.countdown.load(Ordering::Relaxed) <= -trigger;
    collect_with(Trigger::Automatic, overdue, generation_due());
}

/// The generation an automatic collection collects ([`cycle::generation_due`]).
fn generation_due() -> usize {
    cycle::generation_due(
        |generation| {
            HEAP.collections_since[generation - 1].load(Ordering::Relaxed)
                >= HEAP.thresholds[generation].load(Ordering::Relaxed)
        },
        HEAP.old_roots.load(Ordering::Relaxed),
        HEAP.survivors_of_full.load(Ordering::Relaxed),
    )
}

/// Runs a collection of generations 0..=`generation`; returns how many objects it freed (0
/// if the calling thread is already collecting, or, for an automatic one, if another thread
/// is).
pub(crate) fn collect(trigger: Trigger, generation: usize) -> usize {
    collect_with(trigger, trigger == Trigger::Explicit, generation)
}

/// [`collect`], waiting for a running collection if `wait`, otherwise returning 0 if there
/// is one.
///
/// With callbacks registered, they are called before the collector lock is taken and after
/// it is given back (user code must not run under it: a callback waiting for a thread that
/// waits for the lock would deadlock). An automatic collection then only checks that no
/// other is running before it announces itself, and may wait for one that starts meanwhile.
fn collect_with(trigger: Trigger, wait: bool, generation: usize) -> usize {
    if std::thread::panicking() || release::phase().collecting() {
        return 0;
    }
    let announce = HEAP.callback_count.load(Ordering::Acquire) > 0;
    let try_lock = || match HEAP.collector.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    };
    let early = if wait {
        (!announce).then(|| lock(&HEAP.collector))
    } else {
        let Some(guard) = try_lock() else { return 0 };
        if announce {
            drop(guard);
            None
        } else {
            Some(guard)
        }
    };
    // While collecting, this thread's releases are deferred: no header in the scan is freed
    // under it, and drops of garbage never recurse.
    let mut end = EndCollection {
        // SAFETY: no collection runs on this thread (checked above); `EndCollection` ends it.
        outer: unsafe { release::begin_collection() },
        deferring: true,
    };
    lock(&HEAP.stats).started(generation);
    let mut panics = Panics::default();
    let started = announce.then(|| {
        call_callbacks(&CollectionEvent::start(generation), &mut panics);
        Instant::now()
    });
    let guard = early.unwrap_or_else(|| lock(&HEAP.collector));
    let (freed, saved) = run(guard, generation, &mut panics);
    if let Some(started) = started {
        let event = CollectionEvent::stop(generation, freed, saved, started.elapsed());
        call_callbacks(&event, &mut panics);
    }
    end.end_deferral(&mut panics);
    report(panics.finish(), trigger);
    freed
}

/// A registered callback of the thread-safe heap.
pub(crate) type SyncCallback = dyn Fn(&CollectionEvent) + Send + Sync;

/// Calls every callback with `event`, in the order they were added, with no lock held. One
/// that panics is removed, and its panic recorded in `panics`.
fn call_callbacks(event: &CollectionEvent, panics: &mut Panics) {
    let callbacks: Vec<_> = lock(&HEAP.callbacks).clone();
    for (id, callback) in callbacks {
        if !panics.catch(|| callback(event)) {
            remove_callback(id);
        }
        // Perhaps the last reference, if the callback was removed meanwhile (for its panic,
        // by itself, by another thread): what it captured is dropped here, and a panic of
        // that `Drop` is kept like a callback's, rather than unwinding out of the collection.
        panics.catch(move || drop(callback));
    }
}

/// `sync::set_save_all`.
pub(crate) fn set_save_all(save_all: bool) {
    HEAP.save_all.store(save_all, Ordering::Relaxed);
}

/// `sync::save_all`.
pub(crate) fn save_all() -> bool {
    HEAP.save_all.load(Ordering::Relaxed)
}

/// `sync::take_garbage`.
pub(crate) fn take_garbage() -> Vec<AnyGc> {
    std::mem::take(&mut *lock(&HEAP.garbage))
}

/// `sync::add_callback`.
pub(crate) fn add_callback(callback: std::sync::Arc<SyncCallback>) -> CallbackId {
    let id = CallbackId::unique();
    let mut callbacks = lock(&HEAP.callbacks);
    callbacks.push((id, callback));
    HEAP.callback_count
        .store(callbacks.len(), Ordering::Release);
    id
}

/// `sync::remove_callback`.
pub(crate) fn remove_callback(id: CallbackId) -> bool {
    let removed = {
        let mut callbacks = lock(&HEAP.callbacks);
        let at = callbacks.iter().position(|(listed, _)| *listed == id);
        let removed = at.map(|at| callbacks.remove(at));
        HEAP.callback_count
            .store(callbacks.len(), Ordering::Release);
        removed
    };
    // Dropped with no lock held: the closure's captures are user values.
    removed.is_some()
}

/// Phases 1–4 of a collection of generations 0..=`generation` under the collector lock
/// `guard`, then phase 5 outside it. Returns how many objects it freed, and how many it
/// found unreachable but kept (`set_save_all`).
fn run(mut guard: MutexGuard<'_, Held>, generation: usize, panics: &mut Panics) -> (usize, usize) {
    let held = &mut *guard;
    let mut scan = held.spare.take().unwrap_or_else(Scan::new);
    let marks = registry::begin_collection();
    // SAFETY: every entry `drain_buffers` hands over is a live header with `IN_BUFFER` and
    // its unit.
    drain_buffers(|header| unsafe { held.file(header, &marks) });
    // After the buffers are drained: an entry filed by a key read before the object left the
    // registry (or with marks a tidying made stale) is in the frozen buffer by now, and this
    // sees the flag set after. (A compare-and-swap rather than a swap: loom lets a store
    // slip inside a swap, tokio-rs/loom#254.)
    if generation == FULL
        && HEAP
            .recheck_frozen
            .compare_exchange(true, false, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    {
        file_again(held, FROZEN);
    }
    let mut roots = scan.take_spare_roots();
    // Oldest first, as in the single-threaded collector (`Collector::take_roots`).
    for buffer in held.roots[..=generation].iter_mut().rev() {
        roots.append(buffer);
    }
    let saving = HEAP.save_all.load(Ordering::Relaxed);
    if saving {
        scan.keep_garbage();
    }
    let examined = Examined::from(
        marks.iter().map(|marks| marks.first_of(generation)),
        generation == FULL,
    );
    // SAFETY: the entries of generations 0..=`generation`, each a live header with
    // `IN_BUFFER` and its unit, handed over (taken out of the buffers under their locks); the
    // collector lock keeps any other scan of this flavour out, and this thread's releases
    // are deferred.
    let verdict = unsafe { scan.judge(roots, examined, &SyncContext, panics) };
    count_collection(generation);
    let mut marks = registry::promote(generation);
    let pending = HEAP.pending_freeze.swap(0, Ordering::Relaxed);
    if pending != 0 {
        if pending == 1 {
            freeze_held(held);
        } else {
            unfreeze_held(held);
        }
        marks = registry::marks();
    }
    for header in scan.take_survivors() {
        // SAFETY: a survivor is out of the scan and carries a hold, handed over.
        unsafe { refile(held, header, &marks) };
    }
    for header in scan.take_older() {
        // SAFETY: an entry the snapshot made (`BUFFERED`, with its unit), handed over; a
        // collection of its generation will find it, or take it out if its object is gone.
        unsafe { held.file(header, &marks) };
    }
    for index in 1..=FROZEN {
        held.purge_if_long(index);
    }
    HEAP.old_roots
        .store(held.roots[FULL].len(), Ordering::Relaxed);
    {
        let mut stats = lock(&HEAP.stats);
        if verdict.gave_up || verdict.abandoned {
            stats.aborted += 1;
        }
        if !verdict.gave_up {
            let kept = if saving { verdict.garbage } else { 0 };
            stats.judged(generation, verdict.traced, verdict.garbage - kept, kept);
        }
    }
    // Kept garbage (each with the strong reference its claim gave the collector) becomes
    // handles before the collector lock goes: it is alive, and counts as surviving.
    let kept: Vec<AnyGc> = scan
        .take_kept()
        .into_iter()
        // SAFETY: each is alive, out of the scan, with a strong reference handed over.
        .map(|header| unsafe { AnyGc::adopt(header) })
        .collect();
    let saved = kept.len();
    lock(&HEAP.garbage).extend(kept);
    if generation == FULL && !verdict.gave_up {
        let freed_by_verdict = verdict.garbage - saved;
        HEAP.survivors_of_full
            .store(verdict.traced - freed_by_verdict, Ordering::Relaxed);
    }
    update_countdown();
    // Phase 5 runs outside the collector lock: the garbage is claimed (`DEAD`; or kept, and
    // already handed out), no other collection can enter it, and the `Drop` impls that run
    // now may collect themselves.
    drop(guard);
    let freed = scan.destroy(panics);
    if let Some(scan) = scan.recycle(verdict.traced) {
        // Kept only if no collection has started meanwhile (it has its own arrays).
        if let Ok(mut guard) = HEAP.collector.try_lock() {
            guard.spare.get_or_insert(scan);
        }
    }
    // No report of a lying `Trace` here (the single-threaded flavour raises one in debug
    // builds): a count is read when its object enters the scan and edges when their owner is
    // traced, so a handle cloned and stored meanwhile by another thread takes a count below
    // zero just as a lie does. Either way every object connected to it is kept.
    (freed, saved)
}

/// Takes every entry out of every thread's buffer, handing each to `file`; unregisters the
/// buffers of exited threads. `file` runs under the buffers' locks: it must take no other
/// lock of this module.
fn drain_buffers(mut file: impl FnMut(NonNull<Header>)) {
    let mut buffers = lock(&HEAP.buffers);
    // A buffer only its registration holds belongs to an exited thread: nothing can push to
    // it any more. Decided *before* the buffers are drained, so that an entry pushed just
    // before its thread exited is drained with the rest: deciding after would unregister a
    // buffer emptied before that last push, losing the entry (found by review).
    let (live, exited): (Vec<_>, Vec<_>) = mem::take(&mut *buffers)
        .into_iter()
        .partition(|buffer| Arc::strong_count(buffer) > 1);
    *buffers = live;
    let mut drain = |buffer: &Buffer| {
        // Drained in place, so that each thread's buffer keeps its capacity instead of
        // growing it again after every collection.
        let mut entries = lock(&buffer.entries);
        for Entry(header) in entries.drain(..) {
            file(header);
        }
    };
    for buffer in buffers.iter().chain(&exited) {
        drain(buffer);
    }
    drain(&HEAP.orphans);
    drop(buffers);
}

/// Files a survivor again, with the hold it carries as the entry's unit, in its
/// generation's buffer; gives the hold back if the object needs no entry (it has one, has
/// no strong reference left, or is dead).
///
/// # Safety
/// The header is out of the scan, and the caller hands over a hold on it.
unsafe fn refile(held: &mut Held, header: NonNull<Header>, marks: &[Marks; TABLES]) {
    // SAFETY: the hold keeps the header alive.
    if unsafe { header.as_ref() }.state().set_buffered_if_live() {
        // SAFETY: it was just made `BUFFERED`, with the hold as the entry's.
        unsafe { held.file(header, marks) };
    } else {
        // SAFETY: the caller's hold.
        unsafe { Header::release_hold(header) };
    }
}

/// Updates the counts after a collection of `generation`: the next generation's count one
/// more, the collected ones start again (CPython's rule).
fn count_collection(generation: usize) {
    for count in &HEAP.collections_since[..generation.min(2)] {
        count.store(0, Ordering::Relaxed);
    }
    if let Some(next) = HEAP.collections_since.get(generation) {
        next.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sets the countdown from the thresholds and the settings, with the entries already
/// waiting in the threads' buffers.
fn update_countdown() {
    let threshold = HEAP.thresholds[0].load(Ordering::Relaxed);
    let countdown = if HEAP.enabled.load(Ordering::Relaxed) && threshold != 0 {
        isize::try_from(threshold.saturating_sub(count())).unwrap_or(isize::MAX)
    } else {
        isize::MAX
    };
    HEAP.countdown.store(countdown, Ordering::Relaxed);
}

/// `sync::freeze`, with the collector lock held: every listed object becomes frozen, and
/// the filed entries follow their objects.
fn freeze_held(held: &mut Held) {
    registry::freeze();
    file_again(held, 0);
}

/// `sync::unfreeze`, with the collector lock held: the frozen objects join generation 2,
/// and the entries of the frozen buffer their generations (no other entry changes
/// generation).
fn unfreeze_held(held: &mut Held) {
    registry::unfreeze();
    file_again(held, FROZEN);
}

/// Files the entries of buffers `first..=FROZEN` again, by the generations the registry
/// says now.
fn file_again(held: &mut Held, first: usize) {
    let marks = registry::marks();
    for index in first..=FROZEN {
        for header in mem::take(&mut held.roots[index]) {
            // SAFETY: an entry, handed from one buffer to another.
            unsafe { held.file(header, &marks) };
        }
    }
    HEAP.old_roots
        .store(held.roots[FULL].len(), Ordering::Relaxed);
}

/// The frozen buffer may hold entries of objects that are not frozen (see
/// `Heap::recheck_frozen`). Called after the keys changed.
pub(crate) fn recheck_frozen() {
    HEAP.recheck_frozen.fetch_or(true, Ordering::Release);
}

/// Runs `f` with the collector lock (waiting for a running collection). On a thread whose
/// own collection holds the lock (a `Trace` impl) — or any collecting thread that finds it
/// held — returns `false` instead, for the caller to leave the work to that collection.
fn with_held(f: impl FnOnce(&mut Held)) -> bool {
    let guard = if release::phase().collecting() {
        match HEAP.collector.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        }
    } else {
        lock(&HEAP.collector)
    };
    let mut guard = guard;
    f(&mut guard);
    true
}

/// `sync::freeze`.
pub(crate) fn freeze() {
    if !with_held(freeze_held) {
        HEAP.pending_freeze.store(1, Ordering::Relaxed);
    }
}

/// `sync::unfreeze`.
pub(crate) fn unfreeze() {
    if !with_held(unfreeze_held) {
        HEAP.pending_freeze.store(2, Ordering::Relaxed);
    }
}

/// `sync::freeze_count`.
pub(crate) fn freeze_count() -> usize {
    registry::frozen_count()
}

/// Resumes the first panic of an explicit collection (after one an automatic collection
/// kept); keeps an automatic collection's for the next explicit one.
fn report(panic: Option<Payload>, trigger: Trigger) {
    match trigger {
        Trigger::Explicit => {
            let older = lock(&HEAP.kept_panic).take();
            if let Some(older) = older {
                if let Some(panic) = panic {
                    drop_payload(panic);
                }
                panic::resume_unwind(older);
            }
            if let Some(panic) = panic {
                panic::resume_unwind(panic);
            }
        }
        Trigger::Automatic => {
            if let Some(panic) = panic {
                let mut kept = lock(&HEAP.kept_panic);
                if kept.is_none() {
                    *kept = Some(panic);
                } else {
                    drop(kept);
                    drop_payload(panic);
                }
            }
        }
    }
}

/// The context of a thread-safe collection. Its `DEAD` flags are never tentative: the
/// snapshot marks `SCANNED` instead, and claims only after the verdict.
struct SyncContext;

// SAFETY: a thread-safe snapshot sets no `DEAD` flag, so there is nothing tentative for the
// handles to know about; the pending list's length counts this thread's deferred releases.
unsafe impl Context for SyncContext {
    unsafe fn tracing(&self, _: bool) {}

    fn pending_releases(&self) -> usize {
        release::pending_len()
    }
}

/// Ends a collection's deferral of releases on every path.
struct EndCollection {
    outer: Phase,
    deferring: bool,
}

impl EndCollection {
    fn end_deferral(&mut self, panics: &mut Panics) {
        if self.deferring {
            self.deferring = false;
            // SAFETY: the deferral `collect` began, ended once, after the scan was dropped.
            unsafe { release::end_deferral_catching(self.outer, panics) };
        }
    }
}

impl Drop for EndCollection {
    fn drop(&mut self) {
        if self.deferring {
            // SAFETY: as in `EndCollection::end_deferral`.
            unsafe { release::end_deferral(self.outer) };
        }
        // SAFETY: the collection `collect` began ends here.
        unsafe { release::end_collection(self.outer) };
    }
}

/// `sync::enable`/`disable`.
pub(crate) fn set_enabled(enabled: bool) {
    HEAP.enabled.store(enabled, Ordering::Relaxed);
    update_countdown();
}

/// `sync::is_enabled`.
pub(crate) fn is_enabled() -> bool {
    HEAP.enabled.load(Ordering::Relaxed)
}

/// `sync::thresholds`.
pub(crate) fn thresholds() -> [usize; GENERATIONS] {
    [0, 1, 2].map(|generation| HEAP.thresholds[generation].load(Ordering::Relaxed))
}

/// `sync::set_thresholds`.
pub(crate) fn set_thresholds(thresholds: [usize; GENERATIONS]) {
    for (setting, threshold) in HEAP.thresholds.iter().zip(thresholds) {
        setting.store(threshold, Ordering::Relaxed);
    }
    update_countdown();
}

/// `sync::counts`.
pub(crate) fn counts() -> [usize; GENERATIONS] {
    [
        count(),
        HEAP.collections_since[0].load(Ordering::Relaxed),
        HEAP.collections_since[1].load(Ordering::Relaxed),
    ]
}

/// `sync::count`: the entries waiting in every buffer.
pub(crate) fn count() -> usize {
    let buffers = lock(&HEAP.buffers);
    let len = |buffer: &Buffer| lock(&buffer.entries).len();
    buffers.iter().map(|buffer| len(buffer)).sum::<usize>() + len(&HEAP.orphans)
}

/// `sync::stats`.
pub(crate) fn stats() -> Stats {
    lock(&HEAP.stats).clone()
}
