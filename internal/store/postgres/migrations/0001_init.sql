-- The schema SQLite reached with its migrations 0001 to 0004, in one step:
-- PostgreSQL deployments start here. Times are timestamptz, ids bigint.
CREATE TABLE staff (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'agent',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE logins (
    token_hash TEXT PRIMARY KEY,
    staff_id   BIGINT NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX logins_expires ON logins(expires_at);
CREATE INDEX logins_staff ON logins(staff_id);

-- Metadata only: no page content, typed text or pointer data ever goes here.
CREATE TABLE audit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    kind        TEXT NOT NULL,
    staff_id    BIGINT NOT NULL DEFAULT 0,
    username    TEXT NOT NULL DEFAULT '',
    session_id  TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    device      TEXT NOT NULL DEFAULT '',
    duration_ms BIGINT NOT NULL DEFAULT 0,
    client_hash TEXT NOT NULL DEFAULT '',
    count       BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX audit_kind ON audit(kind, id);
CREATE INDEX audit_staff ON audit(staff_id, id);
