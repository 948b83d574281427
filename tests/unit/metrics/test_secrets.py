"""No secret reaches a metric label (P31), belt and braces."""

from __future__ import annotations

from dataclasses import replace

from interconnect_operator import redaction
from interconnect_operator.metrics import OperatorMetrics, render

from .conftest import link, pool, populated

ACTIVATION_KEY = "ak-7Hq2-Zx91-secret-activation"
MD5_PASSWORD = "bgp-md5-pa55word"
MACSEC_CAK = "0123456789abcdef0123456789abcdef"


def test_populated_scrape_carries_no_registered_secret() -> None:
    redaction.hold("test", (ACTIVATION_KEY, MD5_PASSWORD, MACSEC_CAK))
    text = render(populated(OperatorMetrics())).decode()
    for secret in (ACTIVATION_KEY, MD5_PASSWORD, MACSEC_CAK):
        assert secret not in text


def test_secret_passed_as_label_value_is_masked() -> None:
    # A caller mistake (the key where the shared UUID belongs, a reason that
    # quotes a key) must not leak: the value is exported as `redacted`.
    redaction.hold("test", (ACTIVATION_KEY, MACSEC_CAK))
    metrics = OperatorMetrics(shared_uuid_label=True)
    metrics.set_link(replace(link("l1"), shared_uuid=ACTIVATION_KEY))
    metrics.record_reconcile_error("MulticloudLink", f"KeyRejected:{ACTIVATION_KEY}")
    metrics.record_provider_request("aws", MACSEC_CAK, "400", 0.1)
    text = render(metrics).decode()
    assert ACTIVATION_KEY not in text
    assert MACSEC_CAK not in text
    assert 'shared_uuid="redacted"' in text
    assert 'reason="redacted"' in text
    assert 'operation="redacted"' in text


def test_a_call_series_kept_from_before_a_secret_was_held_is_not_reused() -> None:
    # The series of a call are looked up once and kept; holding a secret that
    # equals one of their label values must mask it from then on.
    metrics = OperatorMetrics()
    value = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    metrics.record_provider_request("aws", value, "400", 0.1)
    assert f'operation="{value}"' in render(metrics).decode()
    redaction.hold("late", (value,))
    metrics.record_provider_request("aws", value, "400", 0.1)
    text = render(metrics).decode()
    assert 'code="400",operation="redacted",provider="aws"} 1.0' in text


def test_label_values_are_only_names_ids_phases_and_states() -> None:
    metrics = populated(OperatorMetrics())
    metrics.set_pool(pool("pool-2"))
    from prometheus_client.parser import text_string_to_metric_families

    allowed = {
        "namespace",
        "name",
        "pool",
        "environment",
        "interconnect",
        "shared_uuid",
        "phase",
        "provider",
        "state",
        "channel",
        "admin_state",
        "operation",
        "code",
        "kind",
        "reason",
        "version",
        "revision",
        "python_version",
        "le",
        # prometheus-client's GC and platform collectors.
        "generation",
        "implementation",
        "major",
        "minor",
        "patchlevel",
    }
    for family in text_string_to_metric_families(render(metrics).decode()):
        for sample in family.samples:
            assert set(sample.labels) <= allowed, (sample.name, sample.labels)


def test_secret_registered_after_a_scrape_is_masked_on_the_next() -> None:
    # Label verdicts are cached per value; registering a secret invalidates them.
    metrics = OperatorMetrics(shared_uuid_label=True)
    metrics.set_link(replace(link("l1"), shared_uuid=MD5_PASSWORD))
    assert MD5_PASSWORD in render(metrics).decode()
    redaction.hold("test", [MD5_PASSWORD])
    text = render(metrics).decode()
    assert MD5_PASSWORD not in text
    assert 'shared_uuid="redacted"' in text


def test_a_tenant_secret_masks_only_that_tenants_series() -> None:
    # A tenant Secret holding the name of a shared pool must not merge the
    # pool's series, nor mask another team's link labels.
    redaction.hold("link/evil/x/md5", ["pool-shared"], scope="evil")
    metrics = OperatorMetrics()
    metrics.set_link(link("victim", namespace="team-a", pool="pool-shared"))
    metrics.set_link(link("own", namespace="evil", pool="pool-shared"))
    metrics.set_pool(pool("pool-shared"))
    text = render(metrics).decode()
    assert 'name="victim",namespace="team-a",pool="pool-shared"' in text
    assert 'name="own",namespace="evil",pool="redacted"' in text
    assert 'interconnect_pool_links{phase="Ready",pool="pool-shared"} 2.0' in text
    assert 'interconnect_provider_reachable{pool="pool-shared"' in text


def test_no_shared_uuid_label_unless_switched_on() -> None:
    uuid = link("l1").shared_uuid
    assert uuid not in render(populated(OperatorMetrics())).decode()
    text = render(populated(OperatorMetrics(shared_uuid_label=True))).decode()
    assert f'shared_uuid="{link("up").shared_uuid}"' in text
