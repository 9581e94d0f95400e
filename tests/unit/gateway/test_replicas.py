from aiohttp.test_utils import TestServer

from services.gateway.replicas import Replicas
from tests.unit.gateway.conftest import FakeService, closed_port_url


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_round_robin_over_the_replicas():
    replicas = Replicas(["a", "b", "c"])
    assert [replicas.order()[0] for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_a_failed_replica_rests_longer_each_time_and_comes_back_when_it_answers():
    clock = Clock()
    replicas = Replicas(["a", "b"], clock=clock)
    replicas.failed("a")
    assert replicas.order() == ["b", "a"] and replicas.order() == ["b", "a"]  # resting ones last
    clock.now += 1.01
    assert replicas.resting() == []  # it gets a request again ...
    replicas.failed("a")
    clock.now += 1.01
    assert replicas.resting() == ["a"]  # ... and after a second failure rests 2 s
    clock.now += 1.0
    replicas.answered("a")
    assert replicas.resting() == [] and replicas.failed("a") is None and replicas.resting() == ["a"]
    clock.now += 1.01
    assert replicas.resting() == []  # an answer ended the doubling: 1 s again


def test_every_replica_resting_still_gets_asked():
    replicas = Replicas(["a", "b"])
    replicas.failed("a")
    replicas.failed("b")
    assert sorted(replicas.order()) == ["a", "b"]


async def test_the_gateway_spreads_requests_and_skips_a_replica_that_is_down(accounts, start_gateway):
    second = FakeService()
    server = TestServer(second.app())
    await server.start_server()
    try:
        second.url = str(server.make_url("")).rstrip("/")
        dead = closed_port_url()
        gateway = await start_gateway(accounts_url=f"{accounts.url},{dead},{second.url}")
        statuses = [(await gateway.get("/api/v1/accounts/me")).status for _ in range(12)]
        assert statuses == [200] * 12
        assert len(accounts.calls) == 6 and len(second.calls) == 6  # the dead one rests, the others share
        for page in ("/registrieren",):  # pages go through the same replicas
            assert (await gateway.get(page)).status == 200
    finally:
        await server.close()


async def test_a_post_that_could_not_connect_goes_to_the_next_replica(accounts, start_gateway):
    gateway = await start_gateway(accounts_url=f"{closed_port_url()},{accounts.url}")
    for _ in range(3):
        response = await gateway.post(
            "/api/v1/accounts/registrations", json={"x": 1}, headers={"Origin": "https://portal.example"}
        )
        assert response.status == 200
    assert len(accounts.calls_to("POST", "/api/v1/accounts/registrations")) == 3


async def test_no_replica_answering_is_a_german_503(start_gateway):
    gateway = await start_gateway(accounts_url=f"{closed_port_url()},{closed_port_url()}")
    response = await gateway.get("/api/v1/accounts/me")
    assert response.status == 503 and "nicht erreichbar" in (await response.json())["error"]["message"]
