//! The rule both flavours' automatic collections use to pick a generation
//! (ARCHITECTURE.md, "Generations").

/// An automatic full collection also waits until the roots buffered in generation 2 are at
/// least `1 / SURVIVOR_RATIO` of the objects the last full collection found alive. A full
/// collection re-traces what it reaches, so this keeps automatic collection amortised O(1)
/// per buffered root even when every root leads into a large live structure — CPython's 25%
/// rule for its oldest generation, counted in roots rather than in promotions: a structure
/// that only grows (and so buffers nothing old) is never re-traced.
const SURVIVOR_RATIO: usize = 4;

/// The generation an automatic collection collects: the oldest whose count has reached its
/// threshold (`reached(1)`, `reached(2)`), generation 2 only once `old_roots` (the roots
/// buffered in it) are enough beside `survivors_of_full` ([`SURVIVOR_RATIO`]); else 0.
pub(crate) fn generation_due(
    reached: impl Fn(usize) -> bool,
    old_roots: usize,
    survivors_of_full: usize,
) -> usize {
    if reached(2) && old_roots >= survivors_of_full / SURVIVOR_RATIO {
        2
    } else if reached(1) {
        1
    } else {
        0
    }
}
