//! The minimal page: counts and the latest verdicts, refreshed every few seconds.

use crate::escape::html;
use clipguard_core::stats::{QueueStats, VerdictStats, VerdictSummary};
use std::fmt::Write;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2430}
h1{font-size:1.4rem}.cards{display:flex;gap:.75rem;flex-wrap:wrap;margin-bottom:1rem}
.card{border:1px solid #d6dbe3;border-radius:8px;padding:.6rem 1rem;min-width:7rem}
.card b{display:block;font-size:1.5rem}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #e5e8ee;padding:.35rem .5rem;text-align:left;vertical-align:top}
.harmful{color:#b3261e;font-weight:600}.failed{color:#8a5a00;font-weight:600}.safe{color:#1e6b34}
.muted{color:#667}";

pub fn index(queue: &QueueStats, v: &VerdictStats, latest: &[VerdictSummary]) -> String {
    let mut page = String::with_capacity(8192);
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"5\"><title>ClipGuard</title>\
         <style>{STYLE}</style></head><body><h1>ClipGuard — live</h1><div class=\"cards\">"
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
            "<div class=\"card\"><b id=\"{}\">{n}</b>{label}</div>",
            label.replace(' ', "-")
        );
    }
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
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{score}</td><td>{}</td><td>{}</td></tr>",
            html(&row.decided_at),
            html(&row.video_id),
            html(&row.label),
            html(&row.label),
            html(&caption),
            html(why),
        );
    }
    page.push_str("</tbody></table><p class=\"muted\">Refreshes every 5 s · JSON: <a href=\"/api/v1/stats\">/api/v1/stats</a>, <a href=\"/api/v1/verdicts/latest\">/api/v1/verdicts/latest</a></p></body></html>");
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
        let page = index(&QueueStats::default(), &VerdictStats::default(), &[row]);
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
}
