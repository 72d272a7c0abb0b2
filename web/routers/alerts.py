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


@router.get("/alerts", include_in_schema=False)
def alerts_page(
    request: Request,
    state: StateDep,
    principal: Viewer,
    alert_filter: Annotated[AlertState | None, Query(alias="state")] = None,
) -> Response:
    return render(
        request,
        state,
        "alerts.html",
        {
            "nav": "alerts",
            "data": _overview(state.store, alert_filter, state.now()),
            "states": list(AlertState),
            "chosen": alert_filter.value if alert_filter else "",
            "can_act": principal.role.allows(Role.OPS),
        },
        principal=principal,
    )


@router.post("/alerts/{fingerprint}/ack", include_in_schema=False)
def ack_form(
    request: Request,
    fingerprint: Fingerprint,
    state: StateDep,
    principal: Ops,
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    _ack(request, state, fingerprint, principal.name, comment)
    return RedirectResponse("/alerts", status_code=303)


@router.post("/alerts/silences", include_in_schema=False)
def silence_form(
    request: Request,
    state: StateDep,
    principal: Ops,
    matchers: Annotated[str, Form(max_length=2000)],
    comment: Annotated[str, Form(max_length=2000)],
    hours: Annotated[float, Form(gt=0, le=24 * 30)] = 2.0,
) -> Response:
    lines = [line.strip() for line in matchers.splitlines() if line.strip()]
    try:
        body = SilenceRequest(matchers=lines, hours=hours, comment=comment)
    except ValidationError as exc:
        raise HTTPException(status_code=400, detail=f"invalid silence: {exc.errors()[0]['msg']}") from None
    _silence(request, state, body, principal)
    return RedirectResponse("/alerts", status_code=303)


@router.post("/alerts/silences/{silence_id}/expire", include_in_schema=False)
def expire_form(request: Request, silence_id: SilenceId, state: StateDep, principal: Ops) -> Response:
    _expire(request, state, silence_id, principal)
    return RedirectResponse("/alerts", status_code=303)
