"""`python -m deploy.run --replicas N`: where every process listens, without starting any."""

import pytest

from deploy import run


def test_one_replica_keeps_the_familiar_ports_and_no_instance_names() -> None:
    placed = run.layout(8000, 1)
    assert {name: [(p.instance, p.port, p.metrics_port) for p in ps] for name, ps in placed.items()} == {
        "gateway": [("", 8000, 9000)],
        "accounts": [("", 8001, 9001)],
        "pins": [("", 8002, 9002)],
        "notifications": [("", 8003, 9003)],
    }


def test_gateways_share_the_public_port_and_the_others_get_ports_of_their_own() -> None:
    placed = run.layout(8000, 3)
    assert [(p.instance, p.port, p.metrics_port) for p in placed["gateway"]] == [
        ("r1", 8000, 9000),
        ("r2", 8000, 9010),
        ("r3", 8000, 9020),
    ]
    assert [p.port for p in placed["accounts"]] == [8001, 8011, 8021]
    every = [p for ps in placed.values() for p in ps]
    own = [p.port for name, ps in placed.items() if name != "gateway" for p in ps]
    metrics = [p.metrics_port for p in every]
    assert len(set(own)) == len(own) and len(set(metrics)) == len(metrics)
    assert not {*own, *metrics} & {8000, 8025, 8026}  # public port, mail catcher's inbox, print shop


def test_the_most_replicas_stay_clear_of_the_inbox_and_the_letters() -> None:
    placed = run.layout(8000, run.MAX_REPLICAS)
    assert not {p.port for ps in placed.values() for p in ps} & {8025, 8026}


def test_replicas_are_parsed_and_bounded() -> None:
    assert run.parse_args(["--replicas", "2", "--nats-nodes", "3"]).replicas == 2
    assert run.parse_args([]).replicas == 1
    with pytest.raises(SystemExit):
        run.parse_args(["--replicas", "0"])
