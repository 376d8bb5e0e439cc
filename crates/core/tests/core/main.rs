//! The integration tests of `healthcode-core`, as one binary (link time
//! dominates on small machines). Tests read fixtures from disk, which the
//! library itself never does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod audit;
mod certlogic_conformance;
mod colour_rules;
mod fuzz;
mod identity;
mod support;
mod tracing;
