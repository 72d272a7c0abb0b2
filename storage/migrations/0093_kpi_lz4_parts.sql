-- order_facts and order_rollup: parts compressed with LZ4 whatever their size. The embedded
-- engine wrote a merged part of these tables with ZSTD(3) (new parts with LZ4), and a full KPI
-- recompute merges the ~10 parts it writes into order_facts while the jobs after it run: at 1M
-- orders that merge took 2.6-3.1 CPU-s with ZSTD(3), 1.3-1.4 with LZ4 (2 cores, measured apart).
-- Reading 1M rollups (the order_facts job's input) took 0.95 CPU-s from parts 60% ZSTD(3), 0.66
-- from LZ4 parts. The price is disk: 1M order facts take 220 MB instead of 140, 1M rollups 342
-- MB instead of ~222. Parts written before keep their codec until they are merged again.
ALTER TABLE {{table:order_facts}} {{on_cluster}} MODIFY SETTING default_compression_codec = 'LZ4';

ALTER TABLE {{table:order_rollup}} {{on_cluster}} MODIFY SETTING default_compression_codec = 'LZ4';
