-- Crawl jobs saved from the dashboard (#7) are a third kind of versioned setting.
ALTER TABLE settings_versions DROP CONSTRAINT settings_versions_kind_check;
ALTER TABLE settings_versions ADD CONSTRAINT settings_versions_kind_check
    CHECK (kind IN ('rules', 'thresholds', 'crawl_jobs'));
