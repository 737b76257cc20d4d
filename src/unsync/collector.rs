//! [`Collector`]: one thread's collector — the root buffer, the trigger policy, the settings
//! and the statistics — and the driver that runs a collection around the shared algorithm
//! (`cycle::Scan`). The thread-local that holds it, and the Python-style functions in front of
//! it, are in `local.rs`.
//!
//! No borrow of this state is ever held while user code (a `Drop`, a `Trace`) runs: every
//! `RefCell` borrow here is a few instructions long.

use std::cell::{Cell, RefCell};
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;

use crate::cycle::{
    self, Context, Examined, Object, Phase, Scan, Stats, BUFFERED, FULL, IN_BUFFER, WITHDRAWN,
};
use crate::hooks::{CallbackId, CollectionEvent};
use crate::panics::{drop_payload, Panics, Payload};
use crate::release;
use crate::unsync::any::AnyGc;
use crate::unsync::header::Header;
use crate::unsync::hooks::Hooks;
use crate::unsync::registry::{Registry, FROZEN};
use std::time::Instant;

/// The automatic-collection thresholds a thread starts with (`thresholds()`): generation 0 is
/// collected when this many possible cycle roots have been buffered since the last
/// collection, generation 1 when generation 0 has been collected this many times since
/// generation 1 last was, and generation 2 likewise after generation 1 (and see
/// [`cycle::generation_due`]). CPython's before 3.13 (see `thresholds()` for why). Small under
/// Miri so that short tests reach them.
pub(crate) const DEFAULT_THRESHOLDS: [usize; 3] = if cfg!(miri) {
    [16, 2, 2]
} else {
    [700, 10, 10]
};

/// The root buffer of an older generation (or the frozen one) is purged of entries whose
/// object has no strong reference left (only the entry keeps its allocation) when it
/// reaches twice the length it had after the last purge, and at least this length:
/// amortised O(1) per entry. Without it, buffers that only an older generation's collection
/// takes (or `unfreeze()`) would keep the memory of objects freed meanwhile. Generation 0's
/// buffer, which every collection takes, is not purged: reading every entry's header again
/// as it grows cost a reclaim of many roots a fifth more.
const PURGE_FLOOR: usize = 1 << 12;

/// The generations, youngest first; [`FROZEN`] indexes a fourth root buffer.
pub(crate) const GENERATIONS: usize = 3;

/// How many collections an exit hook runs at most: each may leave new garbage behind (a
/// `Drop` building a cycle), and a thread must still be able to exit.
const EXIT_ROUNDS: usize = 4;

/// Who started a collection, which decides what happens to a panic it caught.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Trigger {
    /// `collect()`: the first panic is resumed once the collection is complete.
    Explicit,
    /// `Gc::new`: a panic is never resumed into the allocation (it may sit in a `Drop` during
    /// unwinding, or in a thread-local destructor, where unwinding aborts); it is kept for
    /// the next `collect()`.
    Automatic,
    /// A thread-exit hook: panics are dropped (a thread-local destructor must not unwind),
    /// and survivors that could not be traced are not put back in the buffer: nothing would
    /// change before the next exit hook looked at them again.
    Exit,
}

/// One thread's collector. It has no destructor, so that it stays usable through all of
/// thread-local teardown: its memory is freed by the thread's last exit hook
/// ([`Collector::exit_collection`]).
pub(crate) struct Collector {
    /// Possible cycle roots (B–R's "purple" buffer), one buffer per generation (an object
    /// goes to its generation's when it is buffered), and one for frozen objects (index
    /// [`FROZEN`]), which waits for `unfreeze()`. An object in buffer *g* is in generation
    /// *g* or older — except in the frozen buffer, which may hold objects `Gc::get_mut` has
    /// taken out of the registry since (generation 2): see `thawed_roots`. Each entry holds
    /// a unit of its weak count. `ManuallyDrop` (like the other fields that own memory) so
    /// that the collector needs no destructor.
    roots: RefCell<ManuallyDrop<[Vec<NonNull<Header>>; 4]>>,
    /// The frozen buffer may hold an entry whose object is no longer frozen (see `roots`):
    /// the next full collection takes such entries out of it.
    thawed_roots: Cell<bool>,
    /// Per buffer, the length at which it is next purged (see [`PURGE_FLOOR`]).
    purge_at: [Cell<usize>; 4],
    enabled: Cell<bool>,
    /// The automatic-collection thresholds, per generation (see [`DEFAULT_THRESHOLDS`]).
    thresholds: [Cell<usize>; GENERATIONS],
    /// CPython's `get_count()`: roots buffered since the last collection, collections of
    /// generation 0 since the last of generation 1, and of 1 since the last of 2.
    counts: [Cell<usize>; GENERATIONS],
    /// How many objects the last full collection found alive (see [`cycle::generation_due`]).
    survivors_of_full: Cell<usize>,
    /// How many more possible roots may be buffered before an automatic collection is due:
    /// `thresholds[0] - counts[0]`, or `usize::MAX` while automatic collection is off
    /// (buffering counts it down, but no program buffers `usize::MAX` roots). `Gc::new`
    /// reads it every time. It starts at 0, so that a thread's first tracked allocation goes
    /// to [`Collector::collect_if_due`], which initializes it.
    countdown: Cell<usize>,
    stats: RefCell<Stats>,
    /// Every tracked object of the thread, for the heap's view of itself.
    registry: Registry,
    /// Callbacks around each collection, and the garbage kept while saving it.
    hooks: Hooks,
    /// The work arrays of the last collection, emptied, for the next one.
    spare_scan: Cell<Option<ManuallyDrop<Scan<Header>>>>,
    /// The first panic of an automatic collection, for the next explicit `collect()`.
    kept_panic: Cell<Option<ManuallyDrop<Payload>>>,
    /// Registers the thread's `n`-th exit hook, a thread-local whose destructor calls
    /// [`Collector::exit_collection`]; false if there is no `n`-th one, or it can no longer
    /// be registered.
    register_exit_hook: fn(usize) -> bool,
    /// An exit hook is registered and has not run yet.
    exit_hook_pending: Cell<bool>,
    /// How many exit hooks this thread has registered.
    exit_hooks_used: Cell<usize>,
}

// The collector must stay reachable through all of thread-local teardown.
const _: () = assert!(!std::mem::needs_drop::<Collector>());

impl Collector {
    /// A collector with the default settings, whose exit hooks `register_exit_hook`
    /// registers.
    pub(crate) const fn new(register_exit_hook: fn(usize) -> bool) -> Collector {
        Collector {
            roots: RefCell::new(ManuallyDrop::new([
                Vec::new(),
                Vec::new(),
                Vec::new(),
                Vec::new(),
            ])),
            thawed_roots: Cell::new(false),
            purge_at: [
                Cell::new(PURGE_FLOOR),
                Cell::new(PURGE_FLOOR),
                Cell::new(PURGE_FLOOR),
                Cell::new(PURGE_FLOOR),
            ],
            enabled: Cell::new(true),
            thresholds: [
                Cell::new(DEFAULT_THRESHOLDS[0]),
                Cell::new(DEFAULT_THRESHOLDS[1]),
                Cell::new(DEFAULT_THRESHOLDS[2]),
            ],
            counts: [Cell::new(0), Cell::new(0), Cell::new(0)],
            survivors_of_full: Cell::new(0),
            countdown: Cell::new(0),
            stats: RefCell::new(Stats::new()),
            registry: Registry::new(),
            hooks: Hooks::new(),
            spare_scan: Cell::new(None),
            kept_panic: Cell::new(None),
            register_exit_hook,
            exit_hook_pending: Cell::new(false),
            exit_hooks_used: Cell::new(0),
        }
    }

    /// Records `header` as a possible cycle root of its generation, unless it is one already;
    /// an entry withdrawn by `Gc::get_mut` becomes a root again. Without an exit hook to come (a
    /// thread past its last one) nothing is buffered: a cycle through the object may leak,
    /// nothing worse.
    ///
    /// # Safety
    /// `header` must be the live header of a tracked object with strong references, not in
    /// a scan.
    pub(crate) unsafe fn buffer(&self, header: NonNull<Header>) {
        // SAFETY: the caller guarantees the header is alive.
        let h = unsafe { header.as_ref() };
        if h.has(BUFFERED) {
            return;
        }
        if h.has(WITHDRAWN) {
            // The entry is still in the buffer, holding its unit: make it a root again.
            // SAFETY: the entry and its unit stay; only its kind changes.
            unsafe {
                h.clear_flag(WITHDRAWN);
                h.set_flag(BUFFERED);
            }
            return;
        }
        if !self.ensure_exit_hook() {
            return;
        }
        // SAFETY: the buffer's entry and its unit of the weak count are added together.
        unsafe { h.set_flag(BUFFERED) };
        h.take_hold();
        self.push_entry(header, h);
    }

    /// Puts a root-buffer entry made elsewhere (`BUFFERED`, holding a unit of the weak count:
    /// [`Scan::take_older`]) in its generation's buffer — or, if the object has no strong
    /// reference left, gives the entry back.
    ///
    /// # Safety
    /// `header` is a tracked header, not in a scan, with such an entry, which the caller
    /// hands over.
    unsafe fn file(&self, header: NonNull<Header>) {
        // SAFETY: the entry's hold keeps the header.
        let h = unsafe { header.as_ref() };
        // Without an exit hook to come, nothing would give the entry back (see `buffer`).
        if h.strong() == 0 || !self.ensure_exit_hook() {
            // SAFETY: the entry's flag and unit, given back together.
            unsafe {
                h.clear_flag(IN_BUFFER);
                Header::release_hold(header);
            }
            return;
        }
        self.push_entry(header, h);
    }

    /// Puts the entry of `header` (`h`), made by the caller, in its generation's buffer,
    /// counting it.
    #[inline(always)]
    fn push_entry(&self, header: NonNull<Header>, h: &Header) {
        let generation = self.registry.generation(h.registry_key());
        let len = {
            let mut roots = self.roots.borrow_mut();
            roots[generation].push(header);
            roots[generation].len()
        };
        self.counts[0].set(self.counts[0].get() + 1);
        self.countdown.set(self.countdown.get().saturating_sub(1));
        // Generation 0's buffer is taken by every collection: not worth purging.
        if generation > 0 && len >= self.purge_at[generation].get() {
            self.purge(generation);
        }
    }

    /// Gives back the entries of root buffer `index` whose object has no strong reference
    /// left (see [`PURGE_FLOOR`]).
    #[cold]
    #[inline(never)]
    fn purge(&self, index: usize) {
        let mut buffer = std::mem::take(&mut self.roots.borrow_mut()[index]);
        buffer.retain(|&header| {
            // SAFETY: a buffer entry holds a unit of its header's weak count.
            let h = unsafe { header.as_ref() };
            let alive = h.strong() > 0;
            if !alive {
                // SAFETY: the entry's flag and unit, given back together. Not the last unit
                // if the object is in a scan (its pending release holds one), and no user
                // code runs.
                unsafe {
                    h.clear_flag(IN_BUFFER);
                    Header::release_hold(header);
                }
            }
            alive
        });
        self.purge_at[index].set((2 * buffer.len()).max(PURGE_FLOOR));
        let mut roots = self.roots.borrow_mut();
        // Entries filed meanwhile (none: giving back a hold runs no user code) stay.
        buffer.append(&mut roots[index]);
        roots[index] = buffer;
    }

    /// Whether an automatic collection is due before the next tracked allocation.
    #[inline(always)]
    pub(crate) fn due(&self) -> bool {
        self.countdown.get() == 0
    }

    /// [`Collector::due`] said so (or this is the thread's first tracked allocation): collect,
    /// unless the countdown was stale, or this allocation happens inside a release or a
    /// collection (a `Drop` impl allocating), where collecting is not safe.
    #[cold]
    #[inline(never)]
    pub(crate) fn collect_if_due(&self) {
        self.update_countdown();
        if self.due() && release::phase().is_mutator() {
            self.collect(Trigger::Automatic, self.generation_due());
        }
    }

    /// The generation an automatic collection examines ([`cycle::generation_due`]).
    fn generation_due(&self) -> usize {
        cycle::generation_due(
            |generation| self.counts[generation].get() >= self.thresholds[generation].get(),
            self.roots.borrow()[2].len(),
            self.survivors_of_full.get(),
        )
    }

    /// Collects generations 0..=`generation` (`FULL`: all but the frozen objects). Returns the
    /// number of objects freed.
    ///
    /// Does nothing (returns 0) inside another collection, and while the thread is panicking:
    /// that includes the panic hook, where any panic — even one the collection would catch —
    /// aborts the process.
    pub(crate) fn collect(&self, trigger: Trigger, generation: usize) -> usize {
        if std::thread::panicking() || release::phase().collecting() {
            return 0;
        }
        // While collecting, releases that reach zero are deferred: no header in the scan can
        // be freed under it, and drops of garbage never recurse.
        let mut end = EndCollection {
            collector: self,
            // SAFETY: no collection is running (checked above); `EndCollection` ends it.
            outer: unsafe { release::begin_collection() },
            deferring: true,
        };
        self.stats.borrow_mut().started(generation);
        // The panics of `Trace` and `Drop` impls and of callbacks, dealt with once the
        // collection is complete.
        let mut panics = Panics::default();
        // Callbacks run inside the collection (a `collect()` there does nothing; their
        // releases are deferred like the garbage's, and dropped below).
        let started = self.hooks.any().then(|| {
            self.hooks
                .call(&CollectionEvent::start(generation), &mut panics);
            Instant::now()
        });
        let (freed, saved) = self.run(trigger, generation, &mut panics);
        if let Some(started) = started {
            let event = CollectionEvent::stop(generation, freed, saved, started.elapsed());
            self.hooks.call(&event, &mut panics);
        }
        end.end_deferral(&mut panics);
        self.report(panics.finish(), trigger);
        freed
    }

    /// The collection proper, inside [`Collector::collect`]'s guards: phases 1 to 5
    /// (ARCHITECTURE.md, "A collection") and the bookkeeping between them. Returns how many
    /// objects it freed, and how many it found unreachable but kept (`set_save_all`).
    fn run(&self, trigger: Trigger, generation: usize, panics: &mut Panics) -> (usize, usize) {
        // Dropped before `collect`'s `EndCollection` on every path: the scan revives (or hands
        // back) its nodes before `end_deferral` drains the pending list, which may hold
        // objects a misbehaving `Trace` released during the snapshot.
        let mut scan = self.take_spare_scan().unwrap_or_else(Scan::new);
        let roots = self.take_roots(generation, scan.take_spare_roots());
        self.registry.begin_collection();
        let examined = Examined::from([self.registry.first_of(generation)], generation == FULL);
        // Phases 1 to 4.
        // SAFETY: the root buffers' entries, each a live header with `IN_BUFFER` and a unit
        // of its weak count, handed over; the collection defers releases (`EndCollection`).
        let verdict = unsafe { scan.judge(roots, examined, self, panics) };
        if verdict.gave_up || verdict.lied_about.is_some() {
            self.stats.borrow_mut().aborted += 1;
        }
        // The survivors put back and the older objects reached count as roots buffered after
        // this collection.
        self.count_collection(generation);
        let rebuffer = verdict.gave_up || trigger != Trigger::Exit;
        for header in scan.take_survivors() {
            if rebuffer {
                // SAFETY: a survivor is tracked, alive (its hold), has strong references,
                // and is out of the scan (`Scan::take_survivors`).
                unsafe { self.buffer(header) };
            }
            // SAFETY: the survivor's hold, which this collector owns (`buffer` takes the
            // entry's own). Not in a scan.
            unsafe { Header::release_hold(header) };
        }
        for header in scan.take_older() {
            // SAFETY: an entry the scan made (`BUFFERED`, a hold), handed over: filed in its
            // generation's buffer, or given back if its object has no strong reference left.
            unsafe { self.file(header) };
        }
        // An exit collection never saves: nothing would look at the garbage any more.
        let saving = self.hooks.save_all() && trigger != Trigger::Exit;
        if !verdict.gave_up {
            let (collected, kept) = if saving {
                (0, verdict.garbage)
            } else {
                (verdict.garbage, 0)
            };
            let mut stats = self.stats.borrow_mut();
            stats.judged(generation, verdict.traced, collected, kept);
        }
        if generation == FULL {
            // Saved garbage stays alive: it counts as surviving.
            let freed_by_verdict = if saving { 0 } else { verdict.garbage };
            self.survivors_of_full
                .set(verdict.traced - freed_by_verdict);
        }
        // Phase 5. From here on user code runs (the values' `Drop` impls); every member of
        // the garbage is already `DEAD`. Or, saving, the garbage is kept alive instead.
        let (freed, saved) = if saving {
            let saved: Vec<AnyGc> = scan
                .save()
                .into_iter()
                // SAFETY: each is alive and out of the scan, with strong references (the other
                // members'), and no user code runs until the handles exist.
                .map(|header| unsafe { AnyGc::from_header(header) })
                .collect();
            let count = saved.len();
            self.hooks.keep(saved);
            (0, count)
        } else {
            (scan.destroy(panics), 0)
        };
        self.keep_spare_scan(scan.recycle(verdict.traced));
        self.registry.promote(generation);
        self.registry.tidy_if_holey();
        if let Some(type_name) = verdict.lied_about.filter(|_| cfg!(debug_assertions)) {
            // Raised and caught here, so that the panic hook reports it like any other.
            panics.catch(|| {
                panic!(
                    "cyclegc: a `Trace` impl reported more references to a `{type_name}` than \
                     it has; the collection kept every object connected to it. Check \
                     hand-written `Trace` impls: each `Gc` a value owns must be reported \
                     exactly once, and `Gc`s shared with something else (e.g. inside an \
                     `Rc`) not at all"
                )
            });
        }
        (freed, saved)
    }

    /// Takes the root buffers of generations 0..=`generation`, into `into` (an empty buffer);
    /// a full collection also takes the entries of the frozen buffer whose object is no
    /// longer frozen.
    fn take_roots(
        &self,
        generation: usize,
        mut into: Vec<NonNull<Header>>,
    ) -> Vec<NonNull<Header>> {
        let mut roots = self.roots.borrow_mut();
        if generation == 0 && into.capacity() < roots[0].len() {
            // The young buffer is the usual one: swap it in, keeping the spare's capacity.
            std::mem::swap(&mut into, &mut roots[0]);
        }
        // Oldest first: a structure that grows from its old part reaches its young part from
        // there, so the snapshot traces it in order, with no late marks for phase 3.
        for buffer in roots[..=generation].iter_mut().rev() {
            into.append(buffer);
        }
        if generation == FULL && self.thawed_roots.replace(false) {
            roots[FROZEN].retain(|&header| {
                // SAFETY: a buffer entry holds a unit of its header's weak count.
                let key = unsafe { header.as_ref() }.registry_key();
                let frozen = self.registry.generation(key) == FROZEN;
                if !frozen {
                    into.push(header);
                }
                frozen
            });
        }
        into
    }

    /// Takes the object numbered `number` out of the registry for good (`Gc::get_mut`,
    /// `make_mut`); `in_buffer`: it has a root-buffer entry, which stays where it is (see
    /// `roots`).
    pub(crate) fn unlist(&self, number: usize, in_buffer: bool) {
        if in_buffer && self.registry.generation(number) == FROZEN {
            self.thawed_roots.set(true);
        }
        self.registry.leave(number);
    }

    /// Updates the counts after a collection of `generation`: the next generation's counts
    /// one more, the collected ones start again (CPython's rule).
    fn count_collection(&self, generation: usize) {
        for count in &self.counts[..=generation] {
            count.set(0);
        }
        if let Some(next) = self.counts.get(generation + 1) {
            next.set(next.get() + 1);
        }
        self.update_countdown();
    }

    /// The work arrays kept from the last collection, if any.
    fn take_spare_scan(&self) -> Option<Scan<Header>> {
        self.spare_scan.take().map(ManuallyDrop::into_inner)
    }

    /// Keeps a collection's emptied work arrays for the next one, if an exit hook is due to
    /// free them. (Registering one just for this would make every exit hook's collection
    /// register the next.)
    fn keep_spare_scan(&self, scan: Option<Scan<Header>>) {
        if self.exit_hook_pending.get() {
            let old = self.spare_scan.replace(scan.map(ManuallyDrop::new));
            drop(old.map(ManuallyDrop::into_inner));
        }
    }

    /// Deals with the first panic a collection caught (later ones are already dropped): an
    /// explicit collection resumes it — or an older one kept from an earlier collection; an
    /// automatic one keeps it for the next explicit collection, if none is kept yet; an exit
    /// collection drops it. The panic hook has reported it in any case. (No collection runs
    /// while the thread is panicking, where resuming would abort.)
    fn report(&self, panic: Option<Payload>, trigger: Trigger) {
        if trigger == Trigger::Explicit {
            if let Some(older) = self.take_kept_panic() {
                if let Some(panic) = panic {
                    drop_payload(panic);
                }
                panic::resume_unwind(older);
            }
            if let Some(panic) = panic {
                panic::resume_unwind(panic);
            }
        } else if let Some(panic) = panic {
            if trigger == Trigger::Exit || self.has_kept_panic() || !self.ensure_exit_hook() {
                drop_payload(panic);
            } else {
                self.kept_panic.set(Some(ManuallyDrop::new(panic)));
            }
        }
    }

    fn take_kept_panic(&self) -> Option<Payload> {
        self.kept_panic.take().map(ManuallyDrop::into_inner)
    }

    fn has_kept_panic(&self) -> bool {
        let kept = self.kept_panic.take();
        let has = kept.is_some();
        self.kept_panic.set(kept);
        has
    }

    /// Makes sure an exit hook will run after this point; false if none can any more.
    fn ensure_exit_hook(&self) -> bool {
        if self.exit_hook_pending.get() {
            return true;
        }
        let used = self.exit_hooks_used.get();
        let registered = (self.register_exit_hook)(used);
        if registered {
            self.exit_hooks_used.set(used + 1);
        }
        self.exit_hook_pending.set(registered);
        registered
    }

    /// The destructor of an exit hook: collect (a few rounds: destructors may leave new
    /// garbage behind), then, unless another hook was registered meanwhile, release
    /// everything.
    ///
    /// A thread-local destructor must not unwind (the process would abort), so these
    /// collections drop the panics of the garbage's `Drop` impls (the panic hook has already
    /// reported them), and so does a panic kept from an earlier automatic collection.
    pub(crate) fn exit_collection(&self) {
        self.exit_hook_pending.set(false);
        if let Some(panic) = self.take_kept_panic() {
            drop_payload(panic);
        }
        // Saved garbage becomes garbage again, and the callbacks go (with what they
        // captured), for these collections to reclaim: a callback would otherwise keep its
        // captures, and one that allocates would make every round find something. (A panic
        // from a `Drop` they run is dropped: a thread-local destructor must not unwind.)
        self.hooks.release();
        for _ in 0..EXIT_ROUNDS {
            // The thread's heap ends with it: frozen objects are collected like the others
            // (again each round: a `Drop` may have called `freeze()`).
            self.unfreeze();
            // An exit collection drops what it catches: only the collector's own bugs unwind.
            let collect = AssertUnwindSafe(|| self.collect(Trigger::Exit, FULL));
            match panic::catch_unwind(collect) {
                Ok(0) => break,
                Ok(_) => {}
                Err(payload) => {
                    drop_payload(payload);
                    break;
                }
            }
        }
        if !self.exit_hook_pending.get() {
            self.release_everything();
        }
    }

    /// The last exit hook is over: gives back what is still buffered (the thread stops
    /// collecting; cycles through it leak, nothing dangles) and frees the collector's memory.
    fn release_everything(&self) {
        // Whatever was saved or registered since the exit collections began (a later
        // thread-local destructor's doing): anything it leaves behind leaks, nothing dangles.
        self.hooks.release();
        let buffers = std::mem::take(&mut **self.roots.borrow_mut());
        for header in buffers.into_iter().flatten() {
            // SAFETY: each buffer entry holds one unit of its header's weak count, and no
            // collection is running, so the header is not in a scan.
            unsafe {
                header.as_ref().clear_flag(IN_BUFFER);
                Header::release_hold(header);
            }
        }
        drop(self.take_spare_scan());
        self.registry.close();
        if let Some(panic) = self.take_kept_panic() {
            drop_payload(panic);
        }
        self.update_countdown();
    }

    /// Recomputes the countdown after the counts or the settings changed.
    fn update_countdown(&self) {
        let threshold = self.thresholds[0].get();
        let countdown = if self.enabled.get() && threshold != 0 {
            threshold.saturating_sub(self.counts[0].get())
        } else {
            usize::MAX
        };
        self.countdown.set(countdown);
    }

    /// Turns automatic collection on or off.
    pub(crate) fn set_enabled(&self, enabled: bool) {
        self.enabled.set(enabled);
        self.update_countdown();
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.get()
    }

    pub(crate) fn thresholds(&self) -> [usize; GENERATIONS] {
        self.thresholds.each_ref().map(Cell::get)
    }

    pub(crate) fn set_thresholds(&self, thresholds: [usize; GENERATIONS]) {
        for (cell, threshold) in self.thresholds.iter().zip(thresholds) {
            cell.set(threshold);
        }
        self.update_countdown();
    }

    pub(crate) fn counts(&self) -> [usize; GENERATIONS] {
        self.counts.each_ref().map(Cell::get)
    }

    /// Moves every listed object into the frozen range, and the roots buffered for them to
    /// the frozen buffer (`freeze()`).
    pub(crate) fn freeze(&self) {
        self.registry.freeze();
        let mut roots = self.roots.borrow_mut();
        for generation in 0..GENERATIONS {
            let buffer = std::mem::take(&mut roots[generation]);
            for header in buffer {
                // SAFETY: a buffer entry holds a unit of its header's weak count.
                let key = unsafe { header.as_ref() }.registry_key();
                roots[self.registry.generation(key)].push(header);
            }
        }
    }

    /// Moves the frozen objects into generation 2, and their roots with them (`unfreeze()`).
    pub(crate) fn unfreeze(&self) {
        self.registry.unfreeze();
        let mut roots = self.roots.borrow_mut();
        let frozen = std::mem::take(&mut roots[FROZEN]);
        roots[2].extend(frozen);
        self.thawed_roots.set(false);
    }

    pub(crate) fn stats(&self) -> Stats {
        self.stats.borrow().clone()
    }

    /// The callbacks and saved garbage.
    pub(crate) fn hooks(&self) -> &Hooks {
        &self.hooks
    }

    /// `add_callback`: registers `callback`, and makes sure an exit hook will give it back
    /// (with what it captured) when the thread exits, also if the thread never buffers a
    /// root. When no exit hook is left to register (late in a teardown that needed them
    /// all), the callback leaks, as a late cycle does: nothing dangles.
    pub(crate) fn add_callback(
        &self,
        callback: impl FnMut(&CollectionEvent) + 'static,
    ) -> CallbackId {
        let id = self.hooks.add(callback);
        self.ensure_exit_hook();
        id
    }

    /// The registry of the thread's tracked objects.
    #[inline(always)]
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Lists a tracked object whose header is about to be written at `header` when the
    /// registry's table is full ([`Registry::enter`] said so), and returns its number for the
    /// header (`None`: not listed). The table's memory is freed by the thread's last exit
    /// hook, so one must be due before it grows; a thread that can register no more (deep in
    /// its teardown), or whose registry is closed, lists nothing.
    #[cold]
    #[inline(never)]
    pub(crate) fn register_slowly(&self, header: NonNull<Header>) -> Option<usize> {
        if self.registry.is_closed() || !self.ensure_exit_hook() {
            return None;
        }
        self.registry.enter_slowly(header)
    }
}

// SAFETY: the phase's tracing flag is what `Gc::deref`, `Gc::try_deref` and `Gc::drop` read
// to tell a tentative `DEAD` (`dead_released` in `gc.rs` defers such a release), and the
// pending list's length counts every deferred release.
unsafe impl Context for Collector {
    unsafe fn tracing(&self, tracing: bool) {
        // SAFETY: the algorithm calls this around its snapshot only (the caller's contract).
        unsafe { release::set_tracing(tracing) };
    }

    fn pending_releases(&self) -> usize {
        release::pending_len()
    }
}

/// Ends the collection: restores the phase and ends the deferral of releases (dropping what
/// the destruction left pending, unless an outer release will) — also when a panic is
/// unwinding.
struct EndCollection<'a> {
    collector: &'a Collector,
    /// The phase the collection began in.
    outer: Phase,
    /// Releases are still deferred ([`EndCollection::end_deferral`] has not run).
    deferring: bool,
}

impl EndCollection<'_> {
    /// Ends the deferral of releases, dropping what the destruction left pending (the values
    /// the garbage released) with their panics recorded in `panics`, like the collection's
    /// own: a panic from there must not escape an automatic collection either.
    fn end_deferral(&mut self, panics: &mut Panics) {
        if self.deferring {
            self.deferring = false;
            // SAFETY: the deferral `collect` began, ended once.
            unsafe { release::end_deferral_catching(self.outer, panics) };
        }
    }
}

impl Drop for EndCollection<'_> {
    fn drop(&mut self) {
        // Only if something unwound past `end_deferral`.
        if self.deferring {
            // SAFETY: as in `EndCollection::end_deferral`.
            unsafe { release::end_deferral(self.outer) };
        }
        // SAFETY: the collection `collect` began ends here, after its scan was dropped.
        unsafe { release::end_collection(self.outer) };
        // The buffer was emptied (a collection that gave up skips nothing, but one that
        // unwound skips `set_trigger_after`).
        self.collector.update_countdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cycle::VTableFor;

    /// A buffer is purged, once it reaches `PURGE_FLOOR` entries, of the entries whose
    /// object has no strong reference left: they give back their unit of the weak count.
    #[test]
    fn a_long_buffer_gives_back_the_entries_of_freed_objects() {
        let collector = Collector::new(|_| true);
        let header = |strong| {
            let header = Header::new(VTableFor::<Header, u8>::VTABLE, true, strong, None);
            NonNull::from(Box::leak(Box::new(header)))
        };
        let dead: Vec<NonNull<Header>> = (0..10).map(|_| header(1)).collect();
        for &h in &dead {
            // SAFETY: a live header, not in a scan; no collection runs.
            unsafe { collector.buffer(h) };
            // SAFETY: as if its value had been dropped: no strong reference, and the hold
            // that kept it given back (not the last: the entry has one).
            unsafe {
                h.as_ref().set_strong(0);
                Header::release_hold(h);
            }
            // The test's own unit, so that the entry's going does not free the box.
            // SAFETY: alive (the entry's unit).
            unsafe { h.as_ref() }.take_hold();
        }
        let live: Vec<NonNull<Header>> = (0..PURGE_FLOOR - dead.len()).map(|_| header(1)).collect();
        for &h in &live {
            // SAFETY: a live header, not in a scan; no collection runs.
            unsafe { collector.buffer(h) };
        }
        // Not listed: generation 2's buffer.
        assert_eq!(collector.roots.borrow()[2].len(), live.len());
        assert_eq!(collector.purge_at[2].get(), 2 * live.len());
        // SAFETY: leaked above, alive.
        let flags = |h: &NonNull<Header>| unsafe { h.as_ref() }.flags();
        assert!(dead.iter().all(|h| flags(h) & IN_BUFFER == 0));
        assert!(live.iter().all(|h| flags(h) & BUFFERED != 0));
        collector.release_everything();
        for h in dead.into_iter().chain(live) {
            // SAFETY: leaked above; the collector holds no entry any more.
            drop(unsafe { Box::from_raw(h.as_ptr()) });
        }
    }
}
