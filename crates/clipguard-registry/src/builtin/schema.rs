//! The built-in registry's tables, created by the registry itself (`IF NOT EXISTS`) in the same
//! SQLite file as the queue and store: the pipeline's migrations stay the pipeline's, and a
//! registry can be opened on any pool without a migration step.

use sqlx::SqlitePool;

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
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        at TEXT NOT NULL,
        entry TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS registry_audit_by_name ON registry_audit (name, id)",
];

pub(crate) async fn ensure(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    for statement in STATEMENTS {
        sqlx::query(statement).execute(pool).await?;
    }
    Ok(())
}
