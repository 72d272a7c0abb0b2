"""``tower alerts``: check the rules file, list alerts, test a rule, silences and acknowledgements."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from alerts import state
from alerts.evaluator import Evaluator
from alerts.model import AlertState
from alerts.rules import RulesConfig, RulesError, parse_duration
from alerts.service import load_config, preview_notifications
from alerts.settings import AlertSettings
from tower import runtime
from tower.serve import api_url
from tower.settings import TowerSettings

alerts_app = typer.Typer(
    help="Alert rules and on-call: check, list, test a rule, silence, acknowledge.", no_args_is_help=True
)
silence_app = typer.Typer(help="Silences: add, list, expire.", no_args_is_help=True)
alerts_app.add_typer(silence_app, name="silence")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (also TOWER_CONFIG).", envvar="TOWER_CONFIG"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _config(settings: TowerSettings) -> RulesConfig:
    if settings.alerts.rules_file is None:
        runtime.fail("no rules file: set alerts.rules_file (TOWER_ALERTS__RULES_FILE)")
    try:
        return load_config(settings.alerts)
    except RulesError as exc:
        runtime.fail(f"invalid alert rules: {exc}")


def alert_settings(settings: TowerSettings) -> AlertSettings:
    """The alert settings, with links pointing at the dashboard's public URL unless set otherwise."""
    if settings.alerts.external_url:
        return settings.alerts
    return settings.alerts.model_copy(update={"external_url": api_url(settings)})


def _kpi_policy(settings: TowerSettings) -> Any:
    from kpis.policy import PolicyError, load_policy

    try:
        return load_policy(settings.kpis.policy_file)
    except PolicyError as exc:
        runtime.fail(f"invalid KPI policy: {exc}")


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _parse_time(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        runtime.fail(f"--at must be an ISO time like 2026-01-05T10:00:00Z, got {text!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@alerts_app.command("check")
def check(config: ConfigOption = None) -> None:
    """Validate the rules file (exit 2 with file, line and field on the first problems)."""
    settings = runtime.settings_or_exit(config)
    rules = _config(settings)
    typer.echo(
        f"{settings.alerts.rules_file}: {len(rules.rules)} rule(s), {len(rules.receivers)} receiver(s), "
        f"{len(rules.inhibit_rules)} inhibit rule(s), {len(rules.time_intervals)} time interval(s): OK"
    )


@alerts_app.command("list")
def list_command(
    config: ConfigOption = None,
    states: Annotated[
        list[str] | None, typer.Option("--state", help="pending, firing, resolved, inactive (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The configured rules and the current alert instances."""
    settings = runtime.settings_or_exit(config)
    rules = _config(settings)
    wanted = states or ["pending", "firing"]
    for s in wanted:
        if s not in {v.value for v in AlertState}:
            runtime.fail(f"unknown state {s!r}; choose from pending, firing, resolved, inactive")
    with runtime.store_or_exit(settings, "tower alerts list") as store:
        alerts = state.list_alerts(store, states=wanted)
    if as_json:
        _echo_json(
            {
                "rules": [
                    {"name": r.name, "signal": r.signal, "interval_s": r.interval.total_seconds()}
                    for r in rules.rules
                ],
                "alerts": [a.model_dump(mode="json") for a in alerts],
            }
        )
        return
    typer.echo(f"{len(rules.rules)} rule(s): " + ", ".join(r.name for r in rules.rules))
    if not alerts:
        typer.echo(f"no {'/'.join(wanted)} alerts")
    for a in alerts:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k != "alertname")
        acked = f" acked by {a.ack.acked_by}" if a.ack else ""
        typer.echo(
            f"{a.state.value:8} {a.name} {{{labels}}} value={a.value:g} since {a.active_at:%Y-%m-%d %H:%M}Z "
            f"fingerprint={a.fingerprint}{acked}"
        )


@alerts_app.command("test")
def test_command(
    rule: Annotated[str, typer.Argument(help="Rule name.")],
    config: ConfigOption = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Evaluate as of this ISO time (default: now).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate one rule now and show what it would send (nothing is stored or sent)."""
    settings = runtime.settings_or_exit(config)
    rules = _config(settings)
    try:
        chosen = rules.rule(rule)
    except KeyError:
        runtime.fail(f"no rule named {rule!r}; rules: {', '.join(r.name for r in rules.rules) or 'none'}")
    now = _parse_time(at)
    with runtime.store_or_exit(settings, "tower alerts test") as store:
        evaluator = Evaluator(store, rules, alert_settings(settings), kpi_policy=_kpi_policy(settings))
        try:
            result, alerts, messages = evaluator.preview(chosen, now)
        finally:
            evaluator.close()
    if result.error:
        runtime.fail(f"rule {rule} could not be evaluated: {result.error}")
    previews = preview_notifications(rules, messages)
    if as_json:
        _echo_json(
            {
                "rule": rule,
                "at": now.isoformat(),
                "samples": [{"group": s.group, "value": s.value, "orders": s.orders} for s in result.samples],
                "alerts": [a.model_dump(mode="json") for a in alerts],
                "notifications": previews,
            }
        )
        return
    typer.echo(
        f"rule {rule} at {now:%Y-%m-%d %H:%M:%S}Z: {len(result.samples)} group(s), {len(alerts)} over the threshold"
    )
    for s in result.samples:
        mark = (
            "ALERT"
            if any(
                a.value == s.value and all(a.labels.get(k) == v for k, v in s.group.items()) for a in alerts
            )
            else "ok"
        )
        typer.echo(f"  {mark:5} {s.group or '{}'} value={s.value:g} orders={len(s.orders)}")
    if not previews:
        typer.echo("would send nothing")
    for p in previews:
        typer.echo(f"would send to {p['receiver']}/{p['integration']}:")
        typer.echo(json.dumps(p["payload"], indent=2, default=str))


@alerts_app.command("ack")
def ack(
    fingerprint: Annotated[str, typer.Argument(help="Alert fingerprint (see `tower alerts list`).")],
    by: Annotated[str, typer.Option("--by", help="Who acknowledges.")],
    comment: Annotated[str, typer.Option("--comment", help="Why / what is being done.")] = "",
    config: ConfigOption = None,
) -> None:
    """Acknowledge a firing alert: repeats stop and PagerDuty is told."""
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower alerts ack") as store:
        try:
            result = state.acknowledge(store, fingerprint, by, comment)
        except (state.InvalidRequest, state.AlertNotFound) as exc:
            runtime.fail(str(exc))
    typer.echo(f"alert {fingerprint} acknowledged by {result.acked_by}")


@silence_app.command("add")
def silence_add(
    matchers: Annotated[
        list[str], typer.Argument(help='Label matchers, e.g. warehouse="wh-2" alertname=~"Ware.*".')
    ],
    author: Annotated[str, typer.Option("--author", help="Who creates the silence.")],
    comment: Annotated[str, typer.Option("--comment", help="Why.")],
    duration: Annotated[str, typer.Option("--duration", help="How long, e.g. 2h.")] = "1h",
    start: Annotated[str | None, typer.Option("--start", help="ISO start time (default: now).")] = None,
    config: ConfigOption = None,
) -> None:
    """Silence alerts matching every matcher for a while."""
    settings = runtime.settings_or_exit(config)
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        runtime.fail(str(exc))
    if length <= timedelta(0):
        runtime.fail("--duration must be more than zero")
    begin = _parse_time(start)
    with runtime.store_or_exit(settings, "tower alerts silence add") as store:
        try:
            silence = state.create_silence(store, matchers, begin, begin + length, author, comment)
        except state.InvalidRequest as exc:
            runtime.fail(str(exc))
    typer.echo(f"silence {silence.id} until {silence.ends_at:%Y-%m-%d %H:%M}Z: {' '.join(silence.matchers)}")


@silence_app.command("list")
def silence_list(
    config: ConfigOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Active silences (or all with --all)."""
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower alerts silence list") as store:
        silences = state.list_silences(store, active_at=None if all_ else datetime.now(UTC))
    if as_json:
        _echo_json([s.model_dump(mode="json") for s in silences])
        return
    if not silences:
        typer.echo("no silences")
    for s in silences:
        typer.echo(
            f"{s.id} {s.starts_at:%Y-%m-%d %H:%M}Z..{s.ends_at:%Y-%m-%d %H:%M}Z by {s.created_by}: "
            f"{' '.join(s.matchers)} ({s.comment})"
        )


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[str, typer.Argument(help="Silence id.")],
    config: ConfigOption = None,
) -> None:
    """End a silence now."""
    if not re.fullmatch(r"[0-9a-f]{32}", silence_id):
        runtime.fail(f"silence id must be 32 hex digits, got {silence_id!r}")
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower alerts silence expire") as store:
        try:
            silence = state.expire_silence(store, silence_id)
        except state.AlertNotFound as exc:
            runtime.fail(str(exc))
    typer.echo(f"silence {silence.id} ends {silence.ends_at:%Y-%m-%d %H:%M:%S}Z")
