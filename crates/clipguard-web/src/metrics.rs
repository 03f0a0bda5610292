//! `/metrics` in the Prometheus text format: the store's and the queue's counters.

use crate::WebState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

pub async fn metrics(State(s): State<WebState>) -> Response {
    let (v, q) = match (s.store.verdict_stats().await, s.queue.stats().await) {
        (Ok(v), Ok(q)) => (v, q),
        _ => return (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response(),
    };
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge("clipguard_videos", "Videos ingested.", v.videos);
    gauge("clipguard_processed", "Videos with a verdict.", v.processed);
    gauge(
        "clipguard_harmful",
        "Latest verdicts that are harmful.",
        v.harmful,
    );
    gauge("clipguard_safe", "Latest verdicts that are safe.", v.safe);
    gauge("clipguard_failed", "Latest verdicts that failed.", v.failed);
    gauge("clipguard_queue_depth", "Messages waiting.", q.depth);
    gauge(
        "clipguard_queue_in_flight",
        "Messages being processed.",
        q.in_flight,
    );
    gauge(
        "clipguard_dead_letters",
        "Messages that exhausted their attempts.",
        q.dead_letters,
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
