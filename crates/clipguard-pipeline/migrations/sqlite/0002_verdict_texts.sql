-- Transcript segments and on-screen text read out of the media (#3), JSON list of
-- ExtractedText; searchable by the dashboard (#5).
ALTER TABLE verdicts ADD COLUMN texts TEXT NOT NULL DEFAULT '[]';
