"""The one fake clock of the tests: epoch seconds that move only when a test says so.

Simulators and reconcilers take a ``clock`` callable; integration tests hand
them the same :class:`FakeClock` so that provisioning delays, bake times and
deadlines pass exactly when the test advances time. (Unit tests of async code
that sleeps use ``looptime`` instead.)
"""

from __future__ import annotations

import datetime as dt

START = 1_800_000_000.0


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def datetime(self) -> dt.datetime:
        """The current fake time as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.now, dt.UTC)
