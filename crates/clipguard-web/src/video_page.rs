//! `/videos/{id}`: everything about one video on one page — the player (media through
//! `/media/{id}`), the evidence as a timeline that seeks the player, transcript and on-screen
//! text, scores per modality and category, the model versions, processing history and the
//! reviewers' decisions, with the review buttons for reviewers.

use crate::WebState;
use crate::auth::{AuthError, Caller};
use crate::escape::{highlight, html, time, url_segment};
use crate::pages::{Denied, shell, signed_in};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use clipguard_core::stage::{Review, Role};
use clipguard_core::stats::Event;
use clipguard_core::{Verdict, Video};
use std::fmt::Write;

pub async fn video(
    State(s): State<WebState>,
    caller: Result<Caller, AuthError>,
    Path(id): Path<String>,
) -> Response {
    let caller = match signed_in(caller, Role::Viewer) {
        Ok(c) => c,
        Err(denied) => return denied.into_response(),
    };
    let loaded = async {
        let video = s.store.get_video(&id).await?;
        let verdict = s.store.latest_verdict(&id).await?;
        let reviews = s.reviews.reviews_of(&id).await?;
        let events = s.store.events(Some(&id), 50).await?;
        Ok::<_, clipguard_core::stage::StoreError>((video, verdict, reviews, events))
    }
    .await;
    match loaded {
        Ok((Some(video), verdict, reviews, events)) => Html(shell(
            &video.id,
            &caller,
            &body(&video, verdict.as_ref(), &reviews, &events, &caller),
            Some("video.js"),
        ))
        .into_response(),
        Ok((None, ..)) => Denied::NotFound(format!("no video `{id}`")).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {e}"),
        )
            .into_response(),
    }
}

fn body(
    video: &Video,
    verdict: Option<&Verdict>,
    reviews: &[Review],
    events: &[Event],
    caller: &Caller,
) -> String {
    let mut p = String::with_capacity(16 * 1024);
    let _ = write!(
        p,
        "<h1 id=\"video-id\" data-id=\"{}\">{}</h1><p class=\"muted\">{} · {} · ingested {}</p>",
        html(&video.id),
        html(&video.id),
        html(video.author.as_deref().unwrap_or("unknown author")),
        html(&video.source),
        time(&video.ingested_at.to_rfc3339()),
    );
    if video.media_key.is_some() {
        let _ = write!(
            p,
            "<video id=\"player\" controls preload=\"metadata\" width=\"360\" src=\"/media/{}\"></video>",
            url_segment(&video.id)
        );
    }
    // The words rules matched in the caption are marked.
    let matched: Vec<&str> = verdict
        .map(|v| {
            v.evidence
                .iter()
                .filter(|e| e.modality == clipguard_core::Modality::Caption)
                .filter_map(|e| e.matched.as_deref())
                .collect()
        })
        .unwrap_or_default();
    let _ = write!(
        p,
        "<h2>Caption</h2><p id=\"caption\">{}</p>",
        highlight(&video.caption_text(), &matched)
    );
    match verdict {
        None => p.push_str("<p class=\"muted\">Not analysed yet.</p>"),
        Some(v) => verdict_section(&mut p, v),
    }
    p.push_str("<h2>Reviews</h2><ul id=\"reviews\">");
    if reviews.is_empty() {
        p.push_str("<li class=\"muted\">Not reviewed.</li>");
    }
    for r in reviews {
        let cats: Vec<String> = r.categories.iter().map(|c| c.to_string()).collect();
        let _ = write!(
            p,
            "<li><b class=\"{}\">{}</b> by {} at {} {} {}</li>",
            html(&r.decision),
            html(&r.decision),
            html(&r.reviewer),
            time(&r.created_at.to_rfc3339()),
            html(&cats.join(", ")),
            html(&r.note)
        );
    }
    p.push_str("</ul>");
    if caller.require(Role::Reviewer).is_ok() {
        p.push_str(
            "<p><button id=\"harmful\" type=\"button\">Harmful (h)</button> \
             <button id=\"safe\" type=\"button\">Safe (s)</button> \
             <label>Note <input id=\"note\" maxlength=\"2000\" size=\"40\"></label> \
             <span id=\"status\" class=\"muted\"></span></p>",
        );
    }
    p.push_str("<h2>History</h2><ul>");
    for e in events {
        let _ = write!(
            p,
            "<li class=\"muted\">{} [{}] {}</li>",
            time(&e.created_at),
            html(&e.level),
            html(&e.message)
        );
    }
    p.push_str("</ul>");
    p
}

fn verdict_section(p: &mut String, v: &Verdict) {
    let label = v.label();
    let _ = write!(
        p,
        "<h2>Verdict: <span id=\"verdict\" class=\"{}\">{}</span></h2><p>score {} (threshold {:.2}) · decided {} in {} ms</p>",
        html(label),
        html(label),
        v.harmful_score
            .map(|s| format!("{s:.2}"))
            .unwrap_or_else(|| "—".into()),
        v.threshold,
        time(&v.decided_at.to_rfc3339()),
        v.latency_ms
    );
    if let Some(reason) = &v.reason {
        let _ = write!(p, "<p class=\"failed\">{}</p>", html(reason));
    }
    p.push_str("<h3>Categories</h3><table><tr><th>category</th><th>score</th></tr>");
    for (c, s) in &v.categories {
        let score = s
            .map(|s| format!("{s:.2}"))
            .unwrap_or_else(|| "not covered".into());
        let _ = write!(p, "<tr><td>{c}</td><td>{score}</td></tr>");
    }
    p.push_str("</table><h3>Modalities</h3><table><tr><th>modality</th><th>analyser</th><th>harmful</th></tr>");
    for m in &v.modalities {
        let _ = write!(
            p,
            "<tr><td>{:?}</td><td>{}</td><td>{:.2}</td></tr>",
            m.modality,
            html(&m.analyser),
            m.harmful
        );
    }
    p.push_str("</table>");
    for m in v.modalities.iter().filter(|m| !m.timeline.is_empty()) {
        timeline_svg(p, m, &v.evidence);
    }
    p.push_str("<h3>Evidence</h3><ol id=\"timeline\">");
    let mut evidence: Vec<_> = v.evidence.iter().collect();
    evidence.sort_by(|a, b| {
        a.time_s
            .unwrap_or(f64::MAX)
            .total_cmp(&b.time_s.unwrap_or(f64::MAX))
    });
    for e in evidence {
        let at = e
            .time_s
            .map(|t| {
                format!(
                    "<button type=\"button\" class=\"seek\" data-t=\"{t:.2}\">{t:.1} s</button> "
                )
            })
            .unwrap_or_default();
        let _ = write!(
            p,
            "<li>{at}{:?} {}{}</li>",
            e.modality,
            html(&e.excerpt),
            e.rule_id
                .as_deref()
                .map(|r| format!(" <span class=\"muted\">({})</span>", html(r)))
                .unwrap_or_default()
        );
    }
    p.push_str("</ol><h3>Transcript and on-screen text</h3><ul>");
    for t in &v.texts {
        let _ = write!(
            p,
            "<li><button type=\"button\" class=\"seek\" data-t=\"{:.2}\">{:.1} s</button> {:?}: {}</li>",
            t.time_s,
            t.time_s,
            t.modality,
            html(&t.text)
        );
    }
    p.push_str("</ul><h3>Model versions</h3><ul>");
    for (name, version) in &v.model_versions {
        let _ = write!(p, "<li>{}: {}</li>", html(name), html(version));
    }
    p.push_str("</ul>");
}

/// A modality's scores along the media as an SVG line; each point (and each piece of evidence
/// with a time, as a red tick) seeks the player when clicked.
fn timeline_svg(
    p: &mut String,
    m: &clipguard_core::ModalityScore,
    evidence: &[clipguard_core::Evidence],
) {
    let (w, h, pad) = (600.0, 90.0, 8.0);
    let end = m
        .timeline
        .iter()
        .map(|(t, _)| *t)
        .chain(evidence.iter().filter_map(|e| e.time_s))
        .fold(1.0f64, f64::max);
    let x = |t: f64| pad + (w - 2.0 * pad) * (t / end).clamp(0.0, 1.0);
    let y = |s: f32| h - pad - (h - 2.0 * pad) * f64::from(s.clamp(0.0, 1.0));
    let _ = write!(
        p,
        "<h3>{:?} timeline ({})</h3><svg class=\"frame-timeline\" viewBox=\"0 0 {w} {h}\" width=\"600\">\
         <line x1=\"{pad}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ccc\"/>",
        m.modality,
        html(&m.analyser),
        y(0.5),
        w - pad,
        y(0.5)
    );
    let points: Vec<String> = m
        .timeline
        .iter()
        .map(|(t, s)| format!("{:.1},{:.1}", x(*t), y(*s)))
        .collect();
    let _ = write!(
        p,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#3b5bdb\" stroke-width=\"2\"/>",
        points.join(" ")
    );
    for (t, s) in &m.timeline {
        let _ = write!(
            p,
            "<circle class=\"seek\" data-t=\"{t:.2}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#3b5bdb\"><title>{t:.1} s: {s:.2}</title></circle>",
            x(*t),
            y(*s)
        );
    }
    for e in evidence
        .iter()
        .filter(|e| e.kind != clipguard_core::EvidenceKind::Info)
    {
        if let Some(t) = e.time_s {
            let _ = write!(
                p,
                "<rect class=\"seek\" data-t=\"{t:.2}\" x=\"{:.1}\" y=\"0\" width=\"3\" height=\"{pad}\" fill=\"#b3261e\"><title>{t:.1} s: {}</title></rect>",
                x(t) - 1.5,
                html(&e.excerpt)
            );
        }
    }
    p.push_str("</svg>");
}
