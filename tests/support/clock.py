"""The one fake clock of the tests: epoch seconds that move only when a test says so.

Simulators and reconcilers take a ``clock`` callable; integration tests hand
them the same :class:`FakeClock` so that provisioning delays, bake times and
deadlines pass exactly when the test advances time. Code that sleeps through
an injected ``sleep`` (the API client's retries) gets :meth:`FakeClock.sleep`,
which records the delay and moves the clock by it instead of waiting.
"""

from __future__ import annotations

import datetime as dt

START = 1_800_000_000.0


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """A sleep that returns at once: records ``seconds`` and advances the clock."""
        self.sleeps.append(seconds)
        self.now += seconds

    def datetime(self) -> dt.datetime:
        """The current fake time as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.now, dt.UTC)
