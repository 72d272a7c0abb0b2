"""``tower alerts``: check the rules file, list alerts, test a rule, silences and acknowledgements.

Commands read the store directly, or — when a ``tower serve`` holds the embedded store — ask its
JSON API (``/api/alerts``, ``/api/alerts/{fingerprint}/ack``, ``/api/silences``,
``/api/alerts/rules/{rule}/test``) with ``--token`` / ``TOWER_API_TOKEN``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError

from alerts import state
from alerts.model import Ack, Alert, AlertState, NotificationRecord, Silence
from alerts.preview import RulePreview, preview_rule
from alerts.rules import RulesConfig, RulesError, load_config, parse_duration, refused_targets
from storage import audit
from tower import runtime
from tower.commands.options import ConfigOption, TokenOption
from tower.commands.remote import Api, cli_actor, store_or_api
from tower.settings import TowerSettings

app = typer.Typer(
    name="alerts",
    help="Alert rules and on-call: check, list, test a rule, notification log, silence, acknowledge.",
    no_args_is_help=True,
)
silence_app = typer.Typer(help="Silences: add, list, expire.", no_args_is_help=True)
app.add_typer(silence_app, name="silence")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ALERTS = TypeAdapter(list[Alert])
RECORDS = TypeAdapter(list[NotificationRecord])
SILENCES = TypeAdapter(list[Silence])


def _config(settings: TowerSettings) -> RulesConfig:
    if settings.alerts.rules_file is None:
        runtime.fail("no rules file: set alerts.rules_file (TOWER_ALERTS__RULES_FILE)")
    try:
        return load_config(settings.alerts)
    except RulesError as exc:
        runtime.fail(f"invalid alert rules: {exc}")


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


# -- answers of the tower API (tower.commands.remote) ------------------------------------------------


def _parse(adapter: TypeAdapter[Any], data: Any, what: str) -> Any:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        runtime.fail(f"the tower API sent unexpected {what}: {exc.errors()[0]['msg']}")


# -- commands ---------------------------------------------------------------------------------------


@app.command("check")
def check(config: ConfigOption = None) -> None:
    """Validate the rules file (file, line and field of problems) and its notification targets."""
    settings = runtime.settings_or_exit(config)
    rules = _config(settings)
    refused = refused_targets(rules, settings.alerts)
    if refused:
        typer.echo(
            f"tower: {len(refused)} notification target(s) would be refused by the outbound address policy "
            "(alerts.allowed_targets, allowed_target_networks, allow_private_targets):",
            err=True,
        )
        for line in refused:
            typer.echo(f"  {line}", err=True)
        raise SystemExit(2)
    typer.echo(
        f"{settings.alerts.rules_file}: {len(rules.rules)} rule(s), {len(rules.receivers)} receiver(s), "
        f"{len(rules.inhibit_rules)} inhibit rule(s), {len(rules.time_intervals)} time interval(s): OK"
    )


@app.command("list")
def list_command(
    config: ConfigOption = None,
    states: Annotated[
        list[str] | None, typer.Option("--state", help="pending, firing, resolved, inactive (repeatable).")
    ] = None,
    as_json: JsonOption = False,
    token: TokenOption = None,
) -> None:
    """The configured rules and the current alert instances."""
    settings = runtime.settings_or_exit(config)
    rules = _config(settings)
    wanted = states or ["pending", "firing"]
    for s in wanted:
        if s not in {v.value for v in AlertState}:
            runtime.fail(f"unknown state {s!r}; choose from pending, firing, resolved, inactive")
    with store_or_api(settings, "tower alerts list", token) as source:
        if isinstance(source, Api):
            data = source.call("GET", "/api/alerts")
            alerts = [a for a in _parse(ALERTS, data.get("alerts", []), "alerts") if a.state.value in wanted]
        else:
            alerts = state.list_alerts(source, states=wanted)
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


@app.command("test")
def test_command(
    rule: Annotated[str, typer.Argument(help="Rule name.")],
    config: ConfigOption = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Evaluate as of this ISO time (default: now).")
    ] = None,
    as_json: JsonOption = False,
    token: TokenOption = None,
) -> None:
    """Evaluate one rule now and show what it would send (nothing is stored or sent)."""
    settings = runtime.settings_or_exit(config)
    rules = _config(settings)
    if rule not in {r.name for r in rules.rules}:
        runtime.fail(f"no rule named {rule!r}; rules: {', '.join(r.name for r in rules.rules) or 'none'}")
    now = _parse_time(at)
    with store_or_api(settings, "tower alerts test", token) as source:
        if isinstance(source, Api):
            data = source.call("GET", f"/api/alerts/rules/{rule}/test", params={"at": now.isoformat()})
            preview = _parse(TypeAdapter(RulePreview), data, "a rule test")
        else:
            preview = preview_rule(
                source, settings.alert_settings(), rule, now, runtime.policy_or_exit(settings)
            )
    if preview.error:
        runtime.fail(f"rule {rule} could not be evaluated: {preview.error}")
    if as_json:
        _echo_json(preview.model_dump(mode="json"))
        return
    typer.echo(
        f"rule {rule} at {now:%Y-%m-%d %H:%M:%S}Z: {len(preview.samples)} group(s), "
        f"{len(preview.alerts)} over the threshold"
    )
    alerting = [a.labels for a in preview.alerts]
    for s in preview.samples:
        hit = any(all(labels.get(k) == v for k, v in s["group"].items()) for labels in alerting)
        typer.echo(
            f"  {'ALERT' if hit else 'ok':5} {s['group'] or '{}'} value={'no data' if s['value'] is None else format(s['value'], 'g')} orders={len(s['orders'])}"
        )
    if not preview.notifications:
        typer.echo("would send nothing")
    for p in preview.notifications:
        typer.echo(f"would send to {p['receiver']}/{p['integration']}:")
        typer.echo(json.dumps(p["payload"], indent=2, default=str))


@app.command("log")
def log_command(
    config: ConfigOption = None,
    receiver: Annotated[str, typer.Option("--receiver", help="Only this receiver.")] = "",
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Newest entries.")] = 50,
    as_json: JsonOption = False,
    token: TokenOption = None,
) -> None:
    """The notification log: what was sent to whom, when, and the outcome."""
    settings = runtime.settings_or_exit(config)
    with store_or_api(settings, "tower alerts log", token) as source:
        if isinstance(source, Api):
            data = source.call("GET", "/api/alerts").get("notifications", [])
            records = [
                r for r in _parse(RECORDS, data, "notifications") if not receiver or r.receiver == receiver
            ]
        else:
            records = state.notification_log(source, receiver=receiver, limit=limit)
    records = records[:limit]
    if as_json:
        _echo_json([r.model_dump(mode="json") for r in records])
        return
    if not records:
        typer.echo("no notifications")
    for r in records:
        error = f" error: {r.error}" if r.error else ""
        typer.echo(
            f"{r.at:%Y-%m-%d %H:%M:%S}Z {r.receiver}/{r.integration} {r.status} {r.outcome} "
            f"after {r.attempts} attempt(s) to {r.target}: {r.group_key}{error}"
        )


@app.command("ack")
def ack(
    fingerprint: Annotated[str, typer.Argument(help="Alert fingerprint (see `tower alerts list`).")],
    by: Annotated[str, typer.Option("--by", help="Who acknowledges (through the API: the token's name).")],
    comment: Annotated[str, typer.Option("--comment", help="Why / what is being done.")] = "",
    config: ConfigOption = None,
    token: TokenOption = None,
) -> None:
    """Acknowledge a firing alert: repeats stop and PagerDuty is told."""
    if not re.fullmatch(r"[0-9a-f]{1,64}", fingerprint):
        runtime.fail(f"a fingerprint is hex digits, got {fingerprint!r}")
    settings = runtime.settings_or_exit(config)
    with store_or_api(settings, "tower alerts ack", token) as source:
        if isinstance(source, Api):
            result = _parse(
                TypeAdapter(Ack),
                source.call("POST", f"/api/alerts/{fingerprint}/ack", json={"comment": comment}),
                "an ack",
            )
        else:
            try:
                result = state.acknowledge(source, fingerprint, by, comment)
            except (state.InvalidRequest, state.AlertNotFound) as exc:
                runtime.fail(str(exc))
            audit.record(
                source, by, "alert.ack", fingerprint, details={"comment": comment, "via": cli_actor()}
            )
    typer.echo(f"alert {fingerprint} acknowledged by {result.acked_by}")


@silence_app.command("add")
def silence_add(
    matchers: Annotated[
        list[str], typer.Argument(help='Label matchers, e.g. warehouse="wh-2" alertname=~"Ware.*".')
    ],
    author: Annotated[
        str, typer.Option("--author", help="Who creates the silence (through the API: the token's name).")
    ],
    comment: Annotated[str, typer.Option("--comment", help="Why.")],
    duration: Annotated[str, typer.Option("--duration", help="How long, e.g. 2h.")] = "1h",
    start: Annotated[str | None, typer.Option("--start", help="ISO start time (default: now).")] = None,
    config: ConfigOption = None,
    token: TokenOption = None,
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
    with store_or_api(settings, "tower alerts silence add", token) as source:
        if isinstance(source, Api):
            if start:
                runtime.fail(
                    "--start is not available while a tower serve holds the store (silences start now)"
                )
            body = {"matchers": matchers, "hours": length.total_seconds() / 3600, "comment": comment}
            silence = _parse(
                TypeAdapter(Silence), source.call("POST", "/api/silences", json=body), "a silence"
            )
        else:
            try:
                silence = state.create_silence(source, matchers, begin, begin + length, author, comment)
            except state.InvalidRequest as exc:
                runtime.fail(str(exc))
            details = {
                "matchers": silence.matchers,
                "ends_at": silence.ends_at.isoformat(),
                "via": cli_actor(),
            }
            audit.record(source, author, "silence.create", silence.id, details=details)
    typer.echo(f"silence {silence.id} until {silence.ends_at:%Y-%m-%d %H:%M}Z: {' '.join(silence.matchers)}")


@silence_app.command("list")
def silence_list(
    config: ConfigOption = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Include expired silences (not through the API).")
    ] = False,
    as_json: JsonOption = False,
    token: TokenOption = None,
) -> None:
    """Active silences (or all with --all)."""
    settings = runtime.settings_or_exit(config)
    with store_or_api(settings, "tower alerts silence list", token) as source:
        if isinstance(source, Api):
            silences = _parse(SILENCES, source.call("GET", "/api/alerts").get("silences", []), "silences")
        else:
            silences = state.list_silences(source, active_at=None if all_ else datetime.now(UTC))
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
    token: TokenOption = None,
) -> None:
    """End a silence now."""
    if not re.fullmatch(r"[0-9a-f]{32}", silence_id):
        runtime.fail(f"silence id must be 32 hex digits, got {silence_id!r}")
    settings = runtime.settings_or_exit(config)
    with store_or_api(settings, "tower alerts silence expire", token) as source:
        if isinstance(source, Api):
            silence = _parse(
                TypeAdapter(Silence), source.call("DELETE", f"/api/silences/{silence_id}"), "a silence"
            )
        else:
            try:
                silence = state.expire_silence(source, silence_id)
            except state.AlertNotFound as exc:
                runtime.fail(str(exc))
            audit.record(
                source, cli_actor(), "silence.expire", silence_id, details={"matchers": silence.matchers}
            )
    typer.echo(f"silence {silence.id} ends {silence.ends_at:%Y-%m-%d %H:%M:%S}Z")
