"""The scheduler's alert job: one evaluation per run, with the rules file reloaded when it changes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from alerts.evaluator import Evaluator
from alerts.rules import RulesError, load_config
from alerts.settings import AlertSettings
from kpis.policy import Policy
from storage import Store, audit

log = logging.getLogger(__name__)


def build_evaluator(settings: AlertSettings, store: Store, kpi_policy: Policy) -> Evaluator:
    """An evaluator over the configured rules; raises :class:`RulesError` for a bad rules file.

    ``kpi_policy`` is the KPI engine's SLA policy, used by the signals over SLAs, exceptions and KPIs.
    """
    return Evaluator(store, load_config(settings), settings, kpi_policy=kpi_policy)


class EvaluationJob:
    """The scheduler job: one ``evaluate_once`` per call; returns state changes plus notifications.

    When the rules file changes, the next run loads it; a file that no longer validates is
    reported in the log and the previous rules keep running (nothing is lost to a typo).
    """

    def __init__(self, settings: AlertSettings, store: Store, kpi_policy: Policy) -> None:
        self.settings = settings
        self.store = store
        self.kpi_policy = kpi_policy
        self._stamp = self._file_stamp()
        self.evaluator = build_evaluator(settings, store, kpi_policy)
        self.reload_error = ""

    def _file_stamp(self) -> tuple[float, int] | None:
        path = self.settings.rules_file
        try:
            stat = path.stat() if path is not None else None
        except OSError:
            return None
        return (stat.st_mtime, stat.st_size) if stat is not None else None

    def reload_if_changed(self) -> bool:
        """Load the rules file again when it changed; True when new rules are in force."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            config = load_config(self.settings)
        except RulesError as exc:
            self.reload_error = str(exc)
            log.error("alert rules not reloaded, the previous rules stay in force: %s", exc)
            audit.record(
                self.store,
                "system",
                "rules.reload",
                str(self.settings.rules_file),
                outcome="failed",
                details={"reason": str(exc)[:2000]},
            )
            return False
        self.reload_error = ""
        audit.record(
            self.store,
            "system",
            "rules.reload",
            str(self.settings.rules_file),
            details={"rules": len(config.rules), "receivers": len(config.receivers)},
        )
        old = self.evaluator
        self.evaluator = Evaluator(self.store, config, self.settings, kpi_policy=self.kpi_policy)
        old.close()
        log.info("alert rules reloaded from %s: %d rule(s)", self.settings.rules_file, len(config.rules))
        return True

    def __call__(self) -> int:
        self.reload_if_changed()
        report = self.evaluator.evaluate_once()
        failed = [r for r in report.rules if r.error]
        if failed:
            log.warning("alert rules failed: %s", "; ".join(f"{r.rule}: {r.error}" for r in failed))
        return len(report.changes) + len(report.sent)


def evaluation_job(settings: AlertSettings, store: Store, kpi_policy: Policy) -> Callable[[], int]:
    """The scheduler's alert job (see :class:`EvaluationJob`); raises RulesError for a bad rules file."""
    return EvaluationJob(settings, store, kpi_policy)
