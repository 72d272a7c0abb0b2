-- Acknowledgements of a firing alert episode (FiredAt identifies the episode).
CREATE TABLE IF NOT EXISTS {{table:alert_acks}} {{on_cluster}} (
    Fingerprint String,
    FiredAt DateTime64(3),
    AckedBy String,
    Comment String,
    AckedAt DateTime64(3),
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY (Fingerprint, FiredAt);

{{distributed:alert_acks:cityHash64(Fingerprint)}};
