"""The simulator serves every operation of the pinned spec, under the spec's paths."""

from __future__ import annotations

from interconnect_operator.simulator.app import OPERATIONS
from tests.support.spec import spec_operations


def test_every_spec_operation_is_served() -> None:
    served = {op: (method, path) for method, path, op, _ in OPERATIONS}
    spec = {op.operation_id: (op.method, op.path) for op in spec_operations().values()}
    assert len(spec) == 33
    assert served == spec
