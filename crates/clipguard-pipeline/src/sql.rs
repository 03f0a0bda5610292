//! The SQL store's connection: one `sqlx::AnyPool` over either the embedded SQLite file or a
//! PostgreSQL server, chosen by `[store] url`, with the matching migrations applied on open.
//!
//! Why `Any` rather than two stores: the queries are the same text for both engines (`$N`
//! placeholders, `ON CONFLICT`, `RETURNING`, timestamps as RFC 3339 text, JSON as text), so one
//! implementation serves both and the parameterised tests prove it. The few places where the
//! engines differ (reading a JSON field, substring search, a transaction-wide lock) go through
//! [`Dialect`], and nowhere else.

use clipguard_core::config::Config;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The engine behind a pool, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A text field of a JSON column, by a literal key (`key` is ours, never user input).
    pub fn json_text(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Dialect::Postgres => format!("({column}::jsonb ->> '{key}')"),
        }
    }

    /// A numeric field of a JSON column whose key is the bound parameter `param` (`$2`).
    pub fn json_number_at(self, column: &str, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.' || {param})"),
            Dialect::Postgres => format!("({column}::jsonb ->> {param})::float8"),
        }
    }

    /// `haystack` contains `needle` (plain text, no wildcards).
    pub fn contains(self, haystack: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr({haystack}, {needle}) > 0"),
            Dialect::Postgres => format!("strpos({haystack}, {needle}) > 0"),
        }
    }

    /// A statement that makes the current transaction exclusive among its kind (`key` names
    /// the kind). SQLite serialises writers already once the transaction has written.
    pub fn exclusive(self, key: i64) -> Option<String> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(format!("SELECT pg_advisory_xact_lock({key})")),
        }
    }
}

/// Where the store lives: `[store] url`, or `<data>/clipguard.db` when it is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(PathBuf),
    Postgres(String),
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "unsupported [store] url `{0}`: use postgres://user:password@host:port/db or sqlite:///path"
    )]
    Scheme(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreLocation {
    pub fn from_config(config: &Config) -> Result<StoreLocation, OpenError> {
        let url = config.store.url.trim();
        if url.is_empty() {
            return Ok(StoreLocation::Sqlite(config.data.dir.join("clipguard.db")));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres(url.to_string()));
        }
        match url.strip_prefix("sqlite://") {
            Some(path) if !path.is_empty() => Ok(StoreLocation::Sqlite(PathBuf::from(path))),
            _ => Err(OpenError::Scheme(redact(url))),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            StoreLocation::Sqlite(_) => Dialect::Sqlite,
            StoreLocation::Postgres(_) => Dialect::Postgres,
        }
    }

    /// For messages and `doctor`: the password is never shown.
    pub fn display(&self) -> String {
        match self {
            StoreLocation::Sqlite(path) => path.display().to_string(),
            StoreLocation::Postgres(url) => redact(url),
        }
    }
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// `url` with PostgreSQL's prepared-statement cache off. Why: through `Any`, a NULL float
/// parameter is typed float4 while a value is float8, and a statement cached from one call is
/// then sent the other's bytes ("incorrect binary data format"). Unnamed statements are
/// prepared with each call's own types; the cost is one parse per query.
fn uncached(url: &str) -> String {
    if url.contains("statement-cache-capacity=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}statement-cache-capacity=0")
}

/// Opens the pool and brings the schema up to date. SQLite: WAL so readers never block the
/// worker, FULL sync so an acknowledged verdict survives a power cut, a busy timeout so
/// concurrent writers wait. PostgreSQL: a bounded pool whose acquire timeout turns an outage
/// into an error the worker retries (it never waits forever holding messages).
pub async fn open(
    location: &StoreLocation,
    max_connections: u32,
) -> Result<(AnyPool, Dialect), OpenError> {
    sqlx::any::install_default_drivers();
    let (url, migrator) = match location {
        StoreLocation::Sqlite(path) => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
            }
            (
                format!("sqlite://{}?mode=rwc", path.display()),
                &SQLITE_MIGRATIONS,
            )
        }
        StoreLocation::Postgres(url) => (uncached(url), &POSTGRES_MIGRATIONS),
    };
    let dialect = location.dialect();
    let options = AnyConnectOptions::from_str(&url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if dialect == Dialect::Sqlite {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                         PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    migrator.run(&pool).await?;
    Ok((pool, dialect))
}

/// Milliseconds since the Unix epoch (queue times are integers so comparisons are exact).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// RFC 3339 UTC with milliseconds: sortable as text.
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://cg:hunter2@db:5432/cg"),
            "postgres://cg:***@db:5432/cg"
        );
        assert_eq!(redact("postgres://db/cg"), "postgres://db/cg");
    }

    #[test]
    fn dialects_differ_only_in_fragments() {
        assert_eq!(
            Dialect::Sqlite.json_text("data", "video_id"),
            "json_extract(data, '$.video_id')"
        );
        assert_eq!(
            Dialect::Postgres.json_text("data", "video_id"),
            "(data::jsonb ->> 'video_id')"
        );
        assert!(Dialect::Sqlite.exclusive(1).is_none());
    }
}
