"""``tower ai``: train candidates, measure them, promote (an admin's approval) or roll back, score,
monitor, and explain one order's predictions."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer

from ai.policy import MODEL_NAMES, AiPolicy
from kpis.policy import Policy
from storage import Store, StoreError, StoreLockedError, open_store
from tower import runtime
from tower.commands.options import ConfigOption
from tower.settings import TowerSettings

if TYPE_CHECKING:  # the models (scikit-learn, pandas) load only when an ai command runs
    from ai.service import AiService

app = typer.Typer(
    name="ai",
    help="AI-assisted exception handling: models, their registry and predictions.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ThreadsOption = Annotated[
    int, typer.Option("--threads", min=1, max=64, help="Threads for fitting and scoring.")
]


def policies(settings: TowerSettings) -> tuple[Policy, AiPolicy]:
    """The KPI and AI policies in force; a bad file exits with one clear line."""
    return runtime.policy_or_exit(settings), runtime.ai_policy_or_exit(settings)


def service(settings: TowerSettings, store: Store) -> AiService:
    from ai.service import AiService

    kpi, policy = policies(settings)
    return AiService(store, kpi, policy, settings.ai)


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        runtime.fail(f"{option} {value!r} is not an ISO date-time (e.g. 2026-03-02T08:00)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _models(names: list[str] | None) -> list[str] | None:
    unknown = [n for n in names or [] if n not in MODEL_NAMES]
    if unknown:
        runtime.fail(f"unknown model(s) {', '.join(unknown)}; models: {', '.join(MODEL_NAMES)}")
    return names or None


def _admin(settings: TowerSettings, store: Store, name: str) -> None:
    """Promotion needs an admin's approval: ``--by`` must be a dashboard admin."""
    from web.accounts import Accounts
    from web.settings import Role

    role = Accounts(store, settings.web).user_role(name)
    if role is not Role.ADMIN:
        runtime.fail(f"{name!r} is not a dashboard admin (tower users list); only an admin approves a model")


@app.command("train")
def train_command(
    config: ConfigOption = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help=f"Model(s) to train (default: all switched on): {', '.join(MODEL_NAMES)}."
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Train as of this UTC time (default: now).")
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who trains (recorded). Default: the OS user.")
    ] = None,
    threads: ThreadsOption = 1,
    as_json: JsonOption = False,
) -> None:
    """Train a candidate of each model on the store's history (time-based split) and register it. Candidates never score until approved."""
    from ai.training import train

    settings = runtime.settings_or_exit(config)
    kpi, policy = policies(settings)
    when = _moment(as_of, "--as-of")
    with runtime.store_or_exit(settings, "tower ai train") as store:
        results = train(
            store, kpi, policy, as_of=when, models=_models(model), actor=by or _user(), threads=threads
        )
    rows = [
        {
            "model": r.model,
            "version": r.version.version if r.version else None,
            "status": str(r.version.status) if r.version else "failed",
            "metrics": {k: v for k, v in r.metrics.items() if not isinstance(v, list | dict)},
            "promoted": r.promoted,
            "promotion": r.promotion,
            "error": r.error,
            "seconds": round(r.seconds, 1),
        }
        for r in results
    ]
    _print(
        rows, as_json, lambda r: f"{r['model']}: v{r['version']} {r['status']} {r['metrics']} {r['error']}"
    )
    if any(r.error for r in results):
        raise typer.Exit(1)


@app.command("evaluate")
def evaluate_command(
    orders: Annotated[int, typer.Option("--orders", min=1000, help="Orders to simulate.")] = 30_000,
    days: Annotated[
        int,
        typer.Option(
            "--days", min=21, max=365, help="Days of history (training, held-out week, a week for outcomes)."
        ),
    ] = 35,
    seed: Annotated[int, typer.Option("--seed", help="Simulator seed.")] = 7,
    end: Annotated[
        str | None, typer.Option("--end", help="End of the simulated history (UTC, default now).")
    ] = None,
    work_dir: Annotated[
        Path | None, typer.Option("--work-dir", help="Where the fresh store goes. Default: a temp dir.")
    ] = None,
    threads: ThreadsOption = 1,
    as_json: JsonOption = False,
) -> None:
    """Simulate history into a fresh store, train every model and measure it on a held-out week against the simulator's ground truth."""
    from ai.evaluation import evaluate

    try:
        result = evaluate(
            orders=orders,
            days=days,
            seed=seed,
            end=_moment(end, "--end"),
            data_dir=work_dir,
            threads=threads,
            progress=lambda message: print(message, file=sys.stderr),
        )
    except ValueError as exc:
        runtime.fail(str(exc))
    typer.echo(json.dumps(result, indent=2, default=str) if as_json else _evaluation_text(result))


def _evaluation_text(result: dict[str, Any]) -> str:
    lines = []
    for key in ("delay", "duplicates", "spikes", "classification", "allocation"):
        values = result.get(key) or {}
        shown = {k: v for k, v in values.items() if not isinstance(v, dict | list)}
        lines.append(f"{key}: {shown}")
    for key in ("score_ms_per_1000_orders", "train_seconds", "train_orders", "train_seconds_1m_orders"):
        lines.append(f"{key}: {result.get(key)}")
    return "\n".join(lines)


@app.command("promote")
def promote_command(
    model: Annotated[str, typer.Argument(help=f"Model: {', '.join(MODEL_NAMES)}.")],
    version: Annotated[int, typer.Argument(min=1, help="Version to make active.")],
    by: Annotated[str, typer.Option("--by", help="The approving admin (a dashboard admin account).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    config: ConfigOption = None,
) -> None:
    """An admin's approval: make a version active (the active one is retired)."""
    from ai.registry import Registry, RegistryError

    _models([model])
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower ai promote") as store:
        _admin(settings, store, by)
        try:
            entry = Registry(store).approve(model, version, by, reason)
        except RegistryError as exc:
            runtime.fail(str(exc))
    typer.echo(f"{model} version {entry.version} is active (approved by {by})")


@app.command("reject")
def reject_command(
    model: Annotated[str, typer.Argument(help="Model.")],
    version: Annotated[int, typer.Argument(min=1, help="Candidate to reject.")],
    by: Annotated[str, typer.Option("--by", help="Who rejects.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    config: ConfigOption = None,
) -> None:
    """Reject a candidate (it can never become active)."""
    from ai.registry import Registry, RegistryError

    _models([model])
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower ai reject") as store:
        try:
            Registry(store).reject(model, version, by, reason)
        except RegistryError as exc:
            runtime.fail(str(exc))
    typer.echo(f"{model} version {version} rejected")


@app.command("rollback")
def rollback_command(
    model: Annotated[str, typer.Argument(help="Model.")],
    by: Annotated[str, typer.Option("--by", help="The admin rolling back (a dashboard admin account).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    config: ConfigOption = None,
) -> None:
    """Retire the active version and bring back the previously active one."""
    from ai.registry import Registry, RegistryError

    _models([model])
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower ai rollback") as store:
        _admin(settings, store, by)
        try:
            entry = Registry(store).rollback(model, by, reason)
        except RegistryError as exc:
            runtime.fail(str(exc))
    typer.echo(f"{model}: version {entry.version} is active again")


@app.command("models")
def models_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Each model: on or off, its versions, status and held-out metrics."""
    settings = runtime.settings_or_exit(config)
    with runtime.store_or_exit(settings, "tower ai models") as store:
        views = service(settings, store).models()
    rows = [
        {
            "model": v.model,
            "use_case": v.use_case,
            "enabled": v.enabled,
            "active": v.active.version if v.active else None,
            "versions": [
                {"version": x.version, "status": x.status, v.primary_metric: x.metrics.get(v.primary_metric)}
                for x in v.versions
            ],
        }
        for v in views
    ]
    _print(
        rows,
        as_json,
        lambda r: (
            f"{r['model']} ({r['use_case']}): {'on' if r['enabled'] else 'OFF'}, active v{r['active']}, versions {r['versions']}"
        ),
    )


@app.command("score")
def score_command(
    config: ConfigOption = None, threads: ThreadsOption = 1, as_json: JsonOption = False
) -> None:
    """Score now with the active models (what the scheduler does every few minutes)."""
    from ai.scoring import Scorer

    settings = runtime.settings_or_exit(config)
    if not settings.ai.enabled:
        runtime.fail("the models are switched off (ai.enabled = false)")
    kpi, policy = policies(settings)
    with runtime.store_or_exit(settings, "tower ai score") as store:
        written = Scorer(store, kpi, policy, threads=threads).run()
    _print(
        [{"model": k, "predictions": v} for k, v in written.items()],
        as_json,
        lambda r: f"{r['model']}: {r['predictions']} prediction(s)",
    )


@app.command("monitor")
def monitor_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Measure the active models now: live accuracy and calibration once outcomes are known, feature drift."""
    from ai.monitoring import measure

    settings = runtime.settings_or_exit(config)
    kpi, policy = policies(settings)
    with runtime.store_or_exit(settings, "tower ai monitor") as store:
        found = measure(store, kpi, policy)
    _print(
        [
            {
                "model": m.model,
                "version": m.version,
                "metric": m.metric,
                "value": round(m.value, 4),
                "samples": m.samples,
            }
            for m in found
        ],
        as_json,
        lambda r: f"{r['model']} v{r['version']} {r['metric']} = {r['value']} ({r['samples']} samples)",
    )


@app.command("explain")
def explain_command(
    order: Annotated[str, typer.Argument(help="Order id.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", help="API token when a running tower holds the store.", envvar="TOWER_API_TOKEN"
        ),
    ] = None,
) -> None:
    """What the models say about one order and why: risk per SLA with its main factors, flags, exception causes, the allocation recommendation, and the exception summary."""
    from tracing.timeline import CrosswalkError, OrderNotFound, order_timeline

    settings = runtime.settings_or_exit(config)
    try:
        store = open_store(settings.storage, command="tower ai explain")
    except StoreLockedError as exc:
        if not exc.api_url:
            runtime.fail(str(exc))
        insight = _from_api(exc.api_url, order.strip(), token)
    except StoreError as exc:
        runtime.fail(str(exc))
    else:
        with store:
            try:
                runtime.ensure_schema(store)
            except runtime.MigrationError as exc:
                runtime.fail(str(exc))
            try:
                timeline = order_timeline(store, order.strip())
            except (OrderNotFound, CrosswalkError) as exc:
                runtime.fail(str(exc), code=1)
            insight = service(settings, store).order(order.strip(), timeline).model_dump(mode="json")
    if as_json:
        typer.echo(json.dumps(insight, indent=2))
        return
    summary = insight.get("summary") or {}
    typer.echo(summary.get("text", f"order {order}"))
    typer.echo("")
    for p in insight["predictions"]:
        line = f"[{p['model']} v{p['version']}] {p['subject_key'] or p['subject']}: {p['label']} score {p['score']:.2f} -> {p['decision']} ({p['reason']})"
        typer.echo(line)
        for factor in p["explanation"][:4]:
            typer.echo(
                f"    {factor.get('feature')}"
                + (f" = {factor['value']}" if "value" in factor else "")
                + f"  ({factor.get('effect'):+})"
            )
    if not insight["predictions"]:
        typer.echo("no predictions for this order yet (are models active? tower ai models)")


def _from_api(url: str, order: str, token: str | None) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(
            f"{url.rstrip('/')}/api/ai/orders/{quote(order, safe='')}", headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        runtime.fail(f"the running tower at {url} did not answer: {exc}")
    if response.status_code == 401:
        runtime.fail(f"{url} needs an API token: --token or TOWER_API_TOKEN")
    if response.status_code == 404:
        runtime.fail(f"order {order} not found", code=1)
    if response.status_code != 200:
        runtime.fail(f"{url} answered {response.status_code}: {response.text[:200]}")
    data: dict[str, Any] = response.json()
    return data


def _print(rows: list[dict[str, Any]], as_json: bool, line: Any) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    for row in rows:
        typer.echo(line(row))


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "tower ai train"
