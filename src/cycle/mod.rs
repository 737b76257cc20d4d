//! The machinery both flavours share, with no thread-locals and no policy: what a header
//! must offer ([`Object`]) and the per-type [`VTable`], the one path that drops a value
//! ([`drop_value`]), the [`Phase`] word, the trial-deletion algorithm ([`Scan`]), and the
//! statistics ([`Stats`]). Each flavour's module (`unsync`) adds its header, its handles, its
//! release loop and a `Collector` that owns the root buffer, the trigger policy and the
//! settings, and runs the algorithm.

pub(crate) mod boxed;
mod generations;
mod object;
pub(crate) mod phase;
pub(crate) mod registry;
mod scan;
pub(crate) mod slice;
mod stats;

pub(crate) use generations::generation_due;
pub(crate) use object::{
    drop_value, Flavour, GcBox, Object, VTable, VTableFor, BUFFERED, DEAD, DROPPED, IN_BUFFER,
    UNTRACKED, WITHDRAWN,
};
pub(crate) use phase::Phase;
pub(crate) use scan::{Context, Examined, Scan};
pub(crate) use stats::FULL;
pub use stats::{GenerationStats, Stats};
