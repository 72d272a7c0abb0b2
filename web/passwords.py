"""The password rule for dashboard users (after NIST SP 800-63B, section 5.1.1.2).

A password must have 12 to 1024 characters, must not be or contain the user name, and must not be
a common password: it is compared, lower-cased and with white space removed, against the 30,000
most common passwords (``web/data/common-passwords.txt.gz``, see ``web/data/README.md``), also
with trailing digits and punctuation stripped (``Summer2024!`` is ``summer``), and it must use at
least 5 different characters. No composition rules (digits, capitals): length is what counts.
"""

from __future__ import annotations

import functools
import gzip
import re
from importlib import resources

from storage.errors import TowerError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MIN_DISTINCT_CHARACTERS = 5
_SUFFIX = re.compile(r"[\d\W_]+$")


class WeakPassword(TowerError, ValueError):
    """The password does not follow the rule; the message says which part."""


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords, lower-cased (loaded once)."""
    data = resources.files("web.data").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(
        line.strip().lower() for line in gzip.decompress(data).decode("utf-8").splitlines() if line.strip()
    )


def problem(password: str, username: str | None = None) -> str | None:
    """Why ``password`` is refused for ``username``, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password must have at most {MAX_PASSWORD_LENGTH} characters"
    folded = "".join(password.lower().split())
    if username and len(username) >= 3 and username.lower() in folded:
        return "the password must not contain the user name"
    if len(set(folded)) < MIN_DISTINCT_CHARACTERS:
        return f"the password must use at least {MIN_DISTINCT_CHARACTERS} different characters"
    common = common_passwords()
    stem = _SUFFIX.sub("", folded)
    if folded in common or (len(stem) >= 4 and stem in common):
        return "the password is too common (it is on a list of the most used passwords); choose another"
    return None


def check(password: str, username: str | None = None) -> None:
    """Raise :class:`WeakPassword` when ``password`` is not acceptable for ``username``."""
    why = problem(password, username)
    if why:
        raise WeakPassword(why)
