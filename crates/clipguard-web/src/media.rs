//! `/media/{video id}`: a video's media, served by the app (never by a public bucket URL — the
//! seed made its buckets public), with HTTP range requests so the player can seek. Viewer role.

use crate::WebState;
use crate::api::video_or_404;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clipguard_core::stage::{MediaError, Role};

/// A media store error as the API reports it.
fn gone(e: MediaError) -> ApiError {
    match e {
        MediaError::NotFound(k) => ApiError::NotFound(format!("media `{k}` is gone")),
        other => ApiError::Unavailable(other.to_string()),
    }
}

/// The most one response carries; players ask again for the rest.
const MAX_CHUNK: u64 = 4 << 20;

/// `bytes=a-b` / `bytes=a-` / `bytes=-n` → (start, end exclusive), given the size.
pub fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // one range only
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size)
        }
        (a, "") => (a.parse().ok()?, size),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.saturating_add(1).min(size),
        ),
    };
    (start < end && start < size).then_some((start, end))
}

fn content_type(key: &str) -> &'static str {
    match key.rsplit('.').next().unwrap_or("") {
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

pub async fn media(
    State(s): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let video = video_or_404(&s, &id).await?;
    let key = video
        .media_key
        .ok_or_else(|| ApiError::NotFound(format!("video `{id}` has no stored media")))?;
    let size = match video.media_bytes {
        Some(n) => n,
        None => s.media.read_range(&key, 0, Some(0)).await.map_err(gone)?.1,
    };
    let requested = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, size));
    let (start, end, partial) = match requested {
        None => (0, size, false),
        Some(Some((a, b))) => (a, b, true),
        Some(None) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    let end = if partial {
        end.min(start + MAX_CHUNK)
    } else {
        end
    };
    let (bytes, total) = s
        .media
        .read_range(&key, start, Some(end))
        .await
        .map_err(gone)?;
    let sent = bytes.len() as u64;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&key)),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    if partial {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let last = start + sent.max(1) - 1;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{last}/{total}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

/// `/media/{video id}/thumb.jpg`: a 240-pixel-wide JPEG of the frame at one second (or the
/// first frame), made once by ffmpeg from the stored media and cached under the thumbnails
/// folder by content hash. ffmpeg runs with a time limit and no shell; a video whose media
/// cannot be read gets a 404, and the gallery shows its label instead.
pub async fn thumbnail(
    State(s): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let video = video_or_404(&s, &id).await?;
    let (Some(key), Some(hash)) = (video.media_key, video.content_hash) else {
        return Err(ApiError::NotFound(format!(
            "video `{id}` has no stored media"
        )));
    };
    if !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound("no thumbnail".into()));
    }
    let cached = s.settings.thumbnails.join(format!("{hash}.jpg"));
    if !cached.is_file() {
        let local = s.media.local_copy(&key).await.map_err(gone)?;
        tokio::fs::create_dir_all(&s.settings.thumbnails)
            .await
            .map_err(|e| ApiError::Unavailable(format!("thumbnails folder: {e}")))?;
        let partial = cached.with_extension("part.jpg");
        let mut ffmpeg = tokio::process::Command::new("ffmpeg");
        ffmpeg
            .args(["-v", "error", "-y", "-ss", "1", "-i"])
            .arg(&local.path)
            .args(["-frames:v", "1", "-vf", "scale=240:-2", "-q:v", "5"])
            .arg(&partial)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let ran = tokio::time::timeout(std::time::Duration::from_secs(15), ffmpeg.output()).await;
        let made = matches!(&ran, Ok(Ok(out)) if out.status.success())
            && tokio::fs::metadata(&partial)
                .await
                .is_ok_and(|m| m.len() > 0);
        if !made {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(ApiError::NotFound(format!("no thumbnail for `{id}`")));
        }
        tokio::fs::rename(&partial, &cached)
            .await
            .map_err(|e| ApiError::Unavailable(format!("thumbnail: {e}")))?;
    }
    let bytes = tokio::fs::read(&cached)
        .await
        .map_err(|e| ApiError::Unavailable(format!("thumbnail: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 100)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 1000)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 1000)));
        assert_eq!(parse_range("bytes=0-5000", 1000), Some((0, 1000)));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=5-2", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
    }
}
