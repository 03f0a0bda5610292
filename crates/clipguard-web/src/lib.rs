//! ClipGuard's web server. Today: the minimal live page of `clipguard run` (counts and the latest
//! verdicts) and a small JSON API; the full dashboard is #5.
//!
//! Everything shown comes from outside (captions are hostile input) and goes through
//! [`escape::html`]; the server is read-only, so it has nothing to protect with tokens yet.

pub mod escape;
pub mod pages;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use clipguard_core::stage::{Queue, Store};
use std::future::Future;
use std::sync::Arc;

/// What the handlers read from.
#[derive(Clone)]
pub struct WebState {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
}

pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/verdicts/latest", get(latest))
        .with_state(state)
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

fn internal(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("store unavailable: {e}"),
    )
        .into_response()
}

async fn stats(State(s): State<WebState>) -> Response {
    let queue = match s.queue.stats().await {
        Ok(q) => q,
        Err(e) => return internal(e),
    };
    match s.store.verdict_stats().await {
        Ok(v) => Json(serde_json::json!({ "queue": queue, "verdicts": v })).into_response(),
        Err(e) => internal(e),
    }
}

#[derive(serde::Deserialize)]
struct LatestQuery {
    limit: Option<u32>,
}

async fn latest(State(s): State<WebState>, Query(q): Query<LatestQuery>) -> Response {
    match s
        .store
        .latest_verdicts(q.limit.unwrap_or(50).min(500))
        .await
    {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => internal(e),
    }
}

async fn index(State(s): State<WebState>) -> Response {
    let (queue, verdicts, latest) = match (
        s.queue.stats().await,
        s.store.verdict_stats().await,
        s.store.latest_verdicts(50).await,
    ) {
        (Ok(q), Ok(v), Ok(l)) => (q, v, l),
        (Err(e), _, _) => return internal(e),
        (_, Err(e), _) | (_, _, Err(e)) => return internal(e),
    };
    Html(pages::index(&queue, &verdicts, &latest)).into_response()
}
