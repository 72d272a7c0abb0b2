-- The segment values seen in the daily KPI rollup (a small table), for the filter drop-downs.
SELECT
    arraySort(groupUniqArrayIf(Channel, Channel != '')) AS channel,
    arraySort(groupUniqArrayIf(Region, Region != '')) AS region,
    arraySort(groupUniqArrayIf(ErpInstance, ErpInstance != '')) AS erp_instance,
    arraySort(groupUniqArrayIf(Warehouse, Warehouse != '')) AS warehouse,
    arraySort(groupUniqArrayIf(CustomerTier, CustomerTier != '')) AS customer_tier,
    arraySort(groupUniqArrayIf(Priority, Priority != '')) AS priority
FROM kpi_daily
WHERE Day >= {since:Date}
