-- Notification log: every delivery attempt series (what was sent to whom, and the outcome) ...
CREATE TABLE IF NOT EXISTS {{table:alert_notifications}} {{on_cluster}} (
    At DateTime64(3),
    Receiver LowCardinality(String),
    Integration LowCardinality(String),
    GroupKey String,
    Status LowCardinality(String),
    Firing Array(String),
    Resolved Array(String),
    Outcome LowCardinality(String),
    Attempts UInt16,
    Retryable UInt8,
    Error String,
    Target String
) ENGINE = {{engine:MergeTree()}}
PARTITION BY toYYYYMM(At)
ORDER BY (Receiver, GroupKey, At)
{{ttl:alert_notifications:toDateTime(At)}};

{{distributed:alert_notifications:rand()}};

-- ... and the last successful notification per receiver integration and group (Alertmanager's
-- nflog): what the receiver knows as firing, resolved and acknowledged. Drives de-duplication and
-- repeat_interval, and survives restarts.
CREATE TABLE IF NOT EXISTS {{table:alert_nflog}} {{on_cluster}} (
    Receiver String,
    Integration String,
    GroupKey String,
    Firing Array(String),
    Resolved Array(String),
    Acked Array(String),
    SentAt DateTime64(3),
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY (Receiver, Integration, GroupKey);

{{distributed:alert_nflog:cityHash64(GroupKey)}};
