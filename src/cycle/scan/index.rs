//! The index types of the scan's side arrays (ARCHITECTURE.md, "A collection"). A snapshot
//! starts with 32-bit indices, which halve the edge list and the visits, the bulk of a
//! collection's working memory; one that outgrows them starts over with 64-bit ones, so no
//! heap is too large to be judged whole.

/// An index into the scan's arrays: a node's (in `edges`, `visits`, the work lists) or an
/// edge's (a visit's edge end, which also keeps the visit's two flags in its top bits).
pub(crate) trait Index: Copy + Eq + 'static {
    /// The most nodes, and the most edges, a snapshot with these indices takes: past it,
    /// the snapshot starts over with 64-bit indices.
    const MAX: usize;
    /// Set in a visit's edge end: the node could not be traced completely.
    const INCOMPLETE: Self;
    /// Set in a visit's edge end: the node's trace took a lock or a cell borrow.
    const GUARDED: Self;

    /// `i` as an index: `i` is at most [`Index::MAX`].
    fn new(i: usize) -> Self;
    /// The index as a `usize`.
    fn get(self) -> usize;
    /// An edge end `end` (at most [`Index::MAX`]) with the given flags.
    fn end_with(end: usize, incomplete: bool, guarded: bool) -> Self;
    /// The edge end without its flags.
    fn end(self) -> usize;
    /// Whether `flag` is set in this edge end.
    fn has(self, flag: Self) -> bool;
}

macro_rules! index {
    ($t:ty, $max:expr) => {
        impl Index for $t {
            const MAX: usize = $max;
            const INCOMPLETE: $t = 1 << (<$t>::BITS - 1);
            const GUARDED: $t = 1 << (<$t>::BITS - 2);

            #[inline(always)]
            fn new(i: usize) -> $t {
                debug_assert!(i <= <Self as Index>::MAX);
                i as $t
            }

            #[inline(always)]
            fn get(self) -> usize {
                self as usize
            }

            #[inline(always)]
            fn end_with(end: usize, incomplete: bool, guarded: bool) -> $t {
                let mut end = Self::new(end);
                if incomplete {
                    end |= Self::INCOMPLETE;
                }
                if guarded {
                    end |= Self::GUARDED;
                }
                end
            }

            #[inline(always)]
            fn end(self) -> usize {
                (self & !(Self::INCOMPLETE | Self::GUARDED)) as usize
            }

            #[inline(always)]
            fn has(self, flag: $t) -> bool {
                self & flag != 0
            }
        }
    };
}

// Below the two flag bits.
index!(u32, (1 << 30) - 1);
// No limit that a heap can reach: its arrays would not fit in memory first (a `usize` is
// at most 64 bits, and each node takes more than four bytes).
index!(u64, usize::MAX >> 2);
