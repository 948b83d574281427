"""What a rule of the decision table takes and answers.

A rule reads :class:`Inputs` (the spec, both sides' observations, the
link's facts, both pools' interconnect views) and :class:`Where` the link
lives, and answers an :class:`Outcome`: the step(s), the phase, and what the
status must show. No hidden state goes from the decision to the status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..types import InterconnectView, LinkFacts, LinkSpec, ProviderObservation
from .status import Phase
from .steps import Step

__all__ = ["Inputs", "Outcome", "Where"]


@dataclass(frozen=True)
class Where:
    """Where the link lives: its interconnect and, during a migration (P18), the target."""

    interconnect: str | None
    migrating_to: str | None = None

    @property
    def working(self) -> str | None:
        """The interconnect steps act on: the migration target while there is one."""
        return self.migrating_to or self.interconnect


@dataclass(frozen=True)
class Outcome:
    """A rule's answer: the step(s), the phase, and what the status must show."""

    step: Step
    phase: Phase
    where: Where
    concurrent: tuple[Step, ...] = ()
    stalled: str | None = None
    """Reason of the Stalled condition when the link cannot progress without a change."""
    no_capacity: str | None = None
    """Why placement found no room (P6-P7, P18): the Placed condition's message."""


@dataclass(frozen=True)
class Inputs:
    spec: LinkSpec
    neg: ProviderObservation
    resp: ProviderObservation
    facts: LinkFacts
    pool_neg: Sequence[InterconnectView]
    pool_resp: Sequence[InterconnectView]

    def both_present(self, interconnect: str | None) -> bool:
        return self.neg.on(interconnect) is not None and self.resp.on(interconnect) is not None
