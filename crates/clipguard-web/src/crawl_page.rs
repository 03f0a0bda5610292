//! Crawl jobs: `/crawl` (page) and `/api/v1/crawl/jobs`. Every job in force — the config
//! file's and the ones saved here — with its targets, weak label, schedule, last run, next run
//! and what its recent runs found. Admins add, change or remove the dashboard's jobs by saving
//! a new version of the `crawl_jobs` setting (TOML, checked by the crawler's own parser before
//! it is stored, versioned with author and note like the rules); a running crawler (`crawl
//! --forever`, or `run`) reads it before its next round.

use crate::WebState;
use crate::auth::{AuthError, Caller};
use crate::error::ApiError;
use crate::escape::{html, time};
use crate::pages::{shell, signed_in};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use clipguard_core::stage::settings::kinds;
use clipguard_core::stage::{CrawlJobStatus, Role};
use std::fmt::Write;

pub async fn jobs(State(s): State<WebState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(s.crawls.crawl_jobs().await?).into_response())
}

/// `#a #b · @c · ytsearch5:x · 2 URLs`.
fn targets(j: &CrawlJobStatus) -> String {
    let mut parts = Vec::new();
    if !j.job.hashtags.is_empty() {
        let tags: Vec<String> = j.job.hashtags.iter().map(|h| format!("#{h}")).collect();
        parts.push(tags.join(" "));
    }
    if !j.job.users.is_empty() {
        let users: Vec<String> = j.job.users.iter().map(|u| format!("@{u}")).collect();
        parts.push(users.join(" "));
    }
    parts.extend(j.job.searches.iter().cloned());
    match j.job.urls.len() {
        0 => {}
        1 => parts.push(j.job.urls[0].clone()),
        n => parts.push(format!("{n} URLs")),
    }
    parts.join(" · ")
}

pub async fn page(State(s): State<WebState>, caller: Result<Caller, AuthError>) -> Response {
    let caller = match signed_in(caller, Role::Viewer) {
        Ok(c) => c,
        Err(denied) => return denied.into_response(),
    };
    let admin = caller.require(Role::Admin).is_ok();
    let mut p = crate::pages::heading(&caller, "Crawl jobs");
    match s.crawls.crawl_jobs().await {
        Ok(jobs) if jobs.is_empty() => p.push_str(
            "<p class=\"muted\">No crawl job yet: add one below (admins), or in the config file's [[crawl.jobs]].</p>",
        ),
        Ok(jobs) => {
            p.push_str(
                "<table id=\"crawl-jobs\"><tr><th>job</th><th>from</th><th>targets</th><th>label</th>\
                 <th>every</th><th>last run</th><th>next run</th><th>last result</th></tr>",
            );
            for j in &jobs {
                let last = j
                    .last_run
                    .as_deref()
                    .map(time)
                    .unwrap_or_else(|| "never".into());
                let (class, result) = j
                    .recent
                    .first()
                    .map(|e| (e.level.as_str(), e.message.as_str()))
                    .unwrap_or(("", ""));
                let _ = write!(
                    p,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} min</td><td>{last}</td>\
                     <td>{}</td><td class=\"{}\">{}</td></tr>",
                    html(&j.job.name),
                    html(&j.source),
                    html(&targets(j)),
                    html(if j.job.label.is_empty() {
                        "—"
                    } else {
                        &j.job.label
                    }),
                    j.job.every_minutes,
                    time(&j.next_due),
                    if class == "info" { "" } else { "failed" },
                    html(result)
                );
            }
            p.push_str("</table>");
        }
        Err(e) => {
            let _ = write!(
                p,
                "<p class=\"failed\">cannot list the jobs: {}</p>",
                html(&e.to_string())
            );
        }
    }
    p.push_str(
        "<p class=\"muted\">Jobs run in <code>clipguard crawl --forever</code> (or inside \
         <code>clipguard run</code>); every run is logged on the Pipeline page.</p>",
    );
    match crate::settings::editor(
        &s,
        admin,
        kinds::CRAWL_JOBS,
        "Dashboard crawl jobs (TOML: [[jobs]] tables, the fields of [[crawl.jobs]])",
        18,
    )
    .await
    {
        Ok(editor) => p.push_str(&editor),
        Err(e) => return e.into_response(),
    }
    if !admin {
        p.push_str("<p class=\"muted\">Only admins change crawl jobs.</p>");
    }
    (
        StatusCode::OK,
        Html(shell("Crawl", &caller, &p, Some("settings.js"))),
    )
        .into_response()
}
