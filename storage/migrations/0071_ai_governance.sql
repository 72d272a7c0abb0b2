-- Governance of the models of ai/: the registry, model files, the audit of registry decisions, every
-- prediction with what it was based on, people's reviews and overrides, and live monitoring.

-- One row per model version; status changes write a new row (latest Revision wins).
-- Status: candidate | active | retired | rejected.
CREATE TABLE IF NOT EXISTS {{table:ai_models}} {{on_cluster}} (
    Model LowCardinality(String),
    Version UInt32,
    Status LowCardinality(String),
    Algorithm String,
    TrainedAt DateTime64(3),
    TrainedBy String,
    TrainFrom DateTime64(3),
    TrainTo DateTime64(3),
    HoldoutFrom DateTime64(3),
    HoldoutTo DateTime64(3),
    TrainRows UInt64,
    Metrics String,
    Card String,
    Features Array(String),
    ArtifactSha256 String,
    StatusBy String,
    StatusAt DateTime64(3),
    StatusReason String,
    Revision UInt64
) ENGINE = {{engine:ReplacingMergeTree(Revision)}}
ORDER BY (Model, Version);

{{distributed:ai_models:cityHash64(Model)}};

-- The fitted model of each version (skops format), written once.
CREATE TABLE IF NOT EXISTS {{table:ai_model_artifacts}} {{on_cluster}} (
    Model LowCardinality(String),
    Version UInt32,
    Sha256 String,
    Artifact String CODEC(ZSTD(3))
) ENGINE = {{engine:ReplacingMergeTree()}}
ORDER BY (Model, Version);

{{distributed:ai_model_artifacts:cityHash64(Model)}};

-- Append-only audit of the registry: trained, approved (promoted), auto_promoted, rolled_back,
-- retired, rejected; by whom and why.
CREATE TABLE IF NOT EXISTS {{table:ai_model_events}} {{on_cluster}} (
    EventId UUID,
    Model LowCardinality(String),
    Version UInt32,
    Action LowCardinality(String),
    Actor String,
    Reason String,
    Details String,
    At DateTime64(3)
) ENGINE = {{engine:MergeTree()}}
ORDER BY (Model, At);

{{distributed:ai_model_events:cityHash64(Model)}};

-- Every prediction: model version, the features it used, its score, the thresholds or limits in
-- force and the decision they gave. Subject is the order id; SubjectKey what about it (the SLA, the
-- exception type, ...). PredictedAt is the moment the features describe.
CREATE TABLE IF NOT EXISTS {{table:ai_predictions}} {{on_cluster}} (
    PredictionId UUID,
    Model LowCardinality(String),
    Version UInt32,
    Subject String,
    SubjectKey String,
    PredictedAt DateTime64(3),
    CreatedAt DateTime64(3),
    Score Float64,
    Label String,
    Features Map(String, String),
    Thresholds Map(String, Float64),
    Decision LowCardinality(String),
    Reason String,
    Explanation String
) ENGINE = {{engine:MergeTree()}}
PARTITION BY toYYYYMM(PredictedAt)
ORDER BY (Model, Subject, SubjectKey, PredictedAt)
{{ttl:ai_predictions:toDateTime(PredictedAt)}};

{{distributed:ai_predictions:cityHash64(Subject)}};

-- What people did with predictions: confirm, dismiss, override (with the value they chose), always
-- with who and why (append-only audit).
CREATE TABLE IF NOT EXISTS {{table:ai_reviews}} {{on_cluster}} (
    ReviewId UUID,
    PredictionId UUID,
    Model LowCardinality(String),
    Version UInt32,
    Subject String,
    SubjectKey String,
    Action LowCardinality(String),
    Predicted String,
    Value String,
    Actor String,
    Role LowCardinality(String),
    Reason String,
    At DateTime64(3)
) ENGINE = {{engine:MergeTree()}}
ORDER BY (Model, Subject, SubjectKey, At);

{{distributed:ai_reviews:cityHash64(Subject)}};

-- Live monitoring of active models: accuracy once outcomes are known, calibration, feature drift.
CREATE TABLE IF NOT EXISTS {{table:ai_monitoring}} {{on_cluster}} (
    Model LowCardinality(String),
    Version UInt32,
    At DateTime64(3),
    WindowFrom DateTime64(3),
    WindowTo DateTime64(3),
    Metric LowCardinality(String),
    Value Float64,
    Samples UInt64,
    Details String
) ENGINE = {{engine:MergeTree()}}
ORDER BY (Model, Metric, At)
{{ttl:ai_monitoring:toDateTime(At)}};

{{distributed:ai_monitoring:cityHash64(Model)}};
