-- Crawl jobs saved from the dashboard (#7) are a third kind of versioned setting. SQLite cannot
-- change a CHECK constraint in place: the table is rebuilt with its rows and ids.
CREATE TABLE settings_versions_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL CHECK (kind IN ('rules', 'thresholds', 'crawl_jobs')),
    body        TEXT NOT NULL,
    author      TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
INSERT INTO settings_versions_new (id, kind, body, author, note, created_at)
    SELECT id, kind, body, author, note, created_at FROM settings_versions;
DROP TABLE settings_versions;
ALTER TABLE settings_versions_new RENAME TO settings_versions;
CREATE INDEX settings_versions_kind ON settings_versions(kind, id);
