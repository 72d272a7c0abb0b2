"""Alerts: firing and pending alerts with the orders behind them, acknowledgements, silences,
the notification log (functions in ``alerts.state``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from alerts import state as alert_state
from alerts.model import Ack, Alert, AlertState, NotificationRecord, Silence, StateChange
from alerts.preview import RulePreview, preview_rule
from web import alert_views
from web.accounts import Principal
from web.deps import Ops, StateDep, StoreDep, Viewer, WebState, render
from web.settings import Role

router = APIRouter(tags=["alerts"])
NAV = ("/alerts", "Alerts", "alerts")

Fingerprint = Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$", description="Alert fingerprint.")]
RuleName = Annotated[str, Path(pattern=r"^[^/\x00-\x1f]{1,200}$", description="Rule name.")]
SilenceId = Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$", description="Silence id.")]
STATE_ORDER = {AlertState.FIRING: 0, AlertState.PENDING: 1}


class AlertDetail(BaseModel):
    alert: Alert
    history: list[StateChange]


class AckRequest(BaseModel):
    comment: str = Field(default="", max_length=2000)


class SilenceRequest(BaseModel):
    matchers: list[str] = Field(
        min_length=1, max_length=50, description='Label matchers, e.g. warehouse="DC-3".'
    )
    hours: float = Field(default=2.0, gt=0, le=24 * 30, description="How long the silence lasts. Default: 2")
    comment: str = Field(min_length=1, max_length=2000, description="Why.")


class AlertsOverview(BaseModel):
    alerts: list[Alert]
    silences: list[Silence]
    notifications: list[NotificationRecord]


def _overview(store: StoreDep, state: AlertState | None, now: datetime) -> AlertsOverview:
    alerts = alert_state.list_alerts(store, [state] if state else [], limit=500)
    alerts.sort(key=lambda a: (STATE_ORDER.get(a.state, 2), -(a.last_active_at.timestamp())))
    return AlertsOverview(
        alerts=alerts,
        silences=alert_state.list_silences(store, active_at=now, limit=200),
        notifications=alert_state.notification_log(store, limit=50),
    )


@router.get("/api/alerts", response_model=AlertsOverview)
def api_alerts(
    store: StoreDep,
    web: StateDep,
    principal: Viewer,
    state: Annotated[AlertState | None, Query()] = None,
) -> AlertsOverview:
    """Alerts (firing first), active silences and the latest notifications."""
    return _overview(store, state, web.now())


class RuleStatus(BaseModel):
    name: str
    signal: str
    severity: str = Field(description="The rule's severity label ('none' when it has none).")
    condition: str = Field(description="Signal, comparison and threshold in the value's unit.")
    unit: str = Field(description="count, seconds, ratio or number.")
    state: str = Field(
        description="firing, pending, suppressed (every live alert inhibited or silenced) or ok."
    )
    firing: int
    pending: int
    suppressed: int
    last_evaluation: datetime | None
    runbook_url: str = ""


class RulesOverview(BaseModel):
    rules_file: str | None
    error: str = Field(default="", description="Why the rules file does not load, if it does not.")
    rules: list[RuleStatus]


@router.get("/api/alerts/rules", response_model=RulesOverview)
def api_rules(state: StateDep, principal: Viewer) -> RulesOverview:
    """The configured alert rules, each with its state now and when it was last evaluated."""
    loaded = state.rules.get(state.alert_settings)
    rows = alert_views.rule_rows(state.store, loaded.config)[0] if loaded.config else []
    return RulesOverview(
        rules_file=str(loaded.path) if loaded.path else None,
        error=loaded.error,
        rules=[
            RuleStatus(
                name=r.rule.name,
                signal=r.rule.signal,
                severity=r.severity,
                condition=r.condition,
                unit=r.rule.unit,
                state=r.state,
                firing=r.firing,
                pending=r.pending,
                suppressed=r.inhibited,
                last_evaluation=r.last_evaluation,
                runbook_url=r.runbook,
            )
            for r in rows
        ],
    )


@router.get("/api/alerts/{fingerprint}", response_model=AlertDetail)
def api_alert(fingerprint: Fingerprint, store: StoreDep, principal: Viewer) -> AlertDetail:
    """One alert and its state history."""
    try:
        alert = alert_state.get_alert(store, fingerprint)
    except alert_state.AlertNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return AlertDetail(
        alert=alert, history=alert_state.alert_history(store, fingerprint=fingerprint, limit=100)
    )


def _ack(request: Request, state: WebState, fingerprint: str, by: str, comment: str) -> Ack:
    try:
        ack = alert_state.acknowledge(state.store, fingerprint, by, comment, now=state.now())
    except alert_state.AlertNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except alert_state.InvalidRequest as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    state.audit(request, by, "alert.ack", fingerprint, details={"comment": comment})
    return ack


@router.post("/api/alerts/{fingerprint}/ack", response_model=Ack)
def api_ack(
    request: Request, fingerprint: Fingerprint, body: AckRequest, state: StateDep, principal: Ops
) -> Ack:
    """Acknowledge a firing alert (ops role): repeats stop until it resolves."""
    return _ack(request, state, fingerprint, principal.name, body.comment)


@router.get("/api/alerts/rules/{rule}/test", response_model=RulePreview)
def api_rule_test(
    rule: RuleName,
    store: StoreDep,
    state: StateDep,
    principal: Viewer,
    at: Annotated[
        datetime | None, Query(description="Evaluate as of this time (ISO 8601). Default: now")
    ] = None,
) -> RulePreview:
    """Evaluate one configured rule now, without storing state or sending: what it would send."""
    if state.alert_settings is None or state.alert_settings.rules_file is None:
        raise HTTPException(404, "no alert rules file is configured (alerts.rules_file)")
    now = at.astimezone(UTC) if at and at.tzinfo else (at.replace(tzinfo=UTC) if at else state.now())
    try:
        return preview_rule(store, state.alert_settings, rule, now, kpi_policy=state.policy)
    except KeyError:
        raise HTTPException(404, f"no alert rule named {rule!r}") from None


def _silence(request: Request, state: WebState, body: SilenceRequest, principal: Principal) -> Silence:
    now = state.now()
    try:
        silence = alert_state.create_silence(
            state.store,
            body.matchers,
            now,
            now + timedelta(hours=body.hours),
            principal.name,
            body.comment,
            now=now,
        )
    except alert_state.InvalidRequest as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    details = {"matchers": silence.matchers, "ends_at": silence.ends_at.isoformat(), "comment": body.comment}
    state.audit(request, principal.name, "silence.create", silence.id, details=details)
    return silence


@router.post("/api/silences", response_model=Silence, status_code=201)
def api_silence(request: Request, body: SilenceRequest, state: StateDep, principal: Ops) -> Silence:
    """Silence alerts matching every matcher, from now for ``hours`` (ops role)."""
    return _silence(request, state, body, principal)


def _expire(request: Request, state: WebState, silence_id: str, principal: Principal) -> Silence:
    try:
        silence = alert_state.expire_silence(state.store, silence_id, now=state.now())
    except alert_state.AlertNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    state.audit(request, principal.name, "silence.expire", silence_id, details={"matchers": silence.matchers})
    return silence


@router.delete("/api/silences/{silence_id}", response_model=Silence)
def api_expire_silence(request: Request, silence_id: SilenceId, state: StateDep, principal: Ops) -> Silence:
    """End a silence now (ops role)."""
    return _expire(request, state, silence_id, principal)


def _alerts_page(
    request: Request,
    state: WebState,
    principal: Principal,
    alert_filter: AlertState | None,
    *,
    silence_form: dict[str, str] | None = None,
    silence_error: str = "",
    status_code: int = 200,
) -> Response:
    data = _overview(state.store, alert_filter, state.now())
    loaded = state.rules.get(state.alert_settings)
    return render(
        request,
        state,
        "alerts.html",
        {
            "nav": "alerts",
            "data": data,
            "rows": alert_views.alert_rows(data.alerts, loaded.config),
            "states": list(AlertState),
            "chosen": alert_filter.value if alert_filter else "",
            "can_act": principal.role.allows(Role.OPS),
            "silence_form": silence_form or {"matchers": "", "comment": "", "hours": "2"},
            "silence_error": silence_error,
            "rules_error": loaded.error,
        },
        principal=principal,
        status_code=status_code,
    )


@router.get("/alerts", include_in_schema=False)
def alerts_page(
    request: Request,
    state: StateDep,
    principal: Viewer,
    alert_filter: Annotated[AlertState | None, Query(alias="state")] = None,
) -> Response:
    return _alerts_page(request, state, principal, alert_filter)


@router.get("/alerts/rules", include_in_schema=False)
def rules_page(request: Request, state: StateDep, principal: Viewer) -> Response:
    loaded = state.rules.get(state.alert_settings)
    rows, last_run = alert_views.rule_rows(state.store, loaded.config) if loaded.config else ([], None)
    return render(
        request,
        state,
        "alert_rules.html",
        {"nav": "alerts", "loaded": loaded, "rows": rows, "last_run": last_run},
        principal=principal,
    )


@router.get("/alerts/rules/{rule}", include_in_schema=False)
def rule_page(request: Request, rule: RuleName, state: StateDep, principal: Viewer) -> Response:
    loaded = state.rules.get(state.alert_settings)
    if loaded.config is None or state.alert_settings is None:
        raise HTTPException(404, loaded.error or "no alert rules file is configured (alerts.rules_file)")
    try:
        chosen = loaded.config.rule(rule)
    except KeyError:
        raise HTTPException(404, f"no alert rule named {rule!r}") from None
    now = state.now()
    preview = preview_rule(state.store, state.alert_settings, rule, now, kpi_policy=state.policy)
    alerts = alert_state.list_alerts(state.store, rule=rule, limit=200, now=now)
    return render(
        request,
        state,
        "alert_rule.html",
        {
            "nav": "alerts",
            "rule": chosen,
            "condition": alert_views.condition_text(chosen),
            "severity": alert_views.severity(chosen),
            "severity_class": alert_views.severity_class(alert_views.severity(chosen)),
            "preview": preview,
            "samples": alert_views.preview_samples(chosen, preview),
            "rows": alert_views.alert_rows(alerts, loaded.config),
            "unit": chosen.unit,
        },
        principal=principal,
    )


@router.get("/alerts/{fingerprint}", include_in_schema=False)
def alert_detail_page(
    request: Request, fingerprint: Fingerprint, state: StateDep, principal: Viewer
) -> Response:
    loaded = state.rules.get(state.alert_settings)
    try:
        page = alert_views.alert_page(state.store, fingerprint, loaded.config, state.now())
    except alert_state.AlertNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return render(
        request,
        state,
        "alert.html",
        {"nav": "alerts", "p": page, "can_act": principal.role.allows(Role.OPS)},
        principal=principal,
    )


def _back(fingerprint: str, back: str) -> str:
    return f"/alerts/{fingerprint}" if back == "detail" else "/alerts"


@router.post("/alerts/{fingerprint}/ack", include_in_schema=False)
def ack_form(
    request: Request,
    fingerprint: Fingerprint,
    state: StateDep,
    principal: Ops,
    comment: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    _ack(request, state, fingerprint, principal.name, comment)
    return RedirectResponse(_back(fingerprint, back), status_code=303)


MAX_SILENCE_FORM = 20_000


@router.post("/alerts/silences", include_in_schema=False)
async def silence_form(request: Request, state: StateDep, principal: Ops) -> Response:
    """A bad silence comes back as the alerts page with the form as it was sent and the error next
    to it (400), never as a bare error page that loses what was typed."""
    form = await request.form(max_fields=20)
    fields = {k: form.get(k) for k in ("matchers", "comment", "hours")}
    kept = {k: (v if isinstance(v, str) else "")[:MAX_SILENCE_FORM] for k, v in fields.items()}
    kept["hours"] = kept["hours"] or "2"
    error = ""
    body = None
    too_long = [k for k, v in fields.items() if isinstance(v, str) and len(v) > 2000]
    if too_long:
        error = f"{too_long[0]}: at most 2,000 characters"
    else:
        lines = [line.strip() for line in kept["matchers"].splitlines() if line.strip()]
        try:
            hours = float(kept["hours"])
        except ValueError:
            hours = float("nan")
        try:
            body = SilenceRequest(matchers=lines, hours=hours, comment=kept["comment"])
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()) if not isinstance(p, int))
            error = f"{where}: {first['msg']}" if where else str(first["msg"])
    if body is not None:
        try:
            _silence(request, state, body, principal)
        except HTTPException as exc:
            error = str(exc.detail)
    if error:
        return _alerts_page(
            request, state, principal, None, silence_form=kept, silence_error=error, status_code=400
        )
    return RedirectResponse("/alerts", status_code=303)


@router.post("/alerts/silences/{silence_id}/expire", include_in_schema=False)
def expire_form(request: Request, silence_id: SilenceId, state: StateDep, principal: Ops) -> Response:
    _expire(request, state, silence_id, principal)
    return RedirectResponse("/alerts", status_code=303)
