"""Alert notification pipeline, after Alertmanager's ``notify/notify.go`` stages.

For each route and group: time-interval mute -> silence and inhibition (suppression reasons are
kept on the alert) -> wait (``group_wait`` for a new group, ``group_interval`` between
notifications) -> de-duplication against the persisted notification log (new firing alerts,
newly resolved or acknowledged alerts, or ``repeat_interval`` elapsed) -> retry with back-off on
retryable failures -> record the outcome.

**Notification cap.** Groups come from span attributes (``group_by: [system]``), so one request
with 300 distinct ``system.instance`` values could make 300 groups and 300 e-mails. Per rule and
receiver integration at most ``alerts.max_notifications_per_rule`` notifications go out in
``alerts.notification_cap_interval_s``; the groups beyond it in one flush are folded into a single
summary notice listing their alerts (recorded in the notification log as ``<rule>:summary``), and
the notification log treats them as notified, so they repeat at ``repeat_interval`` like any other.
The window is kept in memory (a restarted process starts a new one).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from alerts import state
from alerts.matchers import Matcher, all_match, parse_matcher
from alerts.model import Alert, AlertState, NotificationRecord
from alerts.notifiers.base import Delivery, Message, Notifier
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.pagerduty import PagerDutyNotifier
from alerts.notifiers.slack import SlackNotifier
from alerts.notifiers.webhook import WebhookNotifier
from alerts.route import RouteNode, build, group_key, match
from alerts.rules import Receiver, RulesConfig
from alerts.settings import AlertSettings
from alerts.ssrf import TargetPolicy
from alerts.timeintervals import interval_contains
from storage import Store

log = logging.getLogger(__name__)
NFLOG_HORIZON = timedelta(days=30)
DEFAULT_EXTERNAL_URL = "http://localhost:8080"


@dataclass
class Group:
    route: RouteNode
    labels: dict[str, str]
    key: str
    alerts: list[Alert] = field(default_factory=list)


@dataclass
class Sent:
    """A notification attempt series, as recorded in the notification log."""

    receiver: str
    integration: str
    group_key: str
    status: str
    alerts: list[str]
    delivery: Delivery
    attempts: int


@dataclass
class _Plan:
    """A notification that is due: what to send, and the notification-log entry it leads to."""

    group: Group
    integration: str
    notifier: Notifier
    message: Message
    f_set: set[str]
    r_set: set[str]
    nflog: tuple[str, str, str, state.NflogEntry]
    merged: list[_Plan] = field(default_factory=list)  # groups folded into a summary

    @property
    def rule(self) -> str:
        names = sorted({a.name for a in self.group.alerts})
        return "+".join(names) or "alerts"


@dataclass
class _Outcome:
    sent: Sent | None = None
    record: NotificationRecord | None = None
    nflog_entries: list[tuple[str, str, str, state.NflogEntry]] = field(default_factory=list)


def build_notifiers(
    receiver: Receiver, client: httpx.Client, timeout: float, policy: TargetPolicy | None = None
) -> list[tuple[str, Notifier]]:
    """The receiver's integrations as (``kind[index]``, notifier) pairs.

    HTTP notifiers use ``client`` (whose backend enforces the address policy); e-mail uses
    ``policy`` (strict when not given).
    """
    out: list[tuple[str, Notifier]] = []
    out += [(f"webhook[{i}]", WebhookNotifier(c, client)) for i, c in enumerate(receiver.webhook_configs)]
    out += [(f"slack[{i}]", SlackNotifier(c, client)) for i, c in enumerate(receiver.slack_configs)]
    out += [
        (f"pagerduty[{i}]", PagerDutyNotifier(c, client)) for i, c in enumerate(receiver.pagerduty_configs)
    ]
    out += [(f"email[{i}]", EmailNotifier(c, timeout, policy)) for i, c in enumerate(receiver.email_configs)]
    return out


class Dispatcher:
    def __init__(
        self,
        store: Store,
        config: RulesConfig,
        settings: AlertSettings,
        client: httpx.Client,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.config = config
        self.settings = settings
        self.sleep = sleep
        self.tree = build(config.route)
        self.intervals = {t.name: t for t in config.time_intervals}
        self.inhibit = [(r.source_matchers, r.target_matchers, tuple(r.equal)) for r in config.inhibit_rules]
        self._failed_at: dict[tuple[str, str, str], datetime] = {}
        self._sent_at: dict[tuple[str, str, str], deque[datetime]] = defaultdict(deque)
        self._pool = ThreadPoolExecutor(
            max_workers=settings.notify_concurrency, thread_name_prefix="alerts-notify"
        )
        policy = TargetPolicy.from_settings(settings)
        self.notifiers = {
            r.name: build_notifiers(r, client, settings.notify_timeout_s, policy) for r in config.receivers
        }

    # -- suppression ------------------------------------------------------------------------------

    def _mark_suppressed(self, alerts: list[Alert], now: datetime) -> None:
        silences = [
            (s.id, [parse_matcher(m) for m in s.matchers])
            for s in state.list_silences(self.store, active_at=now)
        ]
        firing = [a for a in alerts if a.state is AlertState.FIRING]
        for alert in alerts:
            alert.suppressed_by = [sid for sid, ms in silences if all_match(ms, alert.labels)]
            if self._inhibited(alert, firing):
                alert.suppressed_by.append("inhibited")

    def _inhibited(self, target: Alert, firing: list[Alert]) -> bool:
        return _inhibited_by(self.inhibit, target, firing)

    def _muted(self, route: RouteNode, now: datetime) -> str | None:
        for name in route.mute_time_intervals:
            if interval_contains(self.intervals[name], now):
                return f"muted:{name}"
        if route.active_time_intervals and not any(
            interval_contains(self.intervals[n], now) for n in route.active_time_intervals
        ):
            return "muted:outside active time"
        return None

    # -- grouping ---------------------------------------------------------------------------------

    def groups(self, alerts: list[Alert]) -> list[Group]:
        groups: dict[tuple[str, str], Group] = {}
        for alert in alerts:
            for route in match(self.tree, alert.labels):
                labels = route.group_labels(alert.labels)
                key = group_key(route, labels)
                group = groups.setdefault((route.receiver, key), Group(route, labels, key))
                group.alerts.append(alert)
        return list(groups.values())

    # -- the pipeline -----------------------------------------------------------------------------

    def flush(self, alerts: list[Alert], now: datetime) -> list[Sent]:
        """Send what is due at ``now`` for ``alerts`` (firing and recently resolved)."""
        if not alerts:
            return []
        self._mark_suppressed(alerts, now)
        entries = state.nflog_entries(self.store, now - NFLOG_HORIZON)
        plans: list[_Plan] = []
        cleared: list[tuple[str, str, str, state.NflogEntry]] = []
        for group in self.groups(alerts):
            muted = self._muted(group.route, now)
            if muted:
                for alert in group.alerts:
                    alert.suppressed_by.append(muted)
                continue
            visible = [a for a in group.alerts if not a.suppressed_by]
            for integration, notifier in self.notifiers.get(group.route.receiver, []):
                entry = entries.get((group.route.receiver, integration, group.key))
                planned = self._plan(group, visible, integration, notifier, entry, now)
                if isinstance(planned, _Plan):
                    plans.append(planned)
                elif planned is not None:
                    cleared.append(planned)
        plans = self._cap(plans, now)
        # integrations deliver concurrently (a slow receiver does not hold up the others), on a
        # fixed pool so that each worker keeps its own store client
        outcomes = list(self._pool.map(lambda p: self._send(p, now), plans))
        # what was sent is recorded once per flush (two inserts, however many groups)
        state.log_notifications(self.store, [o.record for o in outcomes if o.record is not None])
        nflog = cleared + [entry for o in outcomes for entry in o.nflog_entries]
        state.save_nflog_entries(self.store, nflog)
        return [o.sent for o in outcomes if o.sent is not None]

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _plan(
        self,
        group: Group,
        visible: list[Alert],
        integration: str,
        notifier: Notifier,
        entry: state.NflogEntry | None,
        now: datetime,
    ) -> _Plan | tuple[str, str, str, state.NflogEntry] | None:
        """The notification due for one group and integration; an nflog entry to clear; or None."""
        firing = [a for a in visible if a.state is AlertState.FIRING]
        known = entry.firing if entry else set()
        resolved = [a for a in visible if a.state is AlertState.RESOLVED and a.fingerprint in known]
        if not firing and not resolved:
            return None
        f_set = {a.fingerprint for a in firing}
        r_set = {a.fingerprint for a in resolved}
        acked = {a.fingerprint for a in firing if a.ack is not None}
        route = group.route
        if entry is None:
            start = min((a.fired_at or a.active_at) for a in firing)
            if now < start + route.group_wait:
                return None
        elif now < entry.sent_at + route.group_interval:
            return None
        receiver = route.receiver
        failed_at = self._failed_at.get((receiver, integration, group.key))
        if failed_at is not None and now < failed_at + route.group_interval:
            return None  # the last delivery failed: try again after group_interval, not every tick
        if not _needs_update(entry, f_set, r_set, acked, notifier.send_resolved, route.repeat_interval, now):
            return None
        nflog = (receiver, integration, group.key, state.NflogEntry(f_set, r_set, acked, now))
        if not firing and not notifier.send_resolved:
            return nflog  # clear the log; nothing to send
        message = Message(
            receiver=receiver,
            group_key=group.key,
            group_labels=group.labels,
            alerts=firing + (resolved if notifier.send_resolved else []),
            external_url=self.settings.external_url or DEFAULT_EXTERNAL_URL,
        )
        return _Plan(group, integration, notifier, message, f_set, r_set, nflog)

    def _cap(self, plans: list[_Plan], now: datetime) -> list[_Plan]:
        """At most ``max_notifications_per_rule`` per rule and integration per window; the rest of
        this flush's groups become one summary notice per rule and integration."""
        limit = self.settings.max_notifications_per_rule
        window = timedelta(seconds=self.settings.notification_cap_interval_s)
        by_key: dict[tuple[str, str, str], list[_Plan]] = defaultdict(list)
        for plan in plans:
            by_key[(plan.message.receiver, plan.integration, plan.rule)].append(plan)
        out: list[_Plan] = []
        for key, group_plans in by_key.items():
            sent = self._sent_at[key]
            while sent and now - sent[0] >= window:
                sent.popleft()
            room = max(limit - len(sent), 0)
            keep, over = group_plans[:room], group_plans[room:]
            out += keep
            if len(over) == 1 and room > 0:
                out += over
            elif over:
                first = over[0]
                alerts = [a for p in over for a in p.message.alerts]
                summary = Message(
                    receiver=first.message.receiver,
                    group_key=f"{first.rule}:summary",
                    group_labels={"alertname": first.rule},
                    alerts=alerts,
                    external_url=first.message.external_url,
                    summary_of_groups=len(over),
                )
                f_set = {fp for p in over for fp in p.f_set}
                r_set = {fp for p in over for fp in p.r_set}
                out.append(
                    _Plan(
                        first.group,
                        first.integration,
                        first.notifier,
                        summary,
                        f_set,
                        r_set,
                        first.nflog,
                        over,
                    )
                )
                log.warning(
                    "notification cap: %d groups of rule %s for %s/%s folded into one summary",
                    len(over),
                    first.rule,
                    first.message.receiver,
                    first.integration,
                )
            sent.extend([now] * min(len(group_plans), room + (1 if over else 0)))
        return out

    def _send(self, plan: _Plan, now: datetime) -> _Outcome:
        message, notifier, integration = plan.message, plan.notifier, plan.integration
        receiver = message.receiver
        delivery, attempts = self._deliver(notifier, message)
        record = NotificationRecord(
            at=now,
            receiver=receiver,
            integration=integration,
            group_key=message.group_key,
            status=message.status,
            firing=sorted(plan.f_set),
            resolved=sorted(plan.r_set),
            outcome="sent" if delivery.ok else "failed",
            attempts=attempts,
            retryable=delivery.retryable,
            error=delivery.error,
            target=notifier.target(),
        )
        covered = plan.merged or [plan]
        for p in covered:
            failed_key = (receiver, integration, p.group.key)
            if delivery.ok:
                self._failed_at.pop(failed_key, None)
            else:
                self._failed_at[failed_key] = now
        if not delivery.ok:
            log.warning(
                "notification to %s/%s failed after %d attempt(s): %s",
                receiver,
                integration,
                attempts,
                delivery.error,
            )
        sent = Sent(
            receiver,
            integration,
            message.group_key,
            message.status,
            sorted(plan.f_set | plan.r_set),
            delivery,
            attempts,
        )
        return _Outcome(sent, record, [p.nflog for p in covered] if delivery.ok else [])

    def _deliver(self, notifier: Notifier, message: Message) -> tuple[Delivery, int]:
        delay = self.settings.retry_initial_backoff_s
        attempts = 0
        while True:
            attempts += 1
            try:
                delivery = notifier.notify(message)
            except Exception as exc:  # a broken integration must not stop the others
                log.exception("%s notifier failed", notifier.kind)
                delivery = Delivery(ok=False, retryable=False, error=f"{type(exc).__name__}: {exc}")
            if delivery.ok or not delivery.retryable or attempts >= self.settings.retry_attempts:
                return delivery, attempts
            wait = max(delay, min(delivery.retry_after or 0.0, self.settings.retry_max_backoff_s))
            self.sleep(min(wait, self.settings.retry_max_backoff_s))
            delay = min(delay * 2, self.settings.retry_max_backoff_s)


InhibitTriple = tuple[list[Matcher], list[Matcher], tuple[str, ...]]


def _inhibited_by(inhibit: list[InhibitTriple], target: Alert, firing: list[Alert]) -> bool:
    for source_m, target_m, equal in inhibit:
        if not all_match(target_m, target.labels):
            continue
        for source in firing:
            if source.fingerprint == target.fingerprint or not _matches(source_m, source.labels):
                continue
            if all(source.labels.get(k, "") == target.labels.get(k, "") for k in equal):
                return True
    return False


def mark_inhibited(config: RulesConfig, alerts: list[Alert]) -> None:
    """Add ``inhibited`` to ``suppressed_by`` of the alerts the config's inhibit rules mute now
    (a firing source mutes matching targets), as the dispatcher does before sending."""
    inhibit = [(r.source_matchers, r.target_matchers, tuple(r.equal)) for r in config.inhibit_rules]
    if not inhibit:
        return
    firing = [a for a in alerts if a.state is AlertState.FIRING]
    for alert in alerts:
        suppressible = alert.state is AlertState.FIRING and "inhibited" not in alert.suppressed_by
        if suppressible and _inhibited_by(inhibit, alert, firing):
            alert.suppressed_by.append("inhibited")


def _matches(matchers: list[Matcher], labels: dict[str, str]) -> bool:
    return all_match(matchers, labels)


def _needs_update(
    entry: state.NflogEntry | None,
    firing: set[str],
    resolved: set[str],
    acked: set[str],
    send_resolved: bool,
    repeat: timedelta,
    now: datetime,
) -> bool:
    """Alertmanager's DedupStage.needsUpdate, plus acknowledgements."""
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    if not acked <= entry.acked:
        return True
    if firing <= acked:
        return False  # acknowledged alerts do not repeat
    return now >= entry.sent_at + repeat
