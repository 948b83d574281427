"""The link state machine: observed state of both sides -> next step and status.

``steps`` (what to do), ``health`` (P12-P14 counts), ``decide`` (the decision
table) with its rule groups ``placement_rules`` (P5-P7, P16-P18),
``removal_rules`` (P19, P23) and ``failure_rules`` (FAILED features, P12),
``outcome`` (what a rule takes and answers), and ``status`` (phase,
conditions, detail). Ready: both connections VERIFIED and every channel's
feature FINAL on both sides. Degraded (P12): at least 3 of the channels FINAL
on both sides, but not all, and the rest cannot progress (or the link was
ready before).
"""

from __future__ import annotations

from ..conditions import LinkConditionType
from ..notifications import RENOTIFY_AFTER
from ..types import MIN_CHANNELS
from .decide import decide, observed_interconnect, progress_phase
from .health import Health, degraded, health
from .outcome import Outcome, Where
from .status import (
    BgpEndStatus,
    ChannelStatus,
    Decision,
    LinkStatus,
    Phase,
    ProviderStatus,
    link_status,
)
from .steps import (
    POLL,
    POLL_SLOW,
    ConfirmKey,
    CreateFeature,
    CreateLocalConnection,
    CreateRemoteConnection,
    DeleteFeature,
    DeleteLocal,
    DeleteRemote,
    Done,
    Fail,
    Migrate,
    NotifyStatus,
    RenewKey,
    RequestGuidance,
    Settled,
    Step,
    UpdateBandwidth,
    Wait,
    step_message,
)

__all__ = [
    "MIN_CHANNELS",
    "POLL",
    "POLL_SLOW",
    "RENOTIFY_AFTER",
    "BgpEndStatus",
    "ChannelStatus",
    "ConfirmKey",
    "CreateFeature",
    "CreateLocalConnection",
    "CreateRemoteConnection",
    "Decision",
    "DeleteFeature",
    "DeleteLocal",
    "DeleteRemote",
    "Done",
    "Fail",
    "Health",
    "LinkConditionType",
    "LinkStatus",
    "Migrate",
    "NotifyStatus",
    "Outcome",
    "Phase",
    "ProviderStatus",
    "RenewKey",
    "RequestGuidance",
    "Settled",
    "Step",
    "UpdateBandwidth",
    "Wait",
    "Where",
    "decide",
    "degraded",
    "health",
    "link_status",
    "observed_interconnect",
    "progress_phase",
    "step_message",
]
