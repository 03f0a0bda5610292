//! On-screen text: tesseract on a few full-resolution frames, then the text judged like any
//! other text (keyword rules now; the text model too once it is loaded).
//!
//! Burned-in captions usually stay on screen for seconds, so near-identical consecutive frames
//! are read once. tesseract runs as a subprocess with a time limit (Debian's `tesseract-ocr`
//! with `-vie` and `-eng`); a missing binary or language is an error, never an empty "no text".

use super::ffmpeg::{self, FrameRequest};
use super::text::TextJudge;
use async_trait::async_trait;
use clipguard_core::config::OcrConfig;
use clipguard_core::stage::{Analyser, AnalyserOutput, AnalysisInput, Frame};
use clipguard_core::{Evidence, EvidenceKind, ExtractedText, Modality, StageError};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

pub const ANALYSER_NAME: &str = "ocr";

/// Mean absolute difference (0–255) below which a frame repeats the previous one.
const SAME_FRAME: f64 = 6.0;

pub struct OcrAnalyser {
    config: OcrConfig,
    judge: Arc<TextJudge>,
    version: String,
}

impl std::fmt::Debug for OcrAnalyser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcrAnalyser")
            .field("version", &self.version)
            .finish()
    }
}

impl OcrAnalyser {
    /// Checks that tesseract runs and has the configured languages.
    pub async fn new(config: OcrConfig, judge: Arc<TextJudge>) -> Result<Self, StageError> {
        let version = tesseract_version(&config.languages).await?;
        Ok(OcrAnalyser {
            config,
            judge,
            version,
        })
    }
}

/// `tesseract <version> (<langs>)`, or an error saying what to install.
pub async fn tesseract_version(languages: &str) -> Result<String, StageError> {
    let missing = |e: String| {
        StageError::external(format!(
            "tesseract is not usable ({e}); install it: apt-get install tesseract-ocr tesseract-ocr-vie tesseract-ocr-eng"
        ))
    };
    let out = Command::new("tesseract")
        .arg("--list-langs")
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| missing(e.to_string()))?;
    let listed =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    for lang in languages.split('+') {
        if !listed.lines().any(|l| l.trim() == lang) {
            return Err(missing(format!("language `{lang}` is not installed")));
        }
    }
    let version = Command::new("tesseract")
        .arg("--version")
        .output()
        .await
        .map_err(|e| missing(e.to_string()))?;
    let text = String::from_utf8_lossy(&version.stdout).to_string()
        + &String::from_utf8_lossy(&version.stderr);
    let v = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("unknown");
    Ok(format!("tesseract-{v}-{languages}"))
}

/// Packs an RGB frame as binary PPM, which tesseract (leptonica) reads from stdin.
fn ppm(frame: &Frame) -> Vec<u8> {
    let mut out = format!("P6\n{} {}\n255\n", frame.width, frame.height).into_bytes();
    out.extend_from_slice(&frame.rgb);
    out
}

fn mean_abs_diff(a: &Frame, b: &Frame) -> f64 {
    if a.rgb.len() != b.rgb.len() || a.rgb.is_empty() {
        return f64::MAX;
    }
    // Every 7th byte is plenty to tell a new scene from the same caption.
    let (sum, n) = a
        .rgb
        .iter()
        .zip(&b.rgb)
        .step_by(7)
        .fold((0u64, 0u64), |(s, n), (x, y)| {
            (s + u64::from(x.abs_diff(*y)), n + 1)
        });
    sum as f64 / n.max(1) as f64
}

/// Keeps lines with at least two letters or digits: tesseract reads noise as stray symbols.
fn clean(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| l.chars().filter(|c| c.is_alphanumeric()).count() >= 2)
        .collect::<Vec<_>>()
        .join("\n")
}

async fn read_text(frame: &Frame, config: &OcrConfig) -> Result<String, StageError> {
    let mut child = Command::new("tesseract")
        .args(["stdin", "stdout", "-l", &config.languages, "--psm", "11"])
        // tesseract's OpenMP threads fight the worker's other analysers for the cores and make
        // it many times slower under load; one thread each is faster overall.
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| StageError::external(format!("cannot run tesseract: {e}")))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| StageError::internal("tesseract stdin unavailable"))?;
    let image = ppm(frame);
    let writer = async move {
        stdin.write_all(&image).await?;
        stdin.shutdown().await
    };
    let limit = Duration::from_secs(config.timeout_secs.max(1));
    let (written, out) = tokio::time::timeout(limit, async {
        tokio::join!(writer, child.wait_with_output())
    })
    .await
    .map_err(|_| {
        StageError::external(format!("tesseract took longer than {} s", limit.as_secs()))
    })?;
    let out = out.map_err(|e| StageError::external(format!("tesseract: {e}")))?;
    written.map_err(|e| StageError::external(format!("tesseract stdin: {e}")))?;
    if !out.status.success() {
        return Err(StageError::external(format!(
            "tesseract failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(clean(&String::from_utf8_lossy(&out.stdout)))
}

#[async_trait]
impl Analyser for OcrAnalyser {
    fn name(&self) -> &str {
        ANALYSER_NAME
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    async fn analyse(&self, input: &AnalysisInput) -> Result<AnalyserOutput, StageError> {
        let (Some(path), Some(probe)) = (&input.media_path, &input.probe) else {
            return Ok(AnalyserOutput::default());
        };
        if !probe.has_video {
            return Ok(AnalyserOutput::default());
        }
        let request = FrameRequest::keep_aspect(
            self.config.fps,
            self.config.max_frames,
            self.config.width,
            probe,
        );
        let frames = ffmpeg::frames(path, request)
            .await
            .map_err(|e| StageError::input(format!("ocr frames: {e}")))?;
        let mut texts: Vec<ExtractedText> = Vec::new();
        let mut read = 0;
        let mut previous: Option<&Frame> = None;
        for frame in &frames {
            if previous.is_some_and(|p| mean_abs_diff(p, frame) < SAME_FRAME) {
                continue;
            }
            previous = Some(frame);
            read += 1;
            let text = read_text(frame, &self.config).await?;
            // The same caption read again from a changed background is one text.
            if text.is_empty() || texts.last().is_some_and(|t| t.text == text) {
                continue;
            }
            texts.push(ExtractedText {
                modality: Modality::OnScreenText,
                time_s: frame.time_s,
                end_s: None,
                text,
                language: Some(self.config.languages.clone()),
            });
        }
        let mut out = self.judge.judge(Modality::OnScreenText, &texts).await?;
        out.evidence.push(Evidence {
            kind: EvidenceKind::Info,
            modality: Modality::OnScreenText,
            category: None,
            time_s: None,
            excerpt: format!(
                "on-screen text: read {read} of {} sampled frames, {} distinct text(s)",
                frames.len(),
                texts.len()
            ),
            rule_id: None,
            score: None,
            matched: None,
        });
        out.texts = texts;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_lines_are_dropped() {
        assert_eq!(
            clean("  |  \nCÁ ĐỘ BÓNG ĐÁ\n~ -\nNạp 100k\n"),
            "CÁ ĐỘ BÓNG ĐÁ\nNạp 100k"
        );
    }

    #[test]
    fn identical_frames_have_zero_difference() {
        let f = Frame {
            time_s: 0.0,
            width: 2,
            height: 1,
            rgb: vec![1, 2, 3, 4, 5, 6],
        };
        assert_eq!(mean_abs_diff(&f, &f), 0.0);
        let mut g = f.clone();
        g.rgb = vec![255; 6];
        assert!(mean_abs_diff(&f, &g) > SAME_FRAME);
        assert!(ppm(&f).starts_with(b"P6\n2 1\n255\n"));
    }
}
