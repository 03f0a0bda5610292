-- Versioned settings edited from the dashboard (#5): keyword rules and decision thresholds.
-- Every save is a row; the newest of a kind is in force; the rows are the audit trail.
CREATE TABLE settings_versions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL CHECK (kind IN ('rules', 'thresholds')),
    body        TEXT NOT NULL,
    author      TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX settings_versions_kind ON settings_versions(kind, id);
