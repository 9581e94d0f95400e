"""The cluster's configuration without a server: deploy/nats/cluster.conf and the configs the
local runner and the tests write fsync every message, advertise no addresses and route with the
route user; a local cluster gives every service every node; `deploy.run --nats-nodes`."""

import re
from pathlib import Path

import pytest

from deploy import run
from deploy.infra import NatsCluster, NatsServer
from deploy.nats_local import LocalTls, NatsPasswords

CLUSTER_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "cluster.conf"


def block(text: str, name: str) -> str:
    """The text of a top-level `name: { … }` block (nested braces included)."""
    start = re.search(rf"^{name}: {{", text, re.MULTILINE).end()
    depth, i = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[start : i - 1]


def settings(text: str) -> set[str]:
    return {line.split("#")[0].strip() for line in text.splitlines()} - {""}


def test_the_production_nodes_fsync_every_message_and_advertise_no_addresses():
    text = CLUSTER_CONF.read_text()
    assert "sync_interval: always" in settings(block(text, "jetstream"))
    assert "no_advertise: true" in settings(block(text, "cluster"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> NatsCluster:
    folder = tmp_path_factory.mktemp("cluster")
    return NatsCluster(folder, passwords=NatsPasswords.generate(), tls=LocalTls.load_or_create(folder / "tls"))


def test_local_nodes_are_configured_as_the_production_ones(cluster: NatsCluster, tmp_path):
    route_password = cluster.passwords["route"]
    names, ports = set(), set()
    for i, node in enumerate(cluster.nodes):
        text = node._config_text(tmp_path)
        assert f"server_name: nats-{i + 1}" in text
        assert "sync_interval: always" in text and "no_advertise: true" in text
        assert "authorization: { user: route, password: $NATS_ROUTE_PASSWORD" in text and "verify: true" in text
        others = {
            f"nats-route://route:{route_password}@127.0.0.1:{n.cluster_port}" for n in cluster.nodes if n is not node
        }
        assert set(node.routes) == others  # the two others, each with the route user
        assert route_password not in text  # the config reads it from the environment
        names.add(node.name)
        ports |= {node.port, node.monitor_port, node.cluster_port}
    assert names == {"nats-1", "nats-2", "nats-3"} and len(ports) == 9

    single = NatsServer(tmp_path / "one", passwords=cluster.passwords, tls=cluster.tls)
    assert "sync_interval: always" in single._config_text(tmp_path)


def test_every_service_is_given_every_node_as_itself(cluster: NatsCluster):
    urls = cluster.url_for("pins").split(",")
    assert [u.split("@")[1] for u in urls] == [f"127.0.0.1:{n.port}" for n in cluster.nodes]
    assert all(u.startswith(f"tls://pins:{cluster.passwords['pins']}@") for u in urls)
    assert cluster.url == ",".join(n.url for n in cluster.nodes)
    options = cluster.client_options("ops")  # nothing runs: still somewhere to try
    assert options["servers"] == [cluster.nodes[0].url] and options["inbox_prefix"] == "_INBOX.ops"
    assert cluster.printshop_env()["PRINTSHOP_NATS_URL"] == cluster.url
    assert cluster.secured and not cluster.running


def test_the_runner_starts_one_node_or_a_cluster_of_three(tmp_path):
    assert run.parse_args([]).nats_nodes == 1
    assert run.parse_args(["--nats-nodes", "3"]).nats_nodes == 3
    with pytest.raises(SystemExit):
        run.parse_args(["--nats-nodes", "2"])  # two nodes have no majority once one is gone

    single = run.local_nats(tmp_path, tmp_path / "logs", 4222, 1)
    assert isinstance(single, NatsServer) and (single.port, single.monitor_port) == (4222, 8222)
    three = run.local_nats(tmp_path, tmp_path / "logs", 4222, 3)
    assert [(n.port, n.cluster_port, n.monitor_port) for n in three.nodes] == [
        (4222, 6222, 8222),
        (4223, 6223, 8223),
        (4224, 6224, 8224),
    ]
    assert all(n.store_dir.parent == tmp_path / "nats-cluster" for n in three.nodes)
    assert three.passwords == single.passwords  # both read var/nats-passwords.json
