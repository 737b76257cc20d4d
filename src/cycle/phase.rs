//! [`Phase`]: what is running on a thread — releases nested how deep, a collection, its
//! snapshot — in one word.

/// How deep releases may nest before they are deferred to the pending list. Below it, drops
/// happen in exactly `Rc`'s order; beyond it a chain is dropped iteratively, so stack use is
/// bounded whatever the data (CPython's trashcan nests 50 deep). Small, because debug builds
/// use a few KiB of stack per level.
pub(crate) const RELEASE_DEPTH_LIMIT: usize = 16;

/// What is running on a thread, in one word: the release loop reads it on every release of a
/// last reference, so that test is one comparison ([`Phase::nests`]).
///
/// * **Mutator** (the word is 0): user code, with no release or collection running.
/// * **Releasing**: releases of last references are running, nested [`Phase::depth`] deep.
/// * **Collecting**: a collection is running (ARCHITECTURE.md, "A collection"). While it
///   judges and destroys, the depth is [`RELEASE_DEPTH_LIMIT`], so every release is deferred:
///   no header in the scan can be freed under it, and destroying garbage never recurses.
///   When it ends, it drains the pending list at depth 1 — still collecting.
/// * **Tracing**: the collection's phase 1 (snapshot) is running: the objects it has reached
///   are only tentatively `DEAD`.
///
/// A collection can start inside a release (`collect()` from a `Drop`); it restores the
/// release's phase when it ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Phase(usize);

/// The flags in the low bits; the release depth above them, so that comparing the whole word
/// with a depth compares the depth, whatever the flags.
const COLLECTING: usize = 1;
const TRACING: usize = 2;
const ONE_LEVEL: usize = 4;

impl Phase {
    /// Nothing of the collector runs.
    pub(crate) const MUTATOR: Phase = Phase(0);

    /// A collection that has just begun: releases are deferred.
    pub(crate) const COLLECTION: Phase = Phase(COLLECTING | (RELEASE_DEPTH_LIMIT * ONE_LEVEL));

    /// Whether a release may run nested here (rather than be deferred).
    #[inline(always)]
    pub(crate) fn nests(self) -> bool {
        self.0 < RELEASE_DEPTH_LIMIT * ONE_LEVEL
    }

    /// The phase of a release nested one level deeper.
    #[inline(always)]
    pub(crate) fn deeper(self) -> Phase {
        Phase(self.0 + ONE_LEVEL)
    }

    /// How many releases are running, nested in each other (the limit while a collection
    /// defers them).
    pub(crate) fn depth(self) -> usize {
        self.0 / ONE_LEVEL
    }

    /// The same phase with releases nested `depth` deep.
    pub(crate) fn with_depth(self, depth: usize) -> Phase {
        Phase(self.0 % ONE_LEVEL + depth * ONE_LEVEL)
    }

    /// Whether nothing of the collector runs: no release, no collection.
    pub(crate) fn is_mutator(self) -> bool {
        self == Phase::MUTATOR
    }

    /// Whether a collection is running.
    pub(crate) fn collecting(self) -> bool {
        self.0 & COLLECTING != 0
    }

    /// Whether a collection's snapshot is running (its `DEAD` flags are tentative).
    pub(crate) fn tracing(self) -> bool {
        self.0 & TRACING != 0
    }

    /// The same phase with the snapshot running (`true`) or over.
    pub(crate) fn with_tracing(self, tracing: bool) -> Phase {
        if tracing {
            Phase(self.0 | TRACING)
        } else {
            Phase(self.0 & !TRACING)
        }
    }

    /// The same phase inside a collection that has begun (its deferral possibly ended).
    pub(crate) fn with_collecting(self) -> Phase {
        Phase(self.0 | COLLECTING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_depth_test_ignores_the_flags() {
        let draining = Phase::COLLECTION.with_depth(1);
        assert!(draining.collecting() && draining.nests());
        assert_eq!(draining.deeper().depth(), 2);
        assert!(!Phase::COLLECTION.nests());
        assert!(!Phase::COLLECTION.with_tracing(true).nests());
        assert!(Phase::COLLECTION.with_tracing(true).tracing());
        assert!(!Phase::COLLECTION
            .with_tracing(true)
            .with_tracing(false)
            .tracing());
        let deepest = Phase::MUTATOR.with_depth(RELEASE_DEPTH_LIMIT - 1);
        assert!(deepest.nests() && !deepest.deeper().nests());
        assert!(!Phase::MUTATOR.with_depth(1).is_mutator());
        assert_eq!(
            Phase::MUTATOR.with_depth(3).with_collecting().with_depth(0),
            Phase::COLLECTION.with_depth(0)
        );
    }
}
