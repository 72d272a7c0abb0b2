-- Every state change of an alert instance (append-only), for the alert's timeline.
CREATE TABLE IF NOT EXISTS {{table:alert_state_history}} {{on_cluster}} (
    At DateTime64(3),
    Fingerprint String,
    Rule LowCardinality(String),
    Labels Map(String, String),
    FromState LowCardinality(String),
    ToState LowCardinality(String),
    Value Float64,
    Note String
) ENGINE = {{engine:MergeTree()}}
PARTITION BY toYYYYMM(At)
ORDER BY (Rule, Fingerprint, At)
{{ttl:alert_state_history:toDateTime(At)}};

{{distributed:alert_state_history:cityHash64(Fingerprint)}};
