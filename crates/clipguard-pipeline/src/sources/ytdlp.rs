//! Reading yt-dlp's sidecar files: `<id>.info.json`, `<id>.description`, `<id>.comments.json`.
//!
//! Only the fields ClipGuard uses are read. The rest of `info.json` — including any cookies or
//! request headers yt-dlp may have written (the seed leaked session cookies this way) — is never
//! copied anywhere.

use super::{Metadata, SourceError};
use clipguard_core::{Comment, Counts};
use serde_json::Value;
use std::path::Path;

/// Largest sidecar read (a comments dump can be big; beyond this it is hostile).
const MAX_SIDECAR_BYTES: u64 = 64 * 1024 * 1024;

fn read_capped(path: &Path) -> Result<String, SourceError> {
    let len = std::fs::metadata(path)
        .map_err(|e| SourceError::io(path, e))?
        .len();
    if len > MAX_SIDECAR_BYTES {
        return Err(SourceError::io(
            path,
            format!("{len} bytes, over the {MAX_SIDECAR_BYTES}-byte sidecar limit"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| SourceError::io(path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Parses `info.json` into metadata.
pub fn read_info_json(path: &Path) -> Result<Metadata, SourceError> {
    let text = read_capped(path)?;
    let v: Value = serde_json::from_str(&text).map_err(|e| SourceError::io(path, e))?;
    let mut meta = from_info(&v);
    meta.origin = path.display().to_string();
    Ok(meta)
}

fn str_field(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .filter_map(|k| v.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

fn u64_field(v: &Value, key: &str) -> Option<u64> {
    v.get(key)
        .and_then(|x| x.as_u64().or_else(|| x.as_f64().map(|f| f as u64)))
}

pub fn from_info(v: &Value) -> Metadata {
    let platform = str_field(v, &["extractor_key", "extractor"]).map(|p| {
        p.to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
    });
    let id = v.get("id").and_then(|x| match x {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let hashtags = v
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Metadata {
        platform,
        platform_id: id,
        source_url: str_field(v, &["webpage_url", "original_url"]),
        author: str_field(v, &["uploader", "uploader_id", "channel", "creator"]),
        caption: str_field(v, &["description", "title", "fulltitle"]).unwrap_or_default(),
        hashtags,
        comments: v.get("comments").map(comments_from).unwrap_or_default(),
        duration_s: v.get("duration").and_then(Value::as_f64),
        counts: Counts {
            views: u64_field(v, "view_count"),
            likes: u64_field(v, "like_count"),
            comments: u64_field(v, "comment_count"),
            shares: u64_field(v, "repost_count"),
        },
        weak_label: None,
        origin: String::new(),
    }
}

/// yt-dlp's comment objects (`text`, `author`, `like_count`), or plain strings.
pub fn comments_from(v: &Value) -> Vec<Comment> {
    let Some(items) = v.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|c| match c {
            Value::String(s) => Some(Comment {
                text: s.clone(),
                ..Comment::default()
            }),
            Value::Object(_) => Some(Comment {
                text: str_field(c, &["text", "comment", "content"])?,
                author: str_field(c, &["author", "author_id"]),
                likes: u64_field(c, "like_count"),
            }),
            _ => None,
        })
        .collect()
}

/// Reads `<stem>.description` if present.
pub fn read_description(path: &Path) -> Result<Option<String>, SourceError> {
    if !path.is_file() {
        return Ok(None);
    }
    Ok(Some(read_capped(path)?.trim().to_string()))
}

/// Reads `<stem>.comments.json` (a list of comments, or an object with a `comments` list).
pub fn read_comments_json(path: &Path) -> Result<Vec<Comment>, SourceError> {
    let text = read_capped(path)?;
    let v: Value = serde_json::from_str(&text).map_err(|e| SourceError::io(path, e))?;
    Ok(match v.get("comments") {
        Some(list) => comments_from(list),
        None => comments_from(&v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_we_use_and_nothing_secret() {
        let v: Value = serde_json::json!({
            "id": "7400000000000000001", "extractor_key": "TikTok",
            "webpage_url": "https://www.tiktok.com/@u/video/7400000000000000001",
            "uploader": "u", "description": "Phở ngon #review_an_uong", "title": "Phở",
            "tags": ["review_an_uong"], "duration": 7.5, "view_count": 10, "like_count": 2.0,
            "comments": [{"text": "ngon quá", "author": "a", "like_count": 3}, "plain", 5],
            "cookies": "sessionid=SECRET", "http_headers": {"Cookie": "sessionid=SECRET"}
        });
        let m = from_info(&v);
        assert_eq!(m.platform.as_deref(), Some("tiktok"));
        assert_eq!(m.platform_id.as_deref(), Some("7400000000000000001"));
        assert_eq!(m.caption, "Phở ngon #review_an_uong");
        assert_eq!(m.comments.len(), 2);
        assert_eq!(m.comments[0].likes, Some(3));
        assert_eq!(m.counts.likes, Some(2));
        assert!(!format!("{m:?}").contains("SECRET"));
    }
}
