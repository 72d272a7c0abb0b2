"""The routing tree (Alertmanager's ``dispatch/route.go``): label matchers, ``continue``, inheritance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from alerts.matchers import all_match
from alerts.rules import Route

DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)


@dataclass(frozen=True)
class RouteNode:
    """A route with its inherited settings filled in."""

    key: str
    receiver: str
    group_by: tuple[str, ...] | None  # None groups by every label ("...")
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    mute_time_intervals: tuple[str, ...]
    active_time_intervals: tuple[str, ...]
    route: Route = field(compare=False, hash=False, repr=False)
    children: tuple[RouteNode, ...] = field(default=(), compare=False, hash=False, repr=False)

    def group_labels(self, labels: dict[str, str]) -> dict[str, str]:
        if self.group_by is None:
            return dict(sorted(labels.items()))
        return {k: labels[k] for k in sorted(self.group_by) if k in labels}


def build(route: Route, parent: RouteNode | None = None, index: int = 0) -> RouteNode:
    if parent is None:
        key = "{}"
    else:
        key = parent.key + "/{" + ",".join(str(m) for m in route.matchers) + "}"
        if index:
            key += f"[{index}]"
    group_by: tuple[str, ...] | None
    if route.group_by is None:
        group_by = parent.group_by if parent else ()
    elif "..." in route.group_by:
        group_by = None
    else:
        group_by = tuple(route.group_by)
    node = RouteNode(
        key=key,
        receiver=route.receiver or (parent.receiver if parent else ""),
        group_by=group_by,
        group_wait=_pick(route.group_wait, parent.group_wait if parent else DEFAULT_GROUP_WAIT),
        group_interval=_pick(
            route.group_interval, parent.group_interval if parent else DEFAULT_GROUP_INTERVAL
        ),
        repeat_interval=_pick(
            route.repeat_interval, parent.repeat_interval if parent else DEFAULT_REPEAT_INTERVAL
        ),
        mute_time_intervals=tuple(route.mute_time_intervals),
        active_time_intervals=tuple(route.active_time_intervals),
        route=route,
    )
    children = tuple(build(child, node, i) for i, child in enumerate(route.routes))
    object.__setattr__(node, "children", children)
    return node


def _pick(value: timedelta | None, inherited: timedelta) -> timedelta:
    return inherited if value is None else value


def match(node: RouteNode, labels: dict[str, str]) -> list[RouteNode]:
    """The routes an alert with ``labels`` goes to: the deepest matches, siblings only with ``continue``."""
    if not all_match(node.route.matchers, labels):
        return []
    found: list[RouteNode] = []
    for child in node.children:
        hits = match(child, labels)
        found.extend(hits)
        if hits and not child.route.continue_:
            break
    return found or [node]


def group_key(node: RouteNode, group_labels: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items()))
    return f"{node.key}:{{{inner}}}"
