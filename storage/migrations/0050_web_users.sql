-- Dashboard users added with `tower users add` (users may also come from configuration) and API
-- tokens for the JSON API. Passwords are argon2 hashes; tokens are stored only as SHA-256 digests.
-- Mutable records: ReplacingMergeTree by Version (latest row wins; Disabled/Revoked mark deletion).
CREATE TABLE IF NOT EXISTS {{table:web_users}} {{on_cluster}} (
    Username String,
    PasswordHash String,
    Role LowCardinality(String),
    Disabled UInt8,
    Updated DateTime64(3),
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY Username;

{{distributed:web_users:cityHash64(Username)}};

CREATE TABLE IF NOT EXISTS {{table:web_api_tokens}} {{on_cluster}} (
    TokenHash String,
    Name String,
    Role LowCardinality(String),
    CreatedBy String,
    Created DateTime64(3),
    Revoked UInt8,
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY TokenHash;

{{distributed:web_api_tokens:cityHash64(TokenHash)}};
