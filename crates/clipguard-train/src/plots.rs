//! Evaluation plots as hand-written SVG (no plotting dependency): the precision–recall curve
//! and the confusion matrix.

use crate::eval::PrPoint;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Precision (y) against recall (x), with the operating point marked.
pub fn pr_curve_svg(title: &str, points: &[PrPoint], operating: Option<(f64, f64)>) -> String {
    let (w, h, m) = (480.0, 400.0, 50.0);
    let (pw, ph) = (w - 2.0 * m, h - 2.0 * m);
    let x = |r: f64| m + r.clamp(0.0, 1.0) * pw;
    let y = |p: f64| h - m - p.clamp(0.0, 1.0) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = write!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="14">{}</text>"#,
        w / 2.0,
        esc(title)
    );
    for i in 0..=10 {
        let v = f64::from(i) / 10.0;
        let _ = write!(
            s,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/>"##,
            x(v),
            y(0.0),
            x(v),
            y(1.0),
            x(0.0),
            y(v),
            x(1.0),
            y(v)
        );
        if i % 2 == 0 {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{v:.1}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{v:.1}</text>"#,
                x(v),
                h - m + 16.0,
                m - 6.0,
                y(v) + 4.0
            );
        }
    }
    let _ = write!(
        s,
        r#"<rect x="{m}" y="{m}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
    );
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">recall</text><text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">precision</text>"#,
        w / 2.0,
        h - 12.0,
        h / 2.0,
        h / 2.0
    );
    let path: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x(p.recall), y(p.precision)))
        .collect();
    if !path.is_empty() {
        let _ = write!(
            s,
            r##"<polyline points="{}" fill="none" stroke="#1f6feb" stroke-width="2"/>"##,
            path.join(" ")
        );
    }
    if let Some((r, p)) = operating {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="5" fill="#d1242f"/><text x="{:.1}" y="{:.1}">threshold (P {p:.2}, R {r:.2})</text>"##,
            x(r),
            y(p),
            x(r) + 8.0,
            y(p) - 8.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A 2×2 confusion matrix (rows: truth safe / harmful; columns: predicted).
pub fn confusion_svg(title: &str, c: [[usize; 2]; 2]) -> String {
    let (w, h, cell, x0, y0) = (360.0, 320.0, 110.0, 110.0, 70.0);
    let max = c.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="13">"#
    );
    let _ = write!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = write!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="14">{}</text>"#,
        w / 2.0,
        esc(title)
    );
    let labels = ["safe", "harmful"];
    for (j, l) in labels.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">predicted {l}</text>"#,
            x0 + cell * (j as f64 + 0.5),
            y0 - 10.0
        );
    }
    for (i, row) in c.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">true {}</text>"#,
            x0 - 8.0,
            y0 + cell * (i as f64 + 0.5) + 4.0,
            labels[i]
        );
        for (j, v) in row.iter().enumerate() {
            let shade = 255.0 - 180.0 * (*v as f64 / max);
            let fill = format!("rgb({shade:.0},{shade:.0},255)");
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{cell}" height="{cell}" fill="{fill}" stroke="black"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="20">{v}</text>"#,
                x0 + cell * j as f64,
                y0 + cell * i as f64,
                x0 + cell * (j as f64 + 0.5),
                y0 + cell * (i as f64 + 0.5) + 7.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// The two plot files a bundle (and `eval --plots`) carries.
pub const PR_CURVE_FILE: &str = "pr_curve.svg";
pub const CONFUSION_FILE: &str = "confusion.svg";

/// Writes the PR curve and the confusion matrix of `scores` against `truth` (the report's
/// threshold marked) into `dir`; returns the file names.
pub fn write_pair(
    dir: &std::path::Path,
    title: &str,
    scores: &[f32],
    truth: &[bool],
    report: &crate::metrics::Report,
) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(PR_CURVE_FILE),
        pr_curve_svg(
            &format!("PR curve, {title} (AUC {:.3})", report.auc),
            &crate::eval::pr_curve(scores, truth),
            Some((report.recall, report.precision)),
        ),
    )?;
    std::fs::write(
        dir.join(CONFUSION_FILE),
        confusion_svg(
            &format!("{title} at {:.3}", report.threshold),
            report.confusion,
        ),
    )?;
    Ok(vec![PR_CURVE_FILE.to_string(), CONFUSION_FILE.to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_svg_with_the_numbers() {
        let pts = vec![
            PrPoint {
                threshold: 0.9,
                precision: 1.0,
                recall: 0.5,
            },
            PrPoint {
                threshold: 0.1,
                precision: 0.5,
                recall: 1.0,
            },
        ];
        let svg = pr_curve_svg("PR <test>", &pts, Some((0.5, 1.0)));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("polyline") && svg.contains("PR &lt;test&gt;"));
        let svg = confusion_svg("confusion", [[10, 2], [3, 7]]);
        for n in ["10", "2", "3", "7"] {
            assert!(svg.contains(&format!(">{n}</text>")), "{n}");
        }
    }
}
