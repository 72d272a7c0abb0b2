-- Alert instances: one row per fingerprint (rule + labels), the latest version wins.
-- State is inactive | pending | firing | resolved; timestamps are UTC.
CREATE TABLE IF NOT EXISTS {{table:alert_state}} {{on_cluster}} (
    Fingerprint String,
    Rule LowCardinality(String),
    Labels Map(String, String),
    Annotations Map(String, String),
    State LowCardinality(String),
    Value Float64,
    Orders Array(String),
    ActiveAt DateTime64(3),
    FiredAt Nullable(DateTime64(3)),
    LastActiveAt DateTime64(3),
    ResolvedAt Nullable(DateTime64(3)),
    EvaluatedAt DateTime64(3),
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY (Rule, Fingerprint);

{{distributed:alert_state:cityHash64(Fingerprint)}};
