//! ffprobe / ffmpeg as subprocesses: probing, frame sampling to RGB, audio to 16 kHz mono.
//!
//! Every call has a time limit and is killed when dropped; stderr is kept (trimmed) so a
//! corrupt file fails with ffmpeg's own words. `-xerror` makes ffmpeg exit non-zero on a decode
//! error instead of logging it and carrying on, so broken media never yields a short,
//! "clean-looking" result.

use clipguard_core::config::{AudioConfig, FrameMode, FramesConfig};
use clipguard_core::stage::{AudioClip, Frame, MediaProbe};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// Why media could not be read. All of these are input errors (the file is bad), except
/// `Spawn`/`Timeout`, which say the tool is missing or the machine is overloaded.
#[derive(Debug, thiserror::Error)]
pub enum FfmpegError {
    #[error("cannot run {tool}: {message} (is ffmpeg installed? `clipguard doctor` checks)")]
    Spawn { tool: &'static str, message: String },
    #[error("{tool} timed out after {secs} s")]
    Timeout { tool: &'static str, secs: u64 },
    #[error("{tool} failed: {stderr}")]
    Failed { tool: &'static str, stderr: String },
    #[error("unreadable media: {0}")]
    Invalid(String),
}

impl clipguard_core::error::Classify for FfmpegError {
    fn class(&self) -> clipguard_core::ErrorClass {
        match self {
            FfmpegError::Spawn { .. } | FfmpegError::Timeout { .. } => {
                clipguard_core::ErrorClass::External
            }
            FfmpegError::Failed { .. } | FfmpegError::Invalid(_) => {
                clipguard_core::ErrorClass::Input
            }
        }
    }
}

const TIME_LIMIT: Duration = Duration::from_secs(300);

async fn run(tool: &'static str, args: &[&std::ffi::OsStr]) -> Result<Vec<u8>, FfmpegError> {
    let child = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| FfmpegError::Spawn {
            tool,
            message: e.to_string(),
        })?;
    let out = tokio::time::timeout(TIME_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| FfmpegError::Timeout {
            tool,
            secs: TIME_LIMIT.as_secs(),
        })?
        .map_err(|e| FfmpegError::Spawn {
            tool,
            message: e.to_string(),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr: String = stderr.trim().chars().take(400).collect();
        let stderr = if stderr.is_empty() {
            format!("exit status {}", out.status)
        } else {
            stderr
        };
        return Err(FfmpegError::Failed { tool, stderr });
    }
    Ok(out.stdout)
}

/// `ffmpeg -version`'s first line, for verdicts' model versions and `doctor`.
pub async fn version() -> Result<String, FfmpegError> {
    let out = run("ffmpeg", &["-version".as_ref()]).await?;
    let text = String::from_utf8_lossy(&out);
    Ok(text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("unknown")
        .to_string())
}

pub async fn probe(path: &Path) -> Result<MediaProbe, FfmpegError> {
    if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(FfmpegError::Invalid("the file is empty (0 bytes)".into()));
    }
    let out = run(
        "ffprobe",
        &[
            "-v".as_ref(),
            "error".as_ref(),
            "-print_format".as_ref(),
            "json".as_ref(),
            "-show_format".as_ref(),
            "-show_streams".as_ref(),
            path.as_os_str(),
        ],
    )
    .await?;
    parse_probe(&out)
}

fn parse_probe(json: &[u8]) -> Result<MediaProbe, FfmpegError> {
    let v: serde_json::Value = serde_json::from_slice(json)
        .map_err(|e| FfmpegError::Invalid(format!("ffprobe output: {e}")))?;
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let mut probe = MediaProbe {
        duration_s: v["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d >= 0.0),
        ..MediaProbe::default()
    };
    for s in &streams {
        match s["codec_type"].as_str() {
            // Cover art inside an mp3 is a one-picture "video" stream: not a video.
            Some("video") if s["disposition"]["attached_pic"].as_i64() != Some(1) => {
                probe.has_video = true;
                probe.width = s["width"].as_u64().map(|w| w as u32);
                probe.height = s["height"].as_u64().map(|h| h as u32);
                probe.video_codec = s["codec_name"].as_str().map(str::to_string);
            }
            Some("audio") => {
                probe.has_audio = true;
                probe.audio_codec = s["codec_name"].as_str().map(str::to_string);
            }
            _ => {}
        }
    }
    if !probe.has_video && !probe.has_audio {
        return Err(FfmpegError::Invalid(
            "no audio or video stream found".into(),
        ));
    }
    Ok(probe)
}

/// The sampling rate (frames per second) the config asks for, given the duration.
pub fn sampling_fps(config: &FramesConfig, duration_s: Option<f64>) -> f64 {
    let duration = duration_s.filter(|d| *d > 0.0).unwrap_or(1.0);
    let wanted = match config.mode {
        FrameMode::Fps => config.fps,
        FrameMode::Count => f64::from(config.count) / duration,
    };
    wanted
        .min(f64::from(config.max_frames) / duration)
        .max(1e-3)
}

/// What to sample: a rate, a cap and an output size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameRequest {
    pub fps: f64,
    pub max_frames: u32,
    pub width: u32,
    pub height: u32,
}

impl FrameRequest {
    /// The vision model's frames: the configured mode and square size.
    pub fn for_vision(config: &FramesConfig, probe: &MediaProbe) -> Self {
        FrameRequest {
            fps: sampling_fps(config, probe.duration_s),
            max_frames: config.max_frames,
            width: config.width,
            height: config.height,
        }
    }

    /// Frames at `width` with the video's aspect kept (OCR wants readable text), even height.
    pub fn keep_aspect(fps: f64, max_frames: u32, width: u32, probe: &MediaProbe) -> Self {
        let (w, h) = (
            probe.width.unwrap_or(9).max(1),
            probe.height.unwrap_or(16).max(1),
        );
        let height = ((f64::from(width) * f64::from(h) / f64::from(w) / 2.0).round() as u32 * 2)
            .clamp(2, 4096);
        let duration = probe.duration_s.filter(|d| *d > 0.0).unwrap_or(1.0);
        FrameRequest {
            fps: fps.min(f64::from(max_frames) / duration).max(1e-3),
            max_frames,
            width,
            height,
        }
    }
}

/// Samples frames as packed RGB, each with its timestamp.
pub async fn frames(path: &Path, request: FrameRequest) -> Result<Vec<Frame>, FfmpegError> {
    let FrameRequest {
        fps,
        max_frames,
        width: w,
        height: h,
    } = request;
    let filter = format!("fps={fps:.6},scale={w}:{h}:flags=bilinear");
    let max = max_frames.to_string();
    let out = run(
        "ffmpeg",
        &[
            "-v".as_ref(),
            "error".as_ref(),
            "-xerror".as_ref(),
            "-nostdin".as_ref(),
            "-i".as_ref(),
            path.as_os_str(),
            "-an".as_ref(),
            "-vf".as_ref(),
            filter.as_ref(),
            "-frames:v".as_ref(),
            max.as_ref(),
            "-f".as_ref(),
            "rawvideo".as_ref(),
            "-pix_fmt".as_ref(),
            "rgb24".as_ref(),
            "-".as_ref(),
        ],
    )
    .await?;
    let size = (w as usize) * (h as usize) * 3;
    if out.is_empty() {
        return Err(FfmpegError::Invalid(
            "the video stream decoded to no frames".into(),
        ));
    }
    if out.len() % size != 0 {
        return Err(FfmpegError::Invalid(format!(
            "decoder returned {} bytes, not a whole number of {w}x{h} frames",
            out.len()
        )));
    }
    Ok(out
        .chunks_exact(size)
        .enumerate()
        .map(|(i, rgb)| Frame {
            time_s: i as f64 / fps,
            width: w,
            height: h,
            rgb: rgb.to_vec(),
        })
        .collect())
}

/// Decodes the audio track to mono f32 PCM at the configured rate (16 kHz for Whisper).
pub async fn audio(path: &Path, config: &AudioConfig) -> Result<AudioClip, FfmpegError> {
    let rate = config.sample_rate.to_string();
    let out = run(
        "ffmpeg",
        &[
            "-v".as_ref(),
            "error".as_ref(),
            "-xerror".as_ref(),
            "-nostdin".as_ref(),
            "-i".as_ref(),
            path.as_os_str(),
            "-vn".as_ref(),
            "-ac".as_ref(),
            "1".as_ref(),
            "-ar".as_ref(),
            rate.as_ref(),
            "-f".as_ref(),
            "f32le".as_ref(),
            "-".as_ref(),
        ],
    )
    .await?;
    let samples = out
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(AudioClip {
        sample_rate: config.sample_rate,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_json_without_streams_is_invalid() {
        assert!(parse_probe(br#"{"streams":[],"format":{}}"#).is_err());
        assert!(parse_probe(b"not json").is_err());
    }

    #[test]
    fn cover_art_is_not_a_video_stream() {
        let p = parse_probe(
            br#"{"streams":[{"codec_type":"audio","codec_name":"mp3"},
                {"codec_type":"video","codec_name":"png","disposition":{"attached_pic":1}}],
                "format":{"duration":"6.5"}}"#,
        )
        .unwrap();
        assert!(p.has_audio && !p.has_video);
        assert_eq!(p.duration_s, Some(6.5));
    }

    #[test]
    fn sampling_respects_mode_and_cap() {
        let mut c = clipguard_core::Config::default().frames;
        c.mode = FrameMode::Fps;
        c.fps = 1.0;
        c.max_frames = 64;
        assert_eq!(sampling_fps(&c, Some(10.0)), 1.0);
        // 600 s at 1 fps would be 600 frames: capped to 64 spread over the video.
        assert!((sampling_fps(&c, Some(640.0)) - 0.1).abs() < 1e-9);
        c.mode = FrameMode::Count;
        c.count = 16;
        assert!((sampling_fps(&c, Some(8.0)) - 2.0).abs() < 1e-9);
    }
}
