//! Video search in the store: one SQL query over each video's latest verdict; every
//! user value is bound (never spliced into the SQL), and LIKE wildcards in the search text are
//! escaped so `%` means a percent sign.

use super::sql::{backend, from_json};
use crate::sql::Dialect;
use clipguard_core::Category;
use clipguard_core::search::{VideoQuery, VideoRow};
use clipguard_core::stage::StoreError;
use sqlx::AnyPool;
use std::collections::BTreeMap;

fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `YYYY-MM-DD` → the start of that day (UTC); anything else is used as given.
fn day_start(value: &str) -> String {
    if value.len() == 10 && value.as_bytes()[4] == b'-' {
        format!("{value}T00:00:00.000Z")
    } else {
        value.to_string()
    }
}

pub async fn search(
    pool: &AnyPool,
    dialect: Dialect,
    q: &VideoQuery,
) -> Result<Vec<VideoRow>, StoreError> {
    q.validate().map_err(StoreError::NotFound)?;
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<i64>,
        Option<f64>,
        Option<String>,
        Option<String>,
        i64,
    );
    let sql = format!(
        "SELECT v.id, v.caption, v.source, v.ingested_at, vd.status, vd.harmful, vd.harmful_score,
                vd.decided_at, vd.categories,
                CASE WHEN EXISTS (SELECT 1 FROM reviews r WHERE r.video_id = v.id) THEN 1 ELSE 0 END
         FROM videos v
         LEFT JOIN verdicts vd ON vd.video_id = v.id
              AND vd.decided_at = (SELECT max(decided_at) FROM verdicts WHERE video_id = v.id)
         WHERE ($1 IS NULL
                OR ($1 = 'pending' AND vd.status IS NULL)
                OR ($1 = 'failed' AND vd.status = 'failed')
                OR ($1 = 'harmful' AND vd.status = 'ok' AND vd.harmful = 1)
                OR ($1 = 'safe' AND vd.status = 'ok' AND vd.harmful = 0))
           AND ($2 IS NULL OR {category} >= 0.5)
           AND ($3 IS NULL OR vd.harmful_score >= $3)
           AND ($4 IS NULL OR vd.harmful_score <= $4)
           AND ($5 IS NULL OR {source})
           AND ($6 IS NULL OR v.ingested_at >= $6)
           AND ($7 IS NULL OR v.ingested_at < $7)
           AND ($8 IS NULL OR {model})
           AND ($9 IS NULL OR lower(v.caption || ' ' || v.hashtags || ' ' || v.comments || ' '
                                    || coalesce(vd.texts, '')) LIKE $9 ESCAPE '\\')
         ORDER BY v.ingested_at DESC, v.id
         LIMIT $10 OFFSET $11",
        category = dialect.json_number_at("vd.categories", "$2"),
        source = dialect.contains("v.source", "$5"),
        model = dialect.contains("vd.model_versions", "$8"),
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(&q.verdict)
        .bind(q.category.map(|c| c.to_string()))
        .bind(q.min_score)
        .bind(q.max_score)
        .bind(&q.source)
        .bind(q.since.as_deref().map(day_start))
        .bind(q.until.as_deref().map(day_start))
        .bind(&q.model)
        .bind(
            q.q.as_deref()
                .filter(|t| !t.trim().is_empty())
                .map(like_pattern),
        )
        .bind(q.limit() as i64)
        .bind(q.offset.unwrap_or(0) as i64)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.into_iter()
        .map(
            |(
                id,
                caption,
                source,
                ingested_at,
                status,
                harmful,
                score,
                decided_at,
                categories,
                reviewed,
            )| {
                let label = match (status.as_deref(), harmful) {
                    (None, _) => "pending",
                    (Some("failed"), _) => "failed",
                    (_, Some(1)) => "harmful",
                    _ => "safe",
                };
                let categories: BTreeMap<Category, Option<f32>> = match &categories {
                    Some(text) => from_json("verdicts.categories", text)?,
                    None => BTreeMap::new(),
                };
                let top_category = categories
                    .iter()
                    .filter_map(|(c, s)| s.map(|s| (*c, s)))
                    .filter(|(_, s)| *s > 0.0)
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(c, _)| c);
                Ok(VideoRow {
                    video_id: id,
                    caption,
                    source,
                    ingested_at,
                    label: label.to_string(),
                    harmful_score: score.map(|s| s as f32),
                    decided_at,
                    top_category,
                    reviewed: reviewed != 0,
                })
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_literal_and_days_are_expanded() {
        assert_eq!(like_pattern("50%_Off"), "%50\\%\\_off%");
        assert_eq!(day_start("2026-12-05"), "2026-12-05T00:00:00.000Z");
        assert_eq!(day_start("2026-12-05T10:00:00Z"), "2026-12-05T10:00:00Z");
    }
}
