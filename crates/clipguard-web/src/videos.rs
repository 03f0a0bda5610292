//! The video list: `/videos` (page with filters) and `/api/v1/videos` (JSON, or CSV with
//! `format=csv`, for exporting the filtered set). CSV cells that a spreadsheet would run as a
//! formula (`=`, `+`, `-`, `@`) are prefixed with `'` — captions are hostile input.

use crate::WebState;
use crate::auth::{AuthError, Caller};
use crate::error::ApiError;
use crate::escape::{html, time, url_segment};
use crate::i18n::t;
use crate::pages::{shell, signed_in};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use clipguard_core::search::{VideoQuery, VideoRow};
use clipguard_core::stage::Role;
use serde::Deserialize;
use std::fmt::Write;

#[derive(Debug, Deserialize)]
pub struct View {
    /// `gallery` for thumbnails, else the table.
    view: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Format {
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// Empty form fields mean "no filter".
fn cleaned(mut q: VideoQuery) -> VideoQuery {
    for field in [
        &mut q.verdict,
        &mut q.source,
        &mut q.since,
        &mut q.until,
        &mut q.model,
        &mut q.q,
    ] {
        if field.as_deref().is_some_and(|v| v.trim().is_empty()) {
            *field = None;
        }
    }
    q
}

async fn rows(s: &WebState, q: &VideoQuery) -> Result<Vec<VideoRow>, ApiError> {
    q.validate().map_err(ApiError::BadRequest)?;
    Ok(s.store.search_videos(q).await?)
}

pub async fn list(
    State(s): State<WebState>,
    caller: Caller,
    Query(query): Query<VideoQuery>,
    Query(format): Query<Format>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let query = cleaned(query);
    let found = rows(&s, &query).await?;
    match format.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(found).into_response()),
        "csv" => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"clipguard-videos.csv\"",
                ),
            ],
            to_csv(&found),
        )
            .into_response()),
        other => Err(ApiError::BadRequest(format!(
            "format `{other}`: expected json or csv"
        ))),
    }
}

fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

pub fn to_csv(rows: &[VideoRow]) -> String {
    let mut out = String::from(
        "video_id,label,harmful_score,top_category,reviewed,ingested_at,decided_at,source,caption\n",
    );
    for r in rows {
        let cells = [
            r.video_id.clone(),
            r.label.clone(),
            r.harmful_score
                .map(|s| format!("{s:.4}"))
                .unwrap_or_default(),
            r.top_category.map(|c| c.to_string()).unwrap_or_default(),
            r.reviewed.to_string(),
            r.ingested_at.clone(),
            r.decided_at.clone().unwrap_or_default(),
            r.source.clone(),
            r.caption.clone(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// The page: a filter form (GET, so a filtered view is a link) and the table.
pub async fn page(
    State(s): State<WebState>,
    caller: Result<Caller, AuthError>,
    Query(q): Query<VideoQuery>,
    Query(view): Query<View>,
    uri: axum::http::Uri,
) -> Response {
    let caller = match signed_in(caller, Role::Viewer) {
        Ok(c) => c,
        Err(denied) => return denied.into_response(),
    };
    let query = cleaned(q);
    let found = match rows(&s, &query).await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let v = |o: &Option<String>| html(o.as_deref().unwrap_or(""));
    let tr = |text| t(caller.lang, text);
    let mut p = format!(
        "<h1>{}</h1><form method=\"get\" action=\"/videos\" id=\"filters\">",
        tr("Videos")
    );
    let _ = write!(
        p,
        "<label>{} <input name=\"q\" value=\"{}\" maxlength=\"200\"></label> \
         <label>{} <select name=\"verdict\">{}</select></label> \
         <label>{} <select name=\"category\">{}</select></label> \
         <label>Score ≥ <input name=\"min_score\" size=\"4\" value=\"{}\"></label> \
         <label>≤ <input name=\"max_score\" size=\"4\" value=\"{}\"></label> \
         <label>{} <input name=\"source\" value=\"{}\"></label> \
         <label>{} <input name=\"since\" type=\"date\" value=\"{}\"></label> \
         <label>{} <input name=\"until\" type=\"date\" value=\"{}\"></label> \
         <label>{} <input name=\"model\" value=\"{}\"></label> \
         <button type=\"submit\">{}</button></form>",
        tr("Search"),
        v(&query.q),
        tr("Verdict"),
        options(
            &["", "harmful", "safe", "failed", "pending"],
            query.verdict.as_deref()
        ),
        tr("Category"),
        options(
            &[
                "",
                "sexual",
                "violence",
                "hate_harassment",
                "dangerous_illegal",
                "self_harm"
            ],
            query.category.map(|c| c.to_string()).as_deref()
        ),
        query.min_score.map(|s| s.to_string()).unwrap_or_default(),
        query.max_score.map(|s| s.to_string()).unwrap_or_default(),
        tr("Source"),
        v(&query.source),
        tr("From"),
        v(&query.since),
        tr("To"),
        v(&query.until),
        tr("Model"),
        v(&query.model),
        tr("Filter"),
    );
    let filter = uri.query().unwrap_or("");
    let sep = if filter.is_empty() { "" } else { "&" };
    let _ = write!(
        p,
        "<p>{} video(s) · export <a id=\"export-csv\" href=\"/api/v1/videos?{}{sep}format=csv\">CSV</a> · \
         <a href=\"/api/v1/videos?{}{sep}format=json\">JSON</a></p>",
        found.len(),
        html(filter),
        html(filter)
    );
    let gallery = view.view.as_deref() == Some("gallery");
    let base: String = filter
        .split('&')
        .filter(|kv| !kv.starts_with("view="))
        .collect::<Vec<_>>()
        .join("&");
    let _ = write!(
        p,
        "<p><a href=\"/videos?{}\">table</a> · <a id=\"gallery-view\" href=\"/videos?{}{}view=gallery\">gallery</a></p>",
        html(&base),
        html(&base),
        if base.is_empty() { "" } else { "&" }
    );
    if gallery {
        p.push_str("<div class=\"gallery\" id=\"gallery\">");
        for r in &found {
            let caption: String = r.caption.chars().take(90).collect();
            let _ = write!(
                p,
                "<a class=\"tile\" href=\"/videos/{id}\"><img loading=\"lazy\" src=\"/media/{id}/thumb.jpg\" alt=\"{label}\" width=\"240\">\
                 <span class=\"{label}\">{label} {score}</span><span class=\"muted\">{caption}</span></a>",
                id = url_segment(&r.video_id),
                label = html(&r.label),
                score = r
                    .harmful_score
                    .map(|s| format!("{s:.2}"))
                    .unwrap_or_default(),
                caption = html(&caption),
            );
        }
        p.push_str("</div>");
        return Html(shell("Videos", &caller, &p, None)).into_response();
    }
    p.push_str("<table id=\"videos\"><thead><tr><th>video</th><th>verdict</th><th>score</th><th>category</th><th>reviewed</th><th>ingested</th><th>caption</th></tr></thead><tbody>");
    for r in &found {
        let caption: String = r.caption.chars().take(160).collect();
        let _ = write!(
            p,
            "<tr><td><a href=\"/videos/{}\">{}</a></td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            url_segment(&r.video_id),
            html(&r.video_id),
            html(&r.label),
            html(&r.label),
            r.harmful_score
                .map(|s| format!("{s:.2}"))
                .unwrap_or_else(|| "—".into()),
            r.top_category.map(|c| c.to_string()).unwrap_or_default(),
            if r.reviewed { "yes" } else { "" },
            time(&r.ingested_at),
            html(&caption),
        );
    }
    p.push_str("</tbody></table>");
    Html(shell("Videos", &caller, &p, None)).into_response()
}

fn options(values: &[&str], selected: Option<&str>) -> String {
    values
        .iter()
        .map(|v| {
            let mark = if Some(*v) == selected || (v.is_empty() && selected.is_none()) {
                " selected"
            } else {
                ""
            };
            let label = if v.is_empty() { "any" } else { v };
            format!("<option value=\"{v}\"{mark}>{label}</option>")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
    }
}
