"""A scrape copies each link's kept text: prometheus-client's bytes, rendered only on change."""

from __future__ import annotations

import functools
import gzip
import io
import random
import string
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, generate_latest
from prometheus_client.exposition import make_wsgi_app
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from interconnect_operator import redaction
from interconnect_operator.metrics import LINK_PHASES, LinkHealth, OperatorMetrics, linktext, render
from interconnect_operator.metrics.exposition import exposition, line_format
from interconnect_operator.metrics.labels import safe_label
from interconnect_operator.metrics.server import metrics_app

from .conftest import link, populated

LINK_SERIES = 24  # per link of conftest's `link`: 1+1+1+12 phases+1+2+2+4 channels


def quiet(metrics: OperatorMetrics) -> OperatorMetrics:
    """Without the process-wide collectors, whose values move between two scrapes."""
    for collector in (PROCESS_COLLECTOR, GC_COLLECTOR, PLATFORM_COLLECTOR):
        metrics.registry.unregister(collector)
    return metrics


def reference(metrics: OperatorMetrics, encoder: Callable[[Any], bytes]) -> bytes:
    """What prometheus-client writes from the samples themselves (the straightforward path)."""
    return encoder(metrics.registry)


ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "text": generate_latest,
    "text-utf8": functools.partial(generate_latest, escaping=openmetrics.ALLOWUTF8),
    "openmetrics-1": functools.partial(
        openmetrics.generate_latest, escaping=openmetrics.UNDERSCORES, version="1.0.0"
    ),
    "openmetrics-utf8": functools.partial(
        openmetrics.generate_latest, escaping=openmetrics.ALLOWUTF8, version="1.0.0"
    ),
    "openmetrics-2": functools.partial(
        openmetrics.generate_latest, escaping=openmetrics.UNDERSCORES, version="2.0.0"
    ),
}


def assert_same_as_reference(
    metrics: OperatorMetrics, *, encoders: Iterable[str] = ENCODERS
) -> None:
    for name in encoders:
        encoder = ENCODERS[name]
        assert line_format(encoder) is not None, name
        fast = exposition(metrics.registry, encoder)
        assert fast == reference(metrics, encoder), name


# -- random links ---------------------------------------------------------------

# Characters prometheus-client escapes in label values, and some it does not.
_AWKWARD = '"\\\n{},=é☃ '


def _word(rng: random.Random, awkward: bool = True) -> str:
    alphabet = string.ascii_lowercase + string.digits + "-" + (_AWKWARD if awkward else "")
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))


def random_link(rng: random.Random, namespaces: list[str], names: list[str]) -> LinkHealth:
    phase = rng.choice([*LINK_PHASES, "Quarantined", _word(rng)])
    providers = rng.sample(["aws", "gcp", "azure", _word(rng)], rng.randint(0, 3))
    return LinkHealth(
        namespace=rng.choice(namespaces),
        name=rng.choice(names),
        pool=rng.choice(["pool-1", "pool-2", _word(rng)]),
        environment=_word(rng),
        interconnect=rng.choice(["", "ic-1", _word(rng)]),
        shared_uuid=_word(rng),
        phase=phase,
        ready=rng.random() < 0.5,
        degraded=rng.random() < 0.3,
        bandwidth_mbps=rng.choice([0, 50, 1000, 10_000, 100_000, rng.randint(0, 10**7)]),
        verified={p: rng.random() < 0.5 for p in providers},
        features={
            (p, rng.choice(["FINAL", "PENDING", "FAILED", _word(rng)])): rng.randint(0, 4)
            for p in providers
        },
        channels_up={rng.choice(["ch-0", "ch-1", _word(rng)]): rng.random() < 0.5 for _ in "ab"},
        time_to_ready_seconds=rng.choice([None, rng.random() * 1000]),
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("with_uuid", [False, True])
def test_scrape_equals_prometheus_clients_own_rendering(seed: int, with_uuid: bool) -> None:
    # Random links, changed, removed and masked between scrapes: after every
    # step the kept text, joined, is byte for byte what prometheus-client
    # writes from the samples (text format and OpenMetrics).
    rng = random.Random(seed)
    namespaces = ["team-a", "team-b", _word(rng, awkward=False), _word(rng)]
    names = [_word(rng) for _ in range(40)]
    metrics = quiet(populated(OperatorMetrics(shared_uuid_label=with_uuid)))
    for _ in range(30):
        metrics.set_link(random_link(rng, namespaces, names))
    assert_same_as_reference(metrics)
    for step in range(25):
        for _ in range(rng.randint(0, 6)):
            metrics.set_link(random_link(rng, namespaces, names))
        for _ in range(rng.randint(0, 2)):
            metrics.remove_link(rng.choice(namespaces), rng.choice(names))
        if step % 5 == 2:
            # A secret that some label values carry, for one tenant or for all.
            secret = rng.choice(names) + "-" + "x" * 8
            metrics.set_link(replace(random_link(rng, namespaces, names), name=secret))
            scope = rng.choice([None, rng.choice(namespaces)])
            redaction.hold(f"test/{step}", [secret], scope=scope)
        if step % 5 == 4:
            redaction.release(f"test/{step - 2}")
        # prometheus-client's OpenMetrics writer is slow: every format now and then.
        assert_same_as_reference(metrics, encoders=ENCODERS if step % 6 == 5 else ["text"])
    assert_same_as_reference(metrics)


def test_no_links_and_per_link_off_match_too() -> None:
    assert_same_as_reference(quiet(OperatorMetrics()))
    assert_same_as_reference(quiet(populated(OperatorMetrics(per_link=False))))


def test_scrape_parses_in_both_formats() -> None:
    rng = random.Random(7)
    metrics = quiet(populated(OperatorMetrics()))
    names = [_word(rng) for _ in range(20)]
    for _ in range(20):
        metrics.set_link(random_link(rng, ["team-a", "team-b"], names))
    om = exposition(metrics.registry, ENCODERS["openmetrics-1"]).decode()
    assert om.endswith("# EOF\n")
    assert om.count("# EOF") == 1
    # The same link series either way (OpenMetrics names counters differently).
    from_text = link_series(text_string_to_metric_families(render(metrics).decode()))
    assert len(from_text) >= 15 * 12
    assert link_series(openmetrics_families(om)) == from_text


def link_series(families: Iterable[Metric]) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for f in families
        for s in f.samples
        if s.name.startswith("interconnect_link_")
    }


def test_other_escapings_get_the_samples_themselves() -> None:
    # `dots` and `values` escape every underscore of a name: the kept text
    # does not hold, so prometheus-client writes those scrapes from samples.
    metrics = quiet(populated(OperatorMetrics()))
    for escaping in (openmetrics.DOTS, openmetrics.VALUES):
        encoder = functools.partial(openmetrics.generate_latest, escaping=escaping)
        assert line_format(encoder) is None
        scrape = exposition(metrics.registry, encoder)
        assert scrape == reference(metrics, encoder)
        assert b"interconnect__link__ready" in scrape


# -- renders --------------------------------------------------------------------


def test_a_scrape_renders_only_the_link_that_changed() -> None:
    metrics = OperatorMetrics()
    for i in range(50):
        metrics.set_link(link(f"l{i}"))
    assert metrics.links_rendered == 0  # nothing is rendered before a scrape
    first = render(metrics)
    assert metrics.links_rendered == 50
    assert first.count(b"interconnect_link_") >= 50 * LINK_SERIES
    render(metrics)
    assert metrics.links_rendered == 50  # nothing changed: nothing rendered

    metrics.set_link(link("l7", phase="Degraded", degraded=True))
    metrics.set_link(link("l7", phase="Provisioning", ready=False))  # twice between scrapes
    after = render(metrics).decode()
    assert metrics.links_rendered == 51
    assert 'interconnect_link_phase{name="l7",namespace="team-a",phase="Provisioning",' in after
    assert 'interconnect_link_ready{name="l7",namespace="team-a",pool="pool-1"} 0.0' in after
    assert 'interconnect_link_ready{name="l8",namespace="team-a",pool="pool-1"} 1.0' in after


def test_an_equal_record_renders_nothing() -> None:
    # Reconciles re-publish unchanged health: the kept text stays.
    metrics = OperatorMetrics()
    metrics.set_link(link("l1"))
    render(metrics)
    metrics.set_link(link("l1"))
    metrics.set_link(replace(link("l1"), verified=dict(link("l1").verified)))
    render(metrics)
    assert metrics.links_rendered == 1


def test_a_removed_link_renders_nothing_and_its_series_go() -> None:
    metrics = OperatorMetrics()
    for name in ("a", "b", "c"):
        metrics.set_link(link(name))
    render(metrics)
    metrics.remove_link("team-a", "b")
    metrics.set_link(link("d"))
    text = render(metrics).decode()
    assert metrics.links_rendered == 4
    assert 'name="b"' not in text
    names = [
        s.labels["name"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "interconnect_link_ready"
    ]
    assert names == ["a", "c", "d"]


def test_a_new_secret_renders_only_the_links_whose_labels_carry_it() -> None:
    # P31: a held secret never reaches a label; an unrelated one re-renders nothing.
    metrics = OperatorMetrics()
    for i in range(20):
        metrics.set_link(link(f"link-{i:02d}"))
    metrics.set_link(link("leaky-name-0123456789"))
    render(metrics)
    assert metrics.links_rendered == 21
    redaction.hold("test/unrelated", ["nothing-here-at-all"])
    render(metrics)
    assert metrics.links_rendered == 21
    redaction.hold("test/leak", ["leaky-name-0123456789"], scope="team-a")
    text = render(metrics).decode()
    assert metrics.links_rendered == 22
    assert "leaky-name" not in text
    assert text.count('name="redacted"') == LINK_SERIES
    redaction.release("test/leak")
    assert "leaky-name-0123456789" in render(metrics).decode()
    assert metrics.links_rendered == 23


def test_a_new_secret_asks_again_only_values_long_enough_to_hold_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Values shorter than MIN_SECRET_LENGTH are never held (phases such as
    # "Ready", providers, states), so their verdicts cannot change.
    metrics = OperatorMetrics()
    metrics.set_link(link("a-long-link-name"))
    render(metrics)
    asked: list[str] = []

    def counting(value: str, tenant: str | None = None) -> str:
        asked.append(value)
        return safe_label(value, tenant=tenant)

    monkeypatch.setattr(linktext, "safe_label", counting)
    redaction.hold("test/unrelated", ["nothing-here-at-all"])
    render(metrics)
    assert "a-long-link-name" in asked
    assert asked
    assert all(len(value) >= redaction.MIN_SECRET_LENGTH for value in asked), asked
    assert "Ready" not in asked


def test_pool_link_counts_follow_changes_and_removals() -> None:
    metrics = OperatorMetrics()
    metrics.set_link(link("a", phase="Provisioning", ready=False))
    metrics.set_link(link("b", phase="Provisioning", ready=False))
    metrics.set_link(link("c", pool="pool-2", phase="Quarantined", ready=False))
    metrics.set_link(link("a"))
    metrics.remove_link("team-a", "c")
    text = render(metrics).decode()
    assert 'interconnect_pool_links{phase="Provisioning",pool="pool-1"} 1.0' in text
    assert 'interconnect_pool_links{phase="Ready",pool="pool-1"} 1.0' in text
    # The pool and the unknown phase go with their last link.
    assert "pool-2" not in text
    assert "Quarantined" not in text


def test_changes_piled_up_without_a_scrape_stay_bounded() -> None:
    # No Prometheus scraping while links churn: the pending changes do not
    # grow past the links, and the next scrape is still exact.
    metrics = quiet(OperatorMetrics())
    render(metrics)
    for i in range(3000):
        metrics.set_link(link(f"churn-{i}"))
        metrics.remove_link("team-a", f"churn-{i}")
    assert len(metrics._link_changes) <= 1024
    metrics.set_link(link("stays"))
    text = render(metrics).decode()
    assert "churn-" not in text
    assert 'name="stays"' in text
    assert_same_as_reference(metrics)


def test_shared_uuid_switch_renders_every_link_again() -> None:
    metrics = quiet(OperatorMetrics())
    metrics.set_link(link("l1"))
    render(metrics)
    metrics.shared_uuid_label = True
    assert f'shared_uuid="{link("l1").shared_uuid}"' in render(metrics).decode()
    assert metrics.links_rendered == 2
    assert_same_as_reference(metrics)


# -- the endpoint ---------------------------------------------------------------


def _call(app: Callable[..., Iterable[bytes]], **environ: str) -> tuple[str, dict[str, str], bytes]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"], answer["headers"] = status, dict(headers)

    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/metrics",
        "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(),
        **environ,
    }
    body = b"".join(app(env, start_response))
    if answer["headers"].get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return answer["status"], answer["headers"], body


PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;"
    "version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)


@pytest.mark.parametrize(
    "request_",
    [
        {},
        {"HTTP_ACCEPT": PROMETHEUS_ACCEPT, "HTTP_ACCEPT_ENCODING": "gzip"},
        {"HTTP_ACCEPT": "application/openmetrics-text; version=1.0.0; escaping=allow-utf-8"},
        {"HTTP_ACCEPT": "application/openmetrics-text; version=1.0.0; escaping=dots"},
        {"HTTP_ACCEPT": "text/plain; version=1.0.0; escaping=values"},
        {"HTTP_ACCEPT": "application/openmetrics-text; version=2.0.0"},
        {"QUERY_STRING": "name[]=interconnect_link_ready&name[]=interconnect_pool_links"},
        {"PATH_INFO": "/favicon.ico"},
        {"REQUEST_METHOD": "OPTIONS"},
        {"REQUEST_METHOD": "POST"},
        {"PATH_INFO": "/"},
    ],
)
def test_endpoint_answers_as_prometheus_clients_app(request_: dict[str, str]) -> None:
    metrics = quiet(populated(OperatorMetrics()))
    metrics.set_link(link('odd"name\\'))
    ours = _call(metrics_app(metrics), **request_)
    theirs = _call(make_wsgi_app(metrics.registry), **request_)
    assert ours == theirs
    if request_.get("REQUEST_METHOD", "GET") == "GET" and "favicon" not in str(request_):
        assert b"interconnect_" in ours[2]
