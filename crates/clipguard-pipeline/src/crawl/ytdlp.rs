//! Running yt-dlp: `--flat-playlist -J` to list what a page holds without downloading, then one
//! bounded download per new entry with its metadata (`info.json`, description). The binary is
//! the project's pinned one (`scripts/ytdlp-venv.sh`) unless `[crawl] ytdlp` names another.
//! The cookies file, when set, is passed by path and never logged. Every connection goes
//! through the crawl's guard proxy (`--proxy`, see `proxy.rs`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YtDlpError {
    #[error("cannot run yt-dlp `{bin}`: {message} (scripts/ytdlp-venv.sh installs it)")]
    Missing { bin: String, message: String },
    #[error("yt-dlp failed: {0}")]
    Failed(String),
    #[error("yt-dlp took longer than {0} s")]
    Timeout(u64),
    #[error("yt-dlp printed unreadable JSON: {0}")]
    Json(String),
}

/// One item a page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: Option<String>,
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct YtDlp {
    pub bin: PathBuf,
    pub cookies: Option<PathBuf>,
    /// Every connection through this proxy (the crawl's guard proxy, `proxy.rs`).
    pub proxy: Option<String>,
}

impl YtDlp {
    /// `configured` if set, else the pinned venv's binary when present, else `yt-dlp` on PATH.
    pub fn locate(configured: &str, cookies: &str) -> YtDlp {
        let bin = if !configured.trim().is_empty() {
            PathBuf::from(configured.trim())
        } else {
            let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
            let cache = std::env::var_os("CLIPGUARD_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join(".cache/clipguard"));
            let pinned = cache.join("venv-ytdlp/bin/yt-dlp");
            if pinned.is_file() {
                pinned
            } else {
                PathBuf::from("yt-dlp")
            }
        };
        let cookies = (!cookies.trim().is_empty()).then(|| PathBuf::from(cookies.trim()));
        YtDlp {
            bin,
            cookies,
            proxy: None,
        }
    }

    async fn run(&self, args: &[&str], limit: Duration) -> Result<Vec<u8>, YtDlpError> {
        let mut cmd = Command::new(&self.bin);
        // Never read a user's yt-dlp config or plugins, a browser's cookies, or run commands;
        // never fetch updates; no colours in errors.
        cmd.args([
            "--ignore-config",
            "--no-plugin-dirs",
            "--no-cookies-from-browser",
            "--no-exec",
            "--no-update",
            "--no-color",
            "--no-progress",
        ]);
        if let Some(cookies) = &self.cookies {
            cmd.arg("--cookies").arg(cookies);
        }
        if let Some(proxy) = &self.proxy {
            cmd.arg("--proxy").arg(proxy);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| YtDlpError::Missing {
            bin: self.bin.display().to_string(),
            message: e.to_string(),
        })?;
        let out = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .map_err(|_| YtDlpError::Timeout(limit.as_secs()))?
            .map_err(|e| YtDlpError::Failed(e.to_string()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| l.contains("ERROR"))
                .unwrap_or_else(|| err.lines().last().unwrap_or("no output"));
            return Err(YtDlpError::Failed(last.chars().take(400).collect()));
        }
        Ok(out.stdout)
    }

    /// What `url` lists (a playlist's entries, or the page itself when it is one video): the
    /// `count` entries after the first `skip` (yt-dlp pages only that far).
    pub async fn discover(
        &self,
        url: &str,
        (skip, count): (usize, usize),
        limit: Duration,
    ) -> Result<Vec<Entry>, YtDlpError> {
        let items = format!("{}:{}", skip + 1, skip + count.max(1));
        let out = self
            .run(&["--flat-playlist", "-J", "-I", &items, "--", url], limit)
            .await?;
        let v: serde_json::Value =
            serde_json::from_slice(&out).map_err(|e| YtDlpError::Json(e.to_string()))?;
        let entry = |e: &serde_json::Value| {
            // An entry's own `url` (a video page or a media file); `webpage_url` of a flat
            // entry may be the listing page itself.
            let url = e
                .get("url")
                .or_else(|| e.get("webpage_url"))
                .and_then(|u| u.as_str())?;
            Some(Entry {
                id: e.get("id").and_then(|i| i.as_str()).map(str::to_string),
                url: url.to_string(),
            })
        };
        Ok(match v.get("entries").and_then(|e| e.as_array()) {
            Some(entries) => entries.iter().filter_map(entry).collect(),
            None => entry(&v).into_iter().collect(),
        })
    }

    /// Downloads one video into `dir` as `<id>.<ext>` + `<id>.info.json` + `<id>.description`,
    /// unless it is over `max_bytes` or (when its duration is known) `max_secs`.
    pub async fn download(
        &self,
        url: &str,
        dir: &Path,
        (max_bytes, max_secs): (u64, f64),
        limit: Duration,
    ) -> Result<(), YtDlpError> {
        let template = dir.join("%(id)s.%(ext)s");
        let max = max_bytes.to_string();
        // `<=?`: pass when the extractor does not know the duration before downloading (the
        // generic one); ingest measures the file afterwards either way.
        let duration = format!("duration <=? {max_secs}");
        let template = template.to_string_lossy();
        self.run(
            &[
                "--no-playlist",
                "--max-filesize",
                &max,
                "--match-filter",
                &duration,
                "--socket-timeout",
                "30",
                "--write-info-json",
                "--write-description",
                // Comments (into info.json) where the extractor offers them — the text model's
                // main input; yt-dlp's TikTok extractor does not, YouTube's does (capped).
                "--write-comments",
                "--extractor-args",
                "youtube:max_comments=200",
                "--no-write-playlist-metafiles",
                "-f",
                "mp4/best",
                "-o",
                &template,
                "--",
                url,
            ],
            limit,
        )
        .await?;
        Ok(())
    }
}
