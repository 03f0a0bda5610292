//! The JSON API under `/api/v1`. Reading needs the viewer role, deciding reviews the reviewer
//! role, moving models the admin role; every handler says which by calling `require`.

use crate::WebState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clipguard_core::Category;
use clipguard_core::stage::{NewReview, Role};
use clipguard_registry::{Registry, gate};
use serde::Deserialize;

pub async fn stats(State(s): State<WebState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let queue = s
        .queue
        .stats()
        .await
        .map_err(|e| ApiError::Unavailable(format!("queue unavailable: {e}")))?;
    let verdicts = s.store.verdict_stats().await?;
    Ok(Json(serde_json::json!({ "queue": queue, "verdicts": verdicts })).into_response())
}

/// `?limit=` of list endpoints.
#[derive(Deserialize)]
pub struct LimitQuery {
    pub limit: Option<u32>,
}

impl LimitQuery {
    /// The asked limit, `default` when absent, never above `max`.
    pub fn get(&self, default: u32, max: u32) -> u32 {
        self.limit.unwrap_or(default).min(max)
    }
}

/// The video, or a 404 naming it.
pub async fn video_or_404(s: &WebState, id: &str) -> Result<clipguard_core::Video, ApiError> {
    s.store
        .get_video(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no video `{id}`")))
}

pub async fn latest(
    State(s): State<WebState>,
    caller: Caller,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let rows = s.store.latest_verdicts(q.get(50, 500)).await?;
    Ok(Json(rows).into_response())
}

pub async fn video(
    State(s): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let video = video_or_404(&s, &id).await?;
    let verdict = s.store.latest_verdict(&id).await?;
    let reviews = s.reviews.reviews_of(&id).await?;
    Ok(
        Json(serde_json::json!({ "video": video, "verdict": verdict, "reviews": reviews }))
            .into_response(),
    )
}

pub async fn review_queue(
    State(s): State<WebState>,
    caller: Caller,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let items = s
        .reviews
        .review_queue(&s.settings.review, q.get(50, 500))
        .await?;
    Ok(Json(items).into_response())
}

/// Claims the next item for the caller (204 when the queue is empty).
pub async fn claim(State(s): State<WebState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Reviewer)?;
    match s
        .reviews
        .claim_next(&s.settings.review, &caller.principal.name)
        .await?
    {
        Some(item) => Ok(Json(item).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

#[derive(Debug, Deserialize)]
pub struct ReviewBody {
    /// `harmful` or `safe`.
    pub decision: String,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub note: String,
}

/// The longest note kept (the body limit bounds the request; this bounds what is stored).
const MAX_NOTE_CHARS: usize = 2000;

pub async fn add_review(
    State(s): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<ReviewBody>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reviewer)?;
    let harmful = match body.decision.as_str() {
        "harmful" => true,
        "safe" => false,
        other => {
            return Err(ApiError::BadRequest(format!(
                "decision `{other}`: expected `harmful` or `safe`"
            )));
        }
    };
    if !harmful && !body.categories.is_empty() {
        return Err(ApiError::BadRequest(
            "a `safe` decision cannot name harm categories".into(),
        ));
    }
    if body.note.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::BadRequest(format!(
            "note longer than {MAX_NOTE_CHARS} characters"
        )));
    }
    let id = s
        .reviews
        .add_review(&NewReview {
            video_id: id,
            reviewer: caller.principal.name.clone(),
            harmful,
            categories: body.categories,
            note: body.note,
        })
        .await?;
    let _ = s
        .store
        .log_event(
            "review",
            "info",
            &format!("review #{id} by {}", caller.principal.name),
            serde_json::json!({ "review": id }),
        )
        .await;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response())
}

pub async fn reviewer_stats(
    State(s): State<WebState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let rows: Vec<serde_json::Value> = s
        .reviews
        .reviewer_stats()
        .await?
        .into_iter()
        .map(|(reviewer, reviews, harmful)| {
            serde_json::json!({ "reviewer": reviewer, "reviews": reviews, "harmful": harmful })
        })
        .collect();
    Ok(Json(rows).into_response())
}

/// Every registered model's versions, with aliases and metrics.
pub async fn models(State(s): State<WebState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let mut out = serde_json::Map::new();
    for name in s.registry.list_models().await? {
        let versions = s.registry.list_versions(&name).await?;
        out.insert(name, serde_json::to_value(versions).unwrap_or_default());
    }
    Ok(Json(out).into_response())
}

pub async fn audit(
    State(s): State<WebState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(s.registry.audit_log(Some(&name)).await?).into_response())
}

#[derive(Debug, Deserialize)]
pub struct PromoteBody {
    pub version: String,
    /// Past the gate's rules, audited with this reason.
    #[serde(default)]
    pub force_reason: Option<String>,
}

pub async fn promote(
    State(s): State<WebState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<PromoteBody>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let registry: &dyn Registry = s.registry.as_ref();
    let decision = match &body.force_reason {
        Some(reason) => {
            gate::force(
                registry,
                &name,
                &body.version,
                &caller.principal.name,
                reason,
            )
            .await?
        }
        None => gate::promote(registry, &name, &body.version, &s.settings.gate).await?,
    };
    Ok(Json(decision).into_response())
}

pub async fn rollback(
    State(s): State<WebState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let decision = gate::rollback(s.registry.as_ref(), &name, &caller.principal.name).await?;
    Ok(Json(decision).into_response())
}

/// The plots a model bundle carries (`pr_curve.svg`, `confusion.svg`), for the models page.
pub async fn plot(
    State(s): State<WebState>,
    caller: Caller,
    Path((name, version, file)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    if !PLOTS.contains(&file.as_str()) {
        return Err(ApiError::NotFound(format!("no plot `{file}`")));
    }
    let v = s.registry.get_version(&name, &version).await?;
    if !v.manifest.files.contains(&file) {
        return Err(ApiError::NotFound(format!(
            "{name} v{version} has no {file}"
        )));
    }
    let dir = s
        .registry
        .fetch(&name, &version, &s.settings.bundle_cache)
        .await?;
    let svg = tokio::fs::read(dir.join(&file))
        .await
        .map_err(|e| ApiError::Unavailable(format!("{file}: {e}")))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/svg+xml"),
            (axum::http::header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        svg,
    )
        .into_response())
}

/// Plot files a bundle may carry.
pub const PLOTS: [&str; 2] = ["pr_curve.svg", "confusion.svg"];
