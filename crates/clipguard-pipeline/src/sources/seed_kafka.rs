//! The seed's Kafka messages (topic `tiktok_raw_data`), adopted as videos, so the seed's
//! crawler/downloader can feed ClipGuard while it is being replaced:
//! `{video_id, minio_video_path, minio_audio_path, clean_text, csv_label, timestamp}`.
//!
//! The seed's media paths name objects in its own MinIO buckets (`bucket/key` or
//! `s3://bucket/key`). When the same key exists in ClipGuard's media store (the operator points
//! `[media]` at that bucket or copies it), the video is analysed with its media; otherwise it is
//! analysed on its text alone and the frames are reported "not covered" — never assumed safe.

use clipguard_core::{Video, WeakLabel};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SeedMessage {
    pub video_id: String,
    #[serde(default)]
    pub minio_video_path: Option<String>,
    #[serde(default)]
    pub minio_audio_path: Option<String>,
    #[serde(default)]
    pub clean_text: String,
    /// `harmful`/`safe`, or the seed's 1/0.
    #[serde(default)]
    pub csv_label: Option<serde_json::Value>,
    #[serde(default)]
    pub timestamp: Option<serde_json::Value>,
}

impl SeedMessage {
    /// A seed message, if `payload` is one (the queue wraps them as `{"seed": …}`).
    pub fn from_payload(payload: &serde_json::Value) -> Option<SeedMessage> {
        let seed: SeedMessage = serde_json::from_value(payload.get("seed")?.clone()).ok()?;
        let id_ok = !seed.video_id.is_empty()
            && seed.video_id.len() <= 64
            && seed
                .video_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        id_ok.then_some(seed)
    }

    fn weak_label(&self) -> Option<WeakLabel> {
        match self.csv_label.as_ref()? {
            serde_json::Value::String(s) => WeakLabel::parse(s),
            serde_json::Value::Number(n) => match n.as_i64()? {
                1 => Some(WeakLabel::Harmful),
                0 => Some(WeakLabel::Safe),
                _ => None,
            },
            _ => None,
        }
    }

    /// Keys the media might have in ClipGuard's store: the path without a scheme, and without
    /// its first segment (the seed's bucket name), video first, then audio.
    pub fn media_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for path in [&self.minio_video_path, &self.minio_audio_path]
            .into_iter()
            .flatten()
        {
            let path = path.strip_prefix("s3://").unwrap_or(path).trim_matches('/');
            if path.is_empty() || path.split('/').any(|s| s == "..") {
                continue;
            }
            keys.push(path.to_string());
            if let Some((_bucket, key)) = path.split_once('/') {
                keys.push(key.to_string());
            }
        }
        keys
    }

    /// The video this message describes (no media yet), id `tiktok:<video_id>`.
    pub fn video(&self, topic: &str) -> Video {
        Video {
            id: format!("tiktok:{}", self.video_id),
            platform: "tiktok".into(),
            platform_id: self.video_id.clone(),
            source_url: Some(format!("https://www.tiktok.com/video/{}", self.video_id)),
            author: None,
            caption: self.clean_text.clone(),
            hashtags: Vec::new(),
            comments: Vec::new(),
            duration_s: None,
            counts: Default::default(),
            media_key: None,
            content_hash: None,
            media_bytes: None,
            weak_label: self.weak_label(),
            source: format!("kafka:{topic}"),
            ingested_at: chrono::Utc::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_messages_become_videos_and_hostile_ids_are_refused() {
        let payload = serde_json::json!({"seed": {
            "video_id": "7301", "minio_video_path": "tiktok-raw-videos/harmful/7301.mp4",
            "minio_audio_path": "tiktok-raw-audios/7301.wav", "clean_text": "hút cỏ",
            "csv_label": 1, "timestamp": 1700000000
        }});
        let seed = SeedMessage::from_payload(&payload).unwrap();
        let video = seed.video("tiktok_raw_data");
        assert_eq!(video.id, "tiktok:7301");
        assert_eq!(video.weak_label, Some(WeakLabel::Harmful));
        assert_eq!(
            seed.media_keys()[..2],
            [
                "tiktok-raw-videos/harmful/7301.mp4".to_string(),
                "harmful/7301.mp4".to_string()
            ]
        );
        for bad in ["../etc", "a b", ""] {
            let p = serde_json::json!({"seed": {"video_id": bad}});
            assert!(SeedMessage::from_payload(&p).is_none(), "{bad}");
        }
        assert!(SeedMessage::from_payload(&serde_json::json!({"video_id": "1"})).is_none());
    }
}
