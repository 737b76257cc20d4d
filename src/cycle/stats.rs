//! [`Stats`] and [`GenerationStats`]: a collector's running totals.

use std::fmt;

/// The generation a full collection (`collect()`) counts as: the oldest, as in CPython,
/// where `gc.collect()` is `gc.collect(2)`.
pub(crate) const FULL: usize = 2;

/// The figures of one generation's collections, as Python's `gc.get_stats()` gives them per
/// generation.
///
/// # Examples
///
/// ```
/// cyclegc::collect();
/// let oldest = cyclegc::stats().generations[2];
/// assert!(oldest.collections >= 1);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GenerationStats {
    /// Collections of this generation.
    pub collections: u64,
    /// Objects those collections found unreachable and freed.
    pub collected: u64,
    /// Objects those collections found unreachable but kept (see
    /// [`set_save_all`](crate::set_save_all)).
    pub uncollectable: u64,
}

impl GenerationStats {
    const fn new() -> GenerationStats {
        GenerationStats {
            collections: 0,
            collected: 0,
            uncollectable: 0,
        }
    }
}

/// Collector statistics, as returned by [`stats`](crate::stats) (this thread's heap) and
/// [`sync::stats`](crate::sync::stats) (the shared heap): the running totals, and per
/// generation Python's `gc.get_stats()`.
///
/// `Display` prints it as a table.
///
/// # Examples
///
/// ```
/// let before = cyclegc::stats();
/// cyclegc::collect();
/// let after = cyclegc::stats();
/// assert_eq!(after.collections, before.collections + 1);
/// println!("{after}");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Collections run, automatic and explicit.
    pub collections: u64,
    /// Objects reclaimed by those collections.
    pub collected: u64,
    /// Objects examined (traced) by those collections, garbage and survivors alike.
    pub traced: u64,
    /// Collections that caught a `Trace` impl reporting more references to an object than it
    /// has (single-threaded heap: such a collection keeps every object connected to that one
    /// and reclaims the rest as usual), that gave up because `Trace` impls kept panicking (it
    /// frees nothing and leaves its roots in the buffer), or (thread-safe heap) whose claim
    /// another thread's change made it abandon.
    pub aborted: u64,
    /// Per generation, from the youngest (0) to the oldest (2).
    pub generations: [GenerationStats; 3],
}

impl Stats {
    /// All zero, in a `const` context.
    pub(crate) const fn new() -> Stats {
        Stats {
            collections: 0,
            collected: 0,
            traced: 0,
            aborted: 0,
            generations: [GenerationStats::new(); 3],
        }
    }

    /// A collection of `generation` begins.
    pub(crate) fn started(&mut self, generation: usize) {
        self.collections += 1;
        self.generations[generation].collections += 1;
    }

    /// A collection of `generation` judged `traced` objects and found `collected` of them
    /// garbage to free and `uncollectable` garbage to keep.
    pub(crate) fn judged(
        &mut self,
        generation: usize,
        traced: usize,
        collected: usize,
        uncollectable: usize,
    ) {
        self.traced += traced as u64;
        self.collected += collected as u64;
        let figures = &mut self.generations[generation];
        figures.collected += collected as u64;
        figures.uncollectable += uncollectable as u64;
    }
}

impl fmt::Display for Stats {
    /// One line per generation, then the totals.
    ///
    /// # Examples
    ///
    /// ```
    /// let table = cyclegc::stats().to_string();
    /// assert!(table.starts_with("generation  collections  collected  uncollectable\n"));
    /// assert!(table.contains("\ntotal "));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "generation  collections  collected  uncollectable")?;
        for (generation, figures) in self.generations.iter().enumerate() {
            writeln!(
                f,
                "{generation:>10}  {:>11}  {:>9}  {:>13}",
                figures.collections, figures.collected, figures.uncollectable
            )?;
        }
        write!(
            f,
            "total {} collections, {} collected, {} traced, {} aborted",
            self.collections, self.collected, self.traced, self.aborted
        )
    }
}
