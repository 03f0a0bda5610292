//! A video as ingested: normalised metadata plus the keys of its media in the media store.
//! Everything here comes from outside (captions and comments are hostile input): it is stored
//! and shown escaped, never interpreted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The label a video inherited from where it was found (the seed's hashtag lists), not a
/// judgement about its content. Kept for evaluation and for training as a weak signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeakLabel {
    Harmful,
    Safe,
}

impl WeakLabel {
    /// Parses the seed's label spellings: `harmful`, `not_harmful`, `safe` (and 1/0).
    pub fn parse(s: &str) -> Option<WeakLabel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "harmful" | "1" | "risky" => Some(WeakLabel::Harmful),
            "not_harmful" | "safe" | "0" | "not harmful" => Some(WeakLabel::Safe),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WeakLabel::Harmful => "harmful",
            WeakLabel::Safe => "safe",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likes: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub views: Option<u64>,
    pub likes: Option<u64>,
    pub comments: Option<u64>,
    pub shares: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Video {
    /// Stable id inside ClipGuard: `{platform}:{platform_id}`, or `sha256:{hash}` when the
    /// platform id is unknown (a bare file).
    pub id: String,
    /// `tiktok`, `youtube`, `file`, `http`, … as reported by the source.
    pub platform: String,
    pub platform_id: String,
    pub source_url: Option<String>,
    pub author: Option<String>,
    pub caption: String,
    pub hashtags: Vec<String>,
    pub comments: Vec<Comment>,
    pub duration_s: Option<f64>,
    pub counts: Counts,
    /// Media store key of the uploaded media (video or audio-only), content-addressed.
    pub media_key: Option<String>,
    /// sha256 of the media bytes; the second dedup key after the platform id.
    pub content_hash: Option<String>,
    pub media_bytes: Option<u64>,
    pub weak_label: Option<WeakLabel>,
    /// Where it came from (folder path, CSV file, URL) for the operator.
    pub source: String,
    pub ingested_at: DateTime<Utc>,
}

impl Video {
    /// Caption and hashtags as one text, the way a viewer reads them.
    pub fn caption_text(&self) -> String {
        let mut out = self.caption.clone();
        for tag in &self.hashtags {
            if !out.contains(&format!("#{tag}")) {
                out.push_str(" #");
                out.push_str(tag);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_labels_accept_the_seed_spellings() {
        assert_eq!(WeakLabel::parse("harmful"), Some(WeakLabel::Harmful));
        assert_eq!(WeakLabel::parse("not_harmful"), Some(WeakLabel::Safe));
        assert_eq!(WeakLabel::parse(" Safe "), Some(WeakLabel::Safe));
        assert_eq!(WeakLabel::parse("maybe"), None);
    }
}
