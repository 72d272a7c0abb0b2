-- order_facts.SlaSettledBy: the digest of the SLA policy (its SLAs' edges and smallest targets,
-- kpis/jobs.py sla_review) under which the order_facts job found every SLA of the order surely
-- met: each one's start edge did not happen, or its end edge did within the SLA's smallest target
-- in any segment, in wall time (business time is never more). 0 (every row written before this
-- column, and every order with an SLA open or possibly breached): sla_results evaluates the order.
-- sla_results skips the orders settled under the policy it runs with (and with no earlier row to
-- replace): at 1M orders it evaluated every order's SLAs to write ~59k rows. Full recompute of a 1M
-- store (2 shared cores, load 1.1-1.7, two runs alternated with the code before): sla_results
-- 1.62-1.76 s and 1.74-1.94 CPU-s -> 0.84 s and 0.58 CPU-s; the order_facts query ~0.45 CPU-s more
-- (medians of 4-5 runs into a Null table: 4.34 -> 4.77, 4.38 -> 4.86). `tower bench kpis`: full
-- recompute 5.82 s before (load 1.35), 5.33 / 5.29 s after (load 0.75-1.65).
ALTER TABLE {{table:order_facts}} {{on_cluster}}
    ADD COLUMN IF NOT EXISTS SlaSettledBy UInt64 DEFAULT 0 AFTER SlaCompleted;

{{alter_distributed:order_facts:ADD COLUMN IF NOT EXISTS SlaSettledBy UInt64 DEFAULT 0 AFTER SlaCompleted}};
