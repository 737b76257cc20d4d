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
//! No lock of this module is held while user code runs, except the collector lock during
//! phases 1–4, where only `Trace` impls run (ARCHITECTURE.md, "A thread-safe collection").

use std::mem;
use std::panic;
use std::ptr::NonNull;
use std::sync::PoisonError;

use crate::primitive::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use crate::primitive::sync::{Arc, Mutex, MutexGuard, TryLockError};
use crate::primitive::{global, local};

use crate::cycle::{Context, Examined, Object, Phase, Scan, Stats, FULL};
use crate::hooks::{CallbackId, CollectionEvent};
use crate::panics::{drop_payload, Panics, Payload};
use crate::release;
use crate::sync::any::AnyGc;
use crate::sync::header::Header;
use std::time::Instant;

/// The default [`threshold`](crate::sync::threshold).
pub(crate) const DEFAULT_THRESHOLD: usize = if cfg!(miri) { 16 } else { 2000 };

/// As in the single-threaded flavour: a collection that leaves `n` survivors sets the next
/// trigger to at least `n / SURVIVOR_RATIO` entries, so that large live heaps are not traced
/// again and again (amortised O(1) per buffered root).
const SURVIVOR_RATIO: usize = 4;

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

/// The arrays of the last collection, kept for the next one (see `Scan::recycle`).
struct Spare(Option<Scan<Header>>);

// SAFETY: a spare scan is only kept between collections, when it holds no header (recycled:
// every array is empty) and no guard (the claim released them all), so it refers to nothing
// of the thread that made it.
unsafe impl Send for Spare {}

/// The thread-safe flavour's heap.
struct Heap {
    /// The collector lock, held for phases 1–4 of a collection; it keeps the spare scan.
    collector: Mutex<Spare>,
    /// Every thread's buffer, including those of exited threads until they are emptied.
    buffers: Mutex<Vec<Arc<Buffer>>>,
    /// For drops after their thread's buffer is gone (thread-local teardown).
    orphans: Buffer,
    /// Entries to buffer before the next automatic collection; at or below zero, the next
    /// `Gc::new` of a tracked type collects.
    countdown: AtomicIsize,
    enabled: AtomicBool,
    threshold: AtomicUsize,
    /// The threshold, raised after a collection that left many survivors.
    trigger: AtomicUsize,
    stats: Mutex<Stats>,
    /// The callbacks around each collection (`sync::add_callback`), in the order added.
    callbacks: Mutex<Vec<(CallbackId, std::sync::Arc<SyncCallback>)>>,
    /// How many callbacks are registered: a collection with none takes no lock for them.
    callback_count: AtomicUsize,
    /// The next callback's id.
    next_callback: AtomicUsize,
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
        collector: Mutex::new(Spare(None)),
        buffers: Mutex::new(Vec::new()),
        orphans: Buffer {
            entries: Mutex::new(Vec::new()),
        },
        countdown: AtomicIsize::new(DEFAULT_THRESHOLD as isize),
        enabled: AtomicBool::new(true),
        threshold: AtomicUsize::new(DEFAULT_THRESHOLD),
        trigger: AtomicUsize::new(DEFAULT_THRESHOLD),
        stats: Mutex::new(Stats::new()),
        callbacks: Mutex::new(Vec::new()),
        callback_count: AtomicUsize::new(0),
        next_callback: AtomicUsize::new(0),
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
    if HEAP.countdown.load(Ordering::Relaxed) <= 0 {
        collect_if_due();
    }
}

/// Runs an automatic collection, unless another thread is running one. Threads that make
/// garbage faster than one collector frees it would then pile it up without bound; so once
/// the roots buffered since the trigger went off outnumber the trigger itself, a thread
/// waits for the running collection and collects after it (back-pressure, as an allocator
/// that must wait for memory).
#[cold]
#[inline(never)]
fn collect_if_due() {
    if !HEAP.enabled.load(Ordering::Relaxed) || HEAP.threshold.load(Ordering::Relaxed) == 0 {
        HEAP.countdown.store(isize::MAX, Ordering::Relaxed);
        return;
    }
    let trigger = isize::try_from(HEAP.trigger.load(Ordering::Relaxed)).unwrap_or(isize::MAX);
    let overdue = HEAP.countdown.load(Ordering::Relaxed) <= -trigger;
    collect_with(Trigger::Automatic, overdue);
}

/// Runs a collection of the whole heap; returns how many objects it freed (0 if the
/// calling thread is already collecting, or, for an automatic one, if another thread is).
pub(crate) fn collect(trigger: Trigger) -> usize {
    collect_with(trigger, trigger == Trigger::Explicit)
}

/// [`collect`], waiting for a running collection if `wait`, otherwise returning 0 if there
/// is one.
///
/// With callbacks registered, they are called before the collector lock is taken and after
/// it is given back (user code must not run under it: a callback waiting for a thread that
/// waits for the lock would deadlock). An automatic collection then only checks that no
/// other is running before it announces itself, and may wait for one that starts meanwhile.
fn collect_with(trigger: Trigger, wait: bool) -> usize {
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
    lock(&HEAP.stats).started(FULL);
    let mut panics = Panics::default();
    let started = announce.then(|| {
        call_callbacks(&CollectionEvent::start(FULL), &mut panics);
        Instant::now()
    });
    let guard = early.unwrap_or_else(|| lock(&HEAP.collector));
    let (freed, saved) = run(guard, &mut panics);
    if let Some(started) = started {
        let event = CollectionEvent::stop(FULL, freed, saved, started.elapsed());
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
    let id = CallbackId(HEAP.next_callback.fetch_add(1, Ordering::Relaxed) as u64);
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

/// Phases 1–4 under the collector lock `guard`, then phase 5 outside it. Returns how many
/// objects it freed, and how many it found unreachable but kept (`set_save_all`).
fn run(mut guard: MutexGuard<'_, Spare>, panics: &mut Panics) -> (usize, usize) {
    let mut scan = guard.0.take().unwrap_or_else(Scan::new);
    let roots = take_roots(scan.take_spare_roots());
    let saving = HEAP.save_all.load(Ordering::Relaxed);
    if saving {
        scan.keep_garbage();
    }
    // SAFETY: every thread's entries, each a live header with `IN_BUFFER` and its unit,
    // handed over (taken out of the buffers under their locks); the collector lock keeps any
    // other scan of this flavour out, and this thread's releases are deferred.
    let verdict = unsafe { scan.judge(roots, Examined::ALL, &SyncContext, panics) };
    let mut rebuffered = 0;
    for header in scan.take_survivors() {
        // SAFETY: a survivor is out of the scan and carries a hold, handed over.
        rebuffered += usize::from(unsafe { rebuffer(header) });
    }
    {
        let mut stats = lock(&HEAP.stats);
        if verdict.gave_up || verdict.abandoned {
            stats.aborted += 1;
        }
        if !verdict.gave_up {
            let kept = if saving { verdict.garbage } else { 0 };
            stats.judged(FULL, verdict.traced, verdict.garbage - kept, kept);
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
    let freed_by_verdict = verdict.garbage - saved;
    set_trigger_after(
        verdict.traced,
        verdict.traced - freed_by_verdict,
        rebuffered,
    );
    // Phase 5 runs outside the collector lock: the garbage is claimed (`DEAD`; or kept, and
    // already handed out), no other collection can enter it, and the `Drop` impls that run
    // now may collect themselves.
    drop(guard);
    let freed = scan.destroy(panics);
    if let Some(scan) = scan.recycle(verdict.traced) {
        // Kept only if no collection has started meanwhile (it has its own arrays).
        if let Ok(mut guard) = HEAP.collector.try_lock() {
            guard.0.get_or_insert(scan);
        }
    }
    // No report of a lying `Trace` here (the single-threaded flavour raises one in debug
    // builds): a count is read when its object enters the scan and edges when their owner is
    // traced, so a handle cloned and stored meanwhile by another thread takes a count below
    // zero just as a lie does. Either way every object connected to it is kept.
    (freed, saved)
}

/// Takes every entry out of every buffer, into `roots`; unregisters the buffers of exited
/// threads.
fn take_roots(mut roots: Vec<NonNull<Header>>) -> Vec<NonNull<Header>> {
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
        roots.extend(entries.drain(..).map(|Entry(header)| header));
    };
    for buffer in buffers.iter().chain(&exited) {
        drain(buffer);
    }
    drain(&HEAP.orphans);
    drop(buffers);
    roots
}

/// Buffers a survivor again, with the hold it carries as the entry's unit; gives the hold
/// back if the object needs no entry (it has one, has no strong reference left, or is
/// dead). Returns whether it was buffered.
///
/// # Safety
/// The header is out of the scan, and the caller hands over a hold on it.
unsafe fn rebuffer(header: NonNull<Header>) -> bool {
    // SAFETY: the hold keeps the header alive.
    let buffered = unsafe { header.as_ref() }.state().set_buffered_if_live();
    if buffered {
        // SAFETY: it was just made `BUFFERED`, with the hold as the entry's.
        unsafe { buffer(header) };
    } else {
        // SAFETY: the caller's hold.
        unsafe { Header::release_hold(header) };
    }
    buffered
}

/// After a collection that traced `traced` objects and left `survivors`, of which
/// `buffered` are back in the buffers: the next automatic one comes after
/// `max(threshold, survivors / 4)` entries. A collection that traced fewer objects than the
/// trigger may raise it but not lower it: it says little about the live heap (another
/// thread's collection may just have taken the roots), and lowering the trigger on its word
/// would make every thread trace a large live heap every `threshold` roots.
fn set_trigger_after(traced: usize, survivors: usize, buffered: usize) {
    let current = HEAP.trigger.load(Ordering::Relaxed);
    let mut trigger = HEAP
        .threshold
        .load(Ordering::Relaxed)
        .max(survivors / SURVIVOR_RATIO);
    if traced < current {
        trigger = trigger.max(current);
    }
    HEAP.trigger.store(trigger, Ordering::Relaxed);
    update_countdown(buffered);
}

/// Sets the countdown from the trigger and the settings, with `buffered` entries already
/// waiting.
fn update_countdown(buffered: usize) {
    let countdown =
        if HEAP.enabled.load(Ordering::Relaxed) && HEAP.threshold.load(Ordering::Relaxed) != 0 {
            let trigger = HEAP.trigger.load(Ordering::Relaxed);
            isize::try_from(trigger.saturating_sub(buffered)).unwrap_or(isize::MAX)
        } else {
            isize::MAX
        };
    HEAP.countdown.store(countdown, Ordering::Relaxed);
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
    update_countdown(count());
}

/// `sync::is_enabled`.
pub(crate) fn is_enabled() -> bool {
    HEAP.enabled.load(Ordering::Relaxed)
}

/// `sync::threshold`.
pub(crate) fn threshold() -> usize {
    HEAP.threshold.load(Ordering::Relaxed)
}

/// `sync::set_threshold`.
pub(crate) fn set_threshold(threshold: usize) {
    HEAP.threshold.store(threshold, Ordering::Relaxed);
    HEAP.trigger.store(threshold, Ordering::Relaxed);
    update_countdown(count());
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
