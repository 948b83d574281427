"""Which values the k8s layer holds for redaction, for how long, and where it masks them.

Only the referenced key of a link's Secret is held, in the tenant's scope, and
let go when the link no longer references it or is forgotten; a pool's used
credentials are held as the operator's own. Status (every string, conditions
included) and Event messages are redacted in the link's tenant scope.
"""

from __future__ import annotations

from typing import Any

from interconnect_operator import redaction
from interconnect_operator.k8s.credentials import Credentials
from interconnect_operator.k8s.kube import LINKS
from interconnect_operator.k8s.publish import EventMemory, Publisher
from interconnect_operator.k8s.resources import MulticloudLinkSpec
from interconnect_operator.metrics import OperatorMetrics
from interconnect_operator.reconcile.link import LinkEvent
from tests.unit.k8s.fake_kube import FakeKube

KEY = ("team-a", "link")
LINK_SECRET = {"interconnect.io/link-secret": "true"}
MD5 = "bgp-md5-pa55word"
UNUSED = "database-password-never-referenced"


def _spec(**extra: Any) -> MulticloudLinkSpec:
    return MulticloudLinkSpec.model_validate(
        {"poolRef": {"name": "pool"}, "bandwidthMbps": 1000, "destinationAccountId": "a", **extra}
    )


BGP = {"bgp": {"asn": 65000, "md5SecretRef": {"name": "bgp", "key": "md5"}}}


async def test_only_the_referenced_key_is_held_in_the_tenants_scope(kube: FakeKube) -> None:
    kube.add_secret("team-a", "bgp", {"md5": MD5, "other": UNUSED}, labels=LINK_SECRET)
    await Credentials(kube, "ops").link_secrets(KEY, _spec(**BGP), deleting=False)
    assert redaction.redact(f"echo {MD5}", "team-a") == f"echo {redaction.MASK}"
    assert redaction.redact(f"echo {MD5}", "team-b") == f"echo {MD5}"
    assert redaction.redact(UNUSED) == UNUSED


async def test_a_value_no_longer_referenced_is_let_go(kube: FakeKube) -> None:
    kube.add_secret("team-a", "bgp", {"md5": MD5}, labels=LINK_SECRET)
    credentials = Credentials(kube, "ops")
    await credentials.link_secrets(KEY, _spec(**BGP), deleting=False)
    assert redaction.contains_secret(MD5)
    await credentials.link_secrets(KEY, _spec(), deleting=False)
    assert not redaction.contains_secret(MD5)


async def test_a_pools_used_token_is_the_operators_own(kube: FakeKube) -> None:
    kube.add_secret("ops", "creds", {"token": "pool-bearer-token-1", "spare": UNUSED})
    auth = {"auth": {"type": "Bearer", "secretRef": {"name": "creds", "key": "token"}}}
    pool = {
        "metadata": {"name": "pool"},
        "spec": {
            "environment": "env",
            "providers": [
                {"name": "aws", "endpoint": "https://aws.example", "role": "Responder", **auth},
                {"name": "gcp", "endpoint": "https://gcp.example", "role": "Negotiator"},
            ],
        },
    }
    await Credentials(kube, "ops").pool_config("pool", pool)
    assert redaction.redact("t=pool-bearer-token-1", "team-a") == f"t={redaction.MASK}"
    assert redaction.redact(UNUSED) == UNUSED
    redaction.release_prefix("pool/pool/")
    assert not redaction.contains_secret("pool-bearer-token-1")


async def test_status_and_events_are_redacted_in_the_links_scope(kube: FakeKube) -> None:
    redaction.hold("link/team-a/link/md5", [MD5], scope="team-a")
    publisher = Publisher(kube, OperatorMetrics())
    body = kube.add_object(LINKS, {"metadata": {"namespace": "team-a", "name": "link"}})
    echoed = f"provider said: bad md5 {MD5}"
    status = {
        "phase": "Failed",
        "message": echoed,
        "conditions": [{"type": "Ready", "status": "False", "reason": "X", "message": echoed}],
    }
    await publisher.write_link_status(KEY, body, status)
    await publisher.link_events(EventMemory(), body, [LinkEvent("Warning", "X", echoed)])
    await publisher.transition(body, "Placing", "Degraded", echoed)
    stored = kube.objects[(LINKS, *KEY)]["status"]
    assert MD5 not in str(stored)
    assert stored["conditions"][0]["message"] == f"provider said: bad md5 {redaction.MASK}"
    assert all(MD5 not in e.message for e in kube.events)
    assert len(kube.events) == 2
