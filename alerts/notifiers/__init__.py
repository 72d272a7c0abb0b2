"""Notifiers: one module and one config type per channel (webhook, Slack, PagerDuty, e-mail).

A notifier turns a :class:`~alerts.notifiers.base.Message` (one alert group) into a delivery and
returns a :class:`~alerts.notifiers.base.Delivery` saying whether it worked and, if not, whether
trying again could help (5xx, 429, timeouts: yes; 4xx, refused targets: no). The base module
imports no notifier; :func:`alerts.dispatch.build_notifiers` turns a receiver into its notifiers.
"""

from alerts.notifiers.base import Delivery, Message, Notifier

__all__ = ["Delivery", "Message", "Notifier"]
