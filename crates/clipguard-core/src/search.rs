//! Finding videos: the filters of the dashboard's video list and of `/api/v1/videos` (and its
//! CSV/JSON export). Every filter is optional; text search covers the caption, hashtags,
//! comments, transcript and on-screen text.

use crate::Category;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VideoQuery {
    /// `harmful`, `safe`, `failed` or `pending` (no verdict yet), by the latest verdict.
    pub verdict: Option<String>,
    /// Latest verdict's score for this category ≥ 0.5.
    #[serde(deserialize_with = "empty_as_none")]
    pub category: Option<Category>,
    #[serde(deserialize_with = "empty_as_none")]
    pub min_score: Option<f32>,
    #[serde(deserialize_with = "empty_as_none")]
    pub max_score: Option<f32>,
    /// Substring of the source (folder, CSV, URL).
    pub source: Option<String>,
    /// Ingested on or after / before (RFC 3339 or `YYYY-MM-DD`).
    pub since: Option<String>,
    pub until: Option<String>,
    /// Substring of any model version the latest verdict records.
    pub model: Option<String>,
    /// Text search (case-insensitive for ASCII).
    pub q: Option<String>,
    #[serde(deserialize_with = "empty_as_none")]
    pub limit: Option<u32>,
    #[serde(deserialize_with = "empty_as_none")]
    pub offset: Option<u32>,
}

/// Query strings carry every value as text, and an empty form field means "no filter".
fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text: Option<String> = Option::deserialize(d)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

impl VideoQuery {
    pub const MAX_LIMIT: u32 = 5000;

    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, Self::MAX_LIMIT)
    }

    /// Refuses values no query can mean.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(v) = &self.verdict
            && !["harmful", "safe", "failed", "pending"].contains(&v.as_str())
        {
            return Err(format!(
                "verdict `{v}`: expected harmful, safe, failed or pending"
            ));
        }
        for s in [self.min_score, self.max_score].into_iter().flatten() {
            if !(0.0..=1.0).contains(&s) {
                return Err(format!("score bound {s} is outside 0..=1"));
            }
        }
        if self.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
            return Err("search text longer than 200 characters".into());
        }
        Ok(())
    }
}

/// One row of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoRow {
    pub video_id: String,
    pub caption: String,
    pub source: String,
    pub ingested_at: String,
    /// `harmful`, `safe`, `failed` or `pending`.
    pub label: String,
    pub harmful_score: Option<f32>,
    pub decided_at: Option<String>,
    /// The highest-scoring category of the latest verdict, if any was covered.
    pub top_category: Option<Category>,
    pub reviewed: bool,
}
