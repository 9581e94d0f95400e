from aiohttp.test_utils import TestClient, TestServer

from runtime.web import READINESS, create_service_app, serving
from tests.support.identity import PUBLIC_KEY


async def test_readyz_runs_every_check_and_serving_only_what_answering_needs():
    async def database() -> None:
        return None

    async def messaging() -> None:
        raise ConnectionError("nats not connected")

    app = create_service_app(PUBLIC_KEY)
    app[READINESS].extend([serving(database), messaging])
    async with TestClient(TestServer(app)) as client:
        whole = await client.get("/readyz")
        assert whole.status == 503 and (await whole.json())["failing"] == {"messaging": "ConnectionError"}
        answering = await client.get("/readyz?serving")
        assert answering.status == 200


async def test_without_its_database_a_replica_is_not_serving():
    async def database() -> None:
        raise OSError("connection refused")

    app = create_service_app(PUBLIC_KEY)
    app[READINESS].append(serving(database))
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/readyz?serving")).status == 503
