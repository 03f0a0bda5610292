//! The monitor's numbers: `/api/v1/monitor` once, `/api/v1/stream` as Server-Sent Events every
//! two seconds (the monitor page listens, so counts and charts move without a reload). The
//! stream ends when the server stops, so a graceful shutdown never waits on an open page.

use crate::WebState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use clipguard_core::monitor::summarize;
use clipguard_core::stage::Role;
use futures::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;

/// Verdicts the monitor reads at most.
const MAX_POINTS: u32 = 20_000;
/// The harmful-category threshold the per-category counts use.
const CATEGORY_THRESHOLD: f32 = 0.5;

#[derive(Deserialize)]
pub struct WindowQuery {
    minutes: Option<u32>,
}

/// Counts, queue and the monitor over the last `minutes` (1..=1440).
pub async fn snapshot(s: &WebState, minutes: u32) -> Result<serde_json::Value, ApiError> {
    let minutes = minutes.clamp(1, 24 * 60);
    let now = chrono::Utc::now();
    let since = now - chrono::Duration::minutes(minutes as i64);
    let points = s.store.verdict_points(since, MAX_POINTS).await?;
    let queue = s
        .queue
        .stats()
        .await
        .map_err(|e| ApiError::Unavailable(format!("queue unavailable: {e}")))?;
    Ok(serde_json::json!({
        "verdicts": s.store.verdict_stats().await?,
        "queue": queue,
        "monitor": summarize(&points, now, minutes, CATEGORY_THRESHOLD),
    }))
}

pub async fn monitor(
    State(s): State<WebState>,
    caller: Caller,
    Query(q): Query<WindowQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(snapshot(&s, q.minutes.unwrap_or(60)).await?).into_response())
}

pub async fn stream(
    State(s): State<WebState>,
    caller: Caller,
    Query(q): Query<WindowQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(Role::Viewer)?;
    let minutes = q.minutes.unwrap_or(60);
    let events = futures::stream::unfold((s, true), move |(s, first)| async move {
        if !first {
            let mut stopping = s.stopping.clone();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = stopping.wait_for(|stop| *stop) => return None,
            }
        }
        if *s.stopping.borrow() {
            return None;
        }
        let data = match snapshot(&s, minutes).await {
            Ok(v) => v,
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        let event = Event::default().event("stats").data(data.to_string());
        Some((Ok(event), (s, false)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
