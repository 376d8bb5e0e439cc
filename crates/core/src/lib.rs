//! Pure domain of the health-code platform.
//!
//! Nothing here performs I/O, reads the clock or draws randomness: time and
//! randomness are parameters, so every function is deterministic and testable.
#![forbid(unsafe_code)]

pub mod certlogic;
pub mod colour;
pub mod mask;

pub use colour::{CodeKind, Colour};
