-- A fingerprint of what the KPI jobs' tables hold: their active parts and each part's checksum of
-- all its files. Any insert, merge, mutation, delete or TTL drop changes it, so results read only
-- from these tables can be reused until it changes (web.kpicache). Reads the engine's part list,
-- not table data (a few milliseconds at any size).
SELECT cityHash64(groupArray((table, name, hash_of_all_files))) AS version
FROM (
    SELECT table, name, hash_of_all_files
    FROM system.parts
    WHERE database = currentDatabase() AND active AND table IN {tables:Array(String)}
    ORDER BY table, name
)
