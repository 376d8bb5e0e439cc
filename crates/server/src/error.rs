//! One error type for the API: a status, a stable code, the offending field
//! and a message in both languages. Internals are logged, never sent.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use healthcode_store::StoreError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::i18n::Text;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub field: Option<String>,
    pub message: Text,
    pub retry_after: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case.
    pub code: String,
    /// The request field that was wrong, when there is one.
    pub field: Option<String>,
    pub message: Text,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: Text) -> ApiError {
        ApiError {
            status,
            code,
            field: None,
            message,
            retry_after: None,
        }
    }

    pub fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field.to_owned()),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Text::new(zh, en),
            )
        }
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
            Text::new(
                "请先登录或完成短信验证。",
                "Please sign in or confirm your phone first.",
            ),
        )
    }

    pub fn forbidden(zh: &str, en: &str) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", Text::new(zh, en))
    }

    pub fn not_found(what_zh: &str, what_en: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            Text::new(
                format!("未找到{what_zh}。"),
                format!("{what_en} not found."),
            ),
        )
    }

    pub fn conflict(zh: &str, en: &str) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", Text::new(zh, en))
    }

    pub fn too_many(retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                Text::new(
                    format!("请求过于频繁，请 {retry_after} 秒后再试。"),
                    format!("Too many requests; try again in {retry_after} s."),
                ),
            )
        }
    }

    /// A server-side failure: logged in full, reported without detail.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            Text::new(
                "服务器内部错误，请稍后再试。",
                "Internal error; please try again later.",
            ),
        )
    }

    pub fn with_field(mut self, field: &str) -> ApiError {
        self.field = Some(field.to_owned());
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict(what) => ApiError::conflict(
                &format!("{what} 已存在。"),
                &format!("{what} already exists."),
            ),
            StoreError::NotFound(what) => ApiError::not_found(what, what),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                field: self.field,
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

/// The JSON path named at the start of a serde error ("name: invalid type").
fn field_of(message: &str) -> Option<String> {
    let (path, _) = message.split_once(": ")?;
    let path = path.trim();
    (!path.is_empty() && !path.contains(' ')).then(|| path.to_owned())
}

/// `Json<T>` whose rejections are [`ApiError`]s naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let detail = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => {
            // "Failed to deserialize the JSON body into the target type: field: why"
            let inner = detail
                .split_once("target type: ")
                .map_or(detail.as_str(), |(_, rest)| rest)
                .to_owned();
            ApiError {
                field: field_of(&inner),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    Text::new(
                        format!("请求内容有误：{inner}"),
                        format!("Invalid request: {inner}"),
                    ),
                )
            }
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_json",
            Text::new(
                "请求须为 JSON（Content-Type: application/json）。",
                "The request must be JSON (Content-Type: application/json).",
            ),
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            Text::new(
                format!("JSON 格式错误：{detail}"),
                format!("Malformed JSON: {detail}"),
            ),
        ),
    }
}

/// `Query<T>` whose rejections are [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    let detail = rejection.body_text();
    let inner = detail
        .split_once("string: ")
        .map_or(detail.as_str(), |(_, rest)| rest)
        .to_owned();
    ApiError {
        field: field_of(&inner),
        ..ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            Text::new(
                format!("查询参数有误：{inner}"),
                format!("Invalid query: {inner}"),
            ),
        )
    }
}
