"""Connection ids and the migration source in status (upstream PR #50)."""

from __future__ import annotations

from dataclasses import replace

from tests.unit.protocol.test_link_state import ALL, CH, conn, run


def test_status_names_each_side_connection_id_and_the_migration_source() -> None:
    """Ids are read from the providers' names, not assumed to be the shared UUID;
    during a migration (P18) each side shows the connection it moves from."""
    old = replace(conn("ic1", states=ALL, verified=True), name="providers/p/x/connections/u-old")
    new = replace(conn("ic2", states=ALL), name="providers/p/x/connections/u-new")
    migrating = run(
        (old, new),
        (old, new),
        interconnect="ic1",
        migrating_to="ic2",
        guidance_ready=True,
        channels=CH,
    )
    settled = run((new,), (new,), interconnect="ic2", guidance_ready=True, channels=CH)

    for provider in migrating.status.providers:
        assert (provider.connection_id, provider.source_connection) == (
            "u-new",
            "providers/p/x/connections/u-old",
        )
    for provider in settled.status.providers:
        assert (provider.connection_id, provider.source_connection) == ("u-new", None)
