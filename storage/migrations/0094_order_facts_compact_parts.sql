-- order_facts: a part of less than 128 MiB (uncompressed) written in the compact format (one data
-- file for every column) instead of the wide one (two files per column stream, ~90 streams, each
-- with a buffer of 1 MiB). A full recompute writes ~10 parts of 64 MiB (the job's insert blocks,
-- kpis/queries/order_facts.sql): at 1M orders the query peaked at 360-372 MiB instead of 873-1055,
-- and took 6.8-8.1 CPU-s instead of 7.4-8.3 (2 cores, shared, load 2-4). The parts a merge makes
-- of them (a full recompute's 1M facts: ~600 MiB) are wide again; an incremental run's parts
-- were compact already (below the 10 MiB default).
ALTER TABLE {{table:order_facts}} {{on_cluster}} MODIFY SETTING min_bytes_for_wide_part = 134217728;
