//! Versioned settings in the embedded store (`migrations/0004_settings.sql`).

use super::sql::{SqlStore, backend};
use crate::sql::now_text;
use async_trait::async_trait;
use clipguard_core::stage::{SettingVersion, Settings, StoreError};

type Row = (i64, String, String, String, String, String);

fn version((id, kind, body, author, note, created_at): Row) -> SettingVersion {
    SettingVersion {
        id,
        kind,
        body,
        author,
        note,
        created_at,
    }
}

#[async_trait]
impl Settings for SqlStore {
    async fn put_setting(
        &self,
        kind: &str,
        body: &str,
        author: &str,
        note: &str,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO settings_versions (kind, body, author, note, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(kind)
        .bind(body)
        .bind(author)
        .bind(note)
        .bind(now_text())
        .fetch_one(self.pool())
        .await
        .map_err(backend)
    }

    async fn latest_setting(&self, kind: &str) -> Result<Option<SettingVersion>, StoreError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, kind, body, author, note, created_at FROM settings_versions
             WHERE kind = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(kind)
        .fetch_optional(self.pool())
        .await
        .map_err(backend)?;
        Ok(row.map(version))
    }

    async fn setting_history(
        &self,
        kind: &str,
        limit: u32,
    ) -> Result<Vec<SettingVersion>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, kind, body, author, note, created_at FROM settings_versions
             WHERE kind = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(kind)
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        Ok(rows.into_iter().map(version).collect())
    }
}
