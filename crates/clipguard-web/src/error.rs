//! The API's errors: each maps to one status code and a JSON body `{"error": "…"}`.

use crate::auth::AuthError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clipguard_core::stage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0:?}")]
    Auth(AuthError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::NotFound(format!("not found: {m}")),
            other => ApiError::Unavailable(format!("store unavailable: {other}")),
        }
    }
}

impl From<clipguard_registry::RegistryError> for ApiError {
    fn from(e: clipguard_registry::RegistryError) -> Self {
        match e {
            clipguard_registry::RegistryError::NotFound(m) => ApiError::NotFound(m),
            other => ApiError::Unavailable(format!("registry: {other}")),
        }
    }
}

impl From<clipguard_registry::GateError> for ApiError {
    fn from(e: clipguard_registry::GateError) -> Self {
        use clipguard_registry::GateError;
        match e {
            GateError::NothingToRollBack(_) | GateError::MissingOperator(_) => {
                ApiError::Conflict(e.to_string())
            }
            GateError::Registry(e) => e.into(),
            other => ApiError::Unavailable(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::Auth(e) => return e.into_response(),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
        };
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    }
}
