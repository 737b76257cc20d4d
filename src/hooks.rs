//! What a collection tells the callbacks registered with `add_callback` (Python's
//! `gc.callbacks`): the types both flavours share.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallbackId(pub(crate) u64);
