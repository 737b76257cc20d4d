//! What a collection tells the callbacks registered with `add_callback` (Python's
//! `gc.callbacks`): the types both flavours share.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// When a callback is called: as a collection starts, or once it has finished.
///
/// # Examples
///
/// ```
/// use cyclegc::CallbackPhase;
/// assert_ne!(CallbackPhase::Start, CallbackPhase::Stop);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackPhase {
    /// The collection is about to examine the heap.
    Start,
    /// The collection has finished: the garbage it found is destroyed (or kept).
    Stop,
}

/// What a callback learns about a collection (Python's `info` dict).
///
/// # Examples
///
/// ```
/// use cyclegc::{add_callback, remove_callback, CallbackPhase};
///
/// let id = add_callback(|event| {
///     if event.phase == CallbackPhase::Stop {
///         println!("generation {} freed {}", event.generation, event.collected);
///     }
/// });
/// cyclegc::collect();
/// assert!(remove_callback(id));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CollectionEvent {
    /// Start or stop.
    pub phase: CallbackPhase,
    /// The oldest generation examined (2 for a full collection).
    pub generation: usize,
    /// Objects found unreachable and freed (0 at the start).
    pub collected: usize,
    /// Objects found unreachable but kept (0 at the start).
    pub uncollectable: usize,
    /// How long the collection took, at the stop (`None` at the start).
    pub duration: Option<Duration>,
}

impl CollectionEvent {
    /// The event of a collection of `generation` starting.
    pub(crate) fn start(generation: usize) -> CollectionEvent {
        CollectionEvent {
            phase: CallbackPhase::Start,
            generation,
            collected: 0,
            uncollectable: 0,
            duration: None,
        }
    }

    /// The event of that collection stopping.
    pub(crate) fn stop(
        generation: usize,
        collected: usize,
        uncollectable: usize,
        duration: Duration,
    ) -> CollectionEvent {
        CollectionEvent {
            phase: CallbackPhase::Stop,
            generation,
            collected,
            uncollectable,
            duration: Some(duration),
        }
    }
}

/// Names a registered callback, for `remove_callback`.
///
/// # Examples
///
/// ```
/// let id = cyclegc::add_callback(|_| {});
/// assert!(cyclegc::remove_callback(id));
/// assert!(!cyclegc::remove_callback(id), "already removed");
/// ```
///
/// Ids are unique in the process: an id names one callback of one heap, so removing it
/// from another heap (the other flavour's, or another thread's single-threaded one) finds
/// nothing and returns `false`.
///
/// ```
/// let here = cyclegc::add_callback(|_| {});
/// let shared = cyclegc::sync::add_callback(|_| {});
/// assert_ne!(here, shared);
/// assert!(!cyclegc::remove_callback(shared), "not this thread's heap's");
/// assert!(!cyclegc::sync::remove_callback(here), "not the shared heap's");
/// assert!(cyclegc::remove_callback(here));
/// assert!(cyclegc::sync::remove_callback(shared));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallbackId(u64);

impl CallbackId {
    /// An id never handed out before in this process, by either flavour.
    ///
    /// # Panics
    /// After `usize::MAX` ids (only reachable on a 32-bit target), rather than name two
    /// callbacks alike.
    pub(crate) fn unique() -> CallbackId {
        // A plain std atomic also under loom: ids take part in no modelled protocol.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let id = NEXT
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |id| id.checked_add(1))
            .unwrap_or_else(|_| panic!("cyclegc: more than {} callbacks added", usize::MAX));
        CallbackId(id as u64)
    }
}
