//! The OpenAPI 3.0 document served at `/api/v1/openapi.json`. [`ROUTES`] is the one list of the
//! API's operations (path, method, role, summary): the router is built from it (`lib.rs`
//! `api_handler`, so an operation cannot be served without being documented), the document is
//! generated from it, and the API tests walk it to prove every mutating operation refuses
//! callers without the right role.

use serde_json::{Value, json};

/// One API operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub path: &'static str,
    pub method: &'static str,
    /// The least role allowed.
    pub role: &'static str,
    pub summary: &'static str,
    /// A JSON request body example (mutating operations).
    pub body: Option<&'static str>,
}

#[rustfmt::skip]
pub const ROUTES: &[Operation] = &[
    op("/api/v1/stats", "get", "viewer", "Counts: videos, verdicts by outcome, queue depth, dead letters", None),
    op("/api/v1/monitor", "get", "viewer", "Counts, queue and the monitor (volume per minute, latency, score histogram, categories, agreement) over ?minutes=", None),
    op("/api/v1/stream", "get", "viewer", "The same as /api/v1/monitor as Server-Sent Events (`stats`), every 2 s", None),
    op("/api/v1/verdicts/latest", "get", "viewer", "The latest verdicts (?limit=, at most 500)", None),
    op("/api/v1/videos", "get", "viewer", "Videos by filters (verdict, category, min_score, max_score, source, since, until, model, q full-text, limit, offset); format=csv exports", None),
    op("/api/v1/videos/{id}", "get", "viewer", "A video with its latest verdict and its reviews", None),
    op("/api/v1/videos/{id}/reviews", "post", "reviewer", "Decide a video: harmful or safe, categories, note (a later decision overturns an earlier one)", Some(r#"{"decision":"harmful","categories":["violence"],"note":""}"#)),
    op("/api/v1/reviews/queue", "get", "viewer", "Unreviewed uncertain verdicts and the audit sample, most uncertain first", None),
    op("/api/v1/reviews/claim", "post", "reviewer", "Claim the next review item (204 when the queue is empty)", Some("{}")),
    op("/api/v1/reviews/stats", "get", "viewer", "Reviews per reviewer", None),
    op("/api/v1/dead-letters", "get", "viewer", "Messages that exhausted their attempts", None),
    op("/api/v1/dead-letters/{id}/retry", "post", "admin", "Put a dead letter back in the queue with fresh attempts", Some("{}")),
    op("/api/v1/dead-letters/{id}/discard", "post", "admin", "Drop a dead letter", Some("{}")),
    op("/api/v1/events", "get", "viewer", "The system events log, newest first", None),
    op("/api/v1/crawl/jobs", "get", "viewer", "Crawl jobs in force (config file and dashboard): targets, schedule, last and next run, recent results. Change the dashboard's with POST /api/v1/settings/crawl_jobs", None),
    op("/api/v1/retrain", "post", "admin", "Ask run's schedule for a retraining at its next check", Some("{}")),
    op("/api/v1/settings/{kind}", "get", "viewer", "Rules, thresholds or dashboard crawl jobs in force (kind: rules, thresholds, crawl_jobs) and their saved versions", None),
    op("/api/v1/settings/{kind}", "post", "admin", "Check and save a new version of the rules (TOML), thresholds (JSON) or crawl jobs (TOML); workers and the crawler pick it up", Some(r#"{"body":"{\"threshold\":0.5,\"category_thresholds\":{}}","note":"why"}"#)),
    op("/api/v1/models", "get", "viewer", "Registered models: versions, aliases, metrics", None),
    op("/api/v1/models/{name}/audit", "get", "viewer", "The promotion gate's decisions for a model", None),
    op("/api/v1/models/{name}/{version}/plots/{file}", "get", "viewer", "A version's PR curve or confusion matrix (pr_curve.svg, confusion.svg)", None),
    op("/api/v1/models/{name}/promote", "post", "admin", "Run the promotion gate on a version (or force it with a reason)", Some(r#"{"version":"1"}"#)),
    op("/api/v1/models/{name}/rollback", "post", "admin", "Put the previous champion back", Some("{}")),
];

const fn op(
    path: &'static str,
    method: &'static str,
    role: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
) -> Operation {
    Operation {
        path,
        method,
        role,
        summary,
        body,
    }
}

pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for o in ROUTES {
        let entry = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        let mut operation = json!({
            "summary": o.summary,
            "description": format!("Needs the `{}` role.", o.role),
            "security": [{ "bearer": [] }, { "session": [] }],
            "responses": {
                "200": { "description": "OK", "content": { "application/json": { "schema": {} } } },
                "401": { "description": "No valid token or session" },
                "403": { "description": "The role is too low, or the CSRF token is missing" }
            }
        });
        let params: Vec<Value> = o
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        if !params.is_empty() {
            operation["parameters"] = Value::Array(params);
        }
        if let Some(example) = o.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": { "application/json": {
                    "schema": { "type": "object" },
                    "example": serde_json::from_str::<Value>(example).unwrap_or(Value::Null)
                } }
            });
        }
        entry[o.method] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": { "title": "ClipGuard API", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": { "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer" },
            "session": { "type": "apiKey", "in": "cookie", "name": "cg_session" }
        } }
    })
}
