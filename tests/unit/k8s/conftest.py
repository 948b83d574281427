"""Fixtures for the k8s unit tests: the fake Kubernetes client and metrics on a private registry."""

from __future__ import annotations

import pytest

from interconnect_operator.metrics import OperatorMetrics
from tests.unit.k8s.fake_kube import FakeKube


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


@pytest.fixture
def metrics() -> OperatorMetrics:
    return OperatorMetrics()
