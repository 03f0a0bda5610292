//! Users, API tokens and sessions in the embedded store (`migrations/0003_accounts_reviews.sql`).

use super::sql::{SqlStore, backend};
use crate::sql::now_text;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use clipguard_core::stage::{Accounts, Principal, Role, Session, StoreError};

fn role(text: &str) -> Result<Role, StoreError> {
    text.parse()
        .map_err(|e: String| StoreError::Corrupt(format!("users.role: {e}")))
}

fn principal(name: String, role_text: &str) -> Result<Principal, StoreError> {
    Ok(Principal {
        name,
        role: role(role_text)?,
    })
}

#[async_trait]
impl Accounts for SqlStore {
    async fn put_user(
        &self,
        name: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT(name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now_text())
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn user(&self, name: &str) -> Result<Option<(String, Role)>, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT password_hash, role FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
                .await
                .map_err(backend)?;
        row.map(|(hash, r)| Ok((hash, role(&r)?))).transpose()
    }

    async fn user_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(self.pool())
            .await
            .map_err(backend)?;
        Ok(n as u64)
    }

    async fn add_token(&self, token_hash: &str, user: &str, label: &str) -> Result<(), StoreError> {
        if self.user(user).await?.is_none() {
            return Err(StoreError::NotFound(format!("user `{user}`")));
        }
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, user_name, label, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user)
        .bind(label)
        .bind(now_text())
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn token_principal(&self, token_hash: &str) -> Result<Option<Principal>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT u.name, u.role FROM api_tokens t JOIN users u ON u.name = t.user_name
             WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await
        .map_err(backend)?;
        row.map(|(name, r)| principal(name, &r)).transpose()
    }

    async fn add_session(
        &self,
        id_hash: &str,
        user: &str,
        csrf: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Expired sessions are swept whenever a new one starts.
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now_text())
            .execute(self.pool())
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_name, csrf, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id_hash)
        .bind(user)
        .bind(csrf)
        .bind(expires_at.to_rfc3339_opts(SecondsFormat::Millis, true))
        .execute(self.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn session(&self, id_hash: &str) -> Result<Option<Session>, StoreError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.name = s.user_name
             WHERE s.id_hash = $1 AND s.expires_at > $2",
        )
        .bind(id_hash)
        .bind(now_text())
        .fetch_optional(self.pool())
        .await
        .map_err(backend)?;
        row.map(|(name, r, csrf)| {
            Ok(Session {
                principal: principal(name, &r)?,
                csrf,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
