"""The fault suite: scenarios that kill and restart NATS nodes, services and servers with signals
while traffic is in flight, and print what they measured (lost, duplicated, recovery time).

Every test here talks to real servers, so it counts as an integration test (`-m "not
integration"` leaves the suite out). `cluster_portal` is a whole portal of its own on a
three-node JetStream cluster, every stream R3, as production runs (`portal.nats` is the
deploy.infra.NatsCluster: `kill(i)`, `restart(i)`, `stream_leader(name)`).
"""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
async def cluster_portal(portal_factory):
    """All four services on a three-node NATS cluster with R3 streams, for one test."""
    return await portal_factory(nats_nodes=3)
