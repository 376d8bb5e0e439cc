//! The health-code HTTP server: a thin HTTP layer (`api`, `pages`) over the
//! platform's logic (`service`), generic over the storage backend.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod channels;
pub mod checkpoint;
pub mod checkpoint_page;
pub mod clock;
pub mod config;
pub mod error;
pub mod federation;
pub mod guide;
pub mod i18n;
pub mod itinerary;
pub mod lifecycle;
pub mod openapi_regions;
pub mod oversight;
pub mod pages;
pub mod ratelimit;
pub mod security;
pub mod service;
pub mod sms;
pub mod state;
pub mod venues;

use std::future::Future;
use std::net::SocketAddr;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use healthcode_store::Store;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

pub use clock::{Clock, FixedClock, SystemClock};
pub use config::{Secret, Settings};
pub use error::ApiError;
pub use state::AppState;

/// Requests larger than this are refused (413): forms and JSON are small.
const BODY_LIMIT: usize = 64 * 1024;

/// The whole application.
pub fn router<S: Store>(state: AppState<S>) -> Router {
    let security = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    Router::new()
        .merge(api::routes::<S>())
        .merge(pages::routes::<S>())
        .merge(venues::routes::<S>())
        .merge(lifecycle::routes::routes::<S>())
        .merge(checkpoint::routes::<S>())
        .merge(checkpoint_page::routes::<S>())
        .merge(guide::routes::<S>())
        .merge(channels::routes::<S>())
        .merge(federation::routes::<S>())
        .merge(oversight::routes::<S>())
        .merge(itinerary::routes::<S>())
        .merge(SwaggerUi::new("/docs").url("/docs/openapi.json", api::openapi()))
        .fallback(not_found)
        .layer(axum::Extension(state.offline.clone()))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(security("x-content-type-options", "nosniff"))
        .layer(security("x-frame-options", "DENY"))
        .layer(security("referrer-policy", "no-referrer"))
        .layer(security(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .layer(TraceLayer::new_for_http())
}

async fn not_found() -> impl IntoResponse {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        i18n::Text::new("没有这个地址。", "No such address."),
    )
}

/// Serves until `shutdown` completes, then finishes in-flight requests.
/// In the background (`lifecycle::background`): the shutdown schedule is
/// re-read and due shutdowns executed, and data past its retention is
/// purged every `retention.purge_interval_minutes`.
pub async fn serve<S: Store>(
    listener: tokio::net::TcpListener,
    state: AppState<S>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Services already shut down are offline from the first request.
    if let Err(e) = lifecycle::refresh(&state).await {
        tracing::error!(error = %e, "cannot read the shutdown schedule");
        return Err(std::io::Error::other(format!(
            "cannot read the shutdown schedule: {e}"
        )));
    }
    let job = tokio::spawn(lifecycle::background(state.clone()));
    // Imported trust lists are trusted from the first request on.
    if let Err(e) = state.reload_trust_imports().await {
        tracing::warn!(error = %e.message.en, "loading imported trust lists failed");
    }
    let federation = tokio::spawn(federation::refresh_forever(state.clone()));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    job.abort();
    federation.abort();
    served
}
