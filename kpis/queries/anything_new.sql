-- Whether anything else the KPI jobs read changed since they last ran, once new_spans.sql found no
-- new span: cheap probes before an incremental run of the whole chain (the minmax indexes on
-- arrival/update times skip old granules). People's actions come from outside the chain: their
-- bound includes the overlap. The chain's own tables are written by an earlier stage that committed
-- before the reading job started (or by a refresh of the orders a person acted on).
SELECT
    (SELECT count() FROM (SELECT 1 FROM exception_actions WHERE At > {actions_since:DateTime64(3)} LIMIT 1))
  + (SELECT count() FROM (SELECT 1 FROM order_facts WHERE UpdatedAt > {facts_since:DateTime64(3)} LIMIT 1))
  + (SELECT count() FROM (SELECT 1 FROM sla_results WHERE UpdatedAt > {sla_since:DateTime64(3)} LIMIT 1))
  + (SELECT count() FROM (SELECT 1 FROM order_exceptions WHERE UpdatedAt > {exceptions_since:DateTime64(3)} LIMIT 1))
