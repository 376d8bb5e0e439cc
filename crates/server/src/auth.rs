//! Who is calling: a session token from the `hc_session` cookie or an
//! `Authorization: Bearer` header, resolved through the store.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use healthcode_store::{OfficialAccount, PhoneHash, SessionSubject, Store};

use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "hc_session";

/// The session token a request carries, if any.
pub fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("hc_session=").map(str::to_owned))
}

/// A `Set-Cookie` value for a new session.
pub fn session_cookie(token: &str, max_age_seconds: i64) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}")
}

pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// A caller who confirmed a phone number by SMS.
#[derive(Debug, Clone)]
pub struct Citizen {
    pub phone: PhoneHash,
    pub token: String,
}

/// A signed-in official.
#[derive(Debug, Clone)]
pub struct Official {
    pub account: OfficialAccount,
    pub token: String,
}

pub async fn citizen<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<Option<Citizen>, ApiError> {
    let Some(token) = token_of(headers) else {
        return Ok(None);
    };
    Ok(match state.session(&token).await?.map(|s| s.subject) {
        Some(SessionSubject::Phone(phone)) => Some(Citizen { phone, token }),
        _ => None,
    })
}

pub async fn official<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<Option<Official>, ApiError> {
    let Some(token) = token_of(headers) else {
        return Ok(None);
    };
    let Some(SessionSubject::Official(username)) = state.session(&token).await?.map(|s| s.subject)
    else {
        return Ok(None);
    };
    Ok(state
        .store
        .official(&username)
        .await?
        .map(|account| Official { account, token }))
}

impl<S: Store> FromRequestParts<AppState<S>> for Citizen {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
        citizen(state, &parts.headers)
            .await?
            .ok_or_else(ApiError::unauthorized)
    }
}

impl<S: Store> FromRequestParts<AppState<S>> for Official {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
        official(state, &parts.headers)
            .await?
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The client's address (for rate limits): the connection's peer, or
/// loopback when the app runs without connection info (in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        Ok(ClientIp(ip))
    }
}
