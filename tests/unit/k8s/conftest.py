"""Fixtures for the k8s unit tests: the fake Kubernetes client and metrics on a private registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interconnect_operator import redaction
from interconnect_operator.metrics import OperatorMetrics
from tests.unit.k8s.fake_kube import FakeKube


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


@pytest.fixture
def metrics() -> OperatorMetrics:
    return OperatorMetrics()


@pytest.fixture(autouse=True)
def _no_held_secrets() -> Iterator[None]:
    # The redaction registry is process-wide: isolate every test from the others.
    redaction.clear()
    yield
    redaction.clear()
