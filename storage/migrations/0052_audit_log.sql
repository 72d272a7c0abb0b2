-- Who did what: logins (ok and failed), users, roles, sessions, API tokens, silences,
-- acknowledgements, exception actions, rule and policy changes. Append-only: rows are only ever
-- inserted (no version column, no mutation from the tower); retention by ttl_days.audit_log (none
-- by default).
CREATE TABLE IF NOT EXISTS {{table:audit_log}} {{on_cluster}} (
    At DateTime64(3),
    Actor String,
    Action LowCardinality(String),
    Target String,
    Outcome LowCardinality(String),
    Address String,
    Details String,
    EventId UUID
) ENGINE = {{engine:MergeTree()}}
PARTITION BY toYYYYMM(At)
ORDER BY (At, Actor)
{{ttl:audit_log:toDateTime(At)}};

{{distributed:audit_log:rand()}};
