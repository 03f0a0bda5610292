//! ClipGuard's web server: the pages moderators work in and the JSON API, on one port.
//!
//! - `auth/`: who is calling (bearer token or login session) and the role checks; `session.rs`
//!   logs in and out.
//! - `api.rs`: `/api/v1` (its operations are listed once in `openapi.rs`, which also serves the
//!   OpenAPI document); `metrics.rs`: `/metrics` for Prometheus; `/healthz`, `/readyz`.
//! - `pages.rs` + `assets/`: server-rendered pages with a small script for live updates and
//!   keyboard review; every outside string goes through `escape::html` (captions are hostile).
//!
//! Every response carries a strict Content-Security-Policy (no inline script), request bodies
//! are bounded, and no route takes SQL or a file path from the browser.

pub mod api;
pub mod auth;
pub mod crawl_page;
pub mod error;
pub mod escape;
pub mod i18n;
pub mod live;
pub mod media;
pub mod metrics;
pub mod models_page;
pub mod openapi;
pub mod pages;
pub mod pipeline;
pub mod session;
pub mod settings;
pub mod video_page;
pub mod videos;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{MethodRouter, get, post};
use clipguard_core::stage::{
    Accounts, CrawlJobs, MediaStore, Queue, ReviewPolicy, Reviews, Settings, SettingsCheck, Store,
};
use clipguard_registry::{GatePolicy, Registry};
use std::future::Future;
use std::sync::Arc;

/// Settings the handlers read.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub review: ReviewPolicy,
    pub gate: GatePolicy,
    /// How long a login lasts.
    pub session_hours: u64,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// Where registry bundles are fetched to (the models page shows their plots).
    pub bundle_cache: std::path::PathBuf,
    /// Where video thumbnails are cached (made from the media on first request).
    pub thumbnails: std::path::PathBuf,
}

/// What the handlers read from and write to.
#[derive(Clone)]
pub struct WebState {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub accounts: Arc<dyn Accounts>,
    pub reviews: Arc<dyn Reviews>,
    pub registry: Arc<dyn Registry>,
    pub media: Arc<dyn MediaStore>,
    /// Saved rules and thresholds, and the parsers that check them before saving.
    pub saved: Arc<dyn Settings>,
    pub check: Arc<dyn SettingsCheck>,
    /// The crawl jobs in force and their runs (the crawler's view).
    pub crawls: Arc<dyn CrawlJobs>,
    pub settings: Arc<WebSettings>,
    /// Turns true when the server stops: long-lived responses (the event stream) end.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

pub fn router(state: WebState) -> Router {
    let limit = state.settings.max_body_bytes;
    Router::new()
        .route("/", get(pages::monitor))
        .route("/review", get(pages::review))
        .route("/videos", get(videos::page))
        .route("/videos/{id}", get(video_page::video))
        .route("/models", get(models_page::models))
        .route("/pipeline", get(pipeline::page))
        .route("/rules", get(settings::page))
        .route("/crawl", get(crawl_page::page))
        .route("/media/{id}", get(media::media))
        .route("/media/{id}/thumb.jpg", get(media::thumbnail))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/assets/{file}", get(pages::asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .route(
            "/api/v1/openapi.json",
            get(|| async { Json(openapi::document()) }),
        )
        .merge(api_routes())
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// `/api/v1`: one route per operation of [`openapi::ROUTES`].
fn api_routes() -> Router<WebState> {
    openapi::ROUTES.iter().fold(Router::new(), |router, op| {
        router.route(op.path, api_handler(op))
    })
}

/// The handler of a documented operation.
fn api_handler(op: &openapi::Operation) -> MethodRouter<WebState> {
    match (op.method, op.path) {
        ("get", "/api/v1/stats") => get(api::stats),
        ("get", "/api/v1/monitor") => get(live::monitor),
        ("get", "/api/v1/stream") => get(live::stream),
        ("get", "/api/v1/verdicts/latest") => get(api::latest),
        ("get", "/api/v1/videos") => get(videos::list),
        ("get", "/api/v1/videos/{id}") => get(api::video),
        ("post", "/api/v1/videos/{id}/reviews") => post(api::add_review),
        ("get", "/api/v1/reviews/queue") => get(api::review_queue),
        ("post", "/api/v1/reviews/claim") => post(api::claim),
        ("get", "/api/v1/reviews/stats") => get(api::reviewer_stats),
        ("get", "/api/v1/dead-letters") => get(pipeline::dead_letters),
        ("post", "/api/v1/dead-letters/{id}/retry") => post(pipeline::retry_dead),
        ("post", "/api/v1/dead-letters/{id}/discard") => post(pipeline::discard_dead),
        ("get", "/api/v1/events") => get(pipeline::events),
        ("get", "/api/v1/crawl/jobs") => get(crawl_page::jobs),
        ("post", "/api/v1/retrain") => post(pipeline::request_retrain),
        ("get", "/api/v1/settings/{kind}") => get(settings::get),
        ("post", "/api/v1/settings/{kind}") => post(settings::save),
        ("get", "/api/v1/models") => get(api::models),
        ("get", "/api/v1/models/{name}/audit") => get(api::audit),
        ("get", "/api/v1/models/{name}/{version}/plots/{file}") => get(api::plot),
        ("post", "/api/v1/models/{name}/promote") => post(api::promote),
        ("post", "/api/v1/models/{name}/rollback") => post(api::rollback),
        (method, path) => panic!("openapi::ROUTES lists {method} {path} but no handler serves it"),
    }
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: WebState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Ready when the store answers.
async fn readyz(State(s): State<WebState>) -> Response {
    match s.store.verdict_stats().await {
        Ok(_) => "ready".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}")).into_response(),
    }
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; media-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_documented_operation_has_a_handler() {
        // Panics on an operation without a handler, or on two handlers for one method and path.
        let _ = super::api_routes();
        let doc = super::openapi::document();
        let documented: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|ops| ops.as_object().unwrap().len())
            .sum();
        assert_eq!(documented, super::openapi::ROUTES.len());
    }
}
