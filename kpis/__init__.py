"""KPI and SLA engine: scheduled jobs that keep order facts, SLA results, exceptions and KPI rollups
in ClickHouse (``jobs``), the SLA policy (``policy``), the query API for the dashboard and alerts
(``service``), explanations of KPI values (``explain``) and the scheduler role (``scheduler``)."""
