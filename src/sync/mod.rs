//! The thread-safe flavour, being built: so far its header (the state word, the weak count,
//! the vtable, the scan slot), which the shared algorithm already judges, and the loom models
//! of its protocol (ARCHITECTURE.md, "The thread-safe flavour").

mod header;
mod state;
