//! Pipeline control: dead letters (retry puts a video back in the queue with fresh attempts,
//! discard drops it), the system events log, and asking for a retraining — the page `/pipeline`
//! and its API. Crawl jobs have their own page (`crawl_page.rs`); their runs are events here.

use crate::WebState;
use crate::api::LimitQuery;
use crate::auth::{AuthError, Caller};
use crate::error::ApiError;
use crate::escape::{html, time, url_segment};
use crate::pages::{shell, signed_in};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use clipguard_core::stage::Role;
use std::fmt::Write;

use clipguard_core::stats::event_kinds::RETRAIN_REQUEST;

fn queue_error(e: clipguard_core::stage::QueueError) -> ApiError {
    ApiError::Unavailable(format!("queue unavailable: {e}"))
}

pub async fn dead_letters(
    State(s): State<WebState>,
    caller: Caller,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let rows = s
        .queue
        .dead_letters(q.get(100, 1000))
        .await
        .map_err(queue_error)?;
    Ok(Json(rows).into_response())
}

async fn act_on_dead(
    s: &WebState,
    caller: &Caller,
    id: &str,
    retry: bool,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let done = if retry {
        s.queue.requeue_dead(id).await
    } else {
        s.queue.discard_dead(id).await
    }
    .map_err(queue_error)?;
    if !done {
        return Err(ApiError::NotFound(format!(
            "no dead letter `{id}` (or its video is queued again)"
        )));
    }
    let action = if retry { "requeued" } else { "discarded" };
    let _ = s
        .store
        .log_event(
            "queue",
            "info",
            &format!("dead letter {id} {action} by {}", caller.principal.name),
            serde_json::json!({ "dead_letter": id }),
        )
        .await;
    Ok(Json(serde_json::json!({ action: true })).into_response())
}

pub async fn retry_dead(
    State(s): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    act_on_dead(&s, &caller, &id, true).await
}

pub async fn discard_dead(
    State(s): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    act_on_dead(&s, &caller, &id, false).await
}

pub async fn events(
    State(s): State<WebState>,
    caller: Caller,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(s.store.events(None, q.get(100, 1000)).await?).into_response())
}

/// Asks `run`'s schedule for a retraining at its next check.
pub async fn request_retrain(
    State(s): State<WebState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    s.store
        .log_event(
            RETRAIN_REQUEST,
            "info",
            &format!("retraining requested by {}", caller.principal.name),
            serde_json::json!({ "by": caller.principal.name }),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "requested": true })),
    )
        .into_response())
}

pub async fn page(State(s): State<WebState>, caller: Result<Caller, AuthError>) -> Response {
    let caller = match signed_in(caller, Role::Viewer) {
        Ok(c) => c,
        Err(denied) => return denied.into_response(),
    };
    let (queue, dead, events) = match (
        s.queue.stats().await,
        s.queue.dead_letters(200).await,
        s.store.events(None, 100).await,
    ) {
        (Ok(q), Ok(d), Ok(e)) => (q, d, e),
        _ => return (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response(),
    };
    let admin = caller.require(Role::Admin).is_ok();
    let mut p = crate::pages::heading(&caller, "Pipeline");
    let _ = write!(
        p,
        "<p>queue: <b>{}</b> waiting ({} in flight), oldest {} · <b id=\"dead-count\">{}</b> dead letters</p>",
        queue.depth,
        queue.in_flight,
        queue
            .lag_secs
            .map(|s| format!("{s:.0} s ago"))
            .unwrap_or_else(|| "—".into()),
        queue.dead_letters
    );
    p.push_str("<h2>Dead letters</h2><table id=\"dead-letters\"><tr><th>video</th><th>attempts</th><th>last error</th><th></th></tr>");
    for d in &dead {
        let actions = if admin {
            format!(
                "<button type=\"button\" class=\"retry\" data-id=\"{}\">Retry</button> <button type=\"button\" class=\"discard\" data-id=\"{}\">Discard</button>",
                html(&d.id),
                html(&d.id)
            )
        } else {
            String::new()
        };
        let _ = write!(
            p,
            "<tr id=\"dead-{}\"><td><a href=\"/videos/{}\">{}</a></td><td>{}</td><td>{}</td><td>{actions}</td></tr>",
            html(&d.id),
            url_segment(&d.key),
            html(&d.key),
            d.attempts,
            html(d.last_error.as_deref().unwrap_or("")),
        );
    }
    p.push_str("</table><h2>Events</h2><table id=\"events\"><tr><th>time (UTC)</th><th>kind</th><th>level</th><th>message</th></tr>");
    for e in &events {
        let _ = write!(
            p,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            time(&e.created_at),
            html(&e.kind),
            if e.level == "error" { "failed" } else { "" },
            html(&e.level),
            html(&e.message)
        );
    }
    p.push_str("</table>");
    Html(shell("Pipeline", &caller, &p, Some("pipeline.js"))).into_response()
}
