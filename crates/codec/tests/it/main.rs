//! Integration tests of the codec: one binary, several modules (linking
//! dominates build time on small machines).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod checkpoint_vectors;
mod dcc_vectors;
mod fuzz_regressions;
mod json_equiv;
mod our_codes;
mod trust_lists;
