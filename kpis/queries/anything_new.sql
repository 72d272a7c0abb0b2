-- Whether anything the KPI jobs read changed since they last ran: one cheap probe before an
-- incremental run of the whole chain (the minmax indexes on arrival/update times skip old granules).
-- Spans and people's actions come from outside the chain: their bounds include the overlap. The
-- chain's own tables are written by an earlier stage that committed before the reading job started.
SELECT
    (SELECT count() FROM (SELECT 1 FROM order_spans WHERE ArrivedAt > {spans_since:DateTime64(3)} LIMIT 1))
  + (SELECT count() FROM (SELECT 1 FROM exception_actions WHERE At > {actions_since:DateTime64(3)} LIMIT 1))
  + (SELECT count() FROM (SELECT 1 FROM order_facts WHERE UpdatedAt > {facts_since:DateTime64(3)} LIMIT 1))
  + (SELECT count() FROM (SELECT 1 FROM sla_results WHERE UpdatedAt > {sla_since:DateTime64(3)} LIMIT 1))
  + (SELECT count() FROM (SELECT 1 FROM order_exceptions WHERE UpdatedAt > {exceptions_since:DateTime64(3)} LIMIT 1))
