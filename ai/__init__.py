"""AI-assisted exception handling, governed per use case (the customer's article):

* anomaly detection — duplicate submissions (:mod:`ai.duplicates`) and quantity/value spikes
  (:mod:`ai.spikes`), with a confidence per flag and review thresholds in the AI policy;
* delay prediction (:mod:`ai.delay`) — P(an open order misses an SLA), with live monitoring and
  retraining controls (:mod:`ai.monitoring`, :mod:`ai.registry`);
* exception classification (:mod:`ai.causes`) — the root cause, with human override and an audit
  log (:mod:`ai.predictions`);
* allocation recommendation (:mod:`ai.allocation`) — the warehouse most likely to ship on time in
  full, shown only within the policy's execution limits.

Models learn from the store's own history with time-based splits (:mod:`ai.training`), using only
what was known at the prediction time (:mod:`ai.features`); every prediction is logged with the
model version, features, score, thresholds and decision. The tower recommends and flags; it never
changes ERP data. :class:`ai.service.AiService` is what the dashboard, alerts and commands use.
"""
