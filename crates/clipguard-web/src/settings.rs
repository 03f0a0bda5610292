//! Rules and thresholds: `/rules` (page) and `/api/v1/settings/{rules|thresholds}`. Reading
//! needs the viewer role, saving the admin role; a save is checked with the worker's own
//! parsers first (a bad rule file is refused with the reason, never half-applied), stored as a
//! new version with its author and note, and running workers swap it in within seconds.

use crate::WebState;
use crate::auth::{AuthError, Caller};
use crate::error::ApiError;
use crate::escape::{html, time};
use crate::pages::{shell, signed_in};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use clipguard_core::stage::Role;
use clipguard_core::stage::settings::kinds;
use serde::Deserialize;
use std::fmt::Write;

fn known(kind: &str) -> Result<(), ApiError> {
    if kinds::ALL.contains(&kind) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "no setting `{kind}` (rules, thresholds, crawl_jobs)"
        )))
    }
}

/// The text in force: the latest saved version, else what the config gives.
async fn current(s: &WebState, kind: &str) -> Result<(String, Option<i64>), ApiError> {
    match s.saved.latest_setting(kind).await? {
        Some(v) => Ok((v.body, Some(v.id))),
        None => Ok((s.check.initial(kind).map_err(ApiError::Unavailable)?, None)),
    }
}

pub async fn get(
    State(s): State<WebState>,
    caller: Caller,
    Path(kind): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    known(&kind)?;
    let (body, id) = current(&s, &kind).await?;
    let history = s.saved.setting_history(&kind, 50).await?;
    Ok(
        Json(serde_json::json!({ "kind": kind, "id": id, "body": body, "history": history }))
            .into_response(),
    )
}

#[derive(Debug, Deserialize)]
pub struct SaveBody {
    pub body: String,
    #[serde(default)]
    pub note: String,
}

pub async fn save(
    State(s): State<WebState>,
    caller: Caller,
    Path(kind): Path<String>,
    Json(req): Json<SaveBody>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    known(&kind)?;
    let summary = s
        .check
        .check(&kind, &req.body)
        .map_err(|e| ApiError::BadRequest(format!("{kind} refused: {e}")))?;
    let note: String = req.note.chars().take(500).collect();
    let id = s
        .saved
        .put_setting(&kind, &req.body, &caller.principal.name, &note)
        .await?;
    let _ = s
        .store
        .log_event(
            "settings",
            "info",
            &format!("{kind} #{id} saved by {}: {summary}", caller.principal.name),
            serde_json::json!({ "kind": kind, "id": id }),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": id, "summary": summary })),
    )
        .into_response())
}

pub async fn page(State(s): State<WebState>, caller: Result<Caller, AuthError>) -> Response {
    let caller = match signed_in(caller, Role::Viewer) {
        Ok(c) => c,
        Err(denied) => return denied.into_response(),
    };
    let admin = caller.require(Role::Admin).is_ok();
    let mut p = crate::pages::heading(&caller, "Rules and thresholds");
    for (kind, title, rows) in [
        (kinds::THRESHOLDS, "Thresholds (JSON)", 12),
        (
            kinds::RULES,
            "Keyword rules (TOML, the format of config/rules.toml)",
            24,
        ),
    ] {
        match editor(&s, admin, kind, title, rows).await {
            Ok(html) => p.push_str(&html),
            Err(e) => return e.into_response(),
        }
    }
    Html(shell("Rules", &caller, &p, Some("settings.js"))).into_response()
}

/// A saved setting's editor: the text in force (read-only for non-admins), a note and a
/// "Check and save" button for admins (`assets/settings.js`), and its version history.
pub(crate) async fn editor(
    s: &WebState,
    admin: bool,
    kind: &str,
    title: &str,
    rows: usize,
) -> Result<String, ApiError> {
    let (body, id) = current(s, kind).await?;
    let history = s.saved.setting_history(kind, 20).await.unwrap_or_default();
    let mut p = String::new();
    let _ = write!(
        p,
        "<h2>{title}</h2><p class=\"muted\">in force: {}</p>\
         <textarea id=\"{kind}-body\" rows=\"{rows}\" cols=\"100\" spellcheck=\"false\"{}>{}</textarea>",
        id.map(|i| format!("version #{i}"))
            .unwrap_or_else(|| "the configuration's (never edited)".into()),
        if admin { "" } else { " readonly" },
        html(&body)
    );
    if admin {
        let _ = write!(
            p,
            "<p><label>Note <input id=\"{kind}-note\" size=\"60\" maxlength=\"500\"></label> \
             <button type=\"button\" class=\"save\" data-kind=\"{kind}\">Check and save</button></p>"
        );
    }
    p.push_str("<ul>");
    for v in history {
        let _ = write!(
            p,
            "<li>#{} {} by {}: {}</li>",
            v.id,
            time(&v.created_at),
            html(&v.author),
            html(&v.note)
        );
    }
    p.push_str("</ul>");
    Ok(p)
}
