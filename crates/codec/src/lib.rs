//! The health-code wire format.
#![forbid(unsafe_code)]
