//! The integration tests of `healthcode-core`, as one binary (link time
//! dominates on small machines).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod certlogic_conformance;
