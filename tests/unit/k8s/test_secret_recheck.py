"""secret_recheck: links waiting for a Secret are woken when its content moves (get only)."""

from __future__ import annotations

from interconnect_operator.k8s.secret_recheck import (
    FAST_FOR_SECONDS,
    FAST_SECONDS,
    SLOW_SECONDS,
    SecretRecheck,
    recheck_interval,
)
from interconnect_operator.k8s.secret_refs import LINK_SECRET_LABEL, link_secret_digest
from tests.unit.k8s.fake_kube import FakeKube

LINK = ("team-a", "link")
OPTED_IN = {LINK_SECRET_LABEL: "true"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _recheck(kube: FakeKube) -> tuple[SecretRecheck, list[tuple[str, str]], Clock]:
    woken: list[tuple[str, str]] = []
    clock = Clock()
    return SecretRecheck(kube, woken.append, clock=clock), woken, clock


async def test_a_missing_secret_that_appears_wakes_its_link_once(kube: FakeKube) -> None:
    recheck, woken, clock = _recheck(kube)
    recheck.wait(LINK, [(("team-a", "key"), None)])
    clock.now += FAST_SECONDS
    await recheck.check_due()
    assert woken == []
    assert kube.reads == ["secrets/team-a/key"]  # a get by name, nothing else
    kube.add_secret("team-a", "key", {"k": "v"})
    clock.now += FAST_SECONDS
    await recheck.check_due()
    assert woken == [LINK]
    assert recheck.waiting == frozenset()
    clock.now += FAST_SECONDS
    await recheck.check_due()
    assert woken == [LINK]  # released: no further reads, no second wake
    assert len(kube.reads) == 2


async def test_a_secret_missing_its_key_wakes_the_link_when_its_data_changes(
    kube: FakeKube,
) -> None:
    recheck, woken, clock = _recheck(kube)
    kube.add_secret("team-a", "key", {"other": "x"}, labels=OPTED_IN)
    seen = link_secret_digest(kube.secrets[("team-a", "key")])
    recheck.wait(LINK, [(("team-a", "key"), seen)])
    clock.now += FAST_SECONDS
    await recheck.check_due()
    assert woken == []  # same content: the link would fail the same way
    kube.add_secret("team-a", "key", {"other": "x", "k": "v"}, labels=OPTED_IN)
    clock.now += FAST_SECONDS
    await recheck.check_due()
    assert woken == [LINK]


async def test_a_secret_that_opts_in_later_wakes_the_link(kube: FakeKube) -> None:
    recheck, woken, clock = _recheck(kube)
    kube.add_secret("team-a", "key", {"k": "v"})
    seen = link_secret_digest(kube.secrets[("team-a", "key")])
    recheck.wait(LINK, [(("team-a", "key"), seen)])
    clock.now += FAST_SECONDS
    await recheck.check_due()
    assert woken == []
    kube.add_secret("team-a", "key", {"k": "v"}, labels=OPTED_IN)  # same data, now labelled
    clock.now += FAST_SECONDS
    await recheck.check_due()
    assert woken == [LINK]


async def test_reads_slow_down_after_the_fast_period_and_stop_when_the_link_is_done(
    kube: FakeKube,
) -> None:
    assert recheck_interval(0) == FAST_SECONDS
    assert recheck_interval(FAST_FOR_SECONDS + 1) == SLOW_SECONDS
    recheck, woken, clock = _recheck(kube)
    recheck.wait(LINK, [(("team-a", "key"), None)])
    clock.now += FAST_SECONDS
    await recheck.check_due()
    await recheck.check_due()  # not due again yet
    assert len(kube.reads) == 1
    recheck.forget(LINK)
    clock.now += SLOW_SECONDS
    await recheck.check_due()
    assert len(kube.reads) == 1
    assert woken == []


async def test_a_forbidden_secret_is_left_to_the_links_own_backoff(kube: FakeKube) -> None:
    recheck, woken, clock = _recheck(kube)
    recheck.wait(LINK, [(("team-a", "key"), None)])
    kube.fail("get_secret", 403)
    clock.now += FAST_SECONDS
    await recheck.check_due()
    assert woken == []
    assert recheck.waiting == frozenset()


async def test_one_read_serves_every_link_waiting_for_the_same_secret(kube: FakeKube) -> None:
    recheck, woken, clock = _recheck(kube)
    other = ("team-a", "other-link")
    recheck.wait(LINK, [(("team-a", "key"), None)])
    recheck.wait(other, [(("team-a", "key"), None)])
    kube.add_secret("team-a", "key", {"k": "v"})
    clock.now += FAST_SECONDS
    await recheck.check_due()
    assert sorted(woken) == sorted([LINK, other])
    assert kube.reads == ["secrets/team-a/key"]
