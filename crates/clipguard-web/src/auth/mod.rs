//! Who is calling and what they may do.
//!
//! Two ways in: `Authorization: Bearer <token>` (API clients; `clipguard users token NAME`
//! makes one) and the `cg_session` cookie set by the login form (browsers). [`Caller`] is the
//! extractor every protected handler takes: it answers 401 when neither is valid, and
//! [`Caller::require`] answers 403 when the role is too low. A cookie is ambient — the browser
//! sends it to forged requests too — so a cookie-authenticated *mutating* request must also
//! carry the session's CSRF token in the `X-CSRF-Token` header (pages send mutations with
//! fetch()); a bearer token is never ambient and needs none. Login is the only form post.

pub mod secret;

use crate::WebState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clipguard_core::stage::{Principal, Role};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cg_session";
/// The header a cookie-authenticated mutating request repeats its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The session's CSRF token (cookie logins only), for pages to embed.
    pub csrf: Option<String>,
    /// The language pages are shown in.
    pub lang: crate::i18n::Lang,
}

#[derive(Debug)]
pub enum AuthError {
    /// No valid token or session.
    Unauthenticated,
    /// Authenticated, but the role is too low (or the CSRF token is missing).
    Forbidden(String),
    Unavailable(String),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AuthError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "authentication required: a bearer token or a login session".to_string(),
            ),
            AuthError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            AuthError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
        };
        let mut response =
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl Caller {
    /// 403 unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), AuthError> {
        if self.principal.role >= role {
            Ok(())
        } else {
            Err(AuthError::Forbidden(format!(
                "`{}` is a {}; this needs the {role} role",
                self.principal.name, self.principal.role
            )))
        }
    }
}

/// The value of one cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<WebState> for Caller {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let unavailable = |e: clipguard_core::stage::StoreError| {
            AuthError::Unavailable(format!("accounts unavailable: {e}"))
        };
        if let Some(token) = bearer(&parts.headers) {
            let principal = state
                .accounts
                .token_principal(&secret::digest(token))
                .await
                .map_err(unavailable)?
                .ok_or(AuthError::Unauthenticated)?;
            return Ok(Caller {
                principal,
                csrf: None,
                lang: crate::i18n::Lang::from_headers(&parts.headers),
            });
        }
        let id = cookie(&parts.headers, SESSION_COOKIE).ok_or(AuthError::Unauthenticated)?;
        let session = state
            .accounts
            .session(&secret::digest(id))
            .await
            .map_err(unavailable)?
            .ok_or(AuthError::Unauthenticated)?;
        if is_mutating(&parts.method) {
            // Pages send mutations with fetch() and this header (read from their <meta>); a
            // forged cross-site form cannot set it.
            let header_ok = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| secret::same(v, &session.csrf));
            if !header_ok {
                return Err(AuthError::Forbidden(
                    "missing or wrong CSRF token (X-CSRF-Token)".into(),
                ));
            }
        }
        Ok(Caller {
            principal: session.principal,
            csrf: Some(session.csrf),
            lang: crate::i18n::Lang::from_headers(&parts.headers),
        })
    }
}
