"""Login throttling that slows guessing without letting one person lock others out.

Three counters of *failed* logins, each in a sliding window:

1. **per (user name, address)** — ``login_attempts_per_minute`` failures in a minute lock that
   pair out (429) for the rest of the minute. Someone guessing one account from one address is
   stopped; the same user from another address, and other users at the same address (an office
   behind one NAT address), are not affected.
2. **per address** — ``login_address_failures_per_minute`` failures from one address (over all
   user names: password spraying) make that address *slow*: its login attempts run one at a time,
   each after ``login_slowdown_s``. A different user at that address with the right password still
   gets in, a few seconds later; a sprayer gets one guess per delay.
3. **per user name** — ``login_account_failures_per_hour`` failures for one user (over all
   addresses: a botnet) make that user *slow* in the same way. The account is never locked, so an
   attacker cannot lock its owner out; they only get one guess per delay.

At most ``MAX_WAITING`` attempts wait for a slow address or user at once; beyond that the attempt
is refused with 429 (a flood from one address can then delay, but not starve, the server). The
client address is the TCP peer unless ``web.trusted_proxies`` vouch for ``X-Forwarded-For``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from storage.errors import TowerError

MAX_WAITING = 16
MAX_KEYS = 100_000


class Throttled(TowerError):
    """The attempt is refused (429); ``retry_after`` says when trying again can help."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Window:
    """Failure times per key within ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.entries: dict[str, deque[float]] = defaultdict(deque)

    def count(self, key: str, now: float) -> int:
        entries = self.entries.get(key)
        if not entries:
            return 0
        while entries and now - entries[0] > self.seconds:
            entries.popleft()
        return len(entries)

    def add(self, key: str, now: float) -> None:
        if len(self.entries) > MAX_KEYS:
            self.entries.clear()
        self.count(key, now)
        self.entries[key].append(now)

    def oldest(self, key: str) -> float:
        entries = self.entries.get(key)
        return entries[0] if entries else 0.0

    def clear(self, key: str) -> None:
        self.entries.pop(key, None)


class LoginThrottle:
    def __init__(
        self,
        pair_per_minute: int,
        address_per_minute: int = 30,
        account_per_hour: int = 100,
        slowdown_s: float = 2.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.pair_limit = pair_per_minute
        self.address_limit = address_per_minute
        self.account_limit = account_per_hour
        self.slowdown_s = slowdown_s
        self.clock = clock
        self.sleep = sleep
        self._pairs = _Window(60)
        self._addresses = _Window(60)
        self._accounts = _Window(3600)
        self._lock = threading.Lock()
        self._gates: dict[tuple[int, str], asyncio.Lock] = {}
        self._waiting: dict[str, int] = defaultdict(int)
        self.slowed = 0  # attempts that waited, for metrics and tests

    @staticmethod
    def _pair(account: str, address: str) -> str:
        return f"{account}\x00{address}"

    def slow_keys(self, account: str, address: str) -> list[str]:
        """The gates an attempt must pass one at a time (empty when nothing is slowed)."""
        now = self.clock()
        with self._lock:
            keys = []
            if self._addresses.count(address, now) >= self.address_limit:
                keys.append(f"address:{address}")
            if self._accounts.count(account, now) >= self.account_limit:
                keys.append(f"account:{account}")
            return keys

    def locked(self, account: str, address: str) -> int:
        """Seconds until the (account, address) pair may try again, or 0 when it may now."""
        now = self.clock()
        key = self._pair(account, address)
        with self._lock:
            if self._pairs.count(key, now) < self.pair_limit:
                return 0
            return max(1, int(60 - (now - self._pairs.oldest(key))) + 1)

    @asynccontextmanager
    async def attempt(self, account: str, address: str) -> AsyncIterator[None]:
        """Hold this around one login attempt: raises :class:`Throttled`, or waits when slowed."""
        wait = self.locked(account, address)
        if wait:
            raise Throttled("Too many failed logins for this user from your address; wait a minute.", wait)
        keys = self.slow_keys(account, address)
        loop = id(asyncio.get_running_loop())
        gates = []
        for key in keys:
            if self._waiting[key] >= MAX_WAITING:
                raise Throttled("Too many login attempts at once; wait a few seconds.", 5)
            gates.append((key, self._gates.setdefault((loop, key), asyncio.Lock())))
        for key, _ in gates:
            self._waiting[key] += 1
        try:
            for _, gate in gates:
                await gate.acquire()
            try:
                if gates:
                    self.slowed += 1
                    await self.sleep(self.slowdown_s)
                yield
            finally:
                for _, gate in reversed(gates):
                    gate.release()
        finally:
            for key, _ in gates:
                self._waiting[key] -= 1
                if self._waiting[key] <= 0:
                    self._waiting.pop(key, None)
                    self._gates.pop((loop, key), None)

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            self._pairs.add(self._pair(account, address), now)
            self._addresses.add(address, now)
            self._accounts.add(account, now)

    def succeeded(self, account: str, address: str) -> None:
        """A correct password clears its own pair only (not the address's or the account's count)."""
        with self._lock:
            self._pairs.clear(self._pair(account, address))
