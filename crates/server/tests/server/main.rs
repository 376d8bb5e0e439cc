//! The real server on a loopback port, with a real SQLite database, driven
//! over HTTP: the citizen flow, officials, errors, the API document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod checkpoint;
mod citizen;
mod errors;
mod federation;
mod guide;
mod itinerary;
mod lifecycle;
mod officials;
mod oversight;
mod venues;
