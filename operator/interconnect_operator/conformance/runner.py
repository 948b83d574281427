"""Run the scenarios in order, clean up whatever happens, and build the report.

Order: discovery and key checks (reads), then the write scenarios unless
``--read-only``, then the opt-in ones. A scenario that cannot go on marks
its remaining checks SKIP with the reason. Cleanup always runs: after the
last scenario, after a failure, and after SIGINT/SIGTERM (the first signal
cancels the scenarios; later ones are ignored until cleanup is done). The
checks over all exchanges (names, status codes, schemas) run last.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterator

import httpx

from interconnect_operator.api.errors import ApiError
from interconnect_operator.conformance.catalog import CATALOG, CheckSpec, Mode
from interconnect_operator.conformance.checks.channels import run_macsec, run_rotation_request
from interconnect_operator.conformance.checks.discovery import run_discovery, run_keys
from interconnect_operator.conformance.checks.issues import run_issues
from interconnect_operator.conformance.checks.lifecycle import (
    LIFECYCLE_CHECKS,
    run_deferral,
    run_lifecycle,
)
from interconnect_operator.conformance.checks.sweeps import run_sweeps
from interconnect_operator.conformance.results import CheckResult, Outcome, RunReport
from interconnect_operator.conformance.session import Blocked, KitConfig, Session

__all__ = ["SCENARIOS", "Scenario", "run_conformance"]

Step = Callable[[Session], Awaitable[None]]


class Scenario:
    """A step of the run, the mode it needs and the checks it reports."""

    def __init__(self, name: str, step: Step, mode: Mode, checks: tuple[str, ...]) -> None:
        self.name = name
        self.step = step
        self.mode = mode
        self.checks = checks


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "discovery",
        run_discovery,
        Mode.READ,
        (
            "OBJ-environment",
            "OBJ-channels",
            "PAGE-next-token",
            "PAGE-bad-token",
            "P32-not-found",
            "P34-unauthenticated",
            "P34-foreign-prefix",
            "P7-capacity-read",
            "P26-macsec-read",
            "P25-maintenance-read",
        ),
    ),
    Scenario(
        "activation keys",
        run_keys,
        Mode.READ,
        ("P3-malformed-key", "P3-unknown-key", "P3-valid-key", "P3-key-mismatch"),
    ),
    Scenario("connection lifecycle", run_lifecycle, Mode.WRITE, LIFECYCLE_CHECKS),
    Scenario("deferral", run_deferral, Mode.WRITE, ("P22-deferral",)),
    Scenario("MACsec", run_macsec, Mode.WRITE, ("P27-non-manager-create",)),
    Scenario("rotation request", run_rotation_request, Mode.CHANNEL, ("P30-rotation-request",)),
    Scenario("issues", run_issues, Mode.ISSUES, ("ISSUE-lifecycle",)),
)


def _refusal(config: KitConfig, mode: Mode) -> str | None:
    """Why a scenario of ``mode`` may not run, or None."""
    if mode is Mode.READ:
        return None
    if config.read_only:
        return "read-only run"
    if mode is Mode.CHANNEL and not config.allow_channel_effects:
        return "acts on a shared channel: pass --allow-channel-effects"
    if mode is Mode.ISSUES and not config.allow_issues:
        return "opens an issue that can only be closed, never deleted: pass --allow-issues"
    return None


async def _scenarios(session: Session) -> None:
    for scenario in SCENARIOS:
        reason = _refusal(session.config, scenario.mode)
        if reason is not None:
            session.skip(scenario.checks, reason)
            continue
        try:
            await scenario.step(session)
        except Blocked as blocked:
            session.skip(scenario.checks, f"not reached: {blocked}")
        except ApiError as error:
            # A read between checks failed (its exchange is in the run's evidence).
            session.skip(scenario.checks, f"not reached: {error}")
        except httpx.HTTPError as error:
            session.skip(scenario.checks, f"not reached: {type(error).__name__}")


@contextlib.contextmanager
def _signals(task: asyncio.Task[None], on_signal: Callable[[str], None]) -> Iterator[None]:
    """SIGINT/SIGTERM cancel ``task`` once; later signals only say cleanup is running."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def handle(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            on_signal("interrupted: cleaning up what this run created")
            task.cancel()
        else:
            on_signal("cleanup is running; it stops by itself once done")

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, handle, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signal support: nothing to install
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def run_conformance(
    config: KitConfig,
    *,
    progress: Callable[[CheckSpec, CheckResult | None], None] | None = None,
    on_signal: Callable[[str], None] = lambda _: None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> RunReport:
    """Run every check against ``config.endpoint``; always cleans up."""
    session = Session(config, progress=progress, transport=transport)
    report = RunReport(
        endpoint=config.endpoint,
        caller=config.caller,
        environment=config.environment,
        read_only=config.read_only,
        prefix=session.id_prefix,
    )
    task = asyncio.create_task(_scenarios(session))
    try:
        with _signals(task, on_signal):
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if task.cancelled() and current is not None and not current.cancelling():
                    report.interrupted = True
                else:
                    raise
            finally:
                # Shielded: a cancellation of the caller must not cut cleanup short.
                report.leftovers = await asyncio.shield(session.cleanup())
        run_sweeps(session)
    finally:
        await session.aclose()
    reason = "interrupted before it ran" if report.interrupted else "not reached"
    for spec in CATALOG.values():
        if spec.check_id not in session.results:
            session.record(spec, Outcome.SKIP, reason, [])
    report.results = [session.results[check_id] for check_id in CATALOG]
    if report.interrupted:
        report.notes.append("the run was interrupted; cleanup ran before exit")
    return report
