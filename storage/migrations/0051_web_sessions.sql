-- Dashboard sessions kept by the server, so that logout, a password change, disabling a user and an
-- admin's "sign out everywhere" end them at once. The cookie carries only an opaque random id; the
-- table keeps its SHA-256 (a leaked table row cannot be replayed as a cookie) and the session's CSRF
-- token. Mutable records: ReplacingMergeTree by Version (Revoked marks the end); rows go a day
-- after their absolute expiry.
CREATE TABLE IF NOT EXISTS {{table:web_sessions}} {{on_cluster}} (
    SessionHash String,
    Username String,
    CsrfToken String,
    Address String,
    Created DateTime64(3),
    LastSeen DateTime64(3),
    ExpiresAt DateTime64(3),
    Revoked UInt8,
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY SessionHash
TTL toDateTime(ExpiresAt) + toIntervalDay(1);

{{distributed:web_sessions:cityHash64(SessionHash)}};
