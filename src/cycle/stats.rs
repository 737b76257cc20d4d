//! [`Stats`]: a collector's running totals.

/// Collector statistics for the current thread, as returned by [`stats`](crate::stats): the
/// running totals of Python's `gc.get_stats()`.
///
/// # Examples
///
/// ```
/// let before = cyclegc::stats();
/// cyclegc::collect();
/// assert_eq!(cyclegc::stats().collections, before.collections + 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Collections run on this thread, automatic and explicit.
    pub collections: u64,
    /// Objects reclaimed by those collections.
    pub collected: u64,
    /// Objects examined (traced) by those collections, garbage and survivors alike.
    pub traced: u64,
    /// Collections that caught a `Trace` impl reporting more references to an object than it
    /// has (such a collection keeps every object connected to that one and reclaims the rest
    /// as usual), or that gave up because `Trace` impls kept panicking (it frees nothing and
    /// leaves its roots in the buffer).
    pub aborted: u64,
}

impl Stats {
    /// All zero, in a `const` context.
    pub(crate) const fn new() -> Stats {
        Stats {
            collections: 0,
            collected: 0,
            traced: 0,
            aborted: 0,
        }
    }
}
