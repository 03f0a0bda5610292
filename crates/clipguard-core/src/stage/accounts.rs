//! People and their rights: users with a role, API tokens and login sessions.
//!
//! Secrets are never stored: tokens and session ids are kept as sha256 digests and passwords
//! as argon2 hashes (made by the web crate). A token or session takes its user's *current*
//! role, so demoting someone takes effect at their next request.

use super::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What someone may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads pages and the API.
    Viewer,
    /// Also claims and decides reviews.
    Reviewer,
    /// Also promotes and rolls back models, retries dead letters, edits rules, manages users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Reviewer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}` (viewer, reviewer, admin)"))
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

/// A login session: who, and the CSRF token its forms must echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub principal: Principal,
    pub csrf: String,
}

#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates the user, or replaces its role and password.
    async fn put_user(&self, name: &str, role: Role, password_hash: &str)
    -> Result<(), StoreError>;
    /// The stored password hash and role.
    async fn user(&self, name: &str) -> Result<Option<(String, Role)>, StoreError>;
    async fn user_count(&self) -> Result<u64, StoreError>;
    async fn add_token(&self, token_hash: &str, user: &str, label: &str) -> Result<(), StoreError>;
    async fn token_principal(&self, token_hash: &str) -> Result<Option<Principal>, StoreError>;
    async fn add_session(
        &self,
        id_hash: &str,
        user: &str,
        csrf: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The session if it exists and has not expired.
    async fn session(&self, id_hash: &str) -> Result<Option<Session>, StoreError>;
    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
}
