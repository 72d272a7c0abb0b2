"""Alerts and on-call: rules over the tower's signals, state, routing, silences and notifiers.

Modules: :mod:`alerts.rules` (the YAML file), :mod:`alerts.signals` (what rules measure),
:mod:`alerts.evaluator` (the state machine; ``Evaluator.evaluate_once(now)``),
:mod:`alerts.dispatch` (Alertmanager-style pipeline), :mod:`alerts.route`,
:mod:`alerts.timeintervals`, :mod:`alerts.matchers`, :mod:`alerts.notifiers` (webhook, Slack,
PagerDuty, e-mail), :mod:`alerts.ssrf` (target guard), :mod:`alerts.state` (persistence and the
API the dashboard calls: ``list_alerts``, ``get_alert``, ``alert_history``, ``acknowledge``,
``create_silence``, ``expire_silence``, ``list_silences``, ``notification_log``).
"""
