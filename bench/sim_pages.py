"""Micro benchmark of one simulator ListFeatures page of ``--features`` features.

Three ways of building the same answer, CPU per page (best and median of
``--rounds``): the page as a dict dumped by ``json.dumps`` (the simulator
before round 10), the models serialized in one pass (``to_wire_json``), and
each feature's kept JSON (``simulator.feature_json``, warm). It checks that
the three give the same document.

    PYTHONPATH=. .venv/bin/python -m bench.sim_pages [--features 1000]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse

from interconnect_operator.api.models import ListFeaturesResponse, to_wire_json
from interconnect_operator.simulator import views
from interconnect_operator.simulator.app import create_app
from interconnect_operator.simulator.config import SimulatorConfig
from interconnect_operator.simulator.feature_json import FeatureJson
from interconnect_operator.simulator.runtime import wire
from interconnect_operator.simulator.store.records import FeatureRecord

CALLER = "gcp"
TOKEN = "next"


def _config(n: int) -> dict[str, Any]:
    base = ipaddress.IPv4Address("169.254.0.0") + 4 * n
    return {
        "featureType": "FEATURE_TYPE_L3_BASE",
        "l3BaseConfig": {
            "ipv4Subnet": str(base),
            "ipv4SubnetPrefixLength": 30,
            "mtuBytes": 8896,
            "vlanId": 1025 + n % 3000,
            "providerBgpConfigs": [
                {"provider": "providers/aws", "asn": 64512, "hostIpv4": str(base + 1)},
                {"provider": "providers/gcp", "asn": 16550, "hostIpv4": str(base + 2)},
            ],
            "md5BgpPassword": "bench-only",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    sim = create_app(SimulatorConfig(provider_id="aws")).state.simulator
    records = [
        FeatureRecord(
            "env",
            "ix1",
            f"conn-{n // 4:06d}",
            f"f{n % 4}",
            f"ch{n % 4 + 1}",
            "FEATURE_TYPE_L3_BASE",
            0.0,
            1025 + n % 3000,
            0,
            30,
            config=_config(n),
        )
        for n in range(args.features)
    ]
    now = sim.now()
    kept = FeatureJson()

    def models() -> ListFeaturesResponse:
        features = [views.feature_view(CALLER, r, sim.store, now) for r in records]
        return ListFeaturesResponse(features=features, next_page_token=TOKEN)

    ways: dict[str, Callable[[], bytes]] = {
        "dict + json.dumps": lambda: bytes(JSONResponse(wire(models())).body),
        "one pass": lambda: to_wire_json(models()),
        "kept JSON (warm)": lambda: kept.page(CALLER, records, TOKEN, sim.store, now),
    }
    documents = {name: json.loads(way()) for name, way in ways.items()}
    assert len({json.dumps(d, sort_keys=True) for d in documents.values()}) == 1
    for name, way in ways.items():
        seconds = []
        for _ in range(args.rounds):
            start = time.process_time()
            way()
            seconds.append(time.process_time() - start)
        print(
            f"{name:20s} best {1000 * min(seconds):6.1f} ms, "
            f"median {1000 * statistics.median(seconds):6.1f} ms per page "
            f"of {args.features} features"
        )
    sim.close()


if __name__ == "__main__":
    main()
