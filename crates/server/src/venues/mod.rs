//! Venue codes (场所码): registration, the signed venue QR and its poster,
//! check-ins (open or sealed), dependents, batch ingestion, and contact
//! tracing from a confirmed case. See `docs/checkins.md`.

mod api;
pub mod logic;
mod pages;
pub mod poster;

use axum::http::{header, HeaderMap};
use axum::Router;
use healthcode_store::Store;
use time::{OffsetDateTime, UtcOffset};

use crate::state::AppState;

pub use api::VenueApi;

/// The venue routes (API and pages), merged into the app by `lib.rs`.
pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .merge(api::routes::<S>())
        .merge(pages::routes::<S>())
}

/// China Standard Time, in which pages show times.
const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// A time as shown on pages: `2026-11-22 16:00` (UTC+8).
pub(crate) fn hm(t: OffsetDateTime) -> String {
    let t = t.to_offset(CST);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// A time in RFC 3339 (UTC), as the API gives times.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The absolute base URL of this server as the client reached it (for
/// the URL in a venue QR): `http://host`. Only a well-formed Host header is
/// used; otherwise loopback.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}
