"""AI: the models page (model card, held-out metrics, calibration, live monitoring and drift,
versions; approve, reject or roll back as an admin), the at-risk list, anomaly flags and allocation
recommendations with their reviews (confirm, dismiss, override with a reason: ops), and the JSON API
(``/api/ai/...``). The services are in :mod:`ai.service`."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from ai.policy import MODEL_NAMES
from ai.predictions import ReviewError
from ai.registry import RegistryError
from ai.service import AiService, AtRiskOrder, ModelVersionView, ModelView, OrderInsight, PredictionView
from tracing.crosswalk import MAX_KEY_LENGTH
from tracing.timeline import CrosswalkError, OrderNotFound, order_timeline
from web.ai_views import calibration_chart, drift_bars
from web.deps import Admin, Ops, StateDep, Viewer, WebState, render
from web.settings import Role

router = APIRouter(tags=["ai"])
NAV = ("/ai", "AI", "ai")

ModelName = Annotated[
    Literal["duplicates", "spikes", "delay", "exception_cause", "allocation"], Path(description="Model name.")
]
Version = Annotated[int, Path(ge=1, le=1_000_000, description="Model version.")]
PredictionId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{32,36}$", description="Prediction id (UUID).")]
OrderId = Annotated[str, Path(min_length=1, max_length=MAX_KEY_LENGTH, description="Canonical order id.")]
SlaName = Annotated[str, Query(max_length=100, pattern=r"^[A-Za-z0-9_.-]*$", description="One SLA by name.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many.")]
ReviewAction = Literal["confirm", "dismiss", "override"]


class Decision(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why (kept in the audit log).")


class ReviewRequest(BaseModel):
    action: ReviewAction
    reason: str = Field(min_length=1, max_length=2000, description="Why (kept in the audit log).")
    value: str = Field(
        default="", max_length=100, description="override: the value chosen instead (a root cause)."
    )


class ReviewResult(BaseModel):
    prediction_id: str
    model: str
    subject: str
    subject_key: str
    action: str
    value: str
    predicted: str
    actor: str
    reason: str


def _ai(state: WebState) -> AiService:
    if state.ai is None:
        raise HTTPException(
            status_code=404, detail="AI-assisted exception handling is not enabled on this tower"
        )
    return state.ai


def _registry_call(call: object) -> None:
    try:
        call()  # type: ignore[operator]
    except RegistryError as exc:
        status = 404 if "has no version" in str(exc) else 409
        raise HTTPException(status_code=status, detail=str(exc)) from None


def _review(ai: AiService, prediction_id: str, body: ReviewRequest, actor: str, role: str) -> ReviewResult:
    try:
        review = ai.review(
            prediction_id, body.action, actor=actor, role=role, reason=body.reason, value=body.value
        )
    except ReviewError as exc:
        status = 404 if str(exc).startswith("no prediction") else 400
        raise HTTPException(status_code=status, detail=str(exc)) from None
    return ReviewResult(
        prediction_id=review.prediction_id,
        model=review.model,
        subject=review.subject,
        subject_key=review.subject_key,
        action=str(review.action),
        value=review.value,
        predicted=review.predicted,
        actor=review.actor,
        reason=review.reason,
    )


# -- JSON API -----------------------------------------------------------------------------------------


@router.get("/api/ai/models", response_model=list[ModelView])
def api_models(state: StateDep, principal: Viewer) -> list[ModelView]:
    """Every model: switched on or off, active version, versions with held-out metrics, model card,
    live monitoring and the registry's audit trail."""
    return _ai(state).models()


@router.get("/api/ai/models/{model}", response_model=ModelView)
def api_model(model: ModelName, state: StateDep, principal: Viewer) -> ModelView:
    """One model: its versions, which one is active, and their evaluation and live monitoring."""
    return _ai(state).model(model)


@router.post("/api/ai/models/{model}/{version}/approve", response_model=ModelVersionView)
def api_approve(
    model: ModelName, version: Version, body: Decision, state: StateDep, principal: Admin
) -> ModelVersionView:
    """An admin's approval: the version becomes active, the active one is retired (audited)."""
    ai = _ai(state)
    _registry_call(lambda: ai.registry.approve(model, version, principal.name, body.reason))
    return ModelVersionView.of(ai.registry.get(model, version))


@router.post("/api/ai/models/{model}/{version}/reject", response_model=ModelVersionView)
def api_reject(
    model: ModelName, version: Version, body: Decision, state: StateDep, principal: Admin
) -> ModelVersionView:
    """Reject a candidate: it can never become active (audited)."""
    ai = _ai(state)
    _registry_call(lambda: ai.registry.reject(model, version, principal.name, body.reason))
    return ModelVersionView.of(ai.registry.get(model, version))


@router.post("/api/ai/models/{model}/rollback", response_model=ModelVersionView)
def api_rollback(model: ModelName, body: Decision, state: StateDep, principal: Admin) -> ModelVersionView:
    """Retire the active version and bring back the previously active one (audited)."""
    ai = _ai(state)
    found: list[ModelVersionView] = []
    _registry_call(
        lambda: found.append(ModelVersionView.of(ai.registry.rollback(model, principal.name, body.reason)))
    )
    return found[0]


@router.get("/api/ai/at-risk", response_model=list[AtRiskOrder])
def api_at_risk(
    state: StateDep, principal: Viewer, sla: SlaName = "", limit: Limit = 200
) -> list[AtRiskOrder]:
    """Open orders the delay model puts at risk of missing an SLA, riskiest first, with the main factors."""
    return _ai(state).at_risk(sla=sla, limit=limit)


@router.get("/api/ai/flags", response_model=list[PredictionView])
def api_flags(state: StateDep, principal: Viewer, limit: Limit = 200) -> list[PredictionView]:
    """Anomaly flags (possible duplicates, quantity spikes) flagged or waiting for review."""
    return _ai(state).flags(limit=limit)


@router.get("/api/ai/recommendations", response_model=list[PredictionView])
def api_recommendations(state: StateDep, principal: Viewer, limit: Limit = 200) -> list[PredictionView]:
    """Allocation recommendations (shown, withheld by the execution limits, or keep current)."""
    return _ai(state).recommendations(limit=limit)


@router.get("/api/ai/orders/{order_id:path}", response_model=OrderInsight)
def api_order(order_id: OrderId, state: StateDep, principal: Viewer) -> OrderInsight:
    """What the models say about one order, and the plain-language summary of its exceptions."""
    ai = _ai(state)
    try:
        timeline = order_timeline(state.store, order_id.strip())
    except CrosswalkError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    except OrderNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return ai.order(timeline.order_id, timeline)


@router.post("/api/ai/predictions/{prediction_id}/review", response_model=ReviewResult)
def api_review(
    prediction_id: PredictionId, body: ReviewRequest, state: StateDep, principal: Ops
) -> ReviewResult:
    """Confirm, dismiss or override a prediction (ops role), with a reason; kept in the audit log.
    An override sets the value shown from now on (exception causes)."""
    return _review(_ai(state), prediction_id, body, principal.name, principal.role.value)


# -- pages ------------------------------------------------------------------------------------------


@router.get("/ai", include_in_schema=False)
def ai_page(request: Request, state: StateDep, principal: Viewer) -> Response:
    ai = _ai(state)
    return render(
        request,
        state,
        "ai.html",
        {
            "nav": "ai",
            "models": ai.models(),
            "at_risk": ai.at_risk(limit=10),
            "flags": ai.flags(limit=10),
            "recommendations": [r for r in ai.recommendations(limit=50) if r.decision == "recommended"][:10],
        },
        principal=principal,
    )


@router.get("/ai/models/{model}", include_in_schema=False)
def model_page(request: Request, model: ModelName, state: StateDep, principal: Viewer) -> Response:
    ai = _ai(state)
    view = ai.model(model)
    metrics = view.active.metrics if view.active else (view.versions[0].metrics if view.versions else {})
    live = {m.metric: m for m in view.monitoring}
    live_calibration = live["live_auc"].details.get("calibration", []) if "live_auc" in live else []
    drift = live["max_psi"].details.get("psi", {}) if "max_psi" in live else {}
    return render(
        request,
        state,
        "ai_model.html",
        {
            "nav": "ai",
            "m": view,
            "metrics": {k: v for k, v in metrics.items() if not isinstance(v, dict | list)},
            "nested": {k: v for k, v in metrics.items() if isinstance(v, dict) and k != "calibration"},
            "heldout_chart": calibration_chart(metrics.get("calibration") or []),
            "live_chart": calibration_chart(live_calibration),
            "drift": drift_bars(drift),
            "is_admin": principal.role.value == "admin",
            "models": MODEL_NAMES,
        },
        principal=principal,
    )


@router.post("/ai/models/{model}/{version}/{action}", include_in_schema=False)
def model_action_form(
    model: ModelName,
    version: Version,
    action: Literal["approve", "reject"],
    state: StateDep,
    principal: Admin,
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    ai = _ai(state)
    if action == "approve":
        _registry_call(lambda: ai.registry.approve(model, version, principal.name, reason))
    else:
        _registry_call(lambda: ai.registry.reject(model, version, principal.name, reason))
    return RedirectResponse(f"/ai/models/{model}", status_code=303)


@router.post("/ai/models/{model}/rollback", include_in_schema=False)
def rollback_form(
    model: ModelName,
    state: StateDep,
    principal: Admin,
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    ai = _ai(state)
    _registry_call(lambda: ai.registry.rollback(model, principal.name, reason))
    return RedirectResponse(f"/ai/models/{model}", status_code=303)


@router.get("/ai/at-risk", include_in_schema=False)
def at_risk_page(request: Request, state: StateDep, principal: Viewer, sla: SlaName = "") -> Response:
    ai = _ai(state)
    return render(
        request,
        state,
        "ai_at_risk.html",
        {
            "nav": "ai",
            "orders": ai.at_risk(sla=sla, limit=500),
            "sla": sla,
            "slas": ai.policy.models.delay.slas,
        },
        principal=principal,
    )


@router.get("/ai/flags", include_in_schema=False)
def flags_page(request: Request, state: StateDep, principal: Viewer) -> Response:
    ai = _ai(state)
    return render(
        request,
        state,
        "ai_flags.html",
        {
            "nav": "ai",
            "flags": ai.flags(limit=500),
            "recommendations": ai.recommendations(limit=500),
            "can_review": principal.role.allows(Role.OPS),
        },
        principal=principal,
    )


@router.post("/ai/predictions/{prediction_id}/review", include_in_schema=False)
def review_form(
    prediction_id: PredictionId,
    state: StateDep,
    principal: Ops,
    action: Annotated[ReviewAction, Form()],
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
    value: Annotated[str, Form(max_length=100)] = "",
    back: Annotated[str, Form(max_length=500)] = "/ai/flags",
) -> Response:
    _review(
        _ai(state),
        prediction_id,
        ReviewRequest(action=action, reason=reason, value=value),
        principal.name,
        principal.role.value,
    )
    local = back.startswith("/") and not back.startswith("//") and "\\" not in back  # never another site
    target = back if local else "/ai/flags"
    return RedirectResponse(quote(target, safe="/:?=&%"), status_code=303)
