"""A plain-language summary of an order's exceptions for service teams, built from the timeline's
facts (deterministic: the same facts give the same words) and the models' current predictions.

An optional hook (``ai.summary_hook``, off by default) may rewrite the text, e.g. with a language
model; it receives the facts and the deterministic text, and whatever goes wrong there, the
deterministic text is shown. The summary never needs the hook.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ai.predictions import Current
from tracing.timeline import Timeline

log = logging.getLogger(__name__)
MAX_HOOK_TEXT = 4000
NAMES = {
    "credit_hold": "Credit hold",
    "pricing": "Pricing exception",
    "stockout": "Stock-out (backordered)",
    "backorder": "Partial backorder (split shipment)",
    "edi_mapping": "EDI mapping error",
    "edi_envelope": "EDI envelope rejected",
    "edi_rejected": "EDI file rejected (997)",
    "carrier_delay": "Carrier missed the pickup",
    "carrier_exception": "Delivery exception",
    "invoice": "Invoice posting failed",
    "duplicate": "Duplicate order",
}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def when(moment: datetime) -> str:
    return f"{moment:%a %d %b %H:%M} UTC"


@dataclass
class Summary:
    order_id: str
    headline: str
    lines: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    source: str = "deterministic"


def build(timeline: Timeline, predictions: list[Current] | None = None) -> Summary:
    """The deterministic summary of ``timeline`` (plus what the active models say about it)."""
    t = timeline
    predictions = predictions or []
    state = t.state
    if state.status == "complete":
        headline = f"Order {t.order_id} ({t.channel or 'unknown channel'}, customer {t.customer or '-'}) is complete: {duration(t.cycle_ns / 1e9)} end to end."
    else:
        at = f"at {state.stage} on {state.system}" if state.stage else "in flight"
        age = f" for {duration(state.age_ns / 1e9)}" if state.age_ns is not None else ""
        headline = f"Order {t.order_id} ({t.channel or 'unknown channel'}, customer {t.customer or '-'}) is open, {at}{age}."
    lines: list[str] = []
    causes = {c.prediction.subject_key: c for c in predictions if c.prediction.model == "exception_cause"}
    messages: dict[str, str] = {}
    for error in t.errors:
        messages.setdefault(error.span_id, error.message)
    opened_span = {e.type: e for e in t.exceptions if e.outcome == "opened"}
    touches = sorted(t.manual_touches, key=lambda m: m.time)
    facts_exceptions = []
    for case in t.exception_cases:
        name = NAMES.get(case.type, case.type.replace("_", " "))
        event = opened_span.get(case.type)
        where = f" at {event.system} ({event.stage})" if event is not None else ""
        sentence = f"{name}: opened {when(case.opened)}{where}"
        if case.open:
            sentence += f"; still open after {duration(case.duration_ns / 1e9 if case.duration_ns is not None else None)}"
        else:
            by = next(
                (
                    m.user
                    for m in touches
                    if case.resolved is not None
                    and abs((m.time - case.resolved).total_seconds()) < 86400
                    and m.time >= case.opened
                ),
                "",
            )
            sentence += f"; resolved after {duration(case.duration_ns / 1e9 if case.duration_ns is not None else None)}"
            sentence += f" by {by}" if by else " by the system"
        said = messages.get(event.span_id, "") if event is not None else ""
        current = causes.get(case.type)
        if current is not None and not said:
            said = current.prediction.features.get("message", "")
        if said:
            sentence += f' - "{said}"'
        if current is not None:
            team = current.prediction.features.get("team", current.label)
            if current.decision == "overridden" and current.review is not None:
                sentence += (
                    f". Cause: {current.label} (set by {current.review.actor}: {current.review.reason})"
                )
            else:
                sentence += f". Likely cause: {current.label} ({current.prediction.score:.0%})"
                sentence += f", routed to {team}" if current.decision == "routed" else ", needs review"
        lines.append(sentence + ".")
        facts_exceptions.append(
            {
                "type": case.type,
                "open": case.open,
                "opened": case.opened.isoformat(),
                "cause": current.label if current else None,
            }
        )
    if not t.exception_cases:
        lines.append("No exceptions so far.")
    if t.gaps:
        longest = max(t.gaps, key=lambda g: g.duration_ns)
        lines.append(
            f"Waiting at handoffs: {duration(t.waiting_ns / 1e9)} in total; longest {duration(longest.duration_ns / 1e9)} from {longest.from_system} ({longest.from_stage}) to {longest.to_system} ({longest.to_stage})."
        )
    for current in predictions:
        p = current.prediction
        if p.model == "delay" and p.decision == "at_risk":
            factors = ", ".join(f"{e['feature']}={e['value']}" for e in p.explanation[:3])
            lines.append(
                f"Risk: {p.score:.0%} likely to miss {p.subject_key}"
                + (f" (main factors: {factors})." if factors else ".")
            )
        elif p.model == "duplicates" and current.decision in ("flagged", "needs_review", "confirmed"):
            lines.append(
                f"Possible duplicate of {p.label} ({p.score:.0%}, {current.decision.replace('_', ' ')})."
            )
        elif p.model == "spikes" and current.decision in ("flagged", "needs_review", "confirmed"):
            lines.append(
                f"Unusual quantity: {p.reason.split('; ', 1)[-1]} ({current.decision.replace('_', ' ')})."
            )
        elif p.model == "allocation" and p.decision == "recommended":
            lines.append(
                f"Allocation: {p.label} is {p.score:.0%} likely to ship on time in full (a recommendation; the ERP is unchanged)."
            )
    facts = {
        "order_id": t.order_id,
        "status": state.status,
        "stage": state.stage,
        "system": state.system,
        "channel": t.channel,
        "customer": t.customer,
        "exceptions": facts_exceptions,
        "waiting_s": t.waiting_ns / 1e9,
        "manual_touches": len(t.manual_touches),
    }
    summary = Summary(t.order_id, headline, lines, facts)
    summary.text = "\n".join([headline, *lines])
    return summary


def load_hook(spec: str | None) -> Callable[[dict[str, Any], str], Any] | None:
    """The configured hook function, or None (off, or it cannot be imported: logged)."""
    if not spec:
        return None
    module, _, name = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        log.warning("summary hook %s cannot be loaded: %s", spec, exc)
        return None
    return function if callable(function) else None


def rewrite(summary: Summary, hook: Callable[[dict[str, Any], str], Any] | None) -> Summary:
    """Let the hook rewrite the text; keep the deterministic text on any error or odd answer."""
    if hook is None:
        return summary
    try:
        text = hook(dict(summary.facts), summary.text)
    except Exception as exc:
        log.warning("summary hook failed, showing the deterministic summary: %s", exc)
        return summary
    if not isinstance(text, str) or not text.strip():
        return summary
    summary.text = text.strip()[:MAX_HOOK_TEXT]
    summary.source = "hook"
    return summary
