"""The request metrics count every request in its series, also when the series is remembered (issue
12: the labelled series are kept instead of looked up per request) and when the memo is full."""

import functools

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from runtime import web as runtime_web
from runtime.web import create_service_app
from tests.support.identity import PUBLIC_KEY


def _count(route: str, status: str = "200") -> float:
    value = REGISTRY.get_sample_value("portal_http_requests_total", {"method": "GET", "route": route, "status": status})
    return value or 0.0


async def test_each_request_counts_in_its_series_remembered_or_not(monkeypatch) -> None:
    kept = functools.lru_cache(maxsize=1)(runtime_web._labelled)  # one series kept at a time
    monkeypatch.setattr(runtime_web, "_series", kept)
    before = {route: _count(route) for route in ("/healthz", "/readyz")}
    async with TestClient(TestServer(create_service_app(PUBLIC_KEY))) as client:
        for path in ("/healthz", "/readyz", "/healthz"):  # the second pushes the first out
            for _ in range(2):
                async with client.get(path) as response:
                    assert response.status == 200
    assert _count("/healthz") - before["/healthz"] == 4
    assert _count("/readyz") - before["/readyz"] == 2
    info = kept.cache_info()
    assert (info.hits, info.misses, info.currsize) == (3, 3, 1)  # remembered, and made again once forgotten
