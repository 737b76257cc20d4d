//! What a collection tells the callbacks registered with `add_callback` (Python's
//! `gc.callbacks`): the types both flavours share.

use std::sync::{Mutex, PoisonError};
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
/// nothing and returns `false` (see `sync::remove_callback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallbackId(u64);

impl CallbackId {
    /// An id never handed out before in this process, by either flavour.
    pub(crate) fn unique() -> CallbackId {
        // 64 bits on every target, which no process runs out of; a lock, since not every
        // target has 64-bit atomics and adding a callback is rare. std's also under loom:
        // ids take part in no modelled protocol.
        static NEXT: Mutex<u64> = Mutex::new(0);
        // The guarded code cannot panic (the count never reaches `u64::MAX`), so a poisoned
        // lock would still hold a good count.
        let mut next = NEXT.lock().unwrap_or_else(PoisonError::into_inner);
        let id = *next;
        *next += 1;
        CallbackId(id)
    }
}
