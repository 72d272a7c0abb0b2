-- Silences: matchers over alert labels, a time range, who and why. Expiring writes a new version.
CREATE TABLE IF NOT EXISTS {{table:alert_silences}} {{on_cluster}} (
    Id String,
    Matchers Array(String),
    StartsAt DateTime64(3),
    EndsAt DateTime64(3),
    CreatedBy String,
    Comment String,
    UpdatedAt DateTime64(3),
    Version UInt64
) ENGINE = {{engine:ReplacingMergeTree(Version)}}
ORDER BY Id;

{{distributed:alert_silences:cityHash64(Id)}};
