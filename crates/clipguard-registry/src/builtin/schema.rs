//! The built-in registry's tables, created by the registry itself (`IF NOT EXISTS`) in the
//! store's database (SQLite or PostgreSQL): the pipeline's migrations stay the pipeline's, and a
//! registry can be opened on any pool without a migration step. The statements are the same
//! for both engines but for the audit log's sequence column.

use sqlx::{AnyPool, Connection};

const STATEMENTS: &[&str] = &[
    // One row per registered version; `version` is the per-name sequence number.
    // `manifest` is the ModelManifest JSON, `files` the BundleIndex JSON (sizes + sha256).
    "CREATE TABLE IF NOT EXISTS registry_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        manifest TEXT NOT NULL,
        files TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (name, version)
    )",
    "CREATE TABLE IF NOT EXISTS registry_aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (name, alias),
        FOREIGN KEY (name, version) REFERENCES registry_versions (name, version)
    )",
    // Append-only; `id` gives the order rollback replays. `entry` is the Decision JSON.
    "CREATE TABLE IF NOT EXISTS registry_audit (
        id SERIAL_ID,
        name TEXT NOT NULL,
        at TEXT NOT NULL,
        entry TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS registry_audit_by_name ON registry_audit (name, id)",
];

pub(crate) async fn ensure(pool: &AnyPool) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let serial = match conn.backend_name() {
        "PostgreSQL" => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        _ => "INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    // Several workers may open the registry at once: PostgreSQL's `IF NOT EXISTS` is not
    // atomic against a concurrent CREATE, so the statements run as one transaction holding
    // a lock (SQLite serialises writers anyway).
    let mut tx = conn.begin().await?;
    if tx.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_advisory_xact_lock(7265676973747279)")
            .execute(&mut *tx)
            .await?;
    }
    for statement in STATEMENTS {
        sqlx::query(&statement.replace("SERIAL_ID", serial))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}
