-- People (#5): users with a role, API tokens and login sessions (secrets stored as digests),
-- and the review queue's claims.

CREATE TABLE users (
    name           TEXT PRIMARY KEY,
    role           TEXT NOT NULL CHECK (role IN ('viewer', 'reviewer', 'admin')),
    password_hash  TEXT NOT NULL,             -- argon2 PHC string
    created_at     TEXT NOT NULL
);

CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY,             -- sha256 of the token, hex
    user_name   TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    label       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,             -- sha256 of the cookie value, hex
    user_name   TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

-- A reviewer holds a queued video until expires_at; one holder per video.
CREATE TABLE review_claims (
    video_id    TEXT PRIMARY KEY REFERENCES videos(id),
    reviewer    TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

CREATE INDEX reviews_video ON reviews(video_id);
