"""What an ERP, WMS, EDI gateway or middleware service imports to emit order hop spans.

Depends on the OpenTelemetry API only (configure an SDK ``TracerProvider`` in your service)::

    from tracing.conventions import SHIPMENT_ID
    from tracing.instrument import hop, inject_headers

    with hop("pick", system_kind="wms", system_instance="wms", order_id="SO-1042") as h:
        h.keys({SHIPMENT_ID: "SH-77"})
        publish(message, headers=inject_headers())

``hop`` validates the conventions (known stage and system kind, an order id or at least one business
key): problems are reported as a :class:`ConventionViolation` warning, a log line and the span
attribute ``order.convention.violations``; in strict mode (``set_strict(True)``, ``strict=True`` or
``TOWER_TRACING_STRICT=1``) they raise :class:`ConventionError` instead. Where trace context cannot
travel in headers it can travel in file names (:func:`name_with_context`) or EDI documents
(:func:`inject_edi`, a ``REF*ZZ*TRACEPARENT`` segment); where it cannot travel at all,
:func:`record_keys` records the business keys so the tower stitches the order by key.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tracing import conventions as c
from tracing.conventions import Channel, CustomerTier, ExceptionOutcome, ExceptionType, Stage, SystemKind

__all__ = [
    "ConventionError",
    "ConventionViolation",
    "ConventionsProcessor",
    "HopSpan",
    "check_attributes",
    "context_from_name",
    "context_from_traceparent",
    "current_hop",
    "extract_edi",
    "extract_headers",
    "hop",
    "inject_edi",
    "inject_headers",
    "name_with_context",
    "record_keys",
    "set_strict",
    "strip_context",
    "traceparent",
]

log = logging.getLogger(__name__)

INSTRUMENTATION_NAME = "order-control-tower.instrument"
STRICT_ENV = "TOWER_TRACING_STRICT"
KNOWN_STAGES = frozenset(str(s) for s in Stage)
KNOWN_SYSTEM_KINDS = frozenset(str(k) for k in SystemKind)
KNOWN_CHANNELS = frozenset(str(ch) for ch in Channel)
KNOWN_TIERS = frozenset(str(t) for t in CustomerTier)
KNOWN_EXCEPTION_TYPES = frozenset(str(t) for t in ExceptionType)
KNOWN_OUTCOMES = frozenset(str(o) for o in ExceptionOutcome)
MAX_KEY_LENGTH = 256
MAX_KEYS_PER_ATTRIBUTE = 10_000

F = TypeVar("F", bound=Callable[..., Any])
_W3C = TraceContextTextMapPropagator()
_strict: bool | None = None
_current: ContextVar[HopSpan | None] = ContextVar("tower_current_hop", default=None)


class ConventionViolation(UserWarning):
    """A span breaks the order-hop conventions (reported, not raised, unless strict)."""


class ConventionError(ValueError):
    """A span breaks the order-hop conventions and strict mode is on."""


def set_strict(enabled: bool | None) -> None:
    """Raise :class:`ConventionError` on violations (``None`` goes back to ``TOWER_TRACING_STRICT``)."""
    global _strict
    _strict = enabled


def _is_strict(override: bool | None) -> bool:
    if override is not None:
        return override
    if _strict is not None:
        return _strict
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# -- validation -------------------------------------------------------------------------------


def check_attributes(attributes: Mapping[str, Any], *, require_keys: bool = True) -> list[str]:
    """The convention problems of a hop span's attributes (empty when it follows them)."""
    problems: list[str] = []
    stage = attributes.get(c.STAGE)
    if stage is None or stage == "":
        problems.append(f"{c.STAGE} is missing")
    elif str(stage) not in KNOWN_STAGES:
        problems.append(f"unknown {c.STAGE} {stage!r} (expected one of {', '.join(sorted(KNOWN_STAGES))})")
    kind = attributes.get(c.SYSTEM_KIND)
    if kind is None or kind == "":
        problems.append(f"{c.SYSTEM_KIND} is missing")
    elif str(kind) not in KNOWN_SYSTEM_KINDS:
        problems.append(
            f"unknown {c.SYSTEM_KIND} {kind!r} (expected one of {', '.join(sorted(KNOWN_SYSTEM_KINDS))})"
        )
    for name, known in (
        (c.CHANNEL, KNOWN_CHANNELS),
        (c.CUSTOMER_TIER, KNOWN_TIERS),
        (c.EXCEPTION_TYPE, KNOWN_EXCEPTION_TYPES),
        (c.EXCEPTION_OUTCOME, KNOWN_OUTCOMES),
    ):
        value = attributes.get(name)
        if value is not None and str(value) not in known:
            problems.append(f"unknown {name} {value!r} (expected one of {', '.join(sorted(known))})")
    if (c.EXCEPTION_TYPE in attributes) != (c.EXCEPTION_OUTCOME in attributes):
        problems.append(f"{c.EXCEPTION_TYPE} and {c.EXCEPTION_OUTCOME} must be set together")
    touch = attributes.get(c.MANUAL_TOUCH)
    if touch is not None and not isinstance(touch, bool):
        problems.append(f"{c.MANUAL_TOUCH} must be a boolean, got {touch!r}")
    for name in c.KEY_ATTRIBUTES:
        if name in attributes:
            problem = _key_problem(name, attributes[name])
            if problem:
                problems.append(problem)
    if require_keys and not any(_has_value(attributes.get(name)) for name in c.KEY_ATTRIBUTES):
        problems.append(f"no {c.ORDER_ID} and no business key: the span cannot be found from any order")
    return problems


def _has_value(value: Any) -> bool:
    if isinstance(value, str):
        return value != ""
    if isinstance(value, Sequence):
        return any(isinstance(v, str) and v for v in value)
    return False


def _key_problem(name: str, value: Any) -> str | None:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, Sequence) or not all(isinstance(v, str) for v in values):
        return f"key {name} must be a string or a list of strings, got {type(value).__name__}"
    if len(values) > MAX_KEYS_PER_ATTRIBUTE:
        return f"key {name} lists {len(values)} values (at most {MAX_KEYS_PER_ATTRIBUTE})"
    if any(len(v) > MAX_KEY_LENGTH for v in values):
        return f"key {name} has a value longer than {MAX_KEY_LENGTH} characters"
    if any(v != v.strip() or "\n" in v for v in values):
        return f"key {name} has a value with surrounding whitespace or a newline"
    return None


def _attribute_value(value: Any) -> Any:
    """Lists and tuples of keys become lists; anything else is left for validation to report."""
    return list(value) if isinstance(value, list | tuple) else value


def _unknown_keys(keys: Mapping[str, Any]) -> list[str]:
    return [
        f"{name} is not a key attribute (see KEY_ATTRIBUTES)" for name in keys if name not in c.KEY_ATTRIBUTES
    ]


def _report(span: Span | None, problems: Sequence[str], strict: bool, where: str) -> None:
    if not problems:
        return
    message = f"{where}: " + "; ".join(problems)
    if span is not None and span.is_recording():
        span.set_attribute(c.CONVENTION_VIOLATIONS, list(problems))
    if strict:
        raise ConventionError(message)
    log.warning("order convention violation: %s", message)
    warnings.warn(ConventionViolation(message), stacklevel=4)


# -- hops -------------------------------------------------------------------------------------


class HopSpan:
    """The span of one hop, with helpers that keep to the conventions."""

    def __init__(self, span: Span, strict: bool = False) -> None:
        self.span = span
        self.strict = strict

    def set(self, name: str, value: Any) -> HopSpan:
        self.span.set_attribute(name, value)
        return self

    def order(self, order_id: str) -> HopSpan:
        """The canonical order id, once this system knows it."""
        return self.set(c.ORDER_ID, order_id)

    def keys(self, keys: Mapping[str, str | Sequence[str]]) -> HopSpan:
        """Business keys this hop saw (names from ``tracing.conventions.KEY_ATTRIBUTES``)."""
        _report(self.span, _unknown_keys(keys), self.strict, "hop keys")
        _report(self.span, [p for n, v in keys.items() if (p := _key_problem(n, v))], self.strict, "hop keys")
        for name, value in keys.items():
            self.span.set_attribute(name, _attribute_value(value))
        return self

    def status(self, status: str) -> HopSpan:
        """The business outcome of the hop, e.g. ``accepted``, ``held``, ``backordered``."""
        return self.set(c.STATUS, status)

    def touch(self, user: str | None = None) -> HopSpan:
        """A person acted on the order in this hop (counts against the touchless rate)."""
        self.span.set_attribute(c.MANUAL_TOUCH, True)
        if user:
            self.span.set_attribute(c.ENDUSER_ID, user)
        return self

    def exception(
        self, exception_type: ExceptionType | str, outcome: ExceptionOutcome | str = ExceptionOutcome.OPENED
    ) -> HopSpan:
        """An order exception opened or resolved in this hop (also recorded as a span event)."""
        attrs = {c.EXCEPTION_TYPE: str(exception_type), c.EXCEPTION_OUTCOME: str(outcome)}
        self.span.set_attributes(attrs)
        self.span.add_event("order.exception", attrs)
        return self


def current_hop() -> HopSpan | None:
    """The innermost active :func:`hop` (for code inside a function decorated with ``@hop``)."""
    return _current.get()


class _HopScope:
    """What :func:`hop` returns: a context manager, and a decorator for sync and async functions."""

    def __init__(self, arguments: dict[str, Any]) -> None:
        self._arguments = arguments
        self._active: list[AbstractContextManager[HopSpan]] = []

    def __enter__(self) -> HopSpan:
        scope = _hop_scope(**self._arguments)
        handle = scope.__enter__()
        self._active.append(scope)
        return handle

    def __exit__(self, *exc_info: Any) -> bool | None:
        return self._active.pop().__exit__(*exc_info)

    def __call__(self, func: F) -> F:
        arguments = self._arguments
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with _hop_scope(**arguments):
                    return await func(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with _hop_scope(**arguments):
                return func(*args, **kwargs)

        return cast(F, run)


def hop(
    stage: Stage | str,
    *,
    system_kind: SystemKind | str,
    system_instance: str | None = None,
    order_id: str | None = None,
    keys: Mapping[str, str | Sequence[str]] | None = None,
    channel: Channel | str | None = None,
    name: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    links: Sequence[Link] = (),
    attributes: Mapping[str, Any] | None = None,
    context: Context | None = None,
    tracer: Tracer | None = None,
    strict: bool | None = None,
) -> _HopScope:
    """A hop span: sets stage, system and keys, validates them, records errors.

    Works as a context manager (``with hop(...) as h``) and as a decorator of sync or async
    functions (``current_hop()`` inside them). ``context`` is the parent, e.g. from
    :func:`extract_headers`; by default the current span. Each use starts a new span.
    """
    return _HopScope(
        {
            "stage": stage,
            "system_kind": system_kind,
            "system_instance": system_instance,
            "order_id": order_id,
            "keys": keys,
            "channel": channel,
            "name": name,
            "kind": kind,
            "links": links,
            "attributes": attributes,
            "context": context,
            "tracer": tracer,
            "strict": strict,
        }
    )


@contextmanager
def _hop_scope(
    stage: Stage | str,
    *,
    system_kind: SystemKind | str,
    system_instance: str | None = None,
    order_id: str | None = None,
    keys: Mapping[str, str | Sequence[str]] | None = None,
    channel: Channel | str | None = None,
    name: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    links: Sequence[Link] = (),
    attributes: Mapping[str, Any] | None = None,
    context: Context | None = None,
    tracer: Tracer | None = None,
    strict: bool | None = None,
) -> Iterator[HopSpan]:
    strict_mode = _is_strict(strict)
    attrs: dict[str, Any] = {c.STAGE: str(stage), c.SYSTEM_KIND: str(system_kind)}
    if system_instance:
        attrs[c.SYSTEM_INSTANCE] = system_instance
    if order_id:
        attrs[c.ORDER_ID] = order_id
    if channel is not None:
        attrs[c.CHANNEL] = str(channel)
    for key, value in (keys or {}).items():
        attrs[key] = _attribute_value(value)
    attrs.update(attributes or {})
    span_name = name or f"{stage} {system_instance or system_kind}"
    upfront = _unknown_keys(keys or {}) + check_attributes(attrs, require_keys=False)
    if strict_mode and upfront:
        raise ConventionError(f"hop {span_name!r}: " + "; ".join(upfront))
    chosen = tracer or trace.get_tracer(INSTRUMENTATION_NAME)
    with chosen.start_as_current_span(
        span_name, context=context, kind=kind, links=list(links), attributes=attrs
    ) as span:
        handle = HopSpan(span, strict_mode)
        token = _current.set(handle)
        try:
            _report(span, upfront, False, f"hop {span_name!r}")
            yield handle
        except BaseException as exc:
            if span.is_recording():
                span.set_attribute(c.ERROR_TYPE, type(exc).__qualname__)
            raise
        else:
            final = _span_attributes(span)
            problems = check_attributes(final) if final is not None else []
            problems = [p for p in problems if p not in upfront]
            _report(span, problems, strict_mode, f"hop {span_name!r}")
        finally:
            _current.reset(token)


def _span_attributes(span: Span) -> Mapping[str, Any] | None:
    attributes = getattr(span, "attributes", None)  # SDK spans expose what was set
    return attributes if isinstance(attributes, Mapping) else None


def record_keys(
    keys: Mapping[str, str | Sequence[str]],
    *,
    order_id: str | None = None,
    span: Span | None = None,
    tracer: Tracer | None = None,
    strict: bool | None = None,
) -> trace.SpanContext:
    """Record business keys where trace context could not travel, so the tower can stitch by key.

    The keys go on ``span`` (default: the current recording span); with no span recording, a short
    ``order.keys`` span is emitted carrying them. Unknown key names or bad values are violations.
    """
    problems = _unknown_keys(keys)
    for name, value in keys.items():
        problem = _key_problem(name, value)
        if problem:
            problems.append(problem)
    if not keys and not order_id:
        problems.append("no keys given")
    strict_mode = _is_strict(strict)
    if strict_mode and problems:
        raise ConventionError("record_keys: " + "; ".join(problems))
    target = span or trace.get_current_span()
    attrs: dict[str, Any] = {
        name: _attribute_value(value) for name, value in keys.items() if _key_problem(name, value) is None
    }
    if order_id:
        attrs[c.ORDER_ID] = order_id
    if target.is_recording():
        target.set_attributes(attrs)
        _report(target, problems, False, "record_keys")
        return target.get_span_context()
    chosen = tracer or trace.get_tracer(INSTRUMENTATION_NAME)
    with chosen.start_as_current_span("order.keys", attributes=attrs) as created:
        _report(created, problems, False, "record_keys")
        return created.get_span_context()


class ConventionsProcessor(SpanProcessor):
    """Checks every finished hop span (a span with ``order.stage``), however it was made.

    For services that create spans without :func:`hop`: add it to the ``TracerProvider`` and each
    violation is reported as a :class:`ConventionViolation` warning and a log line (the span has
    ended, so it cannot be annotated); ``violations`` keeps the last ``keep`` of them for tests.
    """

    def __init__(self, keep: int = 1000) -> None:
        self.violations: list[tuple[str, list[str]]] = []
        self._keep = keep

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        attributes = span.attributes or {}
        if c.STAGE not in attributes:
            return
        problems = check_attributes(attributes)
        if problems:
            self.violations.append((span.name, problems))
            del self.violations[: -self._keep]
            _report(None, problems, False, f"span {span.name!r}")

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


# -- propagation: headers -----------------------------------------------------------------------


def inject_headers(
    headers: MutableMapping[str, str] | None = None, context: Context | None = None
) -> MutableMapping[str, str]:
    """Add ``traceparent`` (and baggage) for the current or given context to message headers."""
    carrier: MutableMapping[str, str] = headers if headers is not None else {}
    propagate.inject(carrier, context=context)
    return carrier


def extract_headers(headers: Mapping[str, str]) -> Context:
    """The parent context carried by message headers (an empty context when there is none)."""
    lowered = {str(k).lower(): v for k, v in headers.items() if isinstance(v, str)}
    return propagate.extract(lowered)


def traceparent(context: Context | None = None) -> str | None:
    """The W3C ``traceparent`` of the current (or given) span, or None without a valid span."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context=context)
    return carrier.get("traceparent")


def context_from_traceparent(value: str) -> Context | None:
    """A parent context from a ``traceparent`` string; None when it is malformed."""
    if not isinstance(value, str) or len(value) > 128:
        return None
    ctx = _W3C.extract({"traceparent": value.strip()})
    span_context = trace.get_current_span(ctx).get_span_context()
    return ctx if span_context.is_valid else None


# -- propagation: file names --------------------------------------------------------------------

_NAME_CONTEXT = re.compile(r"__tp-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def name_with_context(filename: str, context: Context | None = None) -> str:
    """``orders.x12`` -> ``orders__tp-<trace id>-<span id>-<flags>.x12`` (unchanged without a span)."""
    value = traceparent(context)
    if value is None:
        return filename
    _, trace_id, span_id, flags = value.split("-")
    base, dot, ext = filename.rpartition(".")
    if not dot or "/" in ext:
        base, ext = filename, ""
    stem = strip_context(base)
    suffix = f"__tp-{trace_id}-{span_id}-{flags}"
    return f"{stem}{suffix}.{ext}" if ext else f"{stem}{suffix}"


def context_from_name(filename: str) -> Context | None:
    """The parent context carried in a file name by :func:`name_with_context`, if any."""
    match = _NAME_CONTEXT.search(filename.rsplit("/", 1)[-1])
    if not match:
        return None
    return context_from_traceparent(f"00-{match.group(1)}-{match.group(2)}-{match.group(3)}")


def strip_context(filename: str) -> str:
    """The file name without the trace-context suffix."""
    return _NAME_CONTEXT.sub("", filename)


# -- propagation: EDI X12 envelopes -------------------------------------------------------------

EDI_REF_QUALIFIER = "ZZ"  # mutually defined reference
EDI_REF_NAME = "TRACEPARENT"
MAX_EDI_BYTES = 50 * 1024 * 1024


def _separators(document: str) -> tuple[str, str]:
    """(element separator, segment terminator) from the ISA header, X12 defaults without one."""
    stripped = document.lstrip()
    if stripped.startswith("ISA") and len(stripped) >= 106:
        return stripped[3], stripped[105]
    return "*", "~"


def _segments(document: str, terminator: str) -> list[str]:
    return [seg.strip("\r\n") for seg in document.split(terminator) if seg.strip()]


def inject_edi(document: str, context: Context | None = None) -> str:
    """Add ``REF*ZZ*TRACEPARENT*<traceparent>`` after each transaction set's beginning segment.

    SE01 (the segment count) is updated; an existing trace-context REF is replaced. The document is
    returned unchanged when there is no valid span.
    """
    if len(document) > MAX_EDI_BYTES:
        raise ValueError(f"EDI document of {len(document)} characters is larger than {MAX_EDI_BYTES}")
    value = traceparent(context)
    if value is None:
        return document
    element, terminator = _separators(document)
    ref = element.join(("REF", EDI_REF_QUALIFIER, EDI_REF_NAME, value))
    out: list[str] = []
    in_set = False
    added = 0
    for segment in _segments(document, terminator):
        tag = segment.split(element, 1)[0].strip()
        if _is_context_ref(segment, element):
            added -= 1
            continue
        if tag == "ST":
            in_set, added = True, 0
            out.append(segment)
            continue
        if tag == "SE":
            segment = _recount(segment, element, added)
            in_set = False
        out.append(segment)
        if in_set and out[-2].split(element, 1)[0].strip() == "ST":
            out.append(ref)  # right after the beginning segment (BEG, BSN, BIG, BAK, AK1 ...)
            added += 1
    newline = "\n" if "\n" in document else ""
    return (terminator + newline).join(out) + terminator + newline


def _is_context_ref(segment: str, element: str) -> bool:
    parts = segment.split(element)
    return (
        len(parts) >= 4
        and parts[0].strip() == "REF"
        and parts[1] == EDI_REF_QUALIFIER
        and parts[2] == EDI_REF_NAME
    )


def _recount(segment: str, element: str, added: int) -> str:
    parts = segment.split(element)
    if len(parts) >= 2 and parts[1].strip().isdigit():
        parts[1] = str(int(parts[1]) + added)
    return element.join(parts)


def extract_edi(document: str) -> dict[str, Context]:
    """Trace context per transaction set control number (ST02) from :func:`inject_edi`'s REF segments.

    Sets without a (valid) trace-context REF are absent; malformed input never raises.
    """
    if not isinstance(document, str) or len(document) > MAX_EDI_BYTES:
        return {}
    element, terminator = _separators(document)
    found: dict[str, Context] = {}
    control: str | None = None
    for segment in _segments(document, terminator):
        parts = segment.split(element)
        tag = parts[0].strip()
        if tag == "ST":
            control = parts[2].strip() if len(parts) > 2 else ""
        elif tag == "SE":
            control = None
        elif control is not None and _is_context_ref(segment, element):
            ctx = context_from_traceparent(parts[3])
            if ctx is not None:
                found[control] = ctx
    return found
