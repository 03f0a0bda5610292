//! Server-rendered pages. Each is one function from data to HTML; the handlers check the
//! caller (no session → the login page) and fetch the data. Scripts are files in `assets/`
//! (the CSP forbids inline script); they read the CSRF token from `<meta name="csrf">` and build
//! the DOM with `textContent`, never `innerHTML`, so hostile captions stay text.

use crate::WebState;
use crate::auth::{AuthError, Caller};
use crate::escape::{html, time, url_segment};
use crate::i18n::{Lang, t};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use clipguard_core::stage::Role;
use clipguard_core::stats::{QueueStats, VerdictStats, VerdictSummary};
use std::fmt::Write;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2430}
h1{font-size:1.4rem}.cards{display:flex;gap:.75rem;flex-wrap:wrap;margin-bottom:1rem}
.card{border:1px solid #d6dbe3;border-radius:8px;padding:.6rem 1rem;min-width:7rem}
.card b{display:block;font-size:1.5rem}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #e5e8ee;padding:.35rem .5rem;text-align:left;vertical-align:top}
.harmful{color:#b3261e;font-weight:600}.failed{color:#8a5a00;font-weight:600}.safe{color:#1e6b34}
.muted{color:#667}.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1rem}
figure{margin:0;border:1px solid #e5e8ee;border-radius:8px;padding:.5rem}figcaption{font-size:.85rem;color:#445}
svg{width:100%;height:auto}.bar-harmful{fill:#b3261e}.bar-safe{fill:#1e6b34}.bar-failed{fill:#c98a00}.bar{fill:#3b5bdb}
.line{fill:none;stroke:#3b5bdb;stroke-width:2}.axis{font-size:10px;fill:#667}nav{margin-bottom:1rem}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:.75rem}
.tile{display:flex;flex-direction:column;gap:.2rem;border:1px solid #e5e8ee;border-radius:8px;padding:.4rem;text-decoration:none;color:inherit}
.tile img{width:100%;height:auto;background:#eee;min-height:60px}video{max-height:420px;background:#000}";

/// The frame every signed-in page shares: navigation, who is signed in, the CSRF token.
pub(crate) fn shell(title: &str, caller: &Caller, body: &str, script: Option<&str>) -> String {
    let csrf = caller.csrf.as_deref().unwrap_or("");
    let lang = caller.lang;
    let script = script
        .map(|s| format!("<script src=\"/assets/{s}\" defer></script>"))
        .unwrap_or_default();
    let mut nav = String::new();
    for (href, label) in [
        ("/", "Monitor"),
        ("/videos", "Videos"),
        ("/review", "Review"),
        ("/models", "Models"),
        ("/pipeline", "Pipeline"),
        ("/rules", "Rules"),
        ("/crawl", "Crawl"),
    ] {
        if !nav.is_empty() {
            nav.push_str(" · ");
        }
        let _ = write!(nav, "<a href=\"{href}\">{}</a>", t(lang, label));
    }
    let other = match lang {
        Lang::En => ("vi", "Tiếng Việt"),
        Lang::Vi => ("en", "English"),
    };
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"csrf\" content=\"{}\"><title>{} · ClipGuard</title>\
         <style>{STYLE}</style><script src=\"/assets/common.js\" defer></script>{script}</head><body>\
         <nav>{nav}<span class=\"muted\"> · {} <b id=\"who\">{}</b> ({})</span> \
         <button id=\"logout\" type=\"button\">{}</button> \
         <button id=\"lang\" type=\"button\" data-lang=\"{}\">{}</button></nav>{body}</body></html>",
        lang.code(),
        html(csrf),
        html(title),
        t(lang, "signed in as"),
        html(&caller.principal.name),
        caller.principal.role,
        t(lang, "Sign out"),
        other.0,
        other.1,
    )
}

/// Why a page is not shown: no session (→ the login page) or not allowed.
pub(crate) enum Denied {
    Login,
    Auth(AuthError),
    NotFound(String),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Login => Redirect::to("/login").into_response(),
            Denied::Auth(e) => e.into_response(),
            Denied::NotFound(m) => {
                (StatusCode::NOT_FOUND, Html(format!("<p>{}</p>", html(&m)))).into_response()
            }
        }
    }
}

/// The caller, if signed in with at least `role`.
/// A page's title (translated) and the line its script reports results in (`#result`).
pub(crate) fn heading(caller: &Caller, title: &'static str) -> String {
    format!(
        "<h1>{}</h1><p id=\"result\" class=\"muted\"></p>",
        crate::i18n::t(caller.lang, title)
    )
}

pub(crate) fn signed_in(caller: Result<Caller, AuthError>, role: Role) -> Result<Caller, Denied> {
    match caller {
        Ok(c) => c.require(role).map(|()| c).map_err(Denied::Auth),
        Err(AuthError::Unauthenticated) => Err(Denied::Login),
        Err(e) => Err(Denied::Auth(e)),
    }
}

pub fn login(lang: Lang, error: Option<&'static str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"harmful\" id=\"error\">{}</p>", t(lang, e)))
        .unwrap_or_default();
    let (name, password, sign_in) = (t(lang, "Name"), t(lang, "Password"), t(lang, "Sign in"));
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in · ClipGuard</title>\
         <style>{STYLE}</style></head><body><h1>ClipGuard</h1>{error}\
         <form method=\"post\" action=\"/login\"><p><label>{name} <input name=\"name\" id=\"name\" autocomplete=\"username\" required autofocus></label></p>\
         <p><label>{password} <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
         <p><button type=\"submit\" id=\"signin\">{sign_in}</button></p></form></body></html>"
    )
}

pub async fn monitor(State(s): State<WebState>, caller: Result<Caller, AuthError>) -> Response {
    let caller = match signed_in(caller, Role::Viewer) {
        Ok(c) => c,
        Err(denied) => return denied.into_response(),
    };
    let (queue, verdicts, latest) = match (
        s.queue.stats().await,
        s.store.verdict_stats().await,
        s.store.latest_verdicts(50).await,
    ) {
        (Ok(q), Ok(v), Ok(l)) => (q, v, l),
        _ => return (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response(),
    };
    Html(shell(
        "Monitor",
        &caller,
        &index(caller.lang, &queue, &verdicts, &latest),
        Some("monitor.js"),
    ))
    .into_response()
}

pub async fn review(State(s): State<WebState>, caller: Result<Caller, AuthError>) -> Response {
    let caller = match signed_in(caller, Role::Viewer) {
        Ok(c) => c,
        Err(denied) => return denied.into_response(),
    };
    let mut stats = String::from(
        "<h2>Reviewers</h2><table id=\"reviewer-stats\"><tr><th>reviewer</th><th>reviews</th><th>harmful</th></tr>",
    );
    for (name, n, harmful) in s.reviews.reviewer_stats().await.unwrap_or_default() {
        let _ = write!(
            stats,
            "<tr><td>{}</td><td>{n}</td><td>{harmful}</td></tr>",
            html(&name)
        );
    }
    stats.push_str("</table>");
    let body = "<h1>Review</h1>\
        <p class=\"muted\">Keys: <b>h</b> harmful · <b>s</b> safe · <b>n</b> next. Categories apply to harmful decisions.</p>\
        <div id=\"status\" class=\"muted\">Loading…</div>\
        <div id=\"item\" hidden><h2 id=\"video-id\"></h2><p>score <b id=\"score\"></b> · <span id=\"reason\"></span></p>\
        <p id=\"caption\"></p><ul id=\"evidence\"></ul>\
        <p><label><input type=\"checkbox\" name=\"category\" value=\"sexual\"> sexual</label> \
        <label><input type=\"checkbox\" name=\"category\" value=\"violence\"> violence</label> \
        <label><input type=\"checkbox\" name=\"category\" value=\"hate_harassment\"> hate / harassment</label> \
        <label><input type=\"checkbox\" name=\"category\" value=\"dangerous_illegal\"> dangerous / illegal</label> \
        <label><input type=\"checkbox\" name=\"category\" value=\"self_harm\"> self-harm</label></p>\
        <p><label>Note <input id=\"note\" maxlength=\"2000\" size=\"60\"></label></p>\
        <p><button id=\"harmful\" type=\"button\">Harmful (h)</button> <button id=\"safe\" type=\"button\">Safe (s)</button> \
        <button id=\"next\" type=\"button\">Next (n)</button></p></div>";
    Html(shell(
        "Review",
        &caller,
        &format!("{body}{stats}"),
        Some("review.js"),
    ))
    .into_response()
}

/// The embedded static files.
pub async fn asset(Path(file): Path<String>) -> Response {
    let body = match file.as_str() {
        "common.js" => include_str!("../assets/common.js"),
        "monitor.js" => include_str!("../assets/monitor.js"),
        "review.js" => include_str!("../assets/review.js"),
        "video.js" => include_str!("../assets/video.js"),
        "models.js" => include_str!("../assets/models.js"),
        "pipeline.js" => include_str!("../assets/pipeline.js"),
        "settings.js" => include_str!("../assets/settings.js"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The monitor's body: counts and the latest verdicts.
pub fn index(
    lang: Lang,
    queue: &QueueStats,
    v: &VerdictStats,
    latest: &[VerdictSummary],
) -> String {
    let mut page = String::with_capacity(8192);
    let _ = write!(
        page,
        "<h1>{}</h1><div class=\"cards\">",
        t(lang, "ClipGuard — live")
    );
    for (label, n) in [
        ("videos", v.videos),
        ("processed", v.processed),
        ("harmful", v.harmful),
        ("safe", v.safe),
        ("failed", v.failed),
        ("queued", queue.depth),
        ("in flight", queue.in_flight),
        ("dead letters", queue.dead_letters),
    ] {
        let _ = write!(
            page,
            "<div class=\"card\"><b id=\"{}\">{n}</b>{}</div>",
            label.replace(' ', "-"),
            t(lang, label)
        );
    }
    for (id, label) in [
        ("harmful-rate", "harmful rate"),
        ("throughput", "verdicts / min"),
        ("latency-p50", "latency p50"),
        ("latency-p95", "latency p95"),
        ("lag", "queue lag"),
        ("agreement", "modalities agree"),
    ] {
        let _ = write!(
            page,
            "<div class=\"card\"><b id=\"{id}\">—</b>{}</div>",
            t(lang, label)
        );
    }
    page.push_str(
        "</div><div class=\"charts\">\
         <figure><figcaption>Verdicts per minute, last hour (harmful · safe · failed)</figcaption><svg id=\"chart-volume\" viewBox=\"0 0 600 160\"></svg></figure>\
         <figure><figcaption>Ingest → verdict latency per minute (median, s)</figcaption><svg id=\"chart-latency\" viewBox=\"0 0 600 160\"></svg></figure>\
         <figure><figcaption>Harmful score histogram</figcaption><svg id=\"chart-scores\" viewBox=\"0 0 600 160\"></svg></figure>\
         <figure><figcaption>Harmful videos per category</figcaption><svg id=\"chart-categories\" viewBox=\"0 0 600 160\"></svg></figure>\
         </div><div>",
    );
    page.push_str(
        "</div><table><thead><tr><th>decided (UTC)</th><th>video</th><th>verdict</th>\
         <th>score</th><th>caption</th><th>why</th></tr></thead><tbody>",
    );
    if latest.is_empty() {
        page.push_str("<tr><td colspan=\"6\" class=\"muted\">No verdicts yet.</td></tr>");
    }
    for row in latest {
        let score = row
            .harmful_score
            .map(|s| format!("{s:.2}"))
            .unwrap_or_else(|| "—".into());
        let why = row
            .reason
            .as_deref()
            .or(row.top_evidence.as_deref())
            .unwrap_or("");
        let caption: String = row.caption.chars().take(140).collect();
        let _ = write!(
            page,
            "<tr><td>{}</td><td><a href=\"/videos/{}\">{}</a></td><td class=\"{}\">{}</td><td>{score}</td><td>{}</td><td>{}</td></tr>",
            time(&row.decided_at),
            url_segment(&row.video_id),
            html(&row.video_id),
            html(&row.label),
            html(&row.label),
            html(&caption),
            html(why),
        );
    }
    page.push_str("</tbody></table><p class=\"muted\">Counts update live · JSON: <a href=\"/api/v1/stats\">/api/v1/stats</a>, <a href=\"/api/v1/verdicts/latest\">/api/v1/verdicts/latest</a></p>");
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_captions_are_escaped() {
        let row = VerdictSummary {
            video_id: "tiktok:1".into(),
            caption: "<script>alert(1)</script>".into(),
            label: "safe".into(),
            harmful_score: Some(0.1),
            reason: None,
            top_evidence: None,
            decided_at: "2026-01-01T00:00:00Z".into(),
        };
        let page = index(
            Lang::En,
            &QueueStats::default(),
            &VerdictStats::default(),
            &[row],
        );
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
}
