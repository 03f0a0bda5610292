//! Login and logout for the pages: a form post checks the password (argon2) and sets the
//! `cg_session` cookie (HttpOnly, SameSite=Strict, Secure); the session row keeps the digest
//! of the cookie and the CSRF token the pages echo in `X-CSRF-Token`.

use crate::WebState;
use crate::auth::{AuthError, Caller, SESSION_COOKIE, cookie, secret};
use crate::i18n::Lang;
use crate::pages;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
}

pub async fn login_page(headers: HeaderMap) -> Html<String> {
    Html(pages::login(Lang::from_headers(&headers), None))
}

pub async fn login(
    State(s): State<WebState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let user = match s.accounts.user(form.name.trim()).await {
        Ok(user) => user,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("accounts unavailable: {e}"),
            )
                .into_response();
        }
    };
    let valid = user
        .as_ref()
        .is_some_and(|(hash, _)| secret::verify_password(&form.password, hash));
    if !valid {
        // One message for an unknown name and a wrong password: no user enumeration.
        return (
            StatusCode::UNAUTHORIZED,
            Html(pages::login(
                Lang::from_headers(&headers),
                Some("Wrong name or password."),
            )),
        )
            .into_response();
    }
    let id = secret::random_token();
    let csrf = secret::random_token();
    let hours = s.settings.session_hours;
    let expires = chrono::Utc::now() + chrono::Duration::hours(hours as i64);
    if let Err(e) = s
        .accounts
        .add_session(&secret::digest(&id), form.name.trim(), &csrf, expires)
        .await
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("accounts unavailable: {e}"),
        )
            .into_response();
    }
    let cookie = format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age={}",
        hours * 3600
    );
    let mut response = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

pub async fn logout(
    State(s): State<WebState>,
    caller: Result<Caller, AuthError>,
    headers: HeaderMap,
) -> Response {
    if let (Ok(_), Some(id)) = (&caller, cookie(&headers, SESSION_COOKIE)) {
        let _ = s.accounts.delete_session(&secret::digest(id)).await;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "cg_session=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0",
        ),
    );
    response
}
