"""Label matchers as in Alertmanager: ``name="value"``, ``name!="value"``, ``name=~"re"``, ``name!~"re"``.

Regular expressions are anchored (they must match the whole value). A missing label is the empty
string, so ``team=""`` matches alerts without a team.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from storage.errors import TowerError

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))\s*$')
MAX_MATCHER_LENGTH = 1024


class MatcherError(TowerError, ValueError):
    """A matcher that cannot be parsed; the message quotes it."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return re.compile(f"(?:{self.value})\\Z", re.DOTALL)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self._regex.match(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher; raise :class:`MatcherError` naming the text when it is not valid."""
    if len(text) > MAX_MATCHER_LENGTH:
        raise MatcherError(f"matcher longer than {MAX_MATCHER_LENGTH} characters")
    match = _MATCHER.match(text)
    if not match:
        raise MatcherError(
            f'invalid matcher {text!r}: expected name="value", name!="value", name=~"re" or name!~"re"'
        )
    name, op = match.group(1), match.group(2)
    raw = match.group(3)
    value = re.sub(r"\\(.)", r"\1", raw) if raw is not None else (match.group(4) or "")
    matcher = Matcher(name, op, value)
    if op in ("=~", "!~"):
        try:
            matcher._regex  # noqa: B018  (compile now to report bad expressions early)
        except re.error as exc:
            raise MatcherError(f"invalid regular expression in matcher {text!r}: {exc}") from None
    return matcher


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
