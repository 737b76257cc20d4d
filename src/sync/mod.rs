//! The thread-safe flavour, being built: so far the state word of its header and the loom
//! models of its protocol (ARCHITECTURE.md, "The thread-safe flavour").

mod state;
